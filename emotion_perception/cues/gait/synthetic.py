"""Procedural, labelled 16-joint walking gaits (gait frame: metres, x right, y up, z towards the camera).

A parametric gait cycle drives hip and knee flexion of the two legs in antiphase, the arms swing against
the legs, the pelvis bobs so that the lower foot stays on the ground plane y = 0, and the body moves
forward along its heading at speed = step length × cadence. Emotion changes the style the way the
gait-emotion literature describes it (Montepare 1987; Roether et al. 2009; Karg et al. 2010; STEP):
happy — fast, long strides, wide arm swing, upright, head up; angry — fast, heavy, wide arm swing,
forward lean, bent elbows, jerky; sad — slow, short strides, little arm swing, slumped trunk and
shoulders, head down; neutral — in between. Subject variation (height, proportions, style) and sensor
noise come from the generator passed in; without one the canonical, noise-free style is produced.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .labels import GAIT_EMOTIONS
from ...pose import JointHistory
from ...types import JointSequence, PositionSource, Skeleton


@dataclass(frozen=True)
class GaitStyle:
    """Parameters of one synthetic walk (angles in degrees, lengths in metres, rates in Hz)."""

    height: float = 1.70
    cadence_hz: float = 1.8
    """Steps per second (two steps per gait cycle)."""
    step_length: float = 0.70
    hip_swing_deg: float = 22.0
    knee_flex_deg: float = 55.0
    arm_swing_deg: float = 18.0
    elbow_bend_deg: float = 15.0
    trunk_lean_deg: float = 2.0
    """Forward lean of the trunk (positive = slumped forward)."""
    head_pitch_deg: float = 0.0
    """Head bent forward/down relative to the trunk (negative = chin up)."""
    shoulder_drop: float = 0.0
    """Shoulders lowered and rounded forward [m]."""
    jerk: float = 0.0
    """Amplitude of abrupt movement irregularities [m]."""
    noise: float = 0.0
    """Per-joint measurement noise, standard deviation [m]."""
    heading_deg: float = 0.0
    """Walking direction about the vertical axis: 0 = +x (to the right), 90 = −z (away from the camera)."""
    start_x: float = 0.0
    start_z: float = 0.0
    phase: float = 0.0
    """Gait-cycle phase at the first frame [rad]."""


EMOTION_STYLES: dict[str, dict[str, float]] = {
    "happy": dict(cadence_hz=2.05, step_length=0.80, hip_swing_deg=26, arm_swing_deg=32, elbow_bend_deg=25,
                  trunk_lean_deg=-3, head_pitch_deg=-12, shoulder_drop=-0.01, jerk=0.004),
    "sad": dict(cadence_hz=1.35, step_length=0.50, hip_swing_deg=14, knee_flex_deg=40, arm_swing_deg=5,
                elbow_bend_deg=8, trunk_lean_deg=16, head_pitch_deg=30, shoulder_drop=0.05, jerk=0.001),
    "angry": dict(cadence_hz=2.15, step_length=0.78, hip_swing_deg=25, arm_swing_deg=36, elbow_bend_deg=65,
                  trunk_lean_deg=10, head_pitch_deg=6, shoulder_drop=-0.02, jerk=0.018),
    "neutral": dict(),
}
"""Style of each emotion, as changes from GaitStyle's defaults."""


def _body_points(height: float, drop: float) -> dict[str, np.ndarray]:
    """Standing proportions (body frame: forward, up, right) from a person's height (Drillis & Contini)."""
    h = height
    return {
        "root": np.array([0.0, 0.53 * h, 0.0]),
        "spine": np.array([0.0, 0.66 * h, 0.0]),
        "neck": np.array([0.0, 0.82 * h, 0.0]),
        "head": np.array([0.0, 0.92 * h, 0.0]),
        "shoulder": np.array([0.0 + drop, 0.81 * h - drop, 0.11 * h]),
        "hip": np.array([0.0, 0.53 * h, 0.055 * h]),
        "upper_arm": np.array([0.17 * h]), "forearm": np.array([0.16 * h]),
        "thigh": np.array([0.26 * h]), "shank": np.array([0.27 * h]),
    }


