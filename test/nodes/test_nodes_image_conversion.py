"""Image ⇄ numpy for every encoding, with padded rows and big-endian 16-bit data; bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gsdf_ros.nodes.image_conversion import (
    ENCODINGS,
    decode_compressed_rgb8,
    decode_pixels,
    encode_pixels,
    pixel_format,
    to_rgb8,
)


def _pixels(encoding: str, height: int = 5, width: int = 7) -> np.ndarray:
    fmt = pixel_format(encoding)
    shape = (height, width) if fmt.channels == 1 else (height, width, fmt.channels)
    values = np.arange(np.prod(shape)).reshape(shape)
    if fmt.dtype == np.float32:
        return (values * 0.37 - 3.0).astype(np.float32)
    return (values * 257 % (np.iinfo(fmt.dtype).max + 1)).astype(fmt.dtype)


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("padding", [0, 1, 13])
@pytest.mark.parametrize("bigendian", [False, True])
def test_round_trip_every_encoding(encoding: str, padding: int, bigendian: bool) -> None:
    pixels = _pixels(encoding)
    row_bytes = pixels.shape[1] * pixel_format(encoding).channels * pixels.dtype.itemsize
    step, data = encode_pixels(pixels, encoding, step=row_bytes + padding, is_bigendian=bigendian)
    assert step == row_bytes + padding and len(data) == step * pixels.shape[0]
    back = decode_pixels(pixels.shape[0], pixels.shape[1], encoding, bigendian, step, data)
    assert back.dtype == pixels.dtype and back.dtype.isnative
    np.testing.assert_array_equal(back, pixels)


def test_big_endian_16_bit_bytes_are_most_significant_first() -> None:
    data = bytes([0x01, 0x02, 0xAB, 0xCD, 0, 0])  # two pixels + 2 bytes of row padding
    assert decode_pixels(1, 2, "mono16", True, 6, data).tolist() == [[0x0102, 0xABCD]]
    assert decode_pixels(1, 2, "16UC1", False, 6, data).tolist() == [[0x0201, 0xCDAB]]


def test_decodes_a_real_sensor_msgs_image() -> None:
    pytest.importorskip("sensor_msgs.msg")
    from gsdf_ros.nodes.image_conversion import image_to_numpy, numpy_to_image

    pixels = _pixels("bgra8")
    msg = numpy_to_image(pixels, "bgra8", step=pixels.shape[1] * 4 + 3)
    np.testing.assert_array_equal(image_to_numpy(msg), pixels)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ((2, 2, "yuv422", False, 4, bytes(8)), "unsupported encoding 'yuv422'"),
        ((2, 2, "rgb8", False, 5, bytes(10)), "step 5 is smaller than one row"),
        ((2, 2, "rgb8", False, 6, bytes(11)), "data has 11 bytes, expected step * height = 6 * 2 = 12"),
        ((0, 2, "mono8", False, 2, b""), "image size must be positive"),
    ],
)
def test_malformed_input_names_the_reason(args: tuple, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("*", r"\*")):
        decode_pixels(*args)


def test_encoding_rejects_wrong_shape_and_dtype() -> None:
    with pytest.raises(ValueError, match="shape"):
        encode_pixels(np.zeros((2, 2), np.uint8), "rgb8")
    with pytest.raises(ValueError, match="dtype uint16"):
        encode_pixels(np.zeros((2, 2), np.uint8), "mono16")


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8", "mono8"])
def test_colour_encodings_become_rgb(encoding: str) -> None:
    rgb = np.array([[[10, 20, 30]]], np.uint8)
    source = {
        "rgb8": rgb, "bgr8": rgb[..., ::-1], "rgba8": np.dstack([rgb, [[255]]]).astype(np.uint8),
        "bgra8": np.dstack([rgb[..., ::-1], [[255]]]).astype(np.uint8), "mono8": np.array([[10]], np.uint8),
    }[encoding]  # fmt: skip
    want = np.array([[[10, 10, 10]]]) if encoding == "mono8" else rgb
    np.testing.assert_array_equal(to_rgb8(source, encoding), want)
    with pytest.raises(ValueError, match="not a colour image"):
        to_rgb8(np.zeros((1, 1), np.uint16), "16UC1")


def test_compressed_png_decodes_to_rgb_and_garbage_is_rejected() -> None:
    rgb = _pixels("rgb8")
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    np.testing.assert_array_equal(decode_compressed_rgb8(png.tobytes()), rgb)
    with pytest.raises(ValueError, match="could not be decoded"):
        decode_compressed_rgb8(b"not an image")
    with pytest.raises(ValueError, match="no data"):
        decode_compressed_rgb8(b"")
