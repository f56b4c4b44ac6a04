"""Gait data sets: the STEP/ProxEmo HDF5 layout and our synthetic gaits.

The published layout is a pair of files: ``featuresNAME.h5`` with one (T, 48) data set per gait (joint
v's coordinate c at column 3·v + c) and ``labelsNAME.h5`` with one integer scalar per gait, in the
data set's own label order (STEP: 0 angry, 1 neutral, 2 happy, 3 sad). Gaits are read in h5py key
order, which is what the reference loaders do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from ...labels import GAIT_JOINTS
from .labels import GAIT_EMOTIONS

STEP_LABEL_ORDER: tuple[str, ...] = ("angry", "neutral", "happy", "sad")


@dataclass
class GaitSet:
    """Gaits of one file (possibly of different lengths) with their keys and labels (GAIT_EMOTIONS index, −1 unknown)."""

    keys: list[str]
    gaits: list[np.ndarray]
    """Each (T, 16, 3) float64."""
    labels: np.ndarray


def labels_path_for(features_path: str | Path) -> Path:
    """The twin labels file of a features file (featuresX.h5 → labelsX.h5); the name must contain "features"."""
    path = Path(features_path)
    if "features" not in path.name:
        raise ValueError(f"{path}: a gait file must be named features*.h5 so its labels twin (labels*.h5) can sit beside it")
    return path.with_name(path.name.replace("features", "labels", 1))


def load_h5_gaits(features_path: str | Path, labels_path: str | Path | None = None,
                  label_order: tuple[str, ...] = STEP_LABEL_ORDER) -> GaitSet:
    """Read a features file (and its labels twin, when present) into a GaitSet.

    File labels are mapped from ``label_order`` to GAIT_EMOTIONS; values outside it become −1.
    """
    features_path = Path(features_path)
    if not features_path.is_file():
        raise FileNotFoundError(f"gait features file not found: {features_path}")
    with h5py.File(features_path, "r") as features:
        keys = list(features.keys())
        gaits = []
        for key in keys:
            data = np.asarray(features[key][()], dtype=np.float64)
            if data.ndim != 2 or data.shape[1] != 3 * len(GAIT_JOINTS):
                raise ValueError(f"{features_path}:{key}: expected (T, 48), got {data.shape}")
            gaits.append(data.reshape(len(data), len(GAIT_JOINTS), 3))
    labels = np.full(len(keys), -1, dtype=np.int64)
    if labels_path is None and "features" in features_path.name:
        labels_path = labels_path_for(features_path)
    if labels_path is not None and Path(labels_path).is_file():
        with h5py.File(labels_path, "r") as file_labels:
            for i, key in enumerate(keys):
                if key in file_labels:
                    raw = int(np.asarray(file_labels[key][()]))
                    if 0 <= raw < len(label_order):
                        labels[i] = GAIT_EMOTIONS.index(label_order[raw])
    return GaitSet(keys, gaits, labels)


def save_h5_gaits(features_path: str | Path, gaits: np.ndarray | list[np.ndarray], labels: np.ndarray,
                  label_order: tuple[str, ...] = STEP_LABEL_ORDER, keys: list[str] | None = None) -> Path:
    """Write gaits (GAIT_EMOTIONS-indexed labels) in the published layout; returns the features path."""
    features_path = Path(features_path)
    features_path.parent.mkdir(parents=True, exist_ok=True)
    keys = keys or [f"{i:05d}_{GAIT_EMOTIONS[int(label)]}" for i, label in enumerate(labels)]
    with h5py.File(features_path, "w") as features, h5py.File(labels_path_for(features_path), "w") as file_labels:
        for key, gait, label in zip(keys, gaits, labels):
            features.create_dataset(key, data=np.asarray(gait, dtype=np.float64).reshape(len(gait), -1))
            file_labels.create_dataset(key, data=label_order.index(GAIT_EMOTIONS[int(label)]))
    return features_path
