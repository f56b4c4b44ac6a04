"""Training and test pairs for the lifter: 3D walks seen through random pinhole cameras.

A walk (gait frame: metres, floor y = 0, x right, y up) is placed in front of a camera whose height, pitch,
field of view and image size are drawn from the ranges robots and recordings have; a few of its frames are
projected, and the 2D joints get what a pose detector gives them: noise proportional to the person's size
in the image, confidences, joints missing at random and joints outside the image missing. Mirrored copies
(left and right swapped) double the variety for free.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...labels import GAIT_JOINTS
from ...cues.gait.labels import GAIT_EMOTIONS
from ...cues.gait.synthetic import camera_view, generate_gait

MIRROR = np.array([GAIT_JOINTS.index(name.replace("right", "LEFT").replace("left", "right").replace("LEFT", "left"))
                   for name in GAIT_JOINTS])
"""Joint index of each joint's mirror image (right ↔ left)."""
_HEAD, _FEET = GAIT_JOINTS.index("head"), [GAIT_JOINTS.index("right_foot"), GAIT_JOINTS.index("left_foot")]


@dataclass(frozen=True)
class CameraRanges:
    """Where the training cameras are drawn from (uniform in each range)."""

    height_m: tuple[float, float] = (0.5, 2.0)
    pitch_deg: tuple[float, float] = (-10.0, 30.0)
    """Downward tilt (negative: looking up)."""
    distance_m: tuple[float, float] = (1.0, 10.0)
    hfov_deg: tuple[float, float] = (50.0, 110.0)
    image_widths: tuple[int, ...] = (640, 848, 1280, 1920)
    aspects: tuple[float, ...] = (4 / 3, 16 / 9)


@dataclass(frozen=True)
class DetectorNoise:
    """What a pose detector does to 2D joints (measured confidences of real detectors lie in 0.3–1)."""

    pixel_sigma: tuple[float, float] = (0.003, 0.025)
    """Per-joint position noise, as a share of the person's height in the image."""
    confidence: tuple[float, float] = (0.3, 1.0)
    drop_rate: tuple[float, float] = (0.0, 0.15)
    """Share of joints missing (confidence below any threshold)."""


@dataclass
class LiftingSamples:
    """Views of 3D skeletons: what the lifter is given and what it should answer."""

    joints_2d: np.ndarray
    """(N, 16, 2) float32 [px]."""
    confidence: np.ndarray
    """(N, 16) float32."""
    intrinsics: np.ndarray
    """(N, 4) float32 fx, fy, cx, cy [px]."""
    joints_3d: np.ndarray
    """(N, 16, 3) float32 optical frame [m] (the truth)."""
    height_m: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    """(N,) the person's height [m]."""

    def __len__(self) -> int:
        return len(self.joints_2d)

    @staticmethod
    def concatenate(parts: list[LiftingSamples]) -> LiftingSamples:
        return LiftingSamples(*(np.concatenate([getattr(p, name) for p in parts]) for name in
                                ("joints_2d", "confidence", "intrinsics", "joints_3d", "height_m")))


def walker_gaits(count: int, frames: int, rng: np.random.Generator, fps: float = 30.0) -> list[np.ndarray]:
    """Procedural walks of every emotion's style (gait/synthetic.py), random headings and subjects."""
    return [generate_gait(GAIT_EMOTIONS[i % len(GAIT_EMOTIONS)], frames, fps, rng,
                          heading_deg=float(rng.uniform(0.0, 360.0)), height=float(rng.uniform(1.45, 2.0)))
            for i in range(count)]


def standing_on_floor(gait: np.ndarray, height_m: float) -> np.ndarray:
    """A gait file's sequence (any unit, y up) scaled to ``height_m`` tall with its lowest foot on y = 0.

    Height is measured as the walker defines it: the head joint sits at 0.92 of the body's height.
    """
    gait = np.asarray(gait, dtype=np.float64)
    tall = np.median(gait[:, _HEAD, 1] - gait[:, _FEET, 1].min(axis=1)) / 0.92
    if not np.isfinite(tall) or tall <= 0:
        raise ValueError("the gait has no head above its feet")
    scaled = (gait - gait[:, :1, :] * [1, 0, 1]) * (height_m / tall)
    scaled[..., 1] -= scaled[:, _FEET, 1].min()
    return scaled.astype(np.float32)


