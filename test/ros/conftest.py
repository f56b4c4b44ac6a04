"""What the node tests share: the node wired to the sample bag, message builders and a listener for its output.

The builders come as fixtures (``image(stamp_ns)``, ``header(stamp_ns)``, ``camera_info(stamp_ns)``,
``tracked_skeleton(track_id)``, ``frame_stamp(index)``): pixels and joints are plain, since the node tests are about
the plumbing, and a stamp is in nanoseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import Point
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from emotion_perception.msg import EmotionArray, TrackedSkeleton
from emotion_perception.ros.bags.play import play_bag
from emotion_perception.ros.bags.sample import SAMPLE_TOPICS
from emotion_perception.ros.conversions import ns_to_stamp
from emotion_perception.runtime.paths import sample_bag_path

from support.skeleton_input import SAMPLE_BAG_SETTINGS

WIDTH, HEIGHT = 64, 48


def make_header(stamp_ns: int, frame_id: str = "cam") -> Header:
    return Header(stamp=ns_to_stamp(stamp_ns), frame_id=frame_id)


def make_image(stamp_ns: int, frame_id: str = "cam") -> Image:
    """A grey 64x48 rgb8 image."""
    return Image(header=make_header(stamp_ns, frame_id), height=HEIGHT, width=WIDTH, encoding="rgb8", step=WIDTH * 3,
                 data=np.full(HEIGHT * WIDTH * 3, 100, dtype=np.uint8).tobytes())


def make_camera_info(stamp_ns: int, fx: float = 60.0, cx: float = 31.5) -> CameraInfo:
    """The intrinsics of a camera taking :func:`make_image`'s images (fx = fy, the centre at (cx, 23.5))."""
    return CameraInfo(header=make_header(stamp_ns), width=WIDTH, height=HEIGHT,
                      k=[fx, 0.0, cx, 0.0, fx, 23.5, 0.0, 0.0, 1.0])


def stamp_at_10_fps(index: int) -> int:
    """Frame ``index``'s stamp at 10 fps from 100 s [ns]."""
    return 100 * 10**9 + index * 100_000_000


def make_tracked_skeleton(track_id: int, x: float = 0.0, z: float = 3.0) -> TrackedSkeleton:
    """A person standing upright at (x, z) m in the camera's optical frame, every joint confident."""
    joints = [Point(x=x + 0.1 * (j % 3), y=-0.8 + 0.1 * j, z=z) for j in range(16)]
    return TrackedSkeleton(id=track_id, joints=joints, confidence=np.ones(16, np.float32))


@pytest.fixture
def header():
    return make_header


@pytest.fixture
def image():
    return make_image


@pytest.fixture
def camera_info():
    return make_camera_info


@pytest.fixture
def tracked_skeleton():
    return make_tracked_skeleton


@pytest.fixture
def frame_stamp():
    return stamp_at_10_fps


class Listener:
    """A test node's ears on the node under test: its EmotionArrays and its diagnostic statuses, in arrival order."""

    def __init__(self, node, spin, topic: str = "/emotions", depth: int = 100):
        self.node, self._spin = node, spin
        self.arrays: list[EmotionArray] = []
        self.statuses: list[DiagnosticStatus] = []
        self.subscription = node.create_subscription(EmotionArray, topic, self.arrays.append, depth)
        node.create_subscription(DiagnosticArray, "/diagnostics", lambda msg: self.statuses.extend(msg.status), 10)

    @property
    def status(self) -> DiagnosticStatus | None:
        return self.statuses[-1] if self.statuses else None

    def values(self) -> dict[str, str]:
        """The latest diagnostic status's key/values."""
        return {kv.key: kv.value for kv in self.status.values} if self.status else {}

    def drops(self) -> dict[str, int]:
        """The latest counts of input set aside: ``dropped_X`` as X, ``ignored_X`` as it is."""
        return {key.removeprefix("dropped_"): int(value) for key, value in self.values().items()
                if key.startswith(("dropped_", "ignored_"))}

    def seconds(self) -> list[int]:
        """The whole seconds of the answered stamps."""
        return [array.header.stamp.sec for array in self.arrays]

    def first_answer(self, send: Callable, inputs: Iterable, wait_s: float) -> bool:
        """Send inputs one at a time until the node answers one (best-effort delivery starts once discovery
        settles); whether it did."""
        for item in inputs:
            send(item)
            if self._spin(self.node, lambda: self.arrays, wait_s):
                return True
        return False


@pytest.fixture
def listen(spin):
    """``listen(node, topic="/emotions", depth=100)``: a :class:`Listener` on the test's node."""
    return lambda node, topic="/emotions", depth=100: Listener(node, spin, topic, depth)


SAMPLE_INPUTS = (*(argument for group, values in SAMPLE_BAG_SETTINGS.items() for name, value in values.items()
                   for argument in ("-p", f"{group}.{name}:={value}")),
                 "-r", f"image/compressed:={SAMPLE_TOPICS['image']}",
                 "-r", f"camera_info:={SAMPLE_TOPICS['camera_info']}")
"""The node's parameters and remaps for the sample bag's settings, image and camera_info."""


@pytest.fixture
def start_sample_node(start_node):
    """``start_sample_node(*arguments, skeletons=...)``: the node on the sample bag's topics, its skeletons from
    the bag's skeleton topic unless named."""
    def start(*arguments: str, skeletons: str = SAMPLE_TOPICS["skeletons"]):
        return start_node(*SAMPLE_INPUTS, "-r", f"skeletons:={skeletons}", *arguments)
    return start


def play_at_half_speed(node, bag: Path | None = None) -> int:
    """Play a bag (the sample unless named) from ``node`` at half speed, so that slow CPUs keep up, once the node
    under test has subscribed; the number of messages played."""
    return play_bag(node, bag or sample_bag_path(), rate=0.5, wait_for_subscribers_s=60)


@pytest.fixture
def play_sample():
    return play_at_half_speed
