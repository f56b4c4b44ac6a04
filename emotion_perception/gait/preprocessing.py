"""The two reference preprocessing paths (STEP, ProxEmo) and the online variant used on live tracks.

STEP (file level, as its data loader): tile every gait (wrap around) to the longest in the file, centre
each frame on its root joint, fit one similarity transform per gait that maps its root-centred frame 0
onto the first gait's root-centred frame 0, apply it to all frames → (N, 3, T, 16, 1).

Online STEP variant (live tracks, see :func:`step_online_input`): the same steps with a *fixed*
alignment target, :func:`canonical_pose` (a standing 1.7 m person facing the camera, in the gait frame),
over a fixed window of the newest ``window_frames`` frames; shorter histories are tiled like the file
loader does. So a track's input never depends on which other people are in view.

ProxEmo: each gait seen from 4 yaw angles (30, 110, 200, 300 degrees; view group = angle // 90), each
view an image rows = time, columns = joints, channels = x, y, z, every pixel (max_c − value) · 255 /
(max_c − min_c) over that sequence and channel, resized bilinearly to 244 × 244.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..labels import GAIT_EMOTIONS, GAIT_JOINTS

NUM_JOINTS = len(GAIT_JOINTS)
PROXEMO_VIEW_ANGLES_DEG: tuple[int, ...] = (30, 110, 200, 300)
PROXEMO_IMAGE_SIZE = 244


class GaitInputError(ValueError):
    """A joint sequence cannot be used: wrong shape, too short, or not finite."""


def check_sequence(joints: np.ndarray, min_frames: int = 1) -> np.ndarray:
    """Validate a (T, 16, 3) (or (T, 48)) joint sequence; returns it as float64 (T, 16, 3)."""
    array = np.asarray(joints, dtype=np.float64)
    if array.ndim == 2 and array.shape[1] == NUM_JOINTS * 3:
        array = array.reshape(len(array), NUM_JOINTS, 3)
    if array.ndim != 3 or array.shape[1:] != (NUM_JOINTS, 3):
        raise GaitInputError(f"joint sequence must be (T, {NUM_JOINTS}, 3), got shape {np.shape(joints)}")
    if len(array) < max(min_frames, 1):
        raise GaitInputError(f"joint sequence has {len(array)} frames; at least {max(min_frames, 1)} needed")
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).any(axis=(1, 2)).sum())
        raise GaitInputError(f"joint sequence has non-finite (NaN/inf) joints in {bad} of {len(array)} frames")
    return array


def tile_to_length(joints: np.ndarray, length: int) -> np.ndarray:
    """Repeat a sequence from its start (wrap around, never zero-pad) until it has ``length`` frames."""
    return joints[np.arange(length) % len(joints)]


def similarity_transform(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares scale s, rotation R, translation t with target ≈ s · R · source + t (Umeyama)."""
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    src, tgt = source - mu_s, target - mu_t
    u, singular, vt = np.linalg.svd(tgt.T @ src / len(source))
    signs = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        signs[-1] = -1
    rotation = u @ np.diag(signs) @ vt
    variance = (src ** 2).sum() / len(source)
    scale = float((singular * signs).sum() / variance) if variance > 0 else 1.0
    return scale, rotation, mu_t - scale * rotation @ mu_s


def align_to(joints: np.ndarray, target_frame: np.ndarray) -> np.ndarray:
    """Root-centre every frame, then map frame 0 onto ``target_frame`` (root-centred) by a similarity."""
    centred = joints - joints[:, :1]
    scale, rotation, translation = similarity_transform(centred[0], target_frame - target_frame[:1])
    return scale * centred @ rotation.T + translation


