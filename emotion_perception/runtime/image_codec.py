"""Turning raw camera buffers into the arrays the pipeline uses (no ROS imports).

This is our replacement for cv_bridge where cv_bridge is not installed: it honours the row stride
(``step``), the byte order and every encoding listed in :data:`COLOR_ENCODINGS` (and 16UC1/32FC1 depth, see pose.depth_to_metres),
and raises :class:`ImageDecodeError` with a clear reason for anything else.

Compressed images are decoded by OpenCV, or, when the pipeline's networks run on a CUDA device and the data
is JPEG, by nvJPEG through ``torchvision.io.decode_jpeg`` (:func:`decode_jpeg_torchvision`): the Huffman
and IDCT work moves to the GPU, off the CPU thread that also runs the detector's pre- and post-processing.
The decoded image still comes back to the host, as the pipeline's Frame holds a numpy array: that
download (0.9 MB per 640x480 frame) is the cost; bench/bench_pipeline.py measures both paths
(docs/performance.md). Anything the GPU decoder refuses goes to OpenCV.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
import torch
from torchvision.io import ImageReadMode, decode_jpeg

# encoding -> (numpy dtype, channels)
_LAYOUT: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3), "bgr8": (np.dtype(np.uint8), 3),
    "rgba8": (np.dtype(np.uint8), 4), "bgra8": (np.dtype(np.uint8), 4),
    "mono8": (np.dtype(np.uint8), 1), "8UC1": (np.dtype(np.uint8), 1), "8UC3": (np.dtype(np.uint8), 3),
    "mono16": (np.dtype(np.uint16), 1), "16UC1": (np.dtype(np.uint16), 1), "32FC1": (np.dtype(np.float32), 1),
    "bayer_rggb8": (np.dtype(np.uint8), 1), "bayer_bggr8": (np.dtype(np.uint8), 1),
    "bayer_gbrg8": (np.dtype(np.uint8), 1), "bayer_grbg8": (np.dtype(np.uint8), 1),
}

# ROS names the 2x2 pattern from the top-left pixel; OpenCV names it from the second row's second pixel.
_BAYER_TO_RGB = {
    "bayer_rggb8": cv2.COLOR_BayerBG2RGB, "bayer_bggr8": cv2.COLOR_BayerRG2RGB,
    "bayer_gbrg8": cv2.COLOR_BayerGR2RGB, "bayer_grbg8": cv2.COLOR_BayerGB2RGB,
}

COLOR_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "8UC1", "8UC3", "mono16", *_BAYER_TO_RGB)


class ImageDecodeError(ValueError):
    """An image buffer that cannot be turned into an array; the message says why."""


class ImageTooLargeError(ImageDecodeError):
    """An image over the pixel limit (``input.max_image_pixels``), refused from its header where it has one."""


def buffer_to_array(encoding: str, height: int, width: int, step: int, data: bytes | memoryview | np.ndarray,
                    is_bigendian: bool = False, max_pixels: int = 0) -> np.ndarray:
    """The buffer as an (H, W) or (H, W, C) array in its own dtype, padding bytes at row ends removed."""
    if encoding not in _LAYOUT:
        raise ImageDecodeError(f"unsupported encoding {encoding!r}; supported: {', '.join(_LAYOUT)}")
    if height <= 0 or width <= 0:
        raise ImageDecodeError(f"empty image ({width}x{height})")
    if max_pixels and height * width > max_pixels:
        raise ImageTooLargeError(f"image {width}x{height} exceeds the limit of {max_pixels} pixels")
    dtype, channels = _LAYOUT[encoding]
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ImageDecodeError(f"step {step} is smaller than a {encoding} row of width {width} ({row_bytes} bytes)")
    buffer = _byte_array(data)
    needed = step * (height - 1) + row_bytes
    if buffer.size < needed:
        raise ImageDecodeError(f"truncated data: {buffer.size} bytes for {width}x{height} {encoding} "
                               f"with step {step} (needs {needed})")
    rows = np.lib.stride_tricks.as_strided(buffer, shape=(height, row_bytes), strides=(step, 1))
    array = np.ascontiguousarray(rows).view(dtype.newbyteorder(">" if is_bigendian else "<"))
    array = array.astype(dtype.newbyteorder("="), copy=False)
    return array.reshape(height, width, channels) if channels > 1 else array.reshape(height, width)


def to_rgb8(array: np.ndarray, encoding: str) -> np.ndarray:
    """An (H, W, 3) uint8 RGB image from a decoded colour/mono/bayer array."""
    if encoding in ("rgb8", "8UC3"):
        return np.ascontiguousarray(array)
    if encoding == "bgr8":
        return cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    if encoding == "rgba8":
        return cv2.cvtColor(array, cv2.COLOR_RGBA2RGB)
    if encoding == "bgra8":
        return cv2.cvtColor(array, cv2.COLOR_BGRA2RGB)
    if encoding in ("mono8", "8UC1"):
        return cv2.cvtColor(array, cv2.COLOR_GRAY2RGB)
    if encoding == "mono16":
        return cv2.cvtColor((array >> 8).astype(np.uint8), cv2.COLOR_GRAY2RGB)
    if encoding in _BAYER_TO_RGB:
        if array.shape[0] < 2 or array.shape[1] < 2:
            raise ImageDecodeError(f"a {encoding} image needs at least 2x2 pixels")
        return cv2.cvtColor(array, _BAYER_TO_RGB[encoding])
    raise ImageDecodeError(f"encoding {encoding!r} is not a colour image encoding; use one of {', '.join(COLOR_ENCODINGS)}")


_JPEG_SIZE_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
"""JPEG start-of-frame markers, whose segment holds the image height and width."""


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # markers without a segment
            position += 2
            continue
        length = int.from_bytes(data[position + 2:position + 4], "big")
        if marker in _JPEG_SIZE_MARKERS and position + 9 <= len(data):
            height = int.from_bytes(data[position + 5:position + 7], "big")
            width = int.from_bytes(data[position + 7:position + 9], "big")
            return width, height
        if marker == 0xDA or length < 2:  # scan data begins: no frame header came first
            return None
        position += 2 + length
    return None


def compressed_dimensions(buffer: np.ndarray) -> tuple[int, int]:
    """(width, height) read from a JPEG or PNG header, without decoding any pixel.

    A small file can declare an enormous image (a decompression bomb): the size must be known before
    decoding. Other formats are read by Pillow, which also reads only the header.
    """
    data = memoryview(np.ascontiguousarray(buffer, dtype=np.uint8).ravel())  # the header is read in place, not copied
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24 and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if is_jpeg(buffer):
        dimensions = _jpeg_dimensions(data)
        if dimensions is None:
            raise ImageDecodeError(f"JPEG of {len(data)} bytes has no readable frame header (corrupt)")
        return dimensions
    from PIL import Image as PilImage

    try:
        with PilImage.open(io.BytesIO(data)) as header:
            return int(header.width), int(header.height)
    except PilImage.DecompressionBombError as exc:  # declares far more pixels than any camera gives
        raise ImageTooLargeError(f"compressed image declares an enormous size ({exc}); refused before decoding") from exc
    except Exception as exc:  # Pillow raises many types for unreadable headers
        raise ImageDecodeError(f"compressed image of {len(data)} bytes has no readable header "
                               f"(corrupt, or not an image format): {exc}") from exc


def _byte_array(data: bytes | memoryview | np.ndarray) -> np.ndarray:
    """A message's data field as a flat uint8 array, without copying."""
    return np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.view(np.uint8).ravel()


