"""The joint-motion representation of a tracked skeleton: per joint, its normalised positions and velocities.

ACCM reads one channel group per joint, so the representation is laid out joint by joint:

    motion[6·j + f, t]   (float32, shape (16·6, window_frames))

for joint j in labels.GAIT_JOINTS order and frame t (oldest first, at the model's rate ``fps``), with
f = 0, 1, 2 the position x, y, z and f = 3, 4, 5 the velocity vx, vy, vz. How a JointSequence
(gait frame: metres, x right, y up, z towards the camera) gets there:

1. **Clean** (:func:`clean_sequence`): a frame with any non-finite coordinate is missing; a frame identical to
   the one before it is a stalled tracker repeating itself and is treated as missing too. The remaining
   frames keep their times (index / fps) and are linearly interpolated onto a uniform grid at the model's
   rate that ends at the newest valid frame, so gaps are bridged and the input rate does not matter.
2. **Window** (:func:`prepare_window`): the newest ``window_frames`` frames of that grid.
3. **Normalise** (:func:`motion_channels`): every joint minus the root (joint 0) of its frame; the root's own
   channel holds its displacement from its mean over the window (whole-body sway stays visible). The
   skeleton is turned about the vertical axis so that the median right→left shoulder line points along
   +x (the person faces +z, whatever their heading), and divided by the median torso length (root→neck),
   so positions are in torso lengths and do not depend on body size or view.
4. **Velocities**: central differences of the normalised positions × fps (torso lengths per second),
   one-sided at the ends. A window shorter than ``window_frames`` is padded at its start by holding its
   first pose (zero velocity there).
"""

from __future__ import annotations

import numpy as np

from ...labels import GAIT_JOINTS

NUM_JOINTS = len(GAIT_JOINTS)
FEATURES_PER_JOINT = 6
"""Position x, y, z and velocity vx, vy, vz of each joint."""
ROOT, NECK = GAIT_JOINTS.index("root"), GAIT_JOINTS.index("neck")
RIGHT_SHOULDER, LEFT_SHOULDER = GAIT_JOINTS.index("right_shoulder"), GAIT_JOINTS.index("left_shoulder")
MIN_TORSO_M = 0.02
"""A median torso (root→neck) shorter than this [m] is not a body."""


class GestureInputError(ValueError):
    """A joint sequence cannot become a gesture representation (wrong shape, too few valid frames, degenerate)."""


def clean_sequence(joints: np.ndarray, fps: float, target_fps: float) -> np.ndarray:
    """Valid, de-duplicated frames of a (T, 16, 3) sequence resampled to ``target_fps``: (T', 16, 3) float64.

    The grid ends at the newest valid frame; raises GestureInputError when fewer than two distinct valid
    frames remain, on a wrong shape or on a rate that is not a positive number.
    """
    array = np.asarray(joints, dtype=np.float64)
    if array.ndim != 3 or array.shape[1:] != (NUM_JOINTS, 3):
        raise GestureInputError(f"joint sequence must be (T, {NUM_JOINTS}, 3), got shape {np.shape(joints)}")
    if not (np.isfinite(fps) and fps > 0 and np.isfinite(target_fps) and target_fps > 0):
        raise GestureInputError(f"frame rates must be positive, got fps={fps}, target_fps={target_fps}")
    valid = np.isfinite(array).all(axis=(1, 2))
    repeated = np.zeros(len(array), dtype=bool)
    repeated[1:] = (array[1:] == array[:-1]).all(axis=(1, 2))
    keep = np.flatnonzero(valid & ~repeated)
    if len(keep) < 2:
        raise GestureInputError(f"joint sequence has {len(keep)} distinct valid frames of {len(array)} "
                                "(frames with NaN/inf joints and repeats of the previous frame do not count); need 2")
    times = keep / fps
    grid = times[-1] - np.arange(int(np.floor((times[-1] - times[0]) * target_fps + 1e-9)) + 1)[::-1] / target_fps
    right = np.clip(np.searchsorted(times, grid, side="right"), 1, len(times) - 1)
    weight = ((grid - times[right - 1]) / (times[right] - times[right - 1]))[:, None, None]
    frames = array[keep]
    return (1 - weight) * frames[right - 1] + weight * frames[right]


def prepare_window(joints: np.ndarray, fps: float, target_fps: float, window_frames: int) -> np.ndarray:
    """The newest ``window_frames`` frames of the cleaned, resampled sequence (fewer if the track is younger)."""
    if window_frames < 2:
        raise GestureInputError(f"window_frames must be >= 2 (velocities need two frames), got {window_frames}")
    return clean_sequence(joints, fps, target_fps)[-window_frames:]


def _facing_rotation(window: np.ndarray) -> np.ndarray:
    """Rotation about y that turns the median right→left shoulder direction onto +x (identity if it is vertical)."""
    across = np.median(window[:, LEFT_SHOULDER] - window[:, RIGHT_SHOULDER], axis=0)
    length = np.hypot(across[0], across[2])
    if length < 1e-6:
        return np.eye(3)
    cos, sin = across[0] / length, across[2] / length
    # maps (cos, ·, sin) to (1, ·, 0): a rotation by the angle of the shoulder line, backwards
    return np.array([[cos, 0.0, sin], [0.0, 1.0, 0.0], [-sin, 0.0, cos]])


def motion_channels(window: np.ndarray, fps: float, window_frames: int) -> np.ndarray:
    """(T ≤ window_frames, 16, 3) metres → the (16·6, window_frames) float32 representation (module doc)."""
    window = np.asarray(window, dtype=np.float64)
    if window_frames < 2:
        raise GestureInputError(f"window_frames must be >= 2 (velocities need two frames), got {window_frames}")
    if window.ndim != 3 or window.shape[1:] != (NUM_JOINTS, 3) or not 1 <= len(window) <= window_frames:
        raise GestureInputError(f"window must be (1..{window_frames}, {NUM_JOINTS}, 3), got {window.shape}")
    if not np.isfinite(window).all():
        raise GestureInputError("window has non-finite joints; pass it through clean_sequence first")
    torso = float(np.median(np.linalg.norm(window[:, NECK] - window[:, ROOT], axis=1)))
    if torso < MIN_TORSO_M:
        raise GestureInputError(f"degenerate skeleton: median torso length {torso:.4f} m (root to neck) "
                                f"is under {MIN_TORSO_M} m")
    positions = window - window[:, ROOT:ROOT + 1]
    positions[:, ROOT] = window[:, ROOT] - window[:, ROOT].mean(axis=0)
    positions = positions @ _facing_rotation(window).T / torso
    if len(positions) < window_frames:
        positions = np.concatenate([np.repeat(positions[:1], window_frames - len(positions), axis=0), positions])
    velocities = np.gradient(positions, axis=0) * fps
    motion = np.concatenate([positions, velocities], axis=2)  # (T, J, 6)
    return np.ascontiguousarray(motion.reshape(window_frames, -1).T, dtype=np.float32)


def joint_motion(joints: np.ndarray, fps: float, target_fps: float, window_frames: int) -> np.ndarray:
    """A whole sequence → its (16·6, window_frames) representation: clean, newest window, normalise."""
    return motion_channels(prepare_window(joints, fps, target_fps, window_frames), target_fps, window_frames)