def person_height(gait: np.ndarray) -> float:
    """Height [m] of a gait-frame walk as the walker defines it (head joint at 0.92 of the height)."""
    return float(np.median(gait[:, _HEAD, 1] - gait[:, _FEET, 1].min(axis=1)) / 0.92)


def view_walks(walks: list[np.ndarray], frames_per_walk: int, rng: np.random.Generator,
               cameras: CameraRanges = CameraRanges(), noise: DetectorNoise | None = DetectorNoise(),
               mirror: bool = True) -> LiftingSamples:
    """Each walk through its own random camera: ``frames_per_walk`` random frames (and their mirror images)."""
    parts = []
    for walk in walks:
        walk = np.asarray(walk, dtype=np.float64)
        height = person_height(walk)
        for attempt in range(10):
            sample = _one_view(walk, height, frames_per_walk, rng, cameras, noise)
            if sample is not None:
                parts.append(sample)
                if mirror:
                    parts.append(_mirrored(sample))
                break
    return LiftingSamples.concatenate(parts)


def _one_view(walk: np.ndarray, height: float, frames: int, rng: np.random.Generator, cameras: CameraRanges,
              noise: DetectorNoise | None) -> LiftingSamples | None:
    width = int(rng.choice(cameras.image_widths))
    image_height = int(round(width / float(rng.choice(cameras.aspects))))
    focal = width / 2 / np.tan(np.deg2rad(rng.uniform(*cameras.hfov_deg)) / 2)
    intrinsics = np.array([focal, focal, (width - 1) / 2, (image_height - 1) / 2])
    camera_height, pitch = rng.uniform(*cameras.height_m), rng.uniform(*cameras.pitch_deg)
    distance = rng.uniform(*cameras.distance_m)
    bearing = rng.uniform(-0.4, 0.4) * np.arctan(width / 2 / focal)
    chosen = rng.choice(len(walk), size=min(frames, len(walk)), replace=False)
    anchor = walk[chosen[0], 0]
    placed = walk[chosen] - [anchor[0], 0.0, anchor[2]] + [distance * np.sin(bearing), 0.0, -distance * np.cos(bearing)]
    optical = camera_view(placed, camera_height, pitch).astype(np.float64)
    in_front = (optical[..., 2] > 0.3).all(axis=1)
    if not in_front.any():
        return None
    optical = optical[in_front]
    pixels = optical[..., :2] / optical[..., 2:] * focal + intrinsics[2:]
    confidence = np.ones(pixels.shape[:2])
    if noise is not None:
        tall_px = np.ptp(pixels[..., 1], axis=1)[:, None, None]
        pixels = pixels + rng.normal(0.0, 1.0, pixels.shape) * rng.uniform(*noise.pixel_sigma) * tall_px
        confidence = rng.uniform(*noise.confidence, size=confidence.shape)
        confidence[rng.random(confidence.shape) < rng.uniform(*noise.drop_rate)] = 0.0
    outside = ((pixels < 0) | (pixels > [width - 1, image_height - 1])).any(axis=2)
    confidence[outside] = 0.0
    keep = (confidence > 0).sum(axis=1) >= 8
    if not keep.any():
        return None
    n = int(keep.sum())
    return LiftingSamples(pixels[keep].astype(np.float32), confidence[keep].astype(np.float32),
                          np.repeat(intrinsics[None], n, 0).astype(np.float32), optical[keep].astype(np.float32),
                          np.full(n, height, np.float32))


def _mirrored(sample: LiftingSamples) -> LiftingSamples:
    """The mirror image about the image's vertical centre line: x flipped, left and right joints swapped."""
    pixels = sample.joints_2d[:, MIRROR].copy()
    pixels[..., 0] = 2 * sample.intrinsics[:, None, 2] - pixels[..., 0]
    joints = sample.joints_3d[:, MIRROR].copy()
    joints[..., 0] *= -1
    return LiftingSamples(pixels, sample.confidence[:, MIRROR].copy(), sample.intrinsics.copy(), joints,
                          sample.height_m.copy())
