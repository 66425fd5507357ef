"""Augmentation draws and image operations that need no dataset."""

from __future__ import annotations

import numpy as np
import pytest

from gsdf_ros.data.augment import AugmentConfig, apply_lowres, sample_augment


def _checkerboard(size: int = 128) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return np.repeat((((yy // 2 + xx // 2) % 2) * 255.0)[..., None], 3, axis=2).astype(np.float32)


def test_lowres_keeps_the_size_and_removes_the_fine_detail():
    image = _checkerboard()
    out = apply_lowres(image, 32.0)
    assert out.shape == image.shape
    assert abs(out.mean() - image.mean()) < 2.0  # the area average keeps the brightness
    assert out.std() < 0.1 * image.std()  # a 2 px checker cannot survive 4x shrinking
    np.testing.assert_array_equal(apply_lowres(image, 0.0), image)
    np.testing.assert_array_equal(apply_lowres(image, 200.0), image)


def test_lowres_draws_sides_in_range_only_when_asked():
    rng = np.random.default_rng(0)
    sides = [sample_augment(AugmentConfig(lowres_prob=1.0, lowres_px=(20.0, 40.0)), rng).lowres_px for _ in range(50)]
    assert all(20.0 <= s <= 40.0 for s in sides) and len(set(sides)) > 40
    assert sample_augment(AugmentConfig(), rng).lowres_px == 0.0
    on, off = np.random.default_rng(3), np.random.default_rng(3)
    sample_augment(AugmentConfig(lowres_prob=0.5), on)
    sample_augment(AugmentConfig(lowres_prob=0.0), off)
    off.random(2)
    assert on.random() == off.random()  # two draws when on, none when off: older configs draw as before
    with pytest.raises(ValueError, match="lowres"):
        AugmentConfig(lowres_prob=1.5)
    with pytest.raises(ValueError, match="lowres_px"):
        AugmentConfig(lowres_px=(40.0, 20.0))
