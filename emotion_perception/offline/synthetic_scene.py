"""A synthetic camera scene of people walking, with the ground-truth 3D skeletons behind each frame.

This is what the bundled sample bag, the demo, the tests and the benchmarks share: people whose walks come
from the procedural gait generator (each with a known emotion style) are drawn as simple solid figures in a
plain room seen by a pinhole camera; one of them (``approaching``) walks angrily up to the camera, ending
about a metre away. It is honest about what it is: not photographs, so a detector trained on real images
may or may not find these figures; the skeleton topic carries the exact joints.

Optionally the scene ends with ``photo_seconds`` of a **real photograph**: scikit-image's ``astronaut``
(NASA, public domain; a smiling person, labelled happy by hand), letterboxed into the frame, with a
skeleton whose joints were placed on the photo by hand, so the face cue can be shown on a real face.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..cues.gait.synthetic import generate_gait
from ..labels import GAIT_JOINTS
from ..cues.gait.labels import GAIT_EMOTIONS
from ..types import CameraIntrinsics, ExternalSkeleton

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
    """Length of the walking part."""
    people: int = 3
    """People crossing the room, with the emotions of labels.GAIT_EMOTIONS in turn."""
    seed: int = 7
    camera_height_m: float = 1.3
    horizontal_fov_deg: float = 75.0
    start_stamp_ns: int = 1_700_000_000_000_000_000
    approaching: bool = False
    """One more person, walking angrily straight at the camera and ending ``approach_end_m`` from it."""
    approach_end_m: float = 1.2
    photo_seconds: float = 0.0
    """Seconds of the real photograph after the walking part (0: none)."""


SAMPLE_SCENE = SceneConfig(people=3, seconds=4.0, seed=7, approaching=True, photo_seconds=2.0)
"""The bundled sample (data/sample_walk): three walkers crossing, an angry one coming up to the camera, a real photo."""

PHOTO_JOINTS_PX: dict[str, tuple[float, float]] = {
    "root": (225, 478), "spine": (222, 330), "neck": (222, 200), "head": (222, 108),
    "right_shoulder": (112, 252), "right_elbow": (62, 400), "right_hand": (158, 488),
    "left_shoulder": (334, 252), "left_elbow": (382, 420), "left_hand": (312, 470),
    "right_hip": (152, 480), "right_knee": (160, 630), "right_foot": (166, 770),
    "left_hip": (298, 480), "left_knee": (300, 630), "left_foot": (304, 770),
}
"""Hand-placed joints of the person in scikit-image's 512x512 astronaut photo [px] (legs below the frame)."""
PHOTO_DEPTH_M = 0.8
"""Distance that makes the photo's shoulders (225 px at 512 px) about 0.4 m wide in the sample's camera."""
PHOTO_EMOTION = "happy"
APPROACH_SHARE = 0.8
"""Part of the walking time the approaching person walks; the rest they stand in front of the camera."""


@dataclass
class SceneFrame:
    image: np.ndarray
    """(H, W, 3) uint8 RGB."""
    stamp_ns: int
    skeletons: list[ExternalSkeleton]
    emotions: dict[int, str]
    """The emotion each person's walk was generated with, by track id (the ground truth)."""
    photo: bool = False
    """True for the frames of the real photograph."""


def scene_intrinsics(config: SceneConfig) -> CameraIntrinsics:
    fx = (config.width / 2) / np.tan(np.radians(config.horizontal_fov_deg) / 2)
    return CameraIntrinsics(fx=float(fx), fy=float(fx), cx=config.width / 2, cy=config.height / 2,
                            width=config.width, height=config.height)


