"""Crossing clips: deterministic, the hand crosses the frame, ground truth matches the camera."""

from __future__ import annotations

import json

import numpy as np

from gsdf_ros.synth.crossing import CrossingConfig, crossing_camera, crossing_clip, write_crossing_clip

SMALL = CrossingConfig(size=(160, 120), frames=4, hand_px=(40.0, 50.0))


def test_the_hand_crosses_the_frame_and_its_joints_project_to_their_pixels() -> None:
    frames = list(crossing_clip(3, SMALL))
    camera = crossing_camera(SMALL)
    centres = np.array([f.joints_2d.mean(axis=0) for f in frames])
    steps = np.diff(centres[:, 0])
    assert np.all(steps > 0) or np.all(steps < 0), centres  # one direction, left to right or back
    assert abs(centres[-1, 0] - centres[0, 0]) > 0.4 * SMALL.size[0]
    for f in frames:
        assert f.rgb.shape == (120, 160, 3) and f.rgb.dtype == np.uint8
        np.testing.assert_allclose(camera.project(f.joints), f.joints_2d)
        assert np.all(f.joints[:, 2] > 0.1)
        extent = np.ptp(f.joints_2d, axis=0).max()
        assert 20 < extent < 100, extent


def test_clips_are_deterministic_and_written_with_their_truth(tmp_path) -> None:
    a = [f.rgb for f in crossing_clip(5, SMALL)]
    b = [f.rgb for f in crossing_clip(5, SMALL)]
    c = [f.rgb for f in crossing_clip(6, SMALL)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])
    meta = json.loads(write_crossing_clip(tmp_path, 5, SMALL).read_text())
    assert len(meta["frames"]) == 4 and meta["size"] == [160, 120]
    assert all((tmp_path / row["file"]).is_file() for row in meta["frames"])
    assert np.asarray(meta["frames"][0]["joints"]).shape == (21, 3)
