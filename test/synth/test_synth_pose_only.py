"""Pose-only SynthHO data: several looks at one grasp, no SDF files or meshes, one split per grasp."""

from __future__ import annotations

import numpy as np
import pytest

from gsdf_ros.data.layout import read_annotations, read_split_ids
from gsdf_ros.synth.generate import SynthConfig, generate_clip, write_dataset

SMALL = dict(size=64, hand_voxel=0.005, object_voxel=0.005)


def test_views_of_one_grasp_differ_and_carry_no_sdf():
    frames = generate_clip(3, 7, SynthConfig(**SMALL, pose_only=True, views=3))
    assert [f.record.annotation.id for f in frames] == [9, 10, 11]
    assert len({f.split for f in frames}) == 1
    for frame in frames:
        record = frame.record
        assert record.sdf_hand is None and record.mesh_hand is None and not record.annotation.has_sdf_norm
        assert np.all(np.isfinite(record.annotation.hand_joints_3d))
    wrists = [f.record.annotation.hand_joints_3d[0] for f in frames]
    assert min(np.linalg.norm(a - b) for i, a in enumerate(wrists) for b in wrists[i + 1:]) > 1e-3
    # the same hand template in every view: equal bone lengths
    bones = [np.linalg.norm(np.diff(f.record.annotation.hand_joints_3d[[0, 5]], axis=0)) for f in frames]
    assert np.allclose(bones, bones[0])


def test_pose_only_dataset_reads_back_without_sdf(tmp_path):
    counts = write_dataset(tmp_path, 2, 3, SynthConfig(**SMALL, pose_only=True, views=2, val_frac=0.0, test_frac=0.0))
    assert counts["train"] == 4
    anns = read_annotations(tmp_path, "train")
    assert sorted(read_split_ids(tmp_path, "train")) == [0, 1, 2, 3] == sorted(anns)
    assert not (tmp_path / "sdf_hand").exists() and not (tmp_path / "mesh_hand").exists()


def test_views_need_single_frames():
    with pytest.raises(ValueError, match="views"):
        SynthConfig(views=2, clip_len=3)
    with pytest.raises(ValueError, match="view_tau"):
        SynthConfig(view_tau=(0.9, 0.2))


def test_an_interrupted_pose_only_run_resumes_to_the_same_dataset(tmp_path):
    config = SynthConfig(**SMALL, pose_only=True, views=2, val_frac=0.0, test_frac=0.0)
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    write_dataset(whole, 3, 4, config)
    write_dataset(resumed, 2, 4, config)
    (resumed / "train.json").unlink()  # as if stopped before the end: one sample half written
    (resumed / "depth" / "00000003.png").unlink()
    stamp = (resumed / "rgb" / "00000000.png").stat().st_mtime_ns
    write_dataset(resumed, 3, 4, config, resume=True)
    assert (resumed / "rgb" / "00000000.png").stat().st_mtime_ns == stamp  # kept, not rendered again
    assert (resumed / "train.json").read_bytes() == (whole / "train.json").read_bytes()
    for name in ("rgb/00000003.png", "depth/00000003.png", "rgb/00000005.png"):
        assert (resumed / name).read_bytes() == (whole / name).read_bytes()
    with pytest.raises(ValueError, match="pose-only"):
        write_dataset(tmp_path / "sdf", 1, 4, SynthConfig(**SMALL), resume=True)


def test_distractors_draw_behind_the_hand_and_leave_the_first_view_alone():
    from gsdf_ros.synth.render import LABEL_HAND, LABEL_OCCLUDER

    plain = generate_clip(5, 2, SynthConfig(**SMALL, pose_only=True))
    busy = generate_clip(5, 2, SynthConfig(**SMALL, pose_only=True, distractors=(3, 3)))
    np.testing.assert_array_equal(plain[0].record.annotation.hand_joints_3d, busy[0].record.annotation.hand_joints_3d)
    assert not np.any(plain[0].mask == LABEL_OCCLUDER)
    assert np.any(busy[0].mask == LABEL_OCCLUDER)
    # behind the hand: every hand pixel of the plain render is still a hand pixel
    hand = plain[0].mask == LABEL_HAND
    assert np.all(busy[0].mask[hand] == LABEL_HAND)
    with pytest.raises(ValueError, match="distractors"):
        SynthConfig(distractors=(2, 1))
