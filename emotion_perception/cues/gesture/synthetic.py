"""A generated gesture task with known answers: 16-joint sequences whose class is set by how the body moves.

Each sequence is one person standing and gesturing (gait frame: metres, x right, y up, z towards the camera,
labels.GAIT_JOINTS order). The class decides the movement pattern:

- **happy** — one or both arms raised above the shoulders, forearms waving side to side (1.5–3 Hz), head up;
- **sad** — trunk slumped forward, head hanging down, shoulders dropped, arms hanging, barely moving;
- **angry** — elbows bent, fists swinging (pumping) forwards and back (1.5–3 Hz, alternating or together),
  leaning forward;
- **neutral** — upright, arms hanging or crossed over the chest, still apart from an idle sway.

Person-to-person variation: height (1.72 ± 0.09 m), shoulder and limb proportions, amplitudes, rates and
phases, posture angles drawn from overlapping ranges, a random heading (yaw) and place in front of the
camera, a slow drift of the whole body, and 1 cm joint noise. Optionally some frames are missing (NaN)
or repeat the previous one (a stalled tracker), as live tracks do.
"""

from __future__ import annotations

import numpy as np

from ...labels import GAIT_JOINTS
from .labels import GESTURE_EMOTIONS

GESTURE_CLASSES: dict[str, str] = {
    "happy": "arms raised and waving",
    "sad": "head down, slumped, still",
    "angry": "fists swinging",
    "neutral": "arms hanging or crossed, still",
}
"""The pattern each label of the generated task is rendered with."""
TRACKING_GAP_RATE = 0.03
"""Default share of frames of a generated set that are missing, and of frames that repeat the one before."""


