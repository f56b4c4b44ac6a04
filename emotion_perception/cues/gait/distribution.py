"""Where an ST-GCN's inputs came from in training, how live windows are put there, and how far each one is.

A STEP-style network normalises its input by the statistics of what it saw in training: its input BatchNorm
(``data_bn``, 48 channels, index joint·3 + coordinate) keeps their running mean and variance. The released
STEP weights thus say what a network input should look like: a root-centred pose about 1.0 unit tall (head
y ≈ 0.44, feet y ≈ −0.56), per-coordinate std 0.01–0.15. :class:`InputStatistics` carries that mean pose
and spread, read from the weights (:meth:`InputStatistics.from_batchnorm`) or from a passport of ours
(:meth:`InputStatistics.from_config`; written by training, see :func:`estimate_statistics`).

Live alignment (:func:`align_windows`): every frame of a window is centred on its root joint; one
similarity transform (rotation, uniform scale, translation) per window maps the window's mean pose onto
the training mean pose, **least squares in the network's own normalised units** (each coordinate's
residual divided by its training std, i.e. what ``data_bn`` makes of it). The fit starts from the
closed-form weighted Umeyama solution and is refined by Gauss–Newton (:func:`fit_similarity`).

Distance (:func:`input_distance`): per channel c, z_c = (mean over the window's frames of input c −
training mean c) / training std c; a window's distance is mean |z_c| and max |z_c| over the 48 channels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ...labels import GAIT_JOINTS

NUM_JOINTS = len(GAIT_JOINTS)
_GAUSS_NEWTON_STEPS = 8


@dataclass(frozen=True)
class InputStatistics:
    """The training distribution of a network's input: alignment target and per-coordinate mean and std."""

    mean_pose: np.ndarray
    """(16, 3) the pose live windows are aligned to (the training mean pose)."""
    mean: np.ndarray
    """(16, 3) mean of each joint coordinate over the training inputs."""
    std: np.ndarray
    """(16, 3) standard deviation of each joint coordinate (> 0); also the fit's per-coordinate unit."""

    @classmethod
    def from_batchnorm(cls, norm: torch.nn.BatchNorm1d) -> InputStatistics:
        """The running statistics of an input BatchNorm over the 48 joint·3 + coordinate channels."""
        if norm.running_mean is None or norm.num_batches_tracked is None or int(norm.num_batches_tracked) == 0:
            raise ValueError("the input BatchNorm holds no training statistics (never trained)")
        mean = norm.running_mean.detach().cpu().double().numpy().reshape(NUM_JOINTS, 3)
        std = np.sqrt(norm.running_var.detach().cpu().double().numpy() + norm.eps).reshape(NUM_JOINTS, 3)
        return cls(mean, mean, std)

    @classmethod
    def from_config(cls, config: dict) -> InputStatistics:
        """From a passport config entry written by :meth:`to_config`."""
        missing = {"mean_pose", "mean", "std"} - set(config)
        if missing:
            raise ValueError(f"input statistics lack {sorted(missing)}")
        arrays = {key: np.asarray(config[key], dtype=np.float64) for key in ("mean_pose", "mean", "std")}
        for key, value in arrays.items():
            if value.shape != (NUM_JOINTS, 3) or not np.isfinite(value).all():
                raise ValueError(f"input statistics {key!r} must be 16 x 3 finite numbers, got shape {value.shape}")
        if (arrays["std"] <= 0).any():
            raise ValueError("input statistics 'std' must be positive")
        return cls(**arrays)

    def to_config(self) -> dict:
        """JSON-ready form for a passport config."""
        return {"mean_pose": self.mean_pose.tolist(), "mean": self.mean.tolist(), "std": self.std.tolist()}


def _skew(vectors: np.ndarray) -> np.ndarray:
    """(..., 3) → (..., 3, 3) cross-product matrices: skew(a) @ b = a × b."""
    x, y, z = vectors[..., 0], vectors[..., 1], vectors[..., 2]
    zero = np.zeros_like(x)
    return np.stack([np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)], -2)


def _rotation_from_vector(vectors: np.ndarray) -> np.ndarray:
    """(N, 3) rotation vectors → (N, 3, 3) rotation matrices (Rodrigues)."""
    angle = np.linalg.norm(vectors, axis=-1)[:, None, None]
    axis = _skew(vectors / np.maximum(angle[..., 0], 1e-300))
    return np.eye(3) + np.sin(angle) * axis + (1 - np.cos(angle)) * axis @ axis


