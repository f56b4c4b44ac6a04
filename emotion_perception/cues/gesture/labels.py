"""The gesture cue's default label vocabulary (a checkpoint's passport names its own, in its order)."""

from ...labels import EMOTIONS

GESTURE_EMOTIONS: tuple[str, ...] = EMOTIONS
"""The classes of the generated gesture task and of a new ACCM: the fused vocabulary itself. The gesture cue
speaks to fusion only with a checkpoint whose labels are these four."""
