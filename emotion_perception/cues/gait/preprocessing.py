"""The reference preprocessing paths (STEP, ProxEmo) and the online variant used on live tracks.

STEP (file level, as its data loader): tile every gait (wrap around) to the longest in the file, centre
each frame on its root joint, fit one similarity transform per gait that maps its root-centred frame 0
onto the first gait's root-centred frame 0, apply it to all frames → (N, 3, T, 16, 1).

Online STEP variant (live tracks, see :func:`step_online_input`): the newest ``window_frames`` frames
(shorter histories tiled like the file loader does), root-centred and aligned to the training
distribution that the weights carry (distribution.py: the window's mean pose is fitted onto the training
mean pose in the network's normalised units). So a track's input never depends on which other people are
in view, and it is put where the network's own inputs were in training.

ProxEmo (file level and live, :func:`proxemo_input`): every gait tiled to a common length (a file's
longest, or the live window), then seen from 4 yaw angles (30, 110, 200, 300 degrees; view group =
angle // 90), each view an image rows = time, columns = joints, channels = x, y, z, every pixel
(max_c − value) · 255 / (max_c − min_c) over that view and channel, resized bilinearly to 244 × 244 —
batched torch operations on the network's device."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ...labels import GAIT_JOINTS
from .labels import GAIT_EMOTIONS
from .distribution import InputStatistics, align_windows, umeyama

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


def step_file_preprocess(sequences: list[np.ndarray]) -> np.ndarray:
    """STEP's loader on a whole file: tile to the longest, root-centre, align to gait 0 → (N, T, 16, 3).

    Each gait's root-centred frame 0 is mapped onto the first gait's root-centred frame 0 by a least-squares
    similarity (Umeyama), applied to all of its frames.
    """
    checked = [check_sequence(s) for s in sequences]
    if not checked:
        raise GaitInputError("no gaits to preprocess")
    length = max(len(s) for s in checked)
    centred = np.stack([tile_to_length(s, length) for s in checked])
    centred = centred - centred[:, :, :1]
    scale, rotation, translation = umeyama(centred[:, 0], centred[0, 0])
    return scale[:, None, None, None] * np.einsum("ncd,ntpd->ntpc", rotation, centred) + translation[:, None, None]


def to_stgcn_input(aligned: np.ndarray) -> torch.Tensor:
    """(N, T, 16, 3) → the network layout (N, 3, T, 16, 1) float32."""
    return torch.from_numpy(np.ascontiguousarray(aligned.transpose(0, 3, 1, 2)[..., None], dtype=np.float32))


def newest_windows(sequences: list[np.ndarray], window_frames: int) -> np.ndarray:
    """(N, window, 16, 3): the newest ``window_frames`` frames of each sequence, tiled (wrapped) if fewer."""
    return np.stack([tile_to_length(check_sequence(s)[-window_frames:], window_frames) for s in sequences])


def step_online_input(sequences: list[np.ndarray], window_frames: int, statistics: InputStatistics) -> np.ndarray:
    """Live tracks → (N, window, 16, 3) network inputs: :func:`newest_windows` aligned to the weights' training
    distribution (distribution.align_windows)."""
    return align_windows(newest_windows(sequences, window_frames), statistics)


def embedding_dtype(device: torch.device) -> torch.dtype:
    """float64 where the device has it (the embedding then equals the float64 reference to rounding), else float32."""
    return torch.float32 if device.type == "mps" else torch.float64


def proxemo_images(gaits: torch.Tensor, angles_deg=PROXEMO_VIEW_ANGLES_DEG) -> torch.Tensor:
    """(N, T, 16, 3) gaits → (N, V, T, 16, 3) pre-resize images, one per view angle, on the gaits' device.

    Each view turns the gait about the vertical by its angle (ProxEmo's translation term, a constant per
    channel, cancels in the min-max and is left out); each pixel is (max_c − value) · 255 / (max_c − min_c)
    over the whole view and channel c.
    """
    theta = torch.deg2rad(torch.as_tensor(angles_deg, dtype=gaits.dtype, device=gaits.device)).view(1, -1, 1, 1)
    x, y, z = (gaits[..., c].unsqueeze(1) for c in range(3))
    cos, sin = torch.cos(theta), torch.sin(theta)
    turned_x = x * cos + z * sin
    views = torch.stack([turned_x, y.expand_as(turned_x), z * cos - x * sin], dim=-1)
    high = views.amax(dim=(2, 3), keepdim=True)
    low = views.amin(dim=(2, 3), keepdim=True)
    span = torch.where(high - low > 0, high - low, torch.ones_like(high))
    return (high - views) * 255.0 / span


def resize_images(images: torch.Tensor, size: int = PROXEMO_IMAGE_SIZE) -> torch.Tensor:
    """(M, T, 16, 3) images → (M, size, size, 3) float32, bilinear (OpenCV's half-pixel convention), on their device."""
    resized = F.interpolate(images.permute(0, 3, 1, 2), size=(size, size), mode="bilinear", align_corners=False)
    return resized.permute(0, 2, 3, 1).to(torch.float32).contiguous()


def view_group(angle_deg: float) -> int:
    """ProxEmo's view group of a yaw angle: int(angle / 90) (0..3)."""
    return int(angle_deg // 90) % 4


def proxemo_input(sequences: list[np.ndarray], length: int | None = None, device: torch.device | str = "cpu",
                  angles_deg=PROXEMO_VIEW_ANGLES_DEG) -> torch.Tensor:
    """Gaits → (N·V, 244, 244, 3) float32 network input on ``device``, views of one gait consecutive.

    Every gait is first tiled (wrapped) to ``length`` frames; by default to the longest of them, which is
    ProxEmo's rule for a file of gaits.
    """
    checked = [check_sequence(s) for s in sequences]
    if not checked:
        raise GaitInputError("no gaits to embed")
    length = length or max(len(s) for s in checked)
    device = torch.device(device)
    gaits = torch.from_numpy(np.stack([tile_to_length(s, length) for s in checked]))
    images = proxemo_images(gaits.to(device=device, dtype=embedding_dtype(device)), angles_deg)
    return resize_images(images.flatten(0, 1))


def to_our_order(scores: np.ndarray, model_labels: tuple[str, ...]) -> np.ndarray:
    """Reorder the last axis from a model's label order to labels.GAIT_EMOTIONS."""
    index = [model_labels.index(name) for name in GAIT_EMOTIONS]
    return scores[..., index]