def is_jpeg(buffer: np.ndarray) -> bool:
    """Whether the bytes start with a JPEG start-of-image marker."""
    return bytes(buffer[:2]) == b"\xff\xd8"


def decode_jpeg_torchvision(data: bytes | memoryview | np.ndarray, device: torch.device | str = "cpu") -> np.ndarray:
    """An (H, W, 3) uint8 RGB image from JPEG bytes, decoded by torchvision on ``device`` (nvJPEG on CUDA,
    libjpeg-turbo on the CPU) and returned as a host array. No size check: :func:`decode_compressed` does
    that first. Raises RuntimeError (torchvision's) for data it cannot decode.

    torchvision 0.29 deprecates its image codecs in favour of TorchCodec and says so with a
    DeprecationWarning on each call; the function stays in torchvision until a later release.
    """
    buffer = _byte_array(data)
    image = decode_jpeg(torch.from_numpy(buffer.copy()), mode=ImageReadMode.RGB, device=torch.device(device))
    return image.permute(1, 2, 0).cpu().numpy()


def decode_compressed(data: bytes | memoryview | np.ndarray, max_pixels: int = 0,
                      device: torch.device | str | None = None) -> np.ndarray:
    """An (H, W, 3) uint8 RGB image from JPEG/PNG bytes (sensor_msgs/CompressedImage).

    With ``max_pixels``, an image declaring more pixels is refused from its header, before decoding.
    ``device``: where the pipeline's networks run; on a CUDA device (that exists) JPEG data is decoded there
    (:func:`decode_jpeg_torchvision`), falling back to OpenCV if the GPU decoder fails. Other data, and
    every other device, is decoded by OpenCV.
    """
    buffer = _byte_array(data)
    if buffer.size == 0:
        raise ImageDecodeError("empty compressed image")
    if max_pixels:
        width, height = compressed_dimensions(buffer)
        if width * height > max_pixels:
            raise ImageTooLargeError(f"compressed image declares {width}x{height}, over the limit of {max_pixels} "
                                   "pixels; refused before decoding")
    rgb = None
    if device is not None and torch.device(device).type == "cuda" and torch.cuda.is_available() and is_jpeg(buffer):
        try:
            rgb = decode_jpeg_torchvision(buffer, device)
        except RuntimeError:
            pass  # what nvJPEG cannot decode (or corrupt data) goes to OpenCV, which says why
    if rgb is None:
        bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
        if bgr is None:
            raise ImageDecodeError(f"compressed image of {buffer.size} bytes could not be decoded (corrupt or not "
                                   "JPEG/PNG)")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if max_pixels and rgb.shape[0] * rgb.shape[1] > max_pixels:
        raise ImageTooLargeError(f"image {rgb.shape[1]}x{rgb.shape[0]} exceeds the limit of {max_pixels} pixels")
    return rgb


def encode_rgb8(image: np.ndarray) -> tuple[int, int, int, bytes]:
    """(height, width, step, data) of an RGB image for a sensor_msgs/Image with encoding rgb8."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    return image.shape[0], image.shape[1], image.shape[1] * 3, image.tobytes()

