"""Surface materials (colour + procedural texture), skin tones, lights and backgrounds for SynthHO."""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import cv2
import numpy as np

TEXTURES: tuple[str, ...] = ("plain", "stripes", "checker", "noise")
BACKGROUNDS: tuple[str, ...] = ("gradient", "noise", "texture")

_SKIN_LIGHT = np.array([0.93, 0.76, 0.64])
_SKIN_DARK = np.array([0.34, 0.22, 0.15])


@dataclass(frozen=True)
class Material:
    """Albedo of a surface: ``base`` RGB in [0, 1] mixed with ``accent`` by a texture pattern.

    Textures are evaluated in the shape's own frame (metres) so they move with it; ``period`` is
    the pattern length, ``strength`` the mix weight of the accent, ``seed`` fixes the noise.
    """

    base: tuple[float, float, float]
    accent: tuple[float, float, float] = (0.0, 0.0, 0.0)
    texture: str = "plain"
    period: float = 0.02
    strength: float = 0.0
    direction: tuple[float, float, float] = (1.0, 0.0, 0.0)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.texture not in TEXTURES:
            raise ValueError(f"unknown texture {self.texture!r}; known: {', '.join(TEXTURES)}")
        colours = np.array([self.base, self.accent], dtype=float)
        if colours.shape != (2, 3) or np.any(colours < 0.0) or np.any(colours > 1.0):
            raise ValueError("base and accent must be RGB triples in [0, 1]")
        if not self.period > 0.0 or not 0.0 <= self.strength <= 1.0:
            raise ValueError("period must be > 0 and strength in [0, 1]")

    def pattern(self, local_points: np.ndarray) -> np.ndarray:
        """Accent weight in [0, 1] per point, before ``strength``."""
        p = np.asarray(local_points, dtype=np.float64)
        if self.texture == "plain":
            return np.zeros(len(p))
        if self.texture == "stripes":
            axis = np.asarray(self.direction) / np.linalg.norm(self.direction)
            return (np.sin(2.0 * np.pi * (p @ axis) / self.period) > 0.0).astype(np.float64)
        if self.texture == "checker":
            cells = np.floor(p / self.period).astype(np.int64).sum(axis=1)
            return (cells % 2).astype(np.float64)
        return _smooth_noise(p / self.period, self.seed)

    def albedo(self, local_points: np.ndarray) -> np.ndarray:
        """RGB albedo (N, 3) float32 at points given in the shape's own frame."""
        w = (self.strength * self.pattern(local_points))[:, None]
        base = np.asarray(self.base)[None]
        accent = np.asarray(self.accent)[None]
        return ((1.0 - w) * base + w * accent).astype(np.float32)


def _smooth_noise(p: np.ndarray, seed: int, waves: int = 6) -> np.ndarray:
    """Band-limited noise in [0, 1]: a sum of random plane waves, deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    dirs = rng.normal(size=(waves, 3))
    dirs *= (2.0 * np.pi * rng.uniform(0.5, 1.5, size=waves) / np.linalg.norm(dirs, axis=1))[:, None]
    phases = rng.uniform(0.0, 2.0 * np.pi, size=waves)
    return 0.5 + 0.5 * np.sin(p @ dirs.T + phases).mean(axis=1) * np.sqrt(2.0)


def random_colour(
    rng: np.random.Generator, saturation: tuple[float, float] = (0.3, 0.95)
) -> tuple[float, float, float]:
    """A random RGB colour in [0, 1] drawn in HSV space."""
    rgb = colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(*saturation), rng.uniform(0.35, 0.95))
    return tuple(float(c) for c in rgb)


def sample_material(rng: np.random.Generator) -> Material:
    """A random object material: colour plus one of the procedural textures."""
    texture = TEXTURES[rng.integers(len(TEXTURES))]
    return Material(
        base=random_colour(rng),
        accent=random_colour(rng),
        texture=texture,
        period=float(rng.uniform(0.008, 0.03)),
        strength=0.0 if texture == "plain" else float(rng.uniform(0.4, 1.0)),
        direction=tuple(float(c) for c in rng.normal(size=3)),
        seed=int(rng.integers(2**31)),
    )


def sample_skin(rng: np.random.Generator) -> Material:
    """A skin tone between light and dark with a faint blotchy noise texture."""
    mix = rng.uniform()
    tone = (1.0 - mix) * _SKIN_LIGHT + mix * _SKIN_DARK
    tone = np.clip(tone * rng.uniform(0.92, 1.08, size=3), 0.0, 1.0)
    return Material(
        base=tuple(float(c) for c in tone),
        accent=tuple(float(c) for c in np.clip(tone * np.array([0.9, 0.8, 0.8]), 0.0, 1.0)),
        texture="noise",
        period=float(rng.uniform(0.01, 0.03)),
        strength=float(rng.uniform(0.2, 0.6)),
        seed=int(rng.integers(2**31)),
    )


@dataclass(frozen=True)
class Lighting:
    """A directional light (``direction`` points from the surface towards the light) plus ambient."""

    direction: tuple[float, float, float] = (0.3, -0.5, -1.0)
    ambient: float = 0.3
    diffuse: float = 0.8
    colour: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        if np.linalg.norm(self.direction) == 0.0:
            raise ValueError("light direction must be non-zero")
        if self.ambient < 0.0 or self.diffuse < 0.0:
            raise ValueError("ambient and diffuse must be >= 0")

    def unit_direction(self) -> np.ndarray:
        d = np.asarray(self.direction, dtype=np.float64)
        return d / np.linalg.norm(d)


def sample_lighting(rng: np.random.Generator) -> Lighting:
    """A random light from the camera's side of the scene (negative z in the optical frame)."""
    direction = (rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0), -rng.uniform(0.4, 1.2))
    ambient = float(rng.uniform(0.15, 0.45))
    tint = np.clip(1.0 + rng.normal(scale=0.05, size=3), 0.85, 1.0)
    return Lighting(
        direction=tuple(float(c) for c in direction),
        ambient=ambient,
        diffuse=float(rng.uniform(0.6, 1.0)),
        colour=tuple(float(c) for c in tint),
    )


def random_background(rng: np.random.Generator, height: int, width: int, kind: str | None = None) -> np.ndarray:
    """A random (H, W, 3) uint8 background: a colour gradient, smooth noise or a texture."""
    if height <= 0 or width <= 0:
        raise ValueError(f"background size must be positive, got {height}x{width}")
    kind = BACKGROUNDS[rng.integers(len(BACKGROUNDS))] if kind is None else kind
    if kind == "gradient":
        image = _gradient(rng, height, width)
    elif kind == "noise":
        coarse = rng.uniform(0.0, 1.0, size=(int(rng.integers(3, 12)),) * 2 + (3,)).astype(np.float32)
        image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    elif kind == "texture":
        mat = sample_material(rng)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float64) / max(height, width)
        plane = np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], axis=1) * 0.3
        image = mat.albedo(plane).reshape(height, width, 3) * _gradient(rng, height, width)
    else:
        raise ValueError(f"unknown background {kind!r}; known: {', '.join(BACKGROUNDS)}")
    image = image + rng.normal(scale=0.015, size=image.shape)
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _gradient(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    angle = rng.uniform(0.0, 2.0 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    ramp = (np.cos(angle) * xs / width + np.sin(angle) * ys / height)
    ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-9)
    c0, c1 = np.array(random_colour(rng, (0.0, 0.6))), np.array(random_colour(rng, (0.0, 0.6)))
    return (1.0 - ramp)[..., None] * c0 + ramp[..., None] * c1
