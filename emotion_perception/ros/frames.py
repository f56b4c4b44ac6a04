"""Assembling a pipeline Frame from the messages of one instant: shared by the node and offline bag processing."""

from __future__ import annotations

from typing import Any

from emotion_perception.msg import TrackedSkeletonArray

from ..image_codec import ImageDecodeError
from ..settings import InputConfig
from ..types import ExternalSkeleton, Frame
from .conversions import depth_to_metres, image_to_rgb, intrinsics_from_camera_info, skeletons_from_msg, stamp_to_ns


class FrameDropped(Exception):
    """A frame that cannot be used; ``reason`` is the short counter name, the message the detail."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


class FrameAssembler:
    """Decodes an image (+ depth or skeletons) into a Frame with the latest camera intrinsics."""

    def __init__(self, config: InputConfig):
        self.config = config
        self.intrinsics = None
        self.last_stamp_ns = -1

    def camera_info(self, msg: Any) -> None:
        self.intrinsics = intrinsics_from_camera_info(msg)

    def assemble(self, image_msg: Any, *others: Any) -> tuple[Frame, list[ExternalSkeleton] | None, list[tuple[str, str]]]:
        """The frame, the external skeletons (or None) and notes (reason, detail) on inputs ignored.

        Raises FrameDropped for a frame that must be dropped (undecodable, older than the last one used).
        """
        stamp_ns = stamp_to_ns(image_msg.header.stamp)
        if stamp_ns < self.last_stamp_ns:
            raise FrameDropped("out_of_order", f"stamp {stamp_ns} ns is older than the last processed {self.last_stamp_ns} ns")
        try:
            rgb = image_to_rgb(image_msg, self.config.max_image_pixels)
        except ImageDecodeError as exc:
            raise FrameDropped("bad_image", str(exc)) from exc
        depth, skeletons, notes = None, None, []
        for msg in others:
            if isinstance(msg, TrackedSkeletonArray):
                skeletons = skeletons_from_msg(msg)
                continue
            try:
                depth = depth_to_metres(msg, self.config.max_depth_m)
            except ValueError as exc:  # ImageDecodeError, or an encoding that is not depth
                notes.append(("depth_ignored", f"bad depth image ({exc}); the frame goes on without depth"))
                continue
            if depth.shape != rgb.shape[:2]:
                notes.append(("depth_ignored", f"depth {depth.shape[1]}x{depth.shape[0]} is not aligned with the "
                                               f"image {rgb.shape[1]}x{rgb.shape[0]}; the frame goes on without depth"))
                depth = None
        frame = Frame(image=rgb, stamp_ns=stamp_ns, frame_id=image_msg.header.frame_id,
                      intrinsics=self.intrinsics, depth=depth)
        return frame, skeletons, notes

    def processed(self, frame: Frame) -> None:
        """Record that ``frame`` went through the pipeline (later frames must not be older)."""
        self.last_stamp_ns = frame.stamp_ns
