"""ImageNet normalisation of network inputs: the one definition training, evaluation and the live path share."""

from __future__ import annotations

import numpy as np

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def normalise_image(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB in [0, 255] to ImageNet-normalised (3, H, W) float32."""
    out = (np.asarray(image, np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(out.transpose(2, 0, 1))


def denormalise_image(image: np.ndarray) -> np.ndarray:
    """ImageNet-normalised (3, H, W) back to (H, W, 3) RGB in [0, 1] (for pictures of network inputs)."""
    out = np.asarray(image, np.float32).transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN
    return np.clip(out, 0.0, 1.0)
