"""What every bag job shares: the typestore, message classes by type name, and opening a bag."""

from __future__ import annotations

import contextlib
import functools
import importlib
from collections.abc import Iterator
from pathlib import Path

from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from ...runtime.paths import PACKAGE, share_dir

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")


@functools.cache
def typestore():
    """A rosbags typestore of ROS 2 Kilted with this package's messages registered from msg/.

    Built once per process (parsing the .msg files is the slow part) and shared by every caller: read it,
    never register more types on it.
    """
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for path in sorted((share_dir() / "msg").glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"{PACKAGE}/msg/{path.stem}"))
    store.register(types)
    return store


def message_class(msgtype: str) -> type:
    """The rclpy message class for a registered message type name such as 'sensor_msgs/msg/Image'.

    Only types the typestore knows (ROS 2 Kilted's and this package's) are resolved: a bag naming any other
    type must not make us import whatever module its name points at.
    """
    parts = msgtype.split("/")
    if msgtype not in typestore().fielddefs or len(parts) != 3 or parts[1] != "msg":
        raise ValueError(f"the bag names message type {msgtype!r}, which is not a registered ROS message type")
    package, kind, name = parts
    try:
        return getattr(importlib.import_module(f"{package}.{kind}"), name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"message type {msgtype} is registered but its Python package is not installed "
                         f"({exc}); install ros-{package.replace('_', '-')}") from exc


@contextlib.contextmanager
def open_bag(path: Path) -> Iterator[Reader]:
    """A rosbag2 reader, with a clear error for a path that is not a readable bag."""
    if not (Path(path) / "metadata.yaml").is_file():
        raise ValueError(f"{path} is not a rosbag2 directory (no metadata.yaml)")
    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:  # rosbags raises ReaderError, and lower-level errors for corrupt files
        raise ValueError(f"{path}: cannot read the bag ({exc})") from exc
    try:
        yield reader
    finally:
        reader.close()
