"""Gesture data sets on disk: one ``.npz`` file of skeleton sequences with their labels.

Layout (numpy ``.npz``, read with ``allow_pickle=False``, so no object arrays):

| key           | shape / dtype            | meaning                                                             |
|---------------|--------------------------|---------------------------------------------------------------------|
| `sequences`   | (N, T, 16, 3) float32    | joints in the gait frame (metres, x right, y up, z towards the camera), labels.GAIT_JOINTS order, oldest frame first; NaN marks a missing joint/frame |
| `labels`      | (N,) int64               | index into `label_names`; −1 = unlabelled                            |
| `label_names` | (L,) unicode             | the class names, e.g. labels.GESTURE_EMOTIONS                        |
| `fps`         | () float64, optional     | frame rate of the sequences [Hz]; 30 when absent                     |
| `lengths`     | (N,) int64, optional     | real frames of each sequence; frames after it are padding (ignored)  |

Sequences of different lengths are stored padded with NaN to the longest, with `lengths`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...labels import GAIT_JOINTS
from .labels import GESTURE_EMOTIONS
from ...runtime.training import read_labelled_npz, write_labelled_npz

DEFAULT_FPS = 30.0


@dataclass
class GestureSet:
    """Labelled skeleton sequences (each (T_i, 16, 3) float32) at one frame rate."""

    sequences: list[np.ndarray]
    labels: np.ndarray
    """(N,) int64 index into ``label_names``; −1 unlabelled."""
    label_names: tuple[str, ...] = GESTURE_EMOTIONS
    fps: float = DEFAULT_FPS


def save_gesture_set(path: str | Path, sequences: np.ndarray | list[np.ndarray], labels: np.ndarray,
                     label_names: tuple[str, ...] = GESTURE_EMOTIONS, fps: float = DEFAULT_FPS) -> Path:
    """Write sequences and labels in the layout above; returns the path (``.npz`` added if missing)."""
    arrays = [np.asarray(s, dtype=np.float32) for s in sequences]
    for i, array in enumerate(arrays):
        if array.ndim != 3 or array.shape[1:] != (len(GAIT_JOINTS), 3) or len(array) == 0:
            raise ValueError(f"sequence {i}: expected (T >= 1, {len(GAIT_JOINTS)}, 3), got {array.shape}")
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    padded = np.full((len(arrays), int(lengths.max(initial=0)), len(GAIT_JOINTS), 3), np.nan, dtype=np.float32)
    for i, array in enumerate(arrays):
        padded[i, :len(array)] = array
    extra = {"lengths": lengths} if len(set(lengths.tolist())) > 1 else {}
    return write_labelled_npz(path, "sequences", padded, labels, label_names, fps, **extra)


def load_gesture_set(path: str | Path) -> GestureSet:
    """Read a gesture ``.npz`` (layout above), checking shapes; padding after ``lengths`` is cut off."""
    data = read_labelled_npz(path, "sequences", "gesture", "emotion_perception/cues/gesture/data.py", DEFAULT_FPS,
                             optional=("lengths",))
    sequences = data.samples
    if sequences.ndim != 4 or sequences.shape[2:] != (len(GAIT_JOINTS), 3):
        raise ValueError(f"{path}: sequences must be (N, T, {len(GAIT_JOINTS)}, 3), got {sequences.shape}")
    lengths = data.optional.get("lengths", np.full(len(sequences), sequences.shape[1])).astype(np.int64)
    if lengths.shape != (len(sequences),):
        raise ValueError(f"{path}: {len(sequences)} sequences but lengths {lengths.shape}")
    if not (np.isfinite(data.fps) and data.fps > 0):
        raise ValueError(f"{path}: fps must be positive, got {data.fps}")
    return GestureSet([np.asarray(s[:n], dtype=np.float32) for s, n in zip(sequences, lengths)], data.labels,
                      data.label_names, data.fps)
