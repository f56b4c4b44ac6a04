"""Our image decoder (used where cv_bridge is not installed) against images of known content."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from emotion_perception.runtime.image_codec import ImageDecodeError, buffer_to_array, decode_compressed, to_rgb8

RNG = np.random.default_rng(3)
RGB = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)


def padded(array: np.ndarray, pad: int) -> tuple[int, bytes]:
    """Row bytes with ``pad`` junk bytes at the end of every row, as cameras with aligned rows send."""
    rows = array.reshape(array.shape[0], -1).view(np.uint8)
    junk = np.full((rows.shape[0], pad), 0xAB, dtype=np.uint8)
    return rows.shape[1] + pad, np.concatenate([rows, junk], axis=1).tobytes()


@pytest.mark.parametrize("encoding,source", [
    ("rgb8", RGB), ("bgr8", RGB[..., ::-1]), ("rgba8", np.dstack([RGB, np.full(RGB.shape[:2], 255, np.uint8)])),
    ("bgra8", np.dstack([RGB[..., ::-1], np.zeros(RGB.shape[:2], np.uint8)])),
])
@pytest.mark.parametrize("pad", [0, 5])
def test_colour_encodings_with_row_padding(encoding, source, pad):
    step, data = padded(np.ascontiguousarray(source), pad)
    array = buffer_to_array(encoding, 5, 7, step, data)
    np.testing.assert_array_equal(to_rgb8(array, encoding), RGB)


def test_mono_encodings():
    grey = RGB[..., 0]
    step, data = padded(grey, 3)
    np.testing.assert_array_equal(to_rgb8(buffer_to_array("mono8", 5, 7, step, data), "mono8"), np.dstack([grey] * 3))
    wide = grey.astype(np.uint16) * 257
    step, data = padded(wide, 2)
    np.testing.assert_array_equal(to_rgb8(buffer_to_array("mono16", 5, 7, step, data), "mono16"), np.dstack([grey] * 3))
    big_endian = wide.byteswap().tobytes()
    np.testing.assert_array_equal(buffer_to_array("mono16", 5, 7, 14, big_endian, is_bigendian=True), wide)


@pytest.mark.parametrize("encoding,offsets", [
    ("bayer_rggb8", {"r": (0, 0), "b": (1, 1)}), ("bayer_bggr8", {"r": (1, 1), "b": (0, 0)}),
    ("bayer_gbrg8", {"r": (1, 0), "b": (0, 1)}), ("bayer_grbg8", {"r": (0, 1), "b": (1, 0)}),
])
def test_bayer_patterns_are_demosaiced_with_the_right_colours(encoding, offsets):
    mosaic = np.zeros((8, 8), dtype=np.uint8)
    row, col = offsets["r"]
    mosaic[row::2, col::2] = 240  # a pure red scene: only the red sites see light
    rgb = to_rgb8(buffer_to_array(encoding, 8, 8, 8, mosaic.tobytes()), encoding)
    centre = rgb[2:6, 2:6].reshape(-1, 3).mean(axis=0)
    assert centre[0] > 200 and centre[1] < 40 and centre[2] < 40, centre


@pytest.mark.parametrize("arguments,message", [
    (("yuv422", 2, 2, 8, bytes(8)), "unsupported encoding"),
    (("rgb8", 0, 4, 12, b""), "empty image"),
    (("rgb8", 2, 4, 10, bytes(20)), "step 10 is smaller"),
    (("rgb8", 2, 4, 12, bytes(13)), "truncated"),
])
def test_unusable_buffers_are_refused_with_the_reason(arguments, message):
    with pytest.raises(ImageDecodeError, match=message):
        buffer_to_array(*arguments)


def test_size_limit_and_compressed_images():
    with pytest.raises(ImageDecodeError, match="exceeds the limit"):
        buffer_to_array("mono8", 100, 100, 100, bytes(10_000), max_pixels=9_999)
    ok, png = cv2.imencode(".png", cv2.cvtColor(RGB, cv2.COLOR_RGB2BGR))
    np.testing.assert_array_equal(decode_compressed(png.tobytes()), RGB)
    with pytest.raises(ImageDecodeError, match="could not be decoded"):
        decode_compressed(b"\xff\xd8\xff" + bytes(100))
    with pytest.raises(ImageDecodeError, match="empty"):
        decode_compressed(b"")
