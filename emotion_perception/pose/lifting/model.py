"""The 2D→3D lifter: a residual MLP from one frame's 16 image joints to the body's 3D shape, and the metric
placement of that shape in the camera from the intrinsics.

Why per frame and why this normalisation: the detector gives pixels; dividing by the intrinsics turns them
into viewing rays (``(x − cx) / fx``, ``(y − cy) / fy``), which removes the camera's focal length and image
size from the problem. The rays are centred on the root's ray and divided by their spread, so the network
sees the body's 2D *shape*, plus the root's ray itself (where in the field of view the person stands, which
tells the perspective). It answers the root-relative 3D joints in the camera's optical axes in units of the
person's height; the height itself cannot be seen in one image, so it is a prior (``PRIOR_HEIGHT_M``), and
the root's 3D position follows from a small least-squares fit of the scaled shape to the rays.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...labels import GAIT_JOINTS

JOINTS = len(GAIT_JOINTS)
INPUT_FEATURES = JOINTS * 3 + 2
"""Per joint: centred, spread-normalised ray (2) and confidence; then the root's ray (2)."""
PRIOR_HEIGHT_M = 1.70
"""Adult height the shape is scaled to when nothing else says how tall the person is [m]."""
MIN_VISIBLE_JOINTS = 6
"""A skeleton with fewer confident joints is not lifted."""


class LifterNetwork(nn.Module):
    """Residual MLP (Martinez et al. 2017 in spirit): Linear → blocks of 2×(Linear, LayerNorm, ReLU, Dropout)."""

    def __init__(self, width: int = 256, blocks: int = 2, dropout: float = 0.1) -> None:
        super().__init__()
        self.inp = nn.Sequential(nn.Linear(INPUT_FEATURES, width), nn.LayerNorm(width), nn.ReLU())
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(width, width), nn.LayerNorm(width), nn.ReLU(), nn.Dropout(dropout),
                          nn.Linear(width, width), nn.LayerNorm(width), nn.ReLU(), nn.Dropout(dropout))
            for _ in range(blocks))
        self.out = nn.Linear(width, JOINTS * 3)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(N, INPUT_FEATURES) → (N, 16, 3) root-relative joints, optical axes, in person heights."""
        hidden = self.inp(features)
        for block in self.blocks:
            hidden = hidden + block(hidden)
        return self.out(hidden).view(-1, JOINTS, 3)


def viewing_rays(joints_2d: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """(N, 16, 2) pixels and (N, 4) fx, fy, cx, cy → (N, 16, 2) normalised image coordinates (x/z, y/z)."""
    intrinsics = np.asarray(intrinsics, dtype=np.float64)
    return ((np.asarray(joints_2d, dtype=np.float64) - intrinsics[:, None, 2:4]) / intrinsics[:, None, 0:2])


def lifter_features(rays: np.ndarray, confidence: np.ndarray, min_confidence: float) -> np.ndarray:
    """(N, 16, 2) rays and (N, 16) confidences → (N, INPUT_FEATURES) float32 network inputs.

    Joints under ``min_confidence`` are masked (zero position and confidence). The root is joint 0; when it is
    masked, the mean of the visible joints stands in for it.
    """
    rays = np.asarray(rays, dtype=np.float64)
    confidence = np.clip(np.asarray(confidence, dtype=np.float64), 0.0, 1.0)
    visible = confidence >= min_confidence
    weight = visible.astype(np.float64)
    count = np.maximum(weight.sum(axis=1, keepdims=True), 1.0)
    mean = (rays * weight[..., None]).sum(axis=1) / count
    root = np.where(visible[:, :1], rays[:, 0], mean)
    centred = (rays - root[:, None]) * weight[..., None]
    spread = np.sqrt((centred ** 2).sum(axis=(1, 2)) / count[:, 0])
    centred /= np.maximum(spread, 1e-9)[:, None, None]
    features = np.concatenate([centred, (confidence * weight)[..., None]], axis=2).reshape(len(rays), -1)
    return np.concatenate([features, root], axis=1).astype(np.float32)


def place_in_camera(shape: np.ndarray, rays: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Root positions (N, 3) [m] that best put the metric root-relative ``shape`` (N, 16, 3) on the ``rays``.

    A joint at root + d projects onto ray (u, v) when X + dx = u (Z + dz) and Y + dy = v (Z + dz): linear in
    the root (X, Y, Z), solved by weighted least squares per person.
    """
    u, v = rays[..., 0], rays[..., 1]
    w = np.sqrt(np.asarray(weight, dtype=np.float64))
    zeros, ones = np.zeros_like(u), np.ones_like(u)
    rows_x = np.stack([ones, zeros, -u], axis=-1)
    rows_y = np.stack([zeros, ones, -v], axis=-1)
    a = np.concatenate([rows_x, rows_y], axis=1) * np.concatenate([w, w], axis=1)[..., None]
    b = np.concatenate([u * shape[..., 2] - shape[..., 0], v * shape[..., 2] - shape[..., 1]], axis=1)
    b = b * np.concatenate([w, w], axis=1)
    normal = np.einsum("nki,nkj->nij", a, a) + np.eye(3) * 1e-9
    return np.linalg.solve(normal, np.einsum("nki,nk->ni", a, b)[..., None])[..., 0]