def _walks(config: SceneConfig, rng: np.random.Generator) -> tuple[list[np.ndarray], list[str]]:
    """Each person's (T, 16, 3) joints in the camera optical frame [m] and their emotion."""
    frames = int(round(config.seconds * config.fps))
    walks, emotions = [], []
    half_view = np.tan(np.radians(config.horizontal_fov_deg) / 2)
    for index in range(config.people):
        emotion = GAIT_EMOTIONS[index % len(GAIT_EMOTIONS)]
        heading = _HEADINGS_DEG[index % len(_HEADINGS_DEG)]
        joints = generate_gait(emotion, frames, config.fps, rng, heading_deg=heading).astype(np.float64)  # gait frame
        middle = (joints[0, 0] + joints[-1, 0]) / 2  # the root's position halfway along the walk
        travel = abs(joints[-1, 0, 0] - joints[0, 0, 0])
        distance = max(4.0 + 3.0 * rng.random(), (travel / 2 + 0.6) / half_view)
        slack = max(0.0, distance * half_view - travel / 2 - 0.6)  # room to shift the path and stay in view
        walks.append(_to_optical(joints, config, x_shift=-middle[0] + rng.uniform(-slack, slack),
                                 z_shift=distance + middle[2]))
        emotions.append(emotion)
    if config.approaching:  # storms up to the camera in the first APPROACH_SHARE of the walk, then stands there
        walking = int(round(APPROACH_SHARE * frames))
        joints = generate_gait("angry", walking, config.fps, rng, heading_deg=270.0).astype(np.float64)
        joints = np.concatenate([joints, np.repeat(joints[-1:], frames - walking, axis=0)])
        walks.append(_to_optical(joints, config, x_shift=0.25 - joints[-1, 0, 0],
                                 z_shift=config.approach_end_m + joints[-1, 0, 2]))
        emotions.append("angry")
    return walks, emotions


def _to_optical(joints: np.ndarray, config: SceneConfig, x_shift: float, z_shift: float) -> np.ndarray:
    """Gait-frame joints (y up, z towards the camera) seen by the camera: x shifted, at depth z_shift - z."""
    optical = np.empty_like(joints)
    optical[..., 0] = joints[..., 0] + x_shift
    optical[..., 1] = config.camera_height_m - joints[..., 1]
    optical[..., 2] = z_shift - joints[..., 2]
    return optical.astype(np.float32)


def _photo(config: SceneConfig, intrinsics: CameraIntrinsics) -> tuple[np.ndarray, np.ndarray]:
    """The real photograph letterboxed into the frame, and its person's 3D joints (optical frame)."""
    try:
        from skimage.data import astronaut
    except ImportError as exc:
        raise ValueError("the sample's photo frames come from scikit-image's astronaut: pip install scikit-image, "
                         "or make the sample with photo_seconds 0") from exc
    photo = astronaut()
    side = min(config.width, config.height)
    scale = side / photo.shape[0]
    left, top = (config.width - side) // 2, (config.height - side) // 2
    image = np.full((config.height, config.width, 3), 40, dtype=np.uint8)
    image[top:top + side, left:left + side] = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    pixels = np.array([PHOTO_JOINTS_PX[name] for name in GAIT_JOINTS], dtype=np.float64) * scale + [left, top]
    joints = np.stack([(pixels[:, 0] - intrinsics.cx) * PHOTO_DEPTH_M / intrinsics.fx,
                       (pixels[:, 1] - intrinsics.cy) * PHOTO_DEPTH_M / intrinsics.fy,
                       np.full(len(pixels), PHOTO_DEPTH_M)], axis=1)
    return image, joints.astype(np.float32)


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
    walkers = {index + 1: emotion for index, emotion in enumerate(emotions)}
    frames = []
    for t in range(int(round(config.seconds * config.fps))):
        image = background.copy()
        for index in sorted(range(len(walks)), key=lambda i: -float(walks[i][t, 0, 2])):  # far first
            _draw_person(image, walks[index][t], intrinsics, _SHIRTS[index % len(_SHIRTS)])
        skeletons = [ExternalSkeleton(track_id=index + 1, joints_3d=walks[index][t].copy(),
                                      confidence=np.ones(len(GAIT_JOINTS), dtype=np.float32))
                     for index in range(len(walks))]
        frames.append(SceneFrame(image=image, stamp_ns=config.start_stamp_ns + t * period_ns, skeletons=skeletons,
                                 emotions=walkers))
    if config.photo_seconds > 0:
        photo, joints = _photo(config, intrinsics)
        track_id = len(walks) + 1
        emotions_with_photo = {**walkers, track_id: PHOTO_EMOTION}
        for t in range(len(frames), len(frames) + int(round(config.photo_seconds * config.fps))):
            skeleton = ExternalSkeleton(track_id, joints.copy(), np.ones(len(GAIT_JOINTS), dtype=np.float32))
            frames.append(SceneFrame(image=photo.copy(), stamp_ns=config.start_stamp_ns + t * period_ns,
                                     skeletons=[skeleton], emotions=emotions_with_photo, photo=True))
    return intrinsics, frames