def step_file_preprocess(sequences: list[np.ndarray]) -> np.ndarray:
    """STEP's loader on a whole file: tile to the longest, root-centre, align to gait 0 → (N, T, 16, 3)."""
    checked = [check_sequence(s) for s in sequences]
    if not checked:
        raise GaitInputError("no gaits to preprocess")
    length = max(len(s) for s in checked)
    tiled = [tile_to_length(s, length) for s in checked]
    reference = tiled[0][0] - tiled[0][0, :1]
    return np.stack([align_to(s, reference) for s in tiled])


def to_stgcn_input(aligned: np.ndarray) -> torch.Tensor:
    """(N, T, 16, 3) → the network layout (N, 3, T, 16, 1) float32."""
    return torch.from_numpy(np.ascontiguousarray(aligned.transpose(0, 3, 1, 2)[..., None], dtype=np.float32))


def canonical_pose() -> np.ndarray:
    """Fixed alignment target of the online variant: a neutral standing pose (16, 3), gait frame, metres."""
    from .synthetic import standing_pose

    return standing_pose()


def step_online_input(sequences: list[np.ndarray], window_frames: int, target: np.ndarray | None = None) -> torch.Tensor:
    """Live tracks → (N, 3, window, 16, 1): newest ``window_frames`` frames, tiled if fewer, aligned to a fixed target."""
    target = canonical_pose() if target is None else target
    windows = []
    for sequence in sequences:
        checked = check_sequence(sequence)[-window_frames:]
        windows.append(align_to(tile_to_length(checked, window_frames), target))
    return to_stgcn_input(np.stack(windows))


def rotate_view(joints: np.ndarray, angle_deg: float) -> np.ndarray:
    """ProxEmo's yaw re-view of a (T, 16, 3) sequence (its translation term vanishes after normalisation)."""
    theta = np.deg2rad(angle_deg)
    cos, sin = np.cos(theta), np.sin(theta)
    x, y, z = joints[..., 0], joints[..., 1], joints[..., 2]
    return np.stack([x * cos + z * sin + 150 * cos, y + 150 * sin, -x * sin + z * cos], axis=-1)


def proxemo_image(joints: np.ndarray) -> np.ndarray:
    """(T, 16, 3) → the inverted per-channel min-max image (T, 16, 3) in [0, 255], before resizing."""
    high = joints.max(axis=(0, 1), keepdims=True)
    low = joints.min(axis=(0, 1), keepdims=True)
    span = np.where(high - low > 0, high - low, 1.0)
    return (high - joints) * 255.0 / span


def resize_images(images: np.ndarray, size: int = PROXEMO_IMAGE_SIZE) -> torch.Tensor:
    """(N, T, 16, 3) images → (N, size, size, 3) float32, bilinear (OpenCV's half-pixel convention)."""
    tensor = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    resized = F.interpolate(tensor, size=(size, size), mode="bilinear", align_corners=False)
    return resized.permute(0, 2, 3, 1).to(torch.float32).contiguous()


def proxemo_views(joints: np.ndarray, angles_deg=PROXEMO_VIEW_ANGLES_DEG) -> np.ndarray:
    """One gait → its (V, T, 16, 3) pre-resize images, one per view angle."""
    checked = check_sequence(joints)
    return np.stack([proxemo_image(rotate_view(checked, angle)) for angle in angles_deg])


def view_group(angle_deg: float) -> int:
    """ProxEmo's view group of a yaw angle: int(angle / 90) (0..3)."""
    return int(angle_deg // 90) % 4


def proxemo_input(sequences: list[np.ndarray], angles_deg=PROXEMO_VIEW_ANGLES_DEG) -> torch.Tensor:
    """Gaits → (N·V, 244, 244, 3) network input, views of one gait consecutive."""
    views = np.concatenate([proxemo_views(s, angles_deg) for s in sequences])
    return resize_images(views)


def to_our_order(scores: np.ndarray, model_labels: tuple[str, ...]) -> np.ndarray:
    """Reorder the last axis from a model's label order to labels.GAIT_EMOTIONS."""
    index = [model_labels.index(name) for name in GAIT_EMOTIONS]
    return scores[..., index]
