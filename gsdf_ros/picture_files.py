"""Writing a run's pictures: a few evenly spaced PNGs and an animated GIF of all of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

PICTURES = 6
"""PNGs written per run."""


def save_strips(strips: list[np.ndarray], out: Path, prefix: str = "frame", gif: str = "demo.gif") -> list[str]:
    """PNGs of evenly spaced pictures and an animated GIF of all of them; the file names written."""
    from PIL import Image

    if not strips:
        return []
    written = []
    picks = sorted({round(i) for i in np.linspace(0, len(strips) - 1, min(PICTURES, len(strips)))})
    for i in picks:
        path = out / f"{prefix}_{i:03d}.png"
        Image.fromarray(strips[i]).save(path)
        written.append(path.name)
    frames = [Image.fromarray(s) for s in strips]
    frames[0].save(out / gif, save_all=True, append_images=frames[1:], duration=400, loop=0, optimize=True)
    written.append(gif)
    return written
