"""Messages <-> core records: images, camera info, skeleton input and the EmotionArray output."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from emotion_perception.msg import (ContextEmotion, EmotionArray, FaceEmotion, FusedEmotion, GaitEmotion,
                                    Keypoint, PersonEmotion, TrackedSkeletonArray)

from ..image_codec import ImageDecodeError, buffer_to_array, decode_compressed, encode_rgb8, to_rgb8
from ..pose import depth_to_metres as raw_depth_to_metres
from ..labels import EMOTIC_CATEGORIES, GAIT_EMOTIONS, GAIT_JOINTS
from ..types import CameraIntrinsics, ContextResult, ExternalSkeleton, FrameResult, GaitResult, PersonEmotion as Person

try:  # on robots cv_bridge comes with ROS; our own decoder serves where it does not
    from cv_bridge import CvBridge

    _BRIDGE = CvBridge()
except ImportError:  # pragma: no cover - depends on the machine
    _BRIDGE = None


def stamp_to_ns(stamp: Time) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    return Time(sec=int(ns // 1_000_000_000), nanosec=int(ns % 1_000_000_000))


def image_to_rgb(msg: Image | CompressedImage, max_pixels: int = 0) -> np.ndarray:
    """(H, W, 3) uint8 RGB from an Image or CompressedImage; ImageDecodeError with the reason otherwise."""
    if isinstance(msg, CompressedImage):
        return decode_compressed(msg.data, max_pixels)
    if max_pixels and msg.height * msg.width > max_pixels:
        raise ImageDecodeError(f"image {msg.width}x{msg.height} exceeds the limit of {max_pixels} pixels")
    if _BRIDGE is not None:
        try:
            return _BRIDGE.imgmsg_to_cv2(msg, desired_encoding="rgb8")
        except Exception as exc:  # cv_bridge raises its own error types
            raise ImageDecodeError(f"cv_bridge: {exc}") from exc
    array = buffer_to_array(msg.encoding, msg.height, msg.width, msg.step, msg.data, bool(msg.is_bigendian))
    return to_rgb8(array, msg.encoding)


def depth_to_metres(msg: Image, max_range_m: float) -> np.ndarray:
    """(H, W) float32 metres from a 16UC1 (mm) or 32FC1 (m) depth image; NaN where there is no measurement.

    Raises ValueError (ImageDecodeError for a bad buffer) when the image cannot be read as depth."""
    array = buffer_to_array(msg.encoding, msg.height, msg.width, msg.step, msg.data, bool(msg.is_bigendian))
    return raw_depth_to_metres(array, msg.encoding, max_depth_m=max_range_m)


def intrinsics_from_camera_info(msg: CameraInfo) -> CameraIntrinsics | None:
    """Pinhole intrinsics from K; None for an uncalibrated camera (K all zero)."""
    k = np.asarray(msg.k, dtype=np.float64)
    if k.size != 9 or k[0] <= 0 or k[4] <= 0:
        return None
    return CameraIntrinsics(fx=float(k[0]), fy=float(k[4]), cx=float(k[2]), cy=float(k[5]),
                            width=int(msg.width), height=int(msg.height))


def skeletons_from_msg(msg: TrackedSkeletonArray) -> list[ExternalSkeleton]:
    return [ExternalSkeleton(track_id=int(s.id),
                             joints_3d=np.array([[p.x, p.y, p.z] for p in s.joints], dtype=np.float32),
                             confidence=np.asarray(s.confidence, dtype=np.float32))
            for s in msg.skeletons]


def rgb_to_image_msg(image: np.ndarray, header: Header) -> Image:
    height, width, step, data = encode_rgb8(image)
    return Image(header=header, height=height, width=width, encoding="rgb8", is_bigendian=0, step=step, data=data)


def _gait_msg(result: GaitResult) -> GaitEmotion:
    msg = GaitEmotion(valid=result.valid, status=result.status, labels=list(GAIT_EMOTIONS),
                      label=result.label, frames_observed=int(result.frames_observed), model=result.model)
    if result.valid and result.probabilities is not None:
        msg.probabilities = [float(p) for p in result.probabilities]
        msg.frames_used = int(result.frames_used)
    return msg


def _context_msg(result: ContextResult) -> ContextEmotion:
    msg = ContextEmotion(valid=result.valid, status=result.status, categories=list(EMOTIC_CATEGORIES),
                         model=result.model)
    if result.valid and result.scores is not None:
        msg.scores = [float(v) for v in result.scores]
        msg.thresholds = [float(v) for v in result.thresholds]
        msg.active = [bool(v) for v in result.active]
        msg.active_categories = result.active_categories
        msg.valence, msg.arousal, msg.dominance = (float(v) for v in result.vad)
    return msg


def _person_msg(person: Person) -> PersonEmotion:
    x_min, y_min, x_max, y_max = (float(v) for v in person.box)
    msg = PersonEmotion(track_id=int(person.track_id), box_x_min=x_min, box_y_min=y_min, box_x_max=x_max,
                        box_y_max=y_max, detection_score=float(person.detection_score))
    skeleton = person.skeleton
    if skeleton is not None:
        has_3d = skeleton.joints_3d is not None
        for index, name in enumerate(GAIT_JOINTS):
            keypoint = Keypoint(name=name, x=float(skeleton.joints_2d[index, 0]), y=float(skeleton.joints_2d[index, 1]),
                                confidence=float(skeleton.confidence[index]), has_position=has_3d)
            if has_3d:
                x, y, z = (float(v) for v in skeleton.joints_3d[index])
                keypoint.position = Point(x=x, y=y, z=z)
            msg.keypoints.append(keypoint)
        msg.position_source = int(skeleton.position_source)
    msg.gait = _gait_msg(person.gait)
    msg.context = _context_msg(person.context)
    msg.face = FaceEmotion(valid=False, status="disabled: no face branch yet")
    fused = person.fused
    msg.fused = FusedEmotion(valid=fused.valid, emotion=fused.emotion, confidence=float(fused.confidence),
                             valence=float(fused.valence), arousal=float(fused.arousal), cues=list(fused.cues),
                             missing_cues=list(fused.missing_cues))
    return msg


def emotion_array_msg(result: FrameResult, header: Header) -> EmotionArray:
    """The EmotionArray of one frame, with the source image's header copied unchanged."""
    return EmotionArray(header=header, people=[_person_msg(person) for person in result.people])