def umeyama(source: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Least-squares similarity per item, target ≈ s · R · source + t, optionally with per-point weights (Umeyama).

    source (N, P, 3), target (P, 3), weights (P,) → scale (N,), rotation (N, 3, 3), translation (N, 3).
    """
    weights = np.full(len(target), 1.0 / len(target)) if weights is None else weights / weights.sum()
    mu_s, mu_t = np.einsum("p,npc->nc", weights, source), weights @ target
    src, tgt = source - mu_s[:, None], target - mu_t
    u, singular, vt = np.linalg.svd(np.einsum("p,pc,npd->ncd", weights, tgt, src))
    signs = np.ones_like(singular)
    signs[:, -1] = np.where(np.linalg.det(u) * np.linalg.det(vt) < 0, -1.0, 1.0)
    rotation = u @ (signs[:, :, None] * vt)
    variance = np.einsum("p,npc->n", weights, src ** 2)
    scale = np.where(variance > 0, (singular * signs).sum(axis=1) / np.where(variance > 0, variance, 1.0), 1.0)
    scale = np.maximum(scale, 1e-9)
    return scale, rotation, mu_t - scale[:, None] * np.einsum("ncd,nd->nc", rotation, mu_s)


def fit_similarity(source: np.ndarray, target: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, ...]:
    """Similarity per item minimising Σ ((s·R·source + t − target) / std)² over every point and coordinate.

    source (N, P, 3), target and std (P, 3) → scale (N,), rotation (N, 3, 3), translation (N, 3). Anisotropic
    weights have no closed form: start from weighted Umeyama (per-point weight 1 / mean variance), then
    Gauss–Newton on (rotation vector, log scale, translation).
    """
    source = np.asarray(source, dtype=np.float64)
    inverse_std = 1.0 / std
    scale, rotation, translation = umeyama(source, target, 1.0 / (std ** 2).mean(axis=1))
    identity = np.broadcast_to(np.eye(3), source.shape[:2] + (3, 3))
    for _ in range(_GAUSS_NEWTON_STEPS):
        moved = scale[:, None, None] * np.einsum("ncd,npd->npc", rotation, source)  # (N, P, 3)
        residual = (moved + translation[:, None] - target) * inverse_std
        # d(moved)/d(rotation vector) = −skew(moved) (left perturbation), d/d(log s) = moved, d/dt = I
        jacobian = np.concatenate([-_skew(moved), moved[..., None], identity], axis=-1) * inverse_std[..., None]
        hessian = np.einsum("npci,npcj->nij", jacobian, jacobian)
        gradient = np.einsum("npci,npc->ni", jacobian, residual)
        step = -np.einsum("nij,nj->ni", np.linalg.pinv(hessian), gradient)
        rotation = _rotation_from_vector(step[:, :3]) @ rotation
        scale = scale * np.exp(step[:, 3])
        translation = translation + step[:, 4:]
    return scale, rotation, translation


def align_windows(windows: np.ndarray, statistics: InputStatistics) -> np.ndarray:
    """(N, T, 16, 3) windows → root-centred, each mapped by one similarity so its mean pose fits the training mean pose."""
    centred = np.asarray(windows, dtype=np.float64)
    centred = centred - centred[:, :, :1]
    scale, rotation, translation = fit_similarity(centred.mean(axis=1), statistics.mean_pose, statistics.std)
    return scale[:, None, None, None] * np.einsum("ncd,ntpd->ntpc", rotation, centred) + translation[:, None, None]


def input_distance(window_means: np.ndarray, statistics: InputStatistics) -> tuple[np.ndarray, np.ndarray]:
    """Each window's mean network input (N, 16, 3) (mean over its frames) → its mean |z| and max |z| over the
    48 channels, z = (window mean − training mean) / training std [training std units]."""
    z = np.abs((np.asarray(window_means) - statistics.mean) / statistics.std).reshape(len(window_means), -1)
    return z.mean(axis=1), z.max(axis=1)


def _size(pose: np.ndarray) -> float:
    """Root-mean-square distance of a pose's joints from their centroid."""
    return float(np.sqrt(((pose - pose.mean(axis=0)) ** 2).sum(axis=1).mean()))


def estimate_statistics(windows: np.ndarray, iterations: int = 4) -> InputStatistics:
    """The training statistics of a set of windows (N, T, 16, 3), for a network trained from scratch.

    Generalised Procrustes: the first target is the first window's root-centred mean pose (STEP's loader
    aligns a file to its first gait); each round aligns every window to the current target and takes the
    aligned inputs' mean pose (rescaled to the first target's size, so the mean cannot shrink from round to
    round) and per-coordinate std as the next target. The result's ``mean_pose`` and ``std`` define the
    alignment the training inputs got; ``mean`` is those inputs' mean.
    """
    windows = np.asarray(windows, dtype=np.float64)
    first = windows[0].mean(axis=0) - windows[0, :, :1].mean(axis=0)
    size = _size(first)
    if size <= 0:
        raise ValueError("the first training window is degenerate (all joints at one point)")
    statistics = InputStatistics(first, first, np.ones_like(first))
    for _ in range(iterations):
        aligned = align_windows(windows, statistics)
        mean = aligned.mean(axis=(0, 1))
        factor = size / _size(mean)
        std = np.maximum(aligned.std(axis=(0, 1)), 1e-3 * _size(mean))
        statistics = InputStatistics(mean * factor, mean * factor, std * factor)
    aligned = align_windows(windows, statistics)
    return InputStatistics(statistics.mean_pose, aligned.mean(axis=(0, 1)), statistics.std)
