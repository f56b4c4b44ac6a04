"""Context emotion (the EMOTIC method): body crop + whole scene -> 26 categories and valence/arousal/dominance.

The pipeline uses :class:`ContextEmotion` (configured by :class:`ContextConfig`); training, evaluation and
the import of the reference checkpoints are the `train-context`, `eval-context` and `import-context`
sub-commands of `emotion-perception`.
"""

from .model import EmoticFusion, EmoticNet, emotic_resnet18, load_emotic, resnet18_features
from .preprocessing import EmoticPreprocessing
from .stage import ContextConfig, ContextEmotion

__all__ = [
    "ContextConfig", "ContextEmotion", "EmoticFusion", "EmoticNet", "EmoticPreprocessing", "emotic_resnet18",
    "load_emotic", "resnet18_features",
]
