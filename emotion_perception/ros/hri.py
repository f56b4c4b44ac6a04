"""REP-155 (ROS4HRI) output and one TF frame per person, beside the EmotionArray (docs/hri.md).

With ``output.hri`` the node publishes, per frame, what a ROS4HRI client (pyhri, libhri) reads:
``/humans/bodies/tracked`` and ``/humans/faces/tracked`` (hri_msgs/IdsList); per body
``/humans/bodies/<id>/roi`` (NormalizedRegionOfInterest2D), ``skeleton2d`` (Skeleton2D) and ``expression``
(the fused emotion as an hri_msgs/Expression: REP-155 defines no emotion topic for a body or a person, so this
one subtopic is ours); per face ``/humans/faces/<id>/roi`` and ``expression`` (REP-155's: the face cue's
expression, with the person's fused valence and arousal). A body's or face's topics are created when it
appears and destroyed in the frame it is gone, so a node running for hours keeps no publishers of people long
gone (a face's topics live as long as its body's: /humans/faces/tracked lists it in the frames it is seen).
With ``output.tf``, ``body_<id>`` (and ``face_<id>``, ``gaze_<id>`` where a face is placed) go on /tf as
children of the image's frame, stamped with the image. Either needs its message package (hri_msgs,
tf2_msgs); without it the output is off and the node says why.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from geometry_msgs.msg import Quaternion, Transform, TransformStamped, Vector3
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header

from .human_ids import HumanIds
from ..labels import GAIT_JOINTS
from ..settings import OutputConfig
from ..types import FrameResult, PersonEmotion

try:
    from hri_msgs.msg import Expression, IdsList, NormalizedPointOfInterest2D, NormalizedRegionOfInterest2D, Skeleton2D
    HRI_MSGS_PROBLEM = ""
except ImportError as _error:  # robots: apt install ros-$ROS_DISTRO-hri-msgs
    HRI_MSGS_PROBLEM = (f"hri_msgs is not installed ({_error}); install it (apt install ros-$ROS_DISTRO-hri-msgs) "
                        "and restart the node")
try:
    from tf2_msgs.msg import TFMessage
    TF2_MSGS_PROBLEM = ""
except ImportError as _error:  # part of every ROS installation; absent only from bare PyPI set-ups
    TF2_MSGS_PROBLEM = f"tf2_msgs is not installed ({_error}); install it (apt install ros-$ROS_DISTRO-tf2-msgs)"

HRI_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
                     history=HistoryPolicy.KEEP_LAST)
"""The /humans/ topics: what libhri subscribes with (the system default QoS: reliable, volatile, depth 10)."""
TF_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
                    history=HistoryPolicy.KEEP_LAST)
"""/tf: tf2_ros' dynamic broadcaster and listener QoS."""

SKELETON2D_JOINTS: dict[str, int] = {
    "neck": 1, "right_shoulder": 2, "right_elbow": 3, "right_hand": 4, "left_shoulder": 5, "left_elbow": 6,
    "left_hand": 7, "right_hip": 8, "right_knee": 9, "right_foot": 10, "left_hip": 11, "left_knee": 12,
    "left_foot": 13,
}
"""Our joints that are Skeleton2D keypoints (its OpenPose COCO indices; our hand and foot joints are the wrist and
ankle keypoints, our neck the shoulders' midpoint as OpenPose's). NOSE, the eyes and ears are not in our
skeleton: they go out with confidence 0."""

FACE_EXPRESSION_NAMES: dict[str, str] = {"angry": "angry", "disgust": "disgusted", "fear": "scared",
                                         "happy": "happy", "sad": "sad", "surprise": "surprised",
                                         "neutral": "neutral"}
"""The face cue's expressions as hri_msgs/Expression constants (the fused labels happy/sad/angry/neutral are
Expression constants as they are)."""

_ROOT, _NECK, _HEAD = (GAIT_JOINTS.index(name) for name in ("root", "neck", "head"))
_LEFT_HIP, _RIGHT_HIP = GAIT_JOINTS.index("left_hip"), GAIT_JOINTS.index("right_hip")
_FACING_CAMERA = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])
"""Body or face axes (columns x forward, y left, z up) of a person upright and facing the camera, in the camera
optical frame (x right, y down, z forward)."""
_GAZE_FROM_FACE = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
"""gaze_<id> axes in the face frame: z along the face's x (gaze not estimated beyond the head), x right, y down."""


def _joint(person: PersonEmotion, index: int) -> np.ndarray | None:
    skeleton = person.skeleton
    if skeleton is None or skeleton.joints_3d is None or skeleton.confidence[index] <= 0:
        return None
    point = np.asarray(skeleton.joints_3d[index], dtype=np.float64)
    return point if np.isfinite(point).all() else None


