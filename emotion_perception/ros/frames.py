"""Assembling a pipeline Frame from the messages of one instant: shared by the node and offline bag processing."""

from __future__ import annotations

from typing import Any

import torch

from emotion_perception.msg import TrackedSkeletonArray

from ..runtime.image_codec import ImageDecodeError
from ..pipeline import FrameRejected
from ..pose.plausibility import intrinsics_problem
from ..settings import InputConfig
from ..types import CameraIntrinsics, ExternalSkeleton, Frame
from .conversions import depth_to_metres, image_to_rgb, intrinsics_from_camera_info, skeletons_from_msg, stamp_to_ns

ASPECT_TOLERANCE = 0.01
"""Relative aspect-ratio difference up to which intrinsics are rescaled to a differently sized image."""


def fit_intrinsics(intrinsics: CameraIntrinsics, width: int, height: int) -> tuple[CameraIntrinsics | None, str]:
    """Intrinsics for a ``width`` x ``height`` image, and a note when they had to be changed or set aside.

    A camera_info for another resolution with the same aspect ratio (a camera publishing a binned or
    resized stream) is scaled; one with another aspect ratio cannot describe the image and is set aside,
    and so is one that is no camera's for this image (a camera_info without a size is checked only here).
    """
    if intrinsics.width <= 0 or intrinsics.height <= 0 or (intrinsics.width, intrinsics.height) == (width, height):
        fitted = CameraIntrinsics(intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy, width, height)
    else:
        sx, sy = width / intrinsics.width, height / intrinsics.height
        if abs(sx / sy - 1.0) > ASPECT_TOLERANCE:
            return None, (f"camera_info is for {intrinsics.width}x{intrinsics.height} but the image is "
                          f"{width}x{height} (another aspect ratio): 3D from depth is off for this frame")
        fitted = CameraIntrinsics(intrinsics.fx * sx, intrinsics.fy * sy, (intrinsics.cx + 0.5) * sx - 0.5,
                                  (intrinsics.cy + 0.5) * sy - 0.5, width, height)
    problem = intrinsics_problem(fitted.fx, fitted.fy, fitted.cx, fitted.cy, width, height)
    if problem:
        return None, f"camera_info for the {width}x{height} image: {problem}; the frame goes on without intrinsics"
    return fitted, ""


class FrameAssembler:
    """Decodes an image (+ depth or skeletons) into a Frame with the latest valid camera intrinsics.

    ``device``: where the pipeline's networks run (its ``home_device``); on a CUDA device JPEG images are
    decoded there (image_codec.decode_compressed).
    """

    def __init__(self, config: InputConfig, device: torch.device | str = "cpu"):
        self.config = config
        self.device = torch.device(device)
        self.intrinsics: CameraIntrinsics | None = None

    def camera_info(self, msg: Any) -> str:
        """Take a CameraInfo; returns why it was set aside ("" when it is used). The last valid one stays."""
        intrinsics, problem = intrinsics_from_camera_info(msg)
        if intrinsics is not None:
            self.intrinsics = intrinsics
        return problem

    def assemble(self, image_msg: Any, *others: Any) -> tuple[Frame, list[ExternalSkeleton] | None, list[tuple[str, str]]]:
        """The frame, the external skeletons (or None) and notes (counter, detail) on inputs set aside.

        Raises FrameRejected for a frame that must be dropped (undecodable image).
        """
        try:
            rgb = image_to_rgb(image_msg, self.config.max_image_pixels, self.device)
        except ImageDecodeError as exc:
            raise FrameRejected("bad_image", str(exc)) from exc
        height, width = rgb.shape[:2]
        notes: list[tuple[str, str]] = []
        intrinsics = None
        if self.intrinsics is not None:
            intrinsics, note = fit_intrinsics(self.intrinsics, width, height)
            if note:
                notes.append(("ignored_camera_info", note))
        depth, skeletons = None, None
        for msg in others:
            if msg is None:
                continue
            if isinstance(msg, TrackedSkeletonArray):
                skeletons = skeletons_from_msg(msg)
                continue
            try:
                depth = depth_to_metres(msg, self.config.max_depth_m)
            except ValueError as exc:  # ImageDecodeError, or an encoding that is not depth
                notes.append(("ignored_depth", f"bad depth image ({exc}); the frame goes on without depth"))
                continue
            if depth.shape != (height, width):
                notes.append(("ignored_depth", f"depth {depth.shape[1]}x{depth.shape[0]} is not aligned with the "
                                               f"image {width}x{height}; the frame goes on without depth"))
                depth = None
        frame = Frame(image=rgb, stamp_ns=stamp_to_ns(image_msg.header.stamp), frame_id=image_msg.header.frame_id,
                      intrinsics=intrinsics, depth=depth)
        return frame, skeletons, notes
