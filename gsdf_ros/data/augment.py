"""Training augmentation (gSDF §3.4): in-plane rotation, per-channel colour gains, box shift; plus box
scale (and zoomed-out crops) and blur.

The rotation turns the crop about its optical axis: every 3D quantity is multiplied by
R_aug = R_z(−rot) and the image is warped with K'·R_aug·K'⁻¹, so the augmented crop is again an
exact virtual camera (rotation R·R_augᵀ, same K') and projected points stay on their pixels. With
the principal point at the crop centre this is the rotation of the image about its centre by
``rot`` degrees, counter-clockwise as seen on screen.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges; the defaults are the paper's (box shift 0 = ObMan, 0.1 = DexYCB)."""

    rotation_sigma_deg: float = 45.0
    rotation_prob: float = 0.6
    rotation_clip_sigmas: float = 2.0
    colour_low: float = 0.8
    colour_high: float = 1.2
    box_shift: float = 0.0
    """Box-centre shift, uniform in ±box_shift × box size per axis (box and hand crops)."""
    box_scale: tuple[float, float] = (1.0, 1.0)
    """Box side factor, log-uniform in this range (box and hand crops)."""
    wide_prob: float = 0.0
    """Probability of a zoomed-out crop instead (side factor log-uniform in ``wide_scale``): the hand
    small in the frame, as in a first look at a whole camera image."""
    wide_scale: tuple[float, float] = (1.5, 3.0)
    blur_prob: float = 0.0
    """Probability of a Gaussian blur of the crop, sigma uniform in (0, ``blur_sigma_px``]."""
    blur_sigma_px: float = 1.5
    lowres_prob: float = 0.0
    """Probability that the crop is shrunk to a side log-uniform in ``lowres_px`` and enlarged back:
    a small hand in a camera frame, whose crop holds few source pixels."""
    lowres_px: tuple[float, float] = (24.0, 96.0)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rotation_prob <= 1.0:
            raise ValueError(f"rotation_prob must be in [0, 1], got {self.rotation_prob}")
        if self.rotation_sigma_deg < 0 or self.rotation_clip_sigmas < 0 or self.box_shift < 0:
            raise ValueError("rotation_sigma_deg, rotation_clip_sigmas and box_shift must be >= 0")
        for name in ("box_scale", "wide_scale", "lowres_px"):
            lo, hi = getattr(self, name)
            if not 0.0 < lo <= hi:
                raise ValueError(f"{name} must be an increasing positive range, got {(lo, hi)}")
        if not all(0.0 <= p <= 1.0 for p in (self.wide_prob, self.blur_prob, self.lowres_prob)) \
                or self.blur_sigma_px < 0:
            raise ValueError("wide_prob, blur_prob and lowres_prob must lie in [0, 1] and blur_sigma_px be >= 0")
        if not 0.0 <= self.colour_low <= self.colour_high:
            raise ValueError(f"need 0 <= colour_low <= colour_high, got {self.colour_low}, {self.colour_high}")


@dataclass(frozen=True)
class AugmentParams:
    """One draw of the augmentation; the identity by default. A clip shares one draw."""

    rotation_deg: float = 0.0
    colour_gains: tuple[float, float, float] = (1.0, 1.0, 1.0)
    box_shift: tuple[float, float] = (0.0, 0.0)
    """Box-centre shift as a fraction of the box size (x, y)."""
    box_scale: float = 1.0
    """Box side factor about its centre."""
    blur_sigma_px: float = 0.0
    """Gaussian blur of the crop (0: none)."""
    lowres_px: float = 0.0
    """Side (px) the crop is shrunk to and enlarged back from (0: none)."""


def sample_augment(config: AugmentConfig, rng: np.random.Generator) -> AugmentParams:
    """Draw rotation, colour gains and box shift (always the same number of draws from `rng` for one
    config; the low-resolution draws only when ``lowres_prob`` > 0)."""
    z = float(np.clip(rng.standard_normal(), -config.rotation_clip_sigmas, config.rotation_clip_sigmas))
    rotate = rng.random() < config.rotation_prob
    gains = rng.uniform(config.colour_low, config.colour_high, size=3)
    shift = rng.uniform(-config.box_shift, config.box_shift, size=2)
    wide = rng.random() < config.wide_prob
    low, high = np.log(config.wide_scale if wide else config.box_scale)
    scale = float(np.exp(rng.uniform(low, high)))
    blur = rng.random() < config.blur_prob
    sigma = float(rng.uniform(0.0, config.blur_sigma_px))
    lowres = 0.0
    if config.lowres_prob > 0.0:
        shrink = rng.random() < config.lowres_prob
        side = float(np.exp(rng.uniform(*np.log(config.lowres_px))))
        lowres = side if shrink else 0.0
    return AugmentParams(
        rotation_deg=z * config.rotation_sigma_deg if rotate else 0.0,
        colour_gains=tuple(float(g) for g in gains),
        box_shift=(float(shift[0]), float(shift[1])),
        box_scale=scale,
        blur_sigma_px=sigma if blur and sigma > 0.05 else 0.0,
        lowres_px=lowres,
    )


def apply_blur(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """(H, W, C) image blurred with a Gaussian of ``sigma_px`` pixels (unchanged for 0)."""
    if sigma_px <= 0.0:
        return image
    return cv2.GaussianBlur(np.asarray(image, dtype=np.float32), (0, 0), sigmaX=float(sigma_px))


def apply_lowres(image: np.ndarray, side_px: float) -> np.ndarray:
    """(H, W, C) image shrunk to about ``side_px`` on its longer side (area average) and enlarged back
    (bilinear); unchanged for 0 or a side not below the image's."""
    height, width = image.shape[:2]
    if side_px <= 0.0 or side_px >= max(height, width):
        return image
    scale = side_px / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(np.asarray(image, dtype=np.float32), size, interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def apply_colour(image: np.ndarray, gains: tuple[float, float, float]) -> np.ndarray:
    """(H, W, 3) RGB times per-channel gains, clipped to [0, 255], as float32."""
    out = np.asarray(image, dtype=np.float32) * np.asarray(gains, dtype=np.float32)
    return np.clip(out, 0.0, 255.0)
