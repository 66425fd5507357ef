"""Streaming inference with a video checkpoint: a causal window of the last T crops, start-up
padding with the oldest crop, and a window length that can only be lowered."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gsdf_ros.gsdf_predictor import GSDFPredictor
from gsdf_ros.inference import causal_windows
from gsdf_ros.result import CropSample

QUERY = (torch.rand(1, 64, 3, generator=torch.Generator().manual_seed(0)) - 0.5) * 0.6


def _crop(seed: int, stamp_ns: int) -> CropSample:
    image = np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    k = np.array([[80.0, 0.0, 32.0], [0.0, 80.0, 32.0], [0.0, 0.0, 1.0]])
    return CropSample(stamp_ns=stamp_ns, frame_id="camera", image=image, k=k, rotation=np.eye(3), box=(0.0, 0.0, 64.0))


def _sdf(predictor: GSDFPredictor, window: list[CropSample]) -> torch.Tensor:
    """Hand and object SDF of the newest crop at fixed query points."""
    state = predictor.encode_window(window)
    with torch.no_grad():
        return torch.cat(predictor.model.decode_sdf(state, QUERY), dim=-1)[0]


@pytest.fixture(scope="module")
def predictor(video_checkpoint) -> GSDFPredictor:
    return GSDFPredictor.from_checkpoint(video_checkpoint, mesh="none")


def test_a_video_checkpoint_gives_its_clip_length(predictor):
    assert predictor.window_length == 3 and predictor.model.temporal is not None


def test_start_up_repeats_the_oldest_crop_and_says_how_many_it_saw(predictor):
    a, b, c = _crop(1, 10), _crop(2, 20), _crop(3, 30)
    torch.testing.assert_close(_sdf(predictor, [a]), _sdf(predictor, [a, a, a]), rtol=0, atol=0)
    torch.testing.assert_close(_sdf(predictor, [a, b]), _sdf(predictor, [a, a, b]), rtol=0, atol=0)
    assert not torch.allclose(_sdf(predictor, [a, b]), _sdf(predictor, [b, b, b])), "the window is used"
    lengths = [predictor.predict(w).window_length for w in ([a], [a, b], [a, b, c], [a, b, c, _crop(4, 40)])]
    assert lengths == [1, 2, 3, 3]
    assert predictor.predict([a, b]).stamp_ns == 20


def test_a_later_crop_never_changes_an_earlier_output(predictor):
    crops = [_crop(10 + i, 100 + i) for i in range(7)]
    changed = list(crops)
    changed[3] = _crop(99, crops[3].stamp_ns)
    before = [_sdf(predictor, w) for w in causal_windows(crops, predictor.window_length)]
    after = [_sdf(predictor, w) for w in causal_windows(changed, predictor.window_length)]
    same = [bool(torch.equal(x, y)) for x, y in zip(before, after)]
    # crop 3 is in the windows ending at 3, 4 and 5 only: no look-ahead, and it leaves the window after T steps
    assert same == [True, True, True, False, False, False, True]


def test_causal_windows_hold_the_last_t_crops_oldest_first():
    crops = [_crop(i, i) for i in range(5)]
    windows = [[c.stamp_ns for c in w] for w in causal_windows(crops, 3)]
    assert windows == [[0], [0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 4]]


def test_the_window_can_be_lowered_but_not_raised(video_checkpoint, single_checkpoint):
    assert GSDFPredictor.from_checkpoint(video_checkpoint, window_length=2, mesh="none").window_length == 2
    with pytest.raises(ValueError, match="window_length 4 exceeds the checkpoint's 3 frames"):
        GSDFPredictor.from_checkpoint(video_checkpoint, window_length=4)
    with pytest.raises(ValueError, match="exceeds the checkpoint's 1 frames"):
        GSDFPredictor.from_checkpoint(single_checkpoint, window_length=3)