def body_axes(person: PersonEmotion) -> np.ndarray:
    """REP-155 body axes in the optical frame (columns: x out of the body, y to its left, z towards the head),
    from the hips (left) and the root-to-neck line (up); a person whose joints do not give them faces the camera."""
    root, neck = _joint(person, _ROOT), _joint(person, _NECK)
    left_hip, right_hip = _joint(person, _LEFT_HIP), _joint(person, _RIGHT_HIP)
    if root is None or neck is None or left_hip is None or right_hip is None:
        return _FACING_CAMERA
    up, left = neck - root, left_hip - right_hip
    if np.linalg.norm(up) < 1e-6:
        return _FACING_CAMERA
    up /= np.linalg.norm(up)
    left -= (left @ up) * up
    if np.linalg.norm(left) < 1e-6:
        return _FACING_CAMERA
    left /= np.linalg.norm(left)
    return np.column_stack([np.cross(left, up), left, up])


def quaternion(axes: np.ndarray) -> tuple[float, float, float, float]:
    """(x, y, z, w) of a rotation matrix (Shepperd's method: the largest of w, x, y, z first, for precision);
    scipy's Rotation does the same at 20 times the cost, which counted at five people a frame."""
    m = axes
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > max(m[0, 0], m[1, 1], m[2, 2]):
        w = np.sqrt(1.0 + trace) / 2
        x, y, z = (m[2, 1] - m[1, 2]) / (4 * w), (m[0, 2] - m[2, 0]) / (4 * w), (m[1, 0] - m[0, 1]) / (4 * w)
    elif m[0, 0] >= m[1, 1] and m[0, 0] >= m[2, 2]:
        x = np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) / 2
        y, z, w = (m[0, 1] + m[1, 0]) / (4 * x), (m[0, 2] + m[2, 0]) / (4 * x), (m[2, 1] - m[1, 2]) / (4 * x)
    elif m[1, 1] >= m[2, 2]:
        y = np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) / 2
        x, z, w = (m[0, 1] + m[1, 0]) / (4 * y), (m[1, 2] + m[2, 1]) / (4 * y), (m[0, 2] - m[2, 0]) / (4 * y)
    else:
        z = np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) / 2
        x, y, w = (m[0, 2] + m[2, 0]) / (4 * z), (m[1, 2] + m[2, 1]) / (4 * z), (m[1, 0] - m[0, 1]) / (4 * z)
    return float(x), float(y), float(z), float(w)


def _transform(header: Header, child: str, origin: np.ndarray, axes: np.ndarray) -> TransformStamped:
    x, y, z, w = quaternion(axes)
    return TransformStamped(header=header, child_frame_id=child, transform=Transform(
        translation=Vector3(x=float(origin[0]), y=float(origin[1]), z=float(origin[2])),
        rotation=Quaternion(x=float(x), y=float(y), z=float(z), w=float(w))))


def person_transforms(person: PersonEmotion, header: Header) -> list[TransformStamped]:
    """body_<id> at the root joint (the hips' midpoint, REP-155's body origin; the person's position when the
    root has no 3D); face_<id> and gaze_<id> at the head joint when the face cue placed a face (facing the
    camera: a face the detector finds is seen from the front; no head pose is estimated)."""
    transforms = []
    root = _joint(person, _ROOT)
    if root is None and person.position.valid:
        root = np.asarray(person.position.point, dtype=np.float64)
    if root is not None:
        transforms.append(_transform(header, f"body_{person.body_id}", root, body_axes(person)))
    head = _joint(person, _HEAD)
    if person.face_id and head is not None:
        transforms.append(_transform(header, f"face_{person.face_id}", head, _FACING_CAMERA))
        transforms.append(_transform(header, f"gaze_{person.face_id}", head, _FACING_CAMERA @ _GAZE_FROM_FACE))
    return transforms


def _roi(box: np.ndarray, confidence: float, header: Header, width: int, height: int):
    x_min, y_min, x_max, y_max = np.clip(np.asarray(box, dtype=np.float64) / [width, height, width, height], 0.0, 1.0)
    return NormalizedRegionOfInterest2D(header=header, xmin=float(x_min), ymin=float(y_min), xmax=float(x_max),
                                        ymax=float(y_max), c=float(np.clip(confidence, 0.0, 1.0)))


def skeleton2d_msg(person: PersonEmotion, header: Header, width: int, height: int):
    msg = Skeleton2D(header=header)
    skeleton = person.skeleton
    for name, index in SKELETON2D_JOINTS.items():
        joint = GAIT_JOINTS.index(name)
        confidence = float(skeleton.confidence[joint])
        if confidence > 0:
            x, y = np.clip(skeleton.joints_2d[joint] / [width, height], 0.0, 1.0)
            msg.skeleton[index] = NormalizedPointOfInterest2D(x=float(x), y=float(y), c=min(confidence, 1.0))
    return msg


