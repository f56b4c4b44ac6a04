"""Skeleton mapping, depth conversion and back-projection against hand-built poses and synthetic depth."""

import numpy as np
import pytest

from emotion_perception.labels import COCO_KEYPOINTS, GAIT_JOINTS
from emotion_perception.pose import (
    DepthConfig, backproject, coco_to_gait, depth_to_metres, make_skeleton, optical_to_gait,
)
from emotion_perception.types import CameraIntrinsics, PositionSource

INTRINSICS = CameraIntrinsics(fx=500.0, fy=500.0, cx=160.0, cy=120.0, width=320, height=240)


def coco_pose(points: dict[str, tuple[float, float, float]]) -> np.ndarray:
    keypoints = np.zeros((17, 3), dtype=np.float32)
    for name, value in points.items():
        keypoints[COCO_KEYPOINTS.index(name)] = value
    return keypoints


# A person facing the camera: their right side is on the image's left.
FRONTAL = coco_pose({
    "nose": (100, 60, 1.0), "left_eye": (105, 55, 0.5), "right_eye": (95, 55, 0.5),
    "left_ear": (300, 300, 0.0), "right_ear": (90, 58, 0.0),
    "left_shoulder": (120, 100, 0.9), "right_shoulder": (80, 100, 0.8),
    "left_elbow": (130, 140, 0.7), "right_elbow": (70, 140, 0.6),
    "left_wrist": (135, 180, 0.5), "right_wrist": (65, 180, 0.4),
    "left_hip": (110, 200, 0.9), "right_hip": (90, 200, 1.0),
    "left_knee": (112, 260, 0.8), "right_knee": (88, 260, 0.7),
    "left_ankle": (114, 320, 0.6), "right_ankle": (86, 320, 0.5),
})


def joint(name: str) -> int:
    return GAIT_JOINTS.index(name)


def test_coco_pose_maps_to_the_expected_gait_joints():
    joints, confidence = coco_to_gait(FRONTAL)
    assert joints.shape == (16, 2) and confidence.shape == (16,)
    expected = {
        "root": (100, 200), "spine": (100, 150), "neck": (100, 100), "head": (100, 57.5),
        "right_shoulder": (80, 100), "right_elbow": (70, 140), "right_hand": (65, 180),
        "left_shoulder": (120, 100), "left_elbow": (130, 140), "left_hand": (135, 180),
        "right_hip": (90, 200), "right_knee": (88, 260), "right_foot": (86, 320),
        "left_hip": (110, 200), "left_knee": (112, 260), "left_foot": (114, 320),
    }
    for name, position in expected.items():
        np.testing.assert_allclose(joints[joint(name)], position, err_msg=name)
    assert confidence[joint("root")] == pytest.approx(0.9)  # weaker hip
    assert confidence[joint("neck")] == pytest.approx(0.8)  # weaker shoulder
    assert confidence[joint("spine")] == pytest.approx(0.8)
    assert confidence[joint("head")] == pytest.approx(1.0)
    assert confidence[joint("right_hand")] == pytest.approx(0.4)
    assert confidence[joint("left_foot")] == pytest.approx(0.6)


def test_missing_keypoints_give_zero_confidence_joints_and_batches_map_alike():
    no_hip = FRONTAL.copy()
    no_hip[COCO_KEYPOINTS.index("left_hip"), 2] = 0.0
    no_face = FRONTAL.copy()
    no_face[:5, 2] = 0.0
    joints, confidence = coco_to_gait(np.stack([FRONTAL, no_hip, no_face]))
    assert joints.shape == (3, 16, 2)
    assert confidence[1, joint("root")] == 0 and confidence[1, joint("spine")] == 0
    np.testing.assert_array_equal(joints[1, joint("root")], (0, 0))
    assert confidence[1, joint("right_hip")] == pytest.approx(1.0)
    assert confidence[2, joint("head")] == 0
    np.testing.assert_allclose(joints[0], coco_to_gait(FRONTAL)[0])


@pytest.mark.parametrize("bad", [np.zeros((16, 3)), np.zeros((17, 2)), np.full((17, 3), np.nan)])
def test_malformed_keypoints_raise(bad):
    with pytest.raises(ValueError):
        coco_to_gait(bad)


def test_optical_to_gait_turns_y_up_and_z_towards_the_camera():
    np.testing.assert_array_equal(optical_to_gait(np.array([[1.0, 2.0, 3.0]])), [[1.0, -2.0, -3.0]])


def test_depth_16uc1_is_millimetres_and_invalid_values_become_nan():
    raw = np.array([[0, 1500, 65535, 50]], dtype=np.uint16)
    metres = depth_to_metres(raw, "16UC1", min_depth_m=0.1, max_depth_m=10.0)
    assert metres.dtype == np.float32
    assert np.isnan(metres[0, 0]) and metres[0, 1] == pytest.approx(1.5)
    assert np.isnan(metres[0, 2]) and np.isnan(metres[0, 3])  # 65.5 m too far, 5 cm too near


def test_depth_32fc1_is_metres_and_invalid_values_become_nan():
    raw = np.array([[np.nan, np.inf, -1.0, 0.0, 2.25]], dtype=np.float32)
    metres = depth_to_metres(raw, "32FC1")
    assert np.isnan(metres[0, :4]).all() and metres[0, 4] == pytest.approx(2.25)


@pytest.mark.parametrize("raw,encoding", [(np.zeros((4, 4), np.float32), "16UC1"),
                                          (np.zeros((4, 4), np.uint16), "mono8"),
                                          (np.zeros((4, 4, 1), np.uint16), "16UC1")])
