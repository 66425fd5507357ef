"""``sensor_msgs/Image`` ⇄ numpy, and ``CompressedImage`` decoding, without cv_bridge.

One tested path on every machine: the PyPI ``cv-bridge`` is the ROS 1 build and mishandles
16-bit images and NumPy 2, and a second code path used only where the real cv_bridge happens to
be installed would go untested. The conversion honours ``step`` (row padding) and
``is_bigendian`` and raises :class:`ValueError` naming the reason for every malformed input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np


@dataclass(frozen=True)
class PixelFormat:
    """How one encoding lays out a pixel: element type, channels and colour order."""

    dtype: np.dtype
    channels: int
    colour: str  # "rgb", "bgr", "rgba", "bgra", "mono"


ENCODINGS: dict[str, PixelFormat] = {
    "rgb8": PixelFormat(np.dtype(np.uint8), 3, "rgb"),
    "bgr8": PixelFormat(np.dtype(np.uint8), 3, "bgr"),
    "rgba8": PixelFormat(np.dtype(np.uint8), 4, "rgba"),
    "bgra8": PixelFormat(np.dtype(np.uint8), 4, "bgra"),
    "mono8": PixelFormat(np.dtype(np.uint8), 1, "mono"),
    "mono16": PixelFormat(np.dtype(np.uint16), 1, "mono"),
    "16UC1": PixelFormat(np.dtype(np.uint16), 1, "mono"),
    "32FC1": PixelFormat(np.dtype(np.float32), 1, "mono"),
}
"""The encodings this package reads and writes."""

COLOUR_ENCODINGS: frozenset[str] = frozenset({"rgb8", "bgr8", "rgba8", "bgra8", "mono8"})
"""Encodings that convert to an RGB picture for the network (depth-like encodings do not)."""


def pixel_format(encoding: str) -> PixelFormat:
    """The layout of `encoding`, or ValueError naming the supported ones."""
    try:
        return ENCODINGS[encoding]
    except KeyError:
        raise ValueError(f"unsupported encoding {encoding!r}; supported: {', '.join(ENCODINGS)}") from None


def decode_pixels(height: int, width: int, encoding: str, is_bigendian: bool, step: int, data: Any) -> np.ndarray:
    """The pixels of a raw image buffer as (H, W) or (H, W, C) in native byte order."""
    fmt = pixel_format(encoding)
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    row_bytes = width * fmt.channels * fmt.dtype.itemsize
    if step < row_bytes:
        raise ValueError(f"step {step} is smaller than one row of {width} {encoding} pixels ({row_bytes} bytes)")
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size != step * height:
        raise ValueError(f"data has {raw.size} bytes, expected step * height = {step} * {height} = {step * height}")
    rows = np.ascontiguousarray(raw.reshape(height, step)[:, :row_bytes])
    order = ">" if is_bigendian else "<"
    pixels = rows.view(fmt.dtype.newbyteorder(order)).astype(fmt.dtype, copy=False)
    shape = (height, width) if fmt.channels == 1 else (height, width, fmt.channels)
    return pixels.reshape(shape)


def encode_pixels(
    pixels: np.ndarray, encoding: str, step: int | None = None, is_bigendian: bool = False
) -> tuple[int, bytes]:
    """(step, data) for `pixels` in `encoding`, rows padded with zeros up to `step` bytes."""
    fmt = pixel_format(encoding)
    pixels = np.asarray(pixels)
    expected_ndim = 2 if fmt.channels == 1 else 3
    if pixels.ndim == 3 and fmt.channels == 1 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim != expected_ndim or (fmt.channels > 1 and pixels.shape[2] != fmt.channels):
        shape = "(H, W)" if fmt.channels == 1 else f"(H, W, {fmt.channels})"
        raise ValueError(f"{encoding} needs an array of shape {shape}, got {pixels.shape}")
    if pixels.dtype != fmt.dtype:
        raise ValueError(f"{encoding} needs dtype {fmt.dtype}, got {pixels.dtype}")
    height, width = pixels.shape[:2]
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    row_bytes = width * fmt.channels * fmt.dtype.itemsize
    step = row_bytes if step is None else int(step)
    if step < row_bytes:
        raise ValueError(f"step {step} is smaller than one row of {width} {encoding} pixels ({row_bytes} bytes)")
    ordered = pixels.astype(fmt.dtype.newbyteorder(">" if is_bigendian else "<"), copy=False)
    out = np.zeros((height, step), dtype=np.uint8)
    out[:, :row_bytes] = np.ascontiguousarray(ordered).view(np.uint8).reshape(height, row_bytes)
    return step, out.tobytes()


def image_to_numpy(msg: Any) -> np.ndarray:
    """The pixels of a ``sensor_msgs/Image``."""
    return decode_pixels(
        int(msg.height), int(msg.width), str(msg.encoding), bool(msg.is_bigendian), int(msg.step), msg.data
    )


def numpy_to_image(
    pixels: np.ndarray, encoding: str, header: Any = None, step: int | None = None, is_bigendian: bool = False
) -> Any:
    """A ``sensor_msgs/Image`` holding `pixels` in `encoding`."""
    from sensor_msgs.msg import Image

    row_step, data = encode_pixels(pixels, encoding, step, is_bigendian)
    msg = Image(height=int(pixels.shape[0]), width=int(pixels.shape[1]), encoding=encoding,
                is_bigendian=int(is_bigendian), step=row_step)
    if header is not None:
        msg.header = header
    msg.data = data
    return msg


def to_rgb8(pixels: np.ndarray, encoding: str) -> np.ndarray:
    """An (H, W, 3) uint8 RGB copy of colour or mono8 pixels decoded from `encoding`."""
    if encoding not in COLOUR_ENCODINGS:
        raise ValueError(
            f"encoding {encoding!r} is not a colour image; need one of {', '.join(sorted(COLOUR_ENCODINGS))}"
        )
    colour = ENCODINGS[encoding].colour
    conversions = {
        "bgr": cv2.COLOR_BGR2RGB, "rgba": cv2.COLOR_RGBA2RGB, "bgra": cv2.COLOR_BGRA2RGB, "mono": cv2.COLOR_GRAY2RGB
    }
    if colour == "rgb":
        return np.array(pixels, copy=True)
    return cv2.cvtColor(np.ascontiguousarray(pixels), conversions[colour])


def decode_compressed_rgb8(data: Any) -> np.ndarray:
    """(H, W, 3) uint8 RGB from the bytes of a ``sensor_msgs/CompressedImage`` (JPEG, PNG, ...)."""
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size == 0:
        raise ValueError("compressed image has no data")
    bgr = cv2.imdecode(raw, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"compressed image of {raw.size} bytes could not be decoded")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
