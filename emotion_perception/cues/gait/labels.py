"""The gait cue's label vocabulary."""

from ...labels import EMOTIONS

GAIT_EMOTIONS: tuple[str, ...] = EMOTIONS
"""Gait emotion labels (the gait networks' four classes are the fused vocabulary itself)."""