def test_depth_with_wrong_encoding_or_shape_raises(raw, encoding):
    with pytest.raises(ValueError):
        depth_to_metres(raw, encoding)


def slanted_wall() -> tuple[np.ndarray, callable]:
    """Depth of the plane Z = 2 + 0.5 X (metres, optical frame) seen by INTRINSICS, and its Z at a pixel."""
    def z_at(u, v):
        return 2.0 / (1.0 - 0.5 * (np.asarray(u, dtype=np.float64) - INTRINSICS.cx) / INTRINSICS.fx)
    cols, rows = np.meshgrid(np.arange(INTRINSICS.width), np.arange(INTRINSICS.height))
    return z_at(cols, rows).astype(np.float32), z_at


def spread_joints() -> np.ndarray:
    """16 integer pixel positions well inside the image, apart from one another."""
    cols, rows = np.meshgrid(np.arange(40, 300, 70), np.arange(30, 230, 50))
    return np.stack([cols.ravel(), rows.ravel()], axis=1)[:16].astype(np.float32)


def test_backprojection_recovers_the_geometry_of_a_slanted_wall():
    depth, z_at = slanted_wall()
    joints_2d = spread_joints()
    skeleton = backproject(joints_2d, np.ones(16, np.float32), depth, INTRINSICS)
    assert skeleton.position_source is PositionSource.DEPTH
    z = z_at(joints_2d[:, 0], joints_2d[:, 1])
    expected = np.stack([(joints_2d[:, 0] - INTRINSICS.cx) * z / INTRINSICS.fx,
                         (joints_2d[:, 1] - INTRINSICS.cy) * z / INTRINSICS.fy, z], axis=1)
    np.testing.assert_allclose(skeleton.joints_3d, expected, rtol=1e-5)
    np.testing.assert_allclose(skeleton.joints_3d[:, 2], 2.0 + 0.5 * skeleton.joints_3d[:, 0], rtol=1e-5)
    np.testing.assert_array_equal(skeleton.confidence, 1.0)


def test_bad_depth_pixels_are_ignored_and_joints_without_depth_lose_confidence():
    depth, z_at = slanted_wall()
    joints_2d = spread_joints()
    u, v = joints_2d.astype(int).T
    depth[v[0] - 2:v[0] + 3, u[0] - 2:u[0] + 3] = np.nan            # joint 0: no depth at all
    depth[v[1] - 2:v[1] + 3, u[1] - 2:u[1] + 1] = 0.0               # joint 1: zeros in part of the patch
    depth[v[2] - 2:v[2] + 3, u[2] - 2:u[2]] = 1e6                   # joint 2: huge values in part of the patch
    depth[v[3], u[3]] = np.nan                                      # joint 3: its own pixel invalid
    skeleton = backproject(joints_2d, np.full(16, 0.8, np.float32), depth, INTRINSICS,
                           DepthConfig(no_depth_confidence_scale=0.25))
    assert skeleton.confidence[0] == pytest.approx(0.2)
    np.testing.assert_allclose(skeleton.confidence[1:], 0.8)
    assert skeleton.joints_3d[0, 2] == pytest.approx(np.median(skeleton.joints_3d[1:, 2]))
    assert np.isfinite(skeleton.joints_3d).all()
    # Remaining valid pixels of a column-wise monotonic plane: the median stays within the patch's range.
    for index in (1, 2, 3):
        lo, hi = z_at(u[index] - 2, 0), z_at(u[index] + 2, 0)
        assert min(lo, hi) <= skeleton.joints_3d[index, 2] <= max(lo, hi)


def test_without_any_valid_depth_there_is_no_3d():
    joints_2d = spread_joints()
    millimetres = np.zeros((INTRINSICS.height, INTRINSICS.width), np.uint16)
    skeleton = backproject(joints_2d, np.ones(16, np.float32), depth_to_metres(millimetres, "16UC1"), INTRINSICS)
    assert skeleton.joints_3d is None and skeleton.position_source is PositionSource.NONE
    np.testing.assert_array_equal(skeleton.joints_2d, joints_2d)


def test_joints_outside_the_image_or_unseen_get_no_depth_of_their_own():
    depth = np.full((INTRINSICS.height, INTRINSICS.width), 3.0, np.float32)
    joints_2d = spread_joints()
    joints_2d[4] = (-50, 20)
    confidence = np.ones(16, np.float32)
    confidence[5] = 0.0
    skeleton = backproject(joints_2d, confidence, depth, INTRINSICS)
    assert skeleton.confidence[4] == pytest.approx(DepthConfig().no_depth_confidence_scale)
    assert skeleton.confidence[5] == 0.0
    np.testing.assert_allclose(skeleton.joints_3d[:, 2], 3.0)


def test_depth_not_aligned_with_the_camera_raises():
    with pytest.raises(ValueError, match="aligned"):
        backproject(spread_joints(), np.ones(16, np.float32), np.ones((10, 10), np.float32), INTRINSICS)


def test_make_skeleton_uses_depth_when_given_and_is_2d_only_otherwise():
    depth = np.full((INTRINSICS.height, INTRINSICS.width), 2.0, np.float32)
    with_depth = make_skeleton(FRONTAL, depth, INTRINSICS)
    assert with_depth.position_source is PositionSource.DEPTH
    np.testing.assert_allclose(with_depth.joints_3d[joint("neck")], [(100 - 160) * 2 / 500, (100 - 120) * 2 / 500, 2.0])
    assert with_depth.confidence[joint("right_foot")] < 0.5 * 0.5  # ankle at row 320 is outside the 240-row image
    without = make_skeleton(FRONTAL)
    assert without.joints_3d is None and without.position_source is PositionSource.NONE
