"""Skeleton input from other body trackers' messages (input.skeleton_format), besides our TrackedSkeletonArray.

``azure_kinect_markers``: the Azure Kinect ROS driver's ``body_tracking_data`` (visualization_msgs/MarkerArray;
Orbbec's Femto wrapper publishes the same): one SPHERE marker per joint of every body, ``id = body_id * 100 +
joint`` with the Body Tracking SDK's joint numbering (k4abt_joint_id_t, 32 joints), positions in metres in the
depth camera's frame (x right, y down, z forward: an optical frame). The driver gives no per-joint confidence:
joints present count 1, joints absent 0. Pair it with an image in that same frame (the driver's
``rgb_to_depth/image_raw``, with ``depth/camera_info``) so that the joints project into the image.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Point
from std_msgs.msg import Header
from visualization_msgs.msg import Marker, MarkerArray

from emotion_perception.msg import TrackedSkeleton, TrackedSkeletonArray

from ..labels import GAIT_JOINTS

KINECT_MARKER_ID_STRIDE = 100
"""The driver's marker id is body_id * 100 + joint index."""
KINECT_JOINTS: dict[str, int] = {
    "root": 0,             # PELVIS
    "spine": 2,            # SPINE_CHEST (between the pelvis and the neck, as our spine joint)
    "neck": 3,             # NECK
    "head": 26,            # HEAD
    "right_shoulder": 12, "right_elbow": 13, "right_hand": 14,  # WRIST_RIGHT (our hands are wrists)
    "left_shoulder": 5, "left_elbow": 6, "left_hand": 7,        # WRIST_LEFT
    "right_hip": 22, "right_knee": 23, "right_foot": 24,        # ANKLE_RIGHT (our feet are ankles)
    "left_hip": 18, "left_knee": 19, "left_foot": 20,           # ANKLE_LEFT
}
"""Our 16 joints as Azure Kinect Body Tracking SDK joints (k4abt_joint_id_t)."""
_JOINT_OF_KINECT = {kinect: GAIT_JOINTS.index(name) for name, kinect in KINECT_JOINTS.items()}


class SkeletonInput:
    """The message type subscribed on 'skeletons' for ``input.skeleton_format``, and its conversion to the
    TrackedSkeletonArray the synchroniser and the frame assembler take."""

    def __init__(self, skeleton_format: str):
        self.kinect = skeleton_format == "azure_kinect_markers"
        self.message_type = MarkerArray if self.kinect else TrackedSkeletonArray
        self.last_image_header: Header | None = None
        """A MarkerArray without markers (nobody seen) has no stamp: it takes the last image's header, so that
        frame goes on with nobody in it."""

    def adapt(self, msg):
        """``msg`` as a TrackedSkeletonArray (None for an empty MarkerArray before any image came)."""
        if not self.kinect:
            return msg
        stamped = next((marker for marker in msg.markers if marker.action == Marker.ADD), None)
        header = stamped.header if stamped is not None else self.last_image_header
        if header is None:
            return None
        return TrackedSkeletonArray(header=header, skeletons=skeletons_from_kinect_markers(msg))


def skeletons_from_kinect_markers(msg: MarkerArray) -> list[TrackedSkeleton]:
    """One TrackedSkeleton per body in the array (bodies in the order of their first marker); markers that are
    not ADD (DELETE, DELETEALL), of joints we do not use, or with a non-finite position are passed over."""
    bodies: dict[int, TrackedSkeleton] = {}
    for marker in msg.markers:
        if marker.action != Marker.ADD:
            continue
        body_id, kinect_joint = divmod(int(marker.id), KINECT_MARKER_ID_STRIDE)
        joint = _JOINT_OF_KINECT.get(kinect_joint)
        position = marker.pose.position
        if joint is None or body_id < 0 or not np.isfinite([position.x, position.y, position.z]).all():
            continue
        skeleton = bodies.get(body_id)
        if skeleton is None:
            skeleton = bodies[body_id] = TrackedSkeleton(id=body_id)
        skeleton.joints[joint] = Point(x=position.x, y=position.y, z=position.z)
        skeleton.confidence[joint] = 1.0
    return list(bodies.values())