def _rot_forward(vector: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate body-frame vectors (…, 3) in the sagittal plane (forward, up) by ``angle`` [rad], forward positive."""
    c, s = np.cos(angle), np.sin(angle)
    f, u = vector[..., 0], vector[..., 1]
    return np.stack([f * c + u * s, -f * s + u * c, vector[..., 2]], axis=-1)


def _limb(length_a: float, length_b: float, swing: np.ndarray, bend: np.ndarray, side: float) -> tuple[np.ndarray, np.ndarray]:
    """Middle and end joint offsets of a hanging two-segment limb, swung forward by ``swing`` and bent by ``bend``."""
    down = np.zeros((len(swing), 3))
    down[:, 1] = -1.0
    middle = _rot_forward(down * length_a, swing)
    end = middle + _rot_forward(down * length_b, swing + bend * side)
    return middle, end


def _skeleton(style: GaitStyle, t: np.ndarray) -> np.ndarray:
    """Body-frame joints (T, 16, 3) (forward, up, right) of the walk at times t, before placement."""
    body = _body_points(style.height, style.shoulder_drop)
    phase = 2 * np.pi * style.cadence_hz / 2 * t + style.phase  # one cycle = two steps
    lean = np.deg2rad(style.trunk_lean_deg)
    joints = np.zeros((len(t), 16, 3))

    def trunk(point: np.ndarray) -> np.ndarray:  # lean the upper body about the root
        return body["root"] + _rot_forward((point - body["root"])[None].repeat(len(t), 0), np.full(len(t), lean))

    joints[:, 0] = body["root"]
    joints[:, 1] = trunk(body["spine"])
    joints[:, 2] = trunk(body["neck"])
    head_offset = _rot_forward((body["head"] - body["neck"])[None].repeat(len(t), 0),
                               np.full(len(t), lean + np.deg2rad(style.head_pitch_deg)))
    joints[:, 3] = joints[:, 2] + head_offset
    hip_amp, knee_amp = np.deg2rad(style.hip_swing_deg), np.deg2rad(style.knee_flex_deg)
    arm_amp, elbow = np.deg2rad(style.arm_swing_deg), np.deg2rad(style.elbow_bend_deg)
    for side, (shoulder_i, elbow_i, hand_i, hip_i, knee_i, foot_i), offset in (
        (1.0, (4, 5, 6, 10, 11, 12), 0.0), (-1.0, (7, 8, 9, 13, 14, 15), np.pi),
    ):
        leg_phase = phase + offset
        hip_angle = hip_amp * np.sin(leg_phase)
        # the knee flexes in swing (after toe-off), nearly straight in stance
        knee_angle = -knee_amp * np.clip(np.sin(leg_phase - 0.6), 0, None) ** 2 - 0.08
        hip = body["hip"] * np.array([1, 1, side])
        knee, foot = _limb(body["thigh"][0], body["shank"][0], hip_angle, knee_angle, 1.0)
        joints[:, hip_i] = hip
        joints[:, knee_i] = hip + knee
        joints[:, foot_i] = hip + foot
        shoulder = trunk(body["shoulder"] * np.array([1, 1, side]))
        arm_angle = -arm_amp * np.sin(leg_phase) + lean * 0.5
        elbow_joint, hand = _limb(body["upper_arm"][0], body["forearm"][0], arm_angle,
                                  np.full(len(t), elbow) + 0.3 * elbow * np.clip(np.sin(-leg_phase), 0, None), 1.0)
        joints[:, shoulder_i] = shoulder
        joints[:, elbow_i] = shoulder + elbow_joint
        joints[:, hand_i] = shoulder + hand
    joints[:, :, 1] -= joints[:, [12, 15], 1].min(axis=1, keepdims=True)  # lower foot on the ground
    return joints


def _place(body_joints: np.ndarray, style: GaitStyle, t: np.ndarray) -> np.ndarray:
    """Body frame → gait frame: turn to the heading and walk forward at step_length × cadence."""
    heading = np.deg2rad(style.heading_deg)
    forward = np.array([np.cos(heading), 0.0, -np.sin(heading)])
    up = np.array([0.0, 1.0, 0.0])
    right = np.cross(forward, up)
    world = body_joints[..., :1] * forward + body_joints[..., 1:2] * up + body_joints[..., 2:3] * right
    travelled = style.step_length * style.cadence_hz * t
    return world + (travelled[:, None] * forward)[:, None, :] + np.array([style.start_x, 0.0, style.start_z])


def emotion_style(emotion: str, rng: np.random.Generator | None = None, **style: float) -> GaitStyle:
    """The style of an emotion; with ``rng`` varied per subject (height, pace, amplitudes ±15 %)."""
    if emotion not in EMOTION_STYLES:
        raise ValueError(f"unknown gait emotion {emotion!r}; expected one of {GAIT_EMOTIONS}")
    values = dataclasses.asdict(GaitStyle())
    values.update(EMOTION_STYLES[emotion])
    if rng is not None:
        values["height"] = float(rng.normal(1.70, 0.08))
        for key in ("cadence_hz", "step_length", "hip_swing_deg", "knee_flex_deg", "arm_swing_deg",
                    "elbow_bend_deg", "jerk"):
            values[key] *= float(rng.uniform(0.85, 1.15))
        for key, spread in (("trunk_lean_deg", 3.0), ("head_pitch_deg", 5.0), ("shoulder_drop", 0.01)):
            values[key] += float(rng.normal(0.0, spread))
        values["phase"] = float(rng.uniform(0, 2 * np.pi))
        values["noise"] = 0.005
    unknown = set(style) - set(values)
    if unknown:
        raise ValueError(f"unknown gait style fields {sorted(unknown)}; known: {sorted(values)}")
    values.update(style)
    return GaitStyle(**values)


def generate_gait(emotion: str, n_frames: int, fps: float = 30.0, rng: np.random.Generator | None = None,
                  **style: float) -> np.ndarray:
    """A labelled synthetic walk: (n_frames, 16, 3) float32 metres in the gait frame (see module doc).

    ``style`` overrides GaitStyle fields (e.g. heading_deg=90, start_x=-2, height=1.8).
    """
    if n_frames < 1 or fps <= 0:
        raise ValueError(f"need n_frames >= 1 and fps > 0, got {n_frames}, {fps}")
    chosen = emotion_style(emotion, rng, **style)
    t = np.arange(n_frames) / fps
    joints = _place(_skeleton(chosen, t), chosen, t)
    if chosen.jerk > 0:
        # abrupt irregularities: random impulses smoothed over a few frames, strongest on the extremities
        source = rng if rng is not None else np.random.default_rng(0)
        impulses = source.normal(0, chosen.jerk, (n_frames, 16, 3)) * (source.random((n_frames, 1, 1)) < 0.15)
        kernel = np.array([0.25, 0.5, 0.25])
        smoothed = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), 0, impulses)
        weight = np.full(16, 0.3)
        weight[[3, 6, 9, 12, 15]] = 1.0
        joints += smoothed * weight[None, :, None]
    if chosen.noise > 0 and rng is not None:
        joints += rng.normal(0, chosen.noise, joints.shape)
    return joints.astype(np.float32)


def synthetic_dataset(n_per_class: int, n_frames: int, fps: float = 30.0, seed: int = 0,
                      **style: float) -> tuple[np.ndarray, np.ndarray]:
    """Balanced labelled set: (N, T, 16, 3) float32 gaits and (N,) int64 labels (labels.GAIT_EMOTIONS index)."""
    rng = np.random.default_rng(seed)
    gaits, labels = [], []
    for _ in range(n_per_class):
        for label, emotion in enumerate(GAIT_EMOTIONS):
            gaits.append(generate_gait(emotion, n_frames, fps, rng, heading_deg=float(rng.uniform(0, 360)), **style))
            labels.append(label)
    return np.stack(gaits), np.asarray(labels, dtype=np.int64)


WALK_DIRECTIONS: dict[str, float] = {"towards": 270.0, "away": 90.0, "left_to_right": 0.0, "right_to_left": 180.0,
                                     "diagonal": 225.0}
"""Heading (GaitStyle.heading_deg) of each walking direction, for a camera looking along −z of the gait frame."""


def camera_walks(n_frames: int, fps: float = 30.0, seed: int = 0, heights=(1.5, 1.75, 1.95),
                 distances=(2.0, 4.0, 6.0), directions=tuple(WALK_DIRECTIONS),
                 emotions=GAIT_EMOTIONS) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Labelled walks as a camera in front of the walkers would see them: one per combination of height [m],
    distance [m] of the walk's middle from the camera, walking direction (a WALK_DIRECTIONS key, heading
    jittered by ±10 degrees) and emotion, with per-subject style variation.

    Returns (N, T, 16, 3) float32 gait-frame joints with the camera above the origin (floor y = 0, the camera
    looks along −z), (N,) labels (labels.GAIT_EMOTIONS index) and a description of each walk.
    """
    rng = np.random.default_rng(seed)
    walks, labels, descriptions = [], [], []
    for height in heights:
        for distance in distances:
            for direction in directions:
                for emotion in emotions:
                    heading = WALK_DIRECTIONS[direction] + float(rng.uniform(-10.0, 10.0))
                    walk = generate_gait(emotion, n_frames, fps, rng, height=height, heading_deg=heading)
                    middle = (walk[0, 0] + walk[-1, 0]) / 2
                    walks.append(walk - np.array([middle[0], 0.0, middle[2] + distance], dtype=np.float32))
                    labels.append(GAIT_EMOTIONS.index(emotion))
                    descriptions.append(f"{emotion} {height:.2f} m tall, {direction} at {distance:g} m")
    return np.stack(walks), np.asarray(labels, dtype=np.int64), descriptions


def camera_view(joints: np.ndarray, camera_height: float = 1.2, pitch_deg: float = 10.0) -> np.ndarray:
    """Gait-frame joints (floor y = 0, camera above the origin) → the camera's optical frame (x right, y down,
    z forward) [m], for a camera ``camera_height`` above the floor looking along −z, pitched down by ``pitch_deg``."""
    pitch = np.deg2rad(pitch_deg)
    relative = np.asarray(joints, dtype=np.float64) - np.array([0.0, camera_height, 0.0])
    # optical axes in the gait frame: x right, y down and z forward, both turned down by the pitch
    axes = np.array([[1.0, 0.0, 0.0],
                     [0.0, -np.cos(pitch), np.sin(pitch)],
                     [0.0, -np.sin(pitch), -np.cos(pitch)]])
    return (relative @ axes.T).astype(np.float32)


def live_sequences(walks: np.ndarray, window_frames: int, fps: float, walk_fps: float = 30.0) -> list[JointSequence]:
    """What the pipeline hands a gait stage for ``walks`` (gait frame, recorded at ``walk_fps``): a camera sees
    each walk (optical frame; two mountings in turn), its skeletons go into the joint history, and the history
    gives the newest ``window_frames`` at ``fps`` in the gait frame. Raises ValueError if the history refuses
    a frame."""
    sequences = []
    for track_id, walk in enumerate(walks):
        height, pitch = ((1.2, 10.0), (0.6, -5.0))[track_id % 2]
        history = JointHistory()
        for frame, joints in enumerate(camera_view(walk, height, pitch)):
            pixels = (joints[:, :2] / joints[:, 2:] * 500.0 + [320.0, 240.0]).astype(np.float32)
            skeleton = Skeleton(pixels, np.ones(16, np.float32), joints, PositionSource.DEPTH)
            if not history.add(track_id, int(round(frame * 1e9 / walk_fps)), skeleton):
                raise ValueError(f"the joint history refused frame {frame} of walk {track_id}")
        sequences.append(history.sequence(track_id, window_frames, fps))
    return sequences
