"""Body-gesture emotion: ACCM, an attention-based channel-wise CNN over tracks' joint movement (FER_BGER's method).

The pipeline uses :class:`GestureEmotion` with a :class:`GestureConfig` (off until it is given weights);
training, evaluation and the generated task are `emotion-perception train-gesture / eval-gesture /
synth-gesture` (see docs/gesture.md).
"""

from .model import ACCM, accm, load_accm
from .results import GestureResult
from .stage import GestureConfig, GestureEmotion

__all__ = ["ACCM", "GestureConfig", "GestureEmotion", "GestureResult", "accm", "load_accm"]