def _limb_joints(side: str, names: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(GAIT_JOINTS.index(f"{side}_{name}") for name in names)


_ARMS = tuple((sign, _limb_joints(side, ("shoulder", "elbow", "hand"))) for sign, side in ((-1.0, "right"), (1.0, "left")))
_LEGS = tuple((sign, _limb_joints(side, ("hip", "knee", "foot"))) for sign, side in ((-1.0, "right"), (1.0, "left")))
"""(side, joint indices) of each limb; the body frame has the person's right at −x (facing +z, the camera)."""


def _direction(elevation: np.ndarray, azimuth: np.ndarray, side: float) -> np.ndarray:
    """Unit vectors (T, 3) of a limb: ``elevation`` [rad] up from hanging straight down, ``azimuth`` [rad]
    from straight forward (+z) towards the limb's own side (``side`` +1 left = +x, −1 right)."""
    sin = np.sin(elevation)
    return np.stack([side * sin * np.sin(azimuth), -np.cos(elevation), sin * np.cos(azimuth)], axis=-1)


def _pitch(vector: np.ndarray, angle: float) -> np.ndarray:
    """Tilt body-frame vectors (…, 3) forward (towards +z) about the x axis by ``angle`` [rad]."""
    cos, sin = np.cos(angle), np.sin(angle)
    return np.stack([vector[..., 0], vector[..., 1] * cos - vector[..., 2] * sin,
                     vector[..., 1] * sin + vector[..., 2] * cos], axis=-1)


def _arm_pattern(side: float, t: np.ndarray, rng: np.random.Generator, shared: dict) -> tuple:
    """(elevation, azimuth) over time of one arm's upper arm and forearm (see :func:`_direction`), by pose."""
    n, deg = len(t), np.deg2rad

    def still(low: float, high: float) -> np.ndarray:
        return np.full(n, deg(rng.uniform(low, high)))

    pose = shared["pose"]
    if pose == "waving" and side in shared["raised"]:
        # the forearm swings in the frontal plane about a near-vertical direction (elevation past 180° = inwards)
        wave = deg(rng.uniform(20, 45)) * np.sin(2 * np.pi * shared["rate"] * t + shared["phase"]
                                                 + (side < 0) * np.pi)
        return (still(110, 165), still(50, 90)), (still(155, 175) - wave, still(90, 90))
    if pose == "swinging":
        swing = deg(rng.uniform(15, 40)) * np.sin(2 * np.pi * shared["rate"] * t + shared["phase"]
                                                  + (side < 0) * shared["offset"])
        elevation = still(25, 50) + swing
        return (elevation, still(0, 25)), (elevation + deg(rng.uniform(75, 105)), still(-20, 5))
    if pose == "crossed":
        return (still(15, 30), still(-30, -10)), (still(80, 100), still(-95, -75))
    if pose == "holding":  # forearms up in front, as when holding something: still, unlike swinging fists
        return (still(20, 40), still(0, 20)), (still(100, 125), still(-25, 0))
    if pose == "raised":  # hands behind the head: raised, but not waving
        return (still(120, 150), still(60, 90)), (still(200, 230), still(90, 90))
    hang = still(2, 10) + deg(2) * np.sin(2 * np.pi * shared["sway_rate"] * t + rng.uniform(0, 2 * np.pi))
    return (hang, still(20, 60)), (hang + deg(rng.uniform(5, 25)), still(-10, 20))


def generate_gesture(emotion: str, n_frames: int, fps: float = 30.0, rng: np.random.Generator | None = None,
                     missing_rate: float = 0.0, repeat_rate: float = 0.0) -> np.ndarray:
    """One labelled gesture sequence: (n_frames, 16, 3) float32, gait frame (see the module doc).

    ``missing_rate`` / ``repeat_rate``: share of frames made NaN / made a copy of the frame before.
    """
    if emotion not in GESTURE_CLASSES:
        raise ValueError(f"unknown gesture emotion {emotion!r}; expected one of {tuple(GESTURE_CLASSES)}")
    if n_frames < 1 or fps <= 0:
        raise ValueError(f"need n_frames >= 1 and fps > 0, got {n_frames}, {fps}")
    rng = rng or np.random.default_rng(0)
    deg = np.deg2rad
    t = np.arange(n_frames) / fps
    height = float(np.clip(rng.normal(1.72, 0.09), 1.5, 1.95))
    proportion = rng.uniform(0.95, 1.05, size=4)
    lean, head_pitch, drop = {
        "happy": (rng.uniform(-6, 4), rng.uniform(-20, 0), rng.uniform(-0.02, 0.0)),
        "sad": (rng.uniform(8, 30), rng.uniform(15, 45), rng.uniform(0.01, 0.06)),
        "angry": (rng.uniform(4, 14), rng.uniform(-5, 15), rng.uniform(-0.02, 0.01)),
        "neutral": (rng.uniform(-3, 12), rng.uniform(-8, 35), rng.uniform(-0.01, 0.03)),
    }[emotion]
    pose = {"happy": "waving", "sad": "hanging", "angry": "swinging",
            "neutral": rng.choice(["hanging", "crossed", "holding", "raised"])}[emotion]
    shared = {"pose": pose, "rate": rng.uniform(1.5, 3.0), "phase": rng.uniform(0, 2 * np.pi),
              "raised": ((-1.0, 1.0), (-1.0,), (1.0,))[rng.integers(3)],  # arms waving: both, right, left
              "offset": np.pi if rng.random() < 0.7 else 0.0,  # fists swinging alternately or together
              "sway_rate": rng.uniform(0.15, 0.5)}
    sway_amplitude = {"sad": 0.01, "neutral": 0.015}.get(emotion, 0.02) * rng.uniform(0.5, 1.5)

    joints = np.zeros((n_frames, 16, 3))
    root = np.array([0.0, 0.53 * height, 0.0])
    sway = sway_amplitude * np.sin(2 * np.pi * shared["sway_rate"] * t + rng.uniform(0, 2 * np.pi))
    joints[:, 0] = root + np.stack([sway, np.zeros(n_frames), 0.3 * sway], axis=-1)
    if emotion == "happy":  # a light bounce with the waving
        joints[:, 0, 1] += 0.01 * np.abs(np.sin(np.pi * shared["rate"] * t + shared["phase"]))
    trunk = deg(lean)
    up = _pitch(np.array([0.0, 1.0, 0.0]), trunk)
    joints[:, 1] = joints[:, 0] + 0.13 * height * proportion[0] * up
    joints[:, 2] = joints[:, 0] + 0.29 * height * proportion[0] * up
    joints[:, 3] = joints[:, 2] + 0.10 * height * _pitch(np.array([0.0, 1.0, 0.0]), trunk + deg(head_pitch))
    half_shoulders = 0.11 * height * proportion[1]
    for side, (shoulder, elbow, hand) in _ARMS:
        offset = _pitch(np.array([side * half_shoulders, -0.01 * height - drop, drop]), trunk)
        joints[:, shoulder] = joints[:, 2] + offset
        upper, forearm = _arm_pattern(side, t, rng, shared)
        joints[:, elbow] = joints[:, shoulder] + 0.17 * height * proportion[2] * _direction(*upper, side)
        joints[:, hand] = joints[:, elbow] + 0.16 * height * proportion[2] * _direction(*forearm, side)
    stance = rng.uniform(0.0, 0.08) + (0.05 if emotion == "angry" else 0.0)
    for side, (hip, knee, foot) in _LEGS:
        joints[:, hip] = joints[:, 0] + np.array([side * 0.055 * height, 0.0, 0.0])
        ground = np.array([side * (0.055 * height + stance), 0.0, 0.0])
        joints[:, foot] = ground + np.array([0.0, 0.03 * height, 0.0])
        knee_forward = np.array([0.0, 0.0, 0.02 * height * proportion[3]])
        joints[:, knee] = 0.5 * (joints[:, hip] + joints[:, foot]) + knee_forward

    yaw = rng.uniform(0, 2 * np.pi)
    rotation = np.array([[np.cos(yaw), 0.0, np.sin(yaw)], [0.0, 1.0, 0.0], [-np.sin(yaw), 0.0, np.cos(yaw)]])
    drift = rng.normal(0.0, 0.05, size=3) * np.array([1.0, 0.0, 1.0])
    place = np.array([rng.uniform(-2, 2), rng.uniform(-1.4, -0.6), rng.uniform(-6, -1.5)])
    joints = joints @ rotation.T + place + (t[:, None] * drift)[:, None, :]
    joints += rng.normal(0.0, 0.01, joints.shape)
    if missing_rate > 0 or repeat_rate > 0:
        draw = rng.random(n_frames)
        for i in np.flatnonzero((draw >= missing_rate) & (draw < missing_rate + repeat_rate)):
            if i > 0:
                joints[i] = joints[i - 1]
        joints[draw < missing_rate] = np.nan
    return joints.astype(np.float32)


def synthetic_gestures(per_class: int, n_frames: int, fps: float = 30.0, seed: int = 0,
                       missing_rate: float = TRACKING_GAP_RATE,
                       repeat_rate: float = TRACKING_GAP_RATE) -> tuple[np.ndarray, np.ndarray]:
    """Balanced labelled set: (N, T, 16, 3) float32 sequences and (N,) int64 labels (labels.GESTURE_EMOTIONS index)."""
    rng = np.random.default_rng(seed)
    sequences, labels = [], []
    for _ in range(per_class):
        for label, emotion in enumerate(GESTURE_EMOTIONS):
            sequences.append(generate_gesture(emotion, n_frames, fps, rng, missing_rate, repeat_rate))
            labels.append(label)
    return np.stack(sequences), np.asarray(labels, dtype=np.int64)