class HumanOutputs:
    """The REP-155 topics and TF frames of one configured node (created on configure, closed on cleanup)."""

    def __init__(self, node: Node, config: OutputConfig, ids: HumanIds, log: Callable[[str], None]):
        self.node = node
        self.ids = ids
        self.hri = config.hri and not HRI_MSGS_PROBLEM
        self.tf = config.tf and not TF2_MSGS_PROBLEM
        if config.hri and HRI_MSGS_PROBLEM:
            log(f"output.hri is set but the REP-155 output is off: {HRI_MSGS_PROBLEM}")
        if config.tf and TF2_MSGS_PROBLEM:
            log(f"output.tf is set but the per-person TF frames are off: {TF2_MSGS_PROBLEM}")
        self.tracked = {}
        if self.hri:
            self.tracked = {kind: node.create_publisher(IdsList, f"/humans/{kind}/tracked", HRI_QOS)
                            for kind in ("bodies", "faces")}
        self.tf_pub = node.create_publisher(TFMessage, "/tf", TF_QOS) if self.tf else None
        self._topics: dict[tuple[str, str], dict[str, object]] = {}
        """(kind, id) -> {subtopic: publisher} of the bodies and faces seen."""

    def _publisher(self, kind: str, human_id: str, subtopic: str, msg_type: type):
        topics = self._topics.setdefault((kind, human_id), {})
        if subtopic not in topics:
            topics[subtopic] = self.node.create_publisher(msg_type, f"/humans/{kind}/{human_id}/{subtopic}", HRI_QOS)
        return topics[subtopic]

    def _forget(self, kind: str, human_id: str) -> None:
        for publisher in self._topics.pop((kind, human_id), {}).values():
            self.node.destroy_publisher(publisher)

    def publish(self, result: FrameResult, header: Header, width: int, height: int) -> None:
        """Name the frame's people (their ids then go out in the EmotionArray too) and publish their topics and
        frames; the topics of bodies and faces gone are destroyed."""
        named = self.ids.name(result)
        if self.hri:
            for person in result.people:
                self._publish_body(person, header, width, height)
                if person.track_id in named.faces:
                    self._publish_face(person, header, width, height)
            self.tracked["bodies"].publish(IdsList(header=header, ids=list(named.bodies.values())))
            self.tracked["faces"].publish(IdsList(header=header, ids=list(named.faces.values())))
            for body_id in named.ended_bodies:
                self._forget("bodies", body_id)
            for face_id in named.ended_faces:
                self._forget("faces", face_id)
        if self.tf and not header.frame_id:
            self.node.get_logger().warning("images without a header.frame_id: no TF frames for their people",
                                           throttle_duration_sec=10.0)
        elif self.tf:
            transforms = [t for person in result.people for t in person_transforms(person, header)]
            if transforms:
                self.tf_pub.publish(TFMessage(transforms=transforms))

    def _publish_body(self, person: PersonEmotion, header: Header, width: int, height: int) -> None:
        body_id = person.body_id
        self._publisher("bodies", body_id, "roi", NormalizedRegionOfInterest2D).publish(
            _roi(person.box, person.detection_score, header, width, height))
        if person.skeleton is not None:
            self._publisher("bodies", body_id, "skeleton2d", Skeleton2D).publish(
                skeleton2d_msg(person, header, width, height))
        fused = person.fused
        if fused.valid:
            self._publisher("bodies", body_id, "expression", Expression).publish(Expression(
                header=header, expression=fused.emotion, valence=float(fused.valence), arousal=float(fused.arousal),
                confidence=float(fused.confidence)))

    def _publish_face(self, person: PersonEmotion, header: Header, width: int, height: int) -> None:
        face = person.cues["face"]
        self._publisher("faces", person.face_id, "roi", NormalizedRegionOfInterest2D).publish(
            _roi(face.face_box, face.face_score, header, width, height))
        if face.valid:
            fused = person.fused
            self._publisher("faces", person.face_id, "expression", Expression).publish(Expression(
                header=header, expression=FACE_EXPRESSION_NAMES[face.label], valence=float(fused.valence),
                arousal=float(fused.arousal), confidence=float(face.confidence)))

    def clear(self, header: Header) -> None:
        """Nobody is tracked any more (the node deactivates): empty /tracked lists, and every body's and face's
        topics destroyed; ids already given are never given again."""
        for publisher in self.tracked.values():
            publisher.publish(IdsList(header=header, ids=[]))
        for kind, human_id in list(self._topics):
            self._forget(kind, human_id)
        self.ids.forget_tracks()

    def close(self) -> None:
        """Destroy every publisher (cleanup); the tracks end, the ids issued stay issued."""
        for kind, human_id in list(self._topics):
            self._forget(kind, human_id)
        self.ids.forget_tracks()
        for publisher in [*self.tracked.values(), self.tf_pub]:
            if publisher is not None:
                self.node.destroy_publisher(publisher)
        self.tracked, self.tf_pub = {}, None