class Lifter:
    """A trained lifter on a device: 2D gait skeletons + intrinsics → metric 3D joints in the optical frame."""

    def __init__(self, network: LifterNetwork, min_confidence: float, relative_distance_error: float,
                 device: torch.device | str = "cpu") -> None:
        self.network = network.eval()
        self.min_confidence = min_confidence
        self.relative_distance_error = relative_distance_error
        """Measured spread of |distance error| / distance on the training's held-out views (one sigma)."""
        self.device = torch.device(device)
        self.network.to(self.device)

    def to(self, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self.network.to(self.device)

    @torch.inference_mode()
    def shapes(self, rays: np.ndarray, confidence: np.ndarray) -> np.ndarray:
        """(N, 16, 3) root-relative joints in person heights (optical axes) for (N, 16, 2) rays."""
        if len(rays) == 0:
            return np.zeros((0, JOINTS, 3))
        features = torch.from_numpy(lifter_features(rays, confidence, self.min_confidence)).to(self.device)
        return self.network(features).double().cpu().numpy()

    def lift(self, joints_2d: np.ndarray, confidence: np.ndarray, intrinsics: np.ndarray,
             height_m: float = PRIOR_HEIGHT_M) -> tuple[np.ndarray, np.ndarray]:
        """(N, 16, 2) px, (N, 16), (N, 4) fx fy cx cy → ((N, 16, 3) optical-frame joints [m], (N,) liftable).

        A person with fewer than MIN_VISIBLE_JOINTS confident joints is not liftable (their rows are NaN).
        """
        joints_2d = np.asarray(joints_2d, dtype=np.float64).reshape(-1, JOINTS, 2)
        confidence = np.asarray(confidence, dtype=np.float64).reshape(-1, JOINTS)
        intrinsics = np.broadcast_to(np.asarray(intrinsics, dtype=np.float64), (len(joints_2d), 4))
        rays = viewing_rays(joints_2d, intrinsics)
        visible = confidence >= self.min_confidence
        liftable = visible.sum(axis=1) >= MIN_VISIBLE_JOINTS
        joints = np.full((len(joints_2d), JOINTS, 3), np.nan)
        if liftable.any():
            shape = self.shapes(rays[liftable], confidence[liftable]) * height_m
            root = place_in_camera(shape, rays[liftable], visible[liftable])
            placed = shape + root[:, None, :]
            in_front = placed[:, 0, 2] > 0.1  # a root behind the camera is no answer
            chosen = np.flatnonzero(liftable)
            liftable[chosen[~in_front]] = False
            joints[chosen[in_front]] = placed[in_front]
        return joints.astype(np.float32), liftable
