"""Messages <-> core records: images, camera info, skeleton input and the EmotionArray output."""

from __future__ import annotations

import functools

import cv2
import numpy as np
import torch
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Vector3
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from emotion_perception.msg import (CueEstimate, EmotionArray, FusedEmotion, Keypoint, PersonEmotion,
                                    TrackedSkeletonArray)

from ..runtime.image_codec import ImageDecodeError, buffer_to_array, decode_compressed, encode_rgb8, to_rgb8
from ..pose import depth_to_metres as raw_depth_to_metres
from ..pose.plausibility import intrinsics_problem
from ..labels import EMOTIONS, GAIT_JOINTS
from ..types import CameraIntrinsics, ExternalSkeleton, FrameResult, PersonEmotion as Person

try:  # on robots cv_bridge comes with ROS; our own decoder serves where it does not
    from cv_bridge import CvBridge

    _BRIDGE = CvBridge()
except ImportError:  # pragma: no cover - depends on the machine
    _BRIDGE = None


def stamp_to_ns(stamp: Time) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    return Time(sec=int(ns // 1_000_000_000), nanosec=int(ns % 1_000_000_000))


def image_to_rgb(msg: Image | CompressedImage, max_pixels: int = 0,
                 device: torch.device | str | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB from an Image or CompressedImage; ImageDecodeError with the reason otherwise.

    ``device``: where the pipeline's networks run; a JPEG CompressedImage is decoded there when it is a CUDA
    device (image_codec.decode_compressed).
    """
    if isinstance(msg, CompressedImage):
        return decode_compressed(msg.data, max_pixels, device)
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


def intrinsics_from_camera_info(msg: CameraInfo) -> tuple[CameraIntrinsics | None, str]:
    """Pinhole intrinsics from K, or None and why not (uncalibrated, non-finite, or no camera's: see
    pose/plausibility.intrinsics_problem)."""
    k = np.asarray(msg.k, dtype=np.float64)
    if k.size != 9:
        return None, f"camera_info K has {k.size} values, not 9"
    if not np.isfinite(k).all():
        return None, "camera_info K holds NaN or infinite values"
    if not k.any():
        return None, "camera_info K is all zero (uncalibrated camera)"
    fx, fy, cx, cy = (float(v) for v in (k[0], k[4], k[2], k[5]))
    width, height = int(msg.width), int(msg.height)
    if (width > 0) != (height > 0):
        return None, f"camera_info size {width}x{height} is half given"
    problem = intrinsics_problem(fx, fy, cx, cy, width, height)
    if problem:
        return None, f"camera_info {problem}"
    return CameraIntrinsics(fx=float(fx), fy=float(fy), cx=float(cx), cy=float(cy), width=width, height=height), ""


def camera_info_msg(intrinsics: CameraIntrinsics, header: Header) -> CameraInfo:
    """A CameraInfo for an undistorted pinhole camera (plumb_bob, zero distortion, identity rectification)."""
    fx, fy, cx, cy = intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy
    return CameraInfo(header=header, width=intrinsics.width, height=intrinsics.height, distortion_model="plumb_bob",
                      d=[0.0] * 5, k=[fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0],
                      r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                      p=[fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0])


def skeletons_from_msg(msg: TrackedSkeletonArray) -> list[ExternalSkeleton]:
    return [ExternalSkeleton(track_id=int(s.id),
                             joints_3d=np.array([[p.x, p.y, p.z] for p in s.joints], dtype=np.float32),
                             confidence=np.asarray(s.confidence, dtype=np.float32))
            for s in msg.skeletons]


def rgb_to_image_msg(image: np.ndarray, header: Header) -> Image:
    height, width, step, data = encode_rgb8(image)
    return Image(header=header, height=height, width=width, encoding="rgb8", is_bigendian=0, step=step, data=data)


def rgb_to_jpeg_msg(image: np.ndarray, header: Header, quality: int) -> CompressedImage:
    """An H x W x 3 uint8 RGB image as a JPEG CompressedImage (OpenCV's encoder, ``quality`` 0-100)."""
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return CompressedImage(header=header, format="jpeg", data=jpeg.tobytes())


_SCALARS = {"boolean": bool, "string": str, "float": float, "double": float, "octet": int, "char": int}
"""Python type of each rosidl scalar type name (every int*/uint* type is int)."""


def _scalar(type_name: str) -> type | None:
    return _SCALARS.get(type_name) or (int if "int" in type_name else None)


@functools.cache
def _scalar_fields(msg_class: type) -> tuple[tuple[str, type, bool], ...]:
    """(name, Python type, is a sequence) of each scalar or scalar-sequence field of a message class."""
    fields = []
    for name, type_name in msg_class.get_fields_and_field_types().items():
        kind = _scalar(type_name.removeprefix("sequence<").split(",")[0].split("[")[0].rstrip(">"))
        if kind is not None:
            fields.append((name, kind, type_name.startswith("sequence<") or type_name.endswith("]")))
    return tuple(fields)


def fill_message(msg, values: dict) -> None:
    """Set each field of ``msg`` that ``values`` names (scalars and sequences of scalars), converting numpy
    values to the message's types; keys the message lacks and None values are left out."""
    for name, kind, sequence in _scalar_fields(type(msg)):
        value = values.get(name)
        if value is None:
            continue
        if sequence:
            items = value if isinstance(value, (list, tuple)) else np.asarray(value).ravel().tolist()
            setattr(msg, name, [kind(item) for item in items])
        else:
            setattr(msg, name, kind(value))


def _cue_estimate_msg(name: str, result) -> CueEstimate:
    values = result.label_values()
    return CueEstimate(name=name, valid=bool(result.valid), status=result.status, label=result.label,
                       confidence=float(result.confidence), labels=list(result.labels) if result.valid else [],
                       probabilities=[] if values is None else [float(v) for v in values],
                       summary=result.summary(), model=getattr(result, "model", ""))


def _person_msg(person: Person) -> PersonEmotion:
    x_min, y_min, x_max, y_max = (float(v) for v in person.box)
    msg = PersonEmotion(track_id=int(person.track_id), body_id=person.body_id, face_id=person.face_id,
                        box_x_min=x_min, box_y_min=y_min, box_x_max=x_max, box_y_max=y_max,
                        detection_score=float(person.detection_score))
    skeleton = person.skeleton
    if skeleton is not None:
        for index, name in enumerate(GAIT_JOINTS):
            keypoint = Keypoint(name=name, x=float(skeleton.joints_2d[index, 0]), y=float(skeleton.joints_2d[index, 1]),
                                confidence=float(skeleton.confidence[index]))
            if skeleton.joints_3d is not None and skeleton.confidence[index] > 0 and np.isfinite(skeleton.joints_3d[index]).all():
                x, y, z = (float(v) for v in skeleton.joints_3d[index])
                keypoint.has_position, keypoint.position = True, Point(x=x, y=y, z=z)
            msg.keypoints.append(keypoint)
        msg.position_source = int(skeleton.position_source)
    position = person.position
    if position.valid:
        msg.has_position, msg.distance = True, float(position.distance)
        msg.position_uncertainty = float(position.uncertainty_m)
        msg.position = Point(x=float(position.point[0]), y=float(position.point[1]), z=float(position.point[2]))
        if position.velocity_valid:
            msg.has_velocity = True
            msg.velocity = Vector3(x=float(position.velocity[0]), y=float(position.velocity[1]), z=float(position.velocity[2]))
    for name, result in person.cues.items():  # the running cues, in their order
        msg.cues.append(_cue_estimate_msg(name, result))
        typed = getattr(msg, name, None)
        if typed is not None:
            fill_message(typed, result.message_fields())
    fused = person.fused
    msg.fused = FusedEmotion(valid=fused.valid, emotion=fused.emotion, confidence=float(fused.confidence),
                             valence=float(fused.valence), arousal=float(fused.arousal), coverage=float(fused.coverage),
                             label_since=ns_to_stamp(fused.label_since_ns), cues=list(fused.cues),
                             missing_cues=list(fused.missing_cues))
    if fused.valid and fused.probabilities is not None:
        msg.fused.labels, msg.fused.probabilities = list(EMOTIONS), [float(p) for p in fused.probabilities]
    return msg


def emotion_array_msg(result: FrameResult, header: Header) -> EmotionArray:
    """The EmotionArray of one frame, with the source image's header copied unchanged."""
    return EmotionArray(header=header, people=[_person_msg(person) for person in result.people])
