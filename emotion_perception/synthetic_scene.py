"""A synthetic camera scene of people walking, with the ground-truth 3D skeletons behind each frame.

This is what the bundled sample bag, the demo, the tests and the benchmarks share: people whose walks come
from the procedural gait generator (each with a known emotion style) are drawn as simple solid figures in a
plain room seen by a pinhole camera. It is honest about what it is: not photographs, so a detector trained
on real images may or may not find these figures; the skeleton topic carries the exact joints.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .gait.synthetic import generate_gait
from .labels import GAIT_EMOTIONS, GAIT_JOINTS
from .types import CameraIntrinsics, ExternalSkeleton

_J = {name: index for index, name in enumerate(GAIT_JOINTS)}
_LIMBS = (("right_shoulder", "right_elbow"), ("right_elbow", "right_hand"), ("left_shoulder", "left_elbow"),
          ("left_elbow", "left_hand"), ("right_hip", "right_knee"), ("right_knee", "right_foot"),
          ("left_hip", "left_knee"), ("left_knee", "left_foot"), ("neck", "head"))
_HEADINGS_DEG = (0.0, 180.0, 35.0, 215.0, 145.0, 325.0)
"""Walking directions in turn (0 = to the right, 90 = away from the camera), so paths cross rather than overlap."""
_SHIRTS = ((200, 60, 60), (60, 120, 200), (70, 170, 90), (220, 170, 40), (150, 80, 190),
           (40, 170, 170), (230, 110, 30), (120, 120, 120), (190, 60, 140), (90, 60, 40))


@dataclass(frozen=True)
class SceneConfig:
    width: int = 320
    height: int = 240
    fps: float = 30.0
    seconds: float = 4.0
    people: int = 3
    seed: int = 7
    camera_height_m: float = 1.3
    horizontal_fov_deg: float = 75.0
    start_stamp_ns: int = 1_700_000_000_000_000_000


@dataclass
class SceneFrame:
    image: np.ndarray
    """(H, W, 3) uint8 RGB."""
    stamp_ns: int
    skeletons: list[ExternalSkeleton]
    emotions: dict[int, str]
    """The emotion each person's walk was generated with, by track id (the ground truth)."""


def scene_intrinsics(config: SceneConfig) -> CameraIntrinsics:
    fx = (config.width / 2) / np.tan(np.radians(config.horizontal_fov_deg) / 2)
    return CameraIntrinsics(fx=float(fx), fy=float(fx), cx=config.width / 2, cy=config.height / 2,
                            width=config.width, height=config.height)


def _walks(config: SceneConfig, rng: np.random.Generator) -> tuple[list[np.ndarray], list[str]]:
    """Each person's (T, 16, 3) joints in the camera optical frame [m] and their emotion."""
    frames = int(round(config.seconds * config.fps))
    walks, emotions = [], []
    for index in range(config.people):
        emotion = GAIT_EMOTIONS[index % len(GAIT_EMOTIONS)]
        heading = _HEADINGS_DEG[index % len(_HEADINGS_DEG)]
        joints = generate_gait(emotion, frames, config.fps, rng, heading_deg=heading).astype(np.float64)  # gait frame
        middle = (joints[0, 0] + joints[-1, 0]) / 2  # the root's position halfway along the walk
        travel = abs(joints[-1, 0, 0] - joints[0, 0, 0])
        half_view = np.tan(np.radians(config.horizontal_fov_deg) / 2)
        distance = max(4.0 + 3.0 * rng.random(), (travel / 2 + 0.6) / half_view)
        slack = max(0.0, distance * half_view - travel / 2 - 0.6)  # room to shift the path and stay in view
        optical = np.empty_like(joints)
        optical[..., 0] = joints[..., 0] - middle[0] + rng.uniform(-slack, slack)
        optical[..., 1] = config.camera_height_m - joints[..., 1]
        optical[..., 2] = distance - (joints[..., 2] - middle[2])
        walks.append(optical.astype(np.float32))
        emotions.append(emotion)
    return walks, emotions


def _background(config: SceneConfig) -> np.ndarray:
    height, width = config.height, config.width
    horizon = height // 2
    image = np.empty((height, width, 3), dtype=np.uint8)
    wall = np.linspace(205, 175, horizon)[:, None]
    image[:horizon] = np.stack([wall * 0.95, wall * 0.92, wall * 0.85], axis=-1).astype(np.uint8)
    floor = np.linspace(120, 80, height - horizon)[:, None]
    image[horizon:] = np.stack([floor, floor * 0.9, floor * 0.8], axis=-1).astype(np.uint8)
    for x in range(0, width, max(8, width // 8)):  # a few door frames for texture
        cv2.line(image, (x, horizon // 3), (x, horizon), (150, 140, 130), 1)
    return image


def _draw_person(image: np.ndarray, joints: np.ndarray, intrinsics: CameraIntrinsics, shirt: tuple[int, int, int]) -> None:
    z = np.maximum(joints[:, 2], 0.1)
    pixels = np.stack([intrinsics.fx * joints[:, 0] / z + intrinsics.cx,
                       intrinsics.fy * joints[:, 1] / z + intrinsics.cy], axis=1)
    points = np.round(pixels).astype(np.int32)
    metre = intrinsics.fx / float(np.mean(z))
    trousers = (50, 50, 70)
    torso = points[[_J["right_shoulder"], _J["left_shoulder"], _J["left_hip"], _J["right_hip"]]]
    for (a, b) in _LIMBS:
        colour = trousers if "hip" in a or "knee" in a else shirt
        cv2.line(image, tuple(points[_J[a]]), tuple(points[_J[b]]), colour, max(2, int(0.11 * metre)), cv2.LINE_AA)
    cv2.fillConvexPoly(image, cv2.convexHull(torso), shirt, cv2.LINE_AA)
    cv2.circle(image, tuple(points[_J["head"]]), max(2, int(0.11 * metre)), (225, 185, 150), -1, cv2.LINE_AA)


def render_scene(config: SceneConfig = SceneConfig()) -> tuple[CameraIntrinsics, list[SceneFrame]]:
    """The scene's intrinsics and every frame with its ground-truth skeletons (deterministic for a seed)."""
    rng = np.random.default_rng(config.seed)
    intrinsics = scene_intrinsics(config)
    walks, emotions = _walks(config, rng)
    background = _background(config)
    period_ns = int(round(1e9 / config.fps))
    frames = []
    for t in range(walks[0].shape[0] if walks else int(round(config.seconds * config.fps))):
        image = background.copy()
        for index in sorted(range(len(walks)), key=lambda i: -float(walks[i][t, 0, 2])):  # far first
            _draw_person(image, walks[index][t], intrinsics, _SHIRTS[index % len(_SHIRTS)])
        skeletons = [ExternalSkeleton(track_id=index + 1, joints_3d=walks[index][t].copy(),
                                      confidence=np.ones(len(GAIT_JOINTS), dtype=np.float32))
                     for index in range(len(walks))]
        frames.append(SceneFrame(image=image, stamp_ns=config.start_stamp_ns + t * period_ns, skeletons=skeletons,
                                 emotions={index + 1: emotion for index, emotion in enumerate(emotions)}))
    return intrinsics, frames
