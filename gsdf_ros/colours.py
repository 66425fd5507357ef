"""The colours of the hand and the object wherever they are drawn: RViz markers, overlays, reports."""

from __future__ import annotations

HAND_COLOUR: tuple[int, int, int] = (235, 170, 120)
"""RGB, 0-255."""
OBJECT_COLOUR: tuple[int, int, int] = (90, 150, 235)
"""RGB, 0-255."""


def rgba(colour: tuple[int, int, int], alpha: float = 1.0) -> tuple[float, float, float, float]:
    """An 0-255 RGB colour as RGBA floats in [0, 1] (``std_msgs/ColorRGBA``)."""
    return (colour[0] / 255.0, colour[1] / 255.0, colour[2] / 255.0, float(alpha))
