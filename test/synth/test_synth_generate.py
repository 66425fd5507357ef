"""SynthHO generation: labels agree with the images, runs are byte-for-byte reproducible, and the
layout reader reads back what was written."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from gsdf_ros.cli.synth import main
from gsdf_ros.data.layout import read_annotations, read_clips, read_record, read_split_ids
from gsdf_ros.synth.generate import DEPTH_UNIT, SynthConfig, generate_clip, split_of, write_dataset
from gsdf_ros.synth.render import LABEL_HAND, LABEL_OBJECT

SMALL = dict(size=64, sdf_surface=40, sdf_uniform=10, hand_voxel=0.005, object_voxel=0.005)
ARGS = ["--size", "64", "--sdf-points", "40", "--quiet"]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _read(root: Path, name: str, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    return cv2.imread(str(root / name), flags)


def test_visible_joints_project_into_the_hand_mask():
    config = SynthConfig(**SMALL, occluders=True)
    checked = 0
    for clip in range(4):
        frame = generate_clip(clip, seed=11, config=config)[0]
        ann = frame.record.annotation
        uv = np.round(ann.intrinsics.project(ann.hand_joints_3d)).astype(int)
        hand = cv2.dilate((frame.mask == LABEL_HAND).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        for (u, v), z in zip(uv, ann.hand_joints_3d[:, 2]):
            assert 0 <= u < 64 and 0 <= v < 64
            covered = frame.mask[v, u] not in (0, LABEL_HAND) and 0 < frame.depth[v, u] < z
            if not covered:
                assert hand[v, u]
                checked += 1
        assert (frame.mask == LABEL_OBJECT).any() or (frame.mask > LABEL_OBJECT).any()
    assert checked >= 40


def test_same_seed_same_bytes_and_workers_do_not_matter(tmp_path):
    args = ["--num", "3", "--seed", "5", "--clip-len", "2", "--val-frac", "0.3", "--test-frac", "0.3"] + ARGS
    assert main(["--out", str(tmp_path / "a"), "--workers", "1"] + args) == 0
    assert main(["--out", str(tmp_path / "b"), "--workers", "1"] + args) == 0
    sheet = str(tmp_path / "s.png")
    assert main(["--out", str(tmp_path / "c"), "--workers", "2", "--contact-sheet", sheet] + args) == 0
    a, b, c = (_files(tmp_path / k) for k in "abc")
    assert len(a) > 30 and a == b == c
    sheet = _read(tmp_path, "s.png")
    assert sheet.shape == (256 * 2, 256 * 4, 3)
    other = write_dataset(tmp_path / "d", 1, 6, SynthConfig(**SMALL, clip_len=2))
    assert sum(other.values()) == 2 and _files(tmp_path / "d")["rgb/00000000.png"] != a["rgb/00000000.png"]


def test_layout_round_trip_and_clips(tmp_path):
    config = SynthConfig(**SMALL, clip_len=3, val_frac=0.0, test_frac=0.0, blur=True)
    written = []
    counts = write_dataset(tmp_path, 2, 9, config, on_clip=written.extend)
    assert counts == {"train": 6, "val": 0, "test": 0}
    anns = read_annotations(tmp_path, "train")
    assert read_split_ids(tmp_path, "train") == list(range(6))
    assert read_clips(tmp_path, "train") == [[0, 1, 2], [3, 4, 5]]
    for frame in written:
        ann = anns[frame.record.annotation.id]
        back = read_record(tmp_path, ann)
        np.testing.assert_array_equal(back.image, frame.record.image)
        np.testing.assert_allclose(ann.hand_joints_3d, frame.record.annotation.hand_joints_3d)
        np.testing.assert_allclose(ann.obj_transform[:3, 3], ann.obj_center_3d)
        assert ann.hand_poses.shape == (48,) and len(ann.extra["articulation"]) == 20
        assert ann.extra["obj_family"] == frame.record.annotation.extra["obj_family"]
        np.testing.assert_array_equal(back.sdf_hand.pos, frame.record.sdf_hand.pos)
        # SDF rows map back to metres near the hand
        points = back.sdf_hand.neg[:, :3] / ann.sdf_scale - ann.sdf_offset
        assert np.linalg.norm(points - ann.hand_joints_3d[0], axis=1).max() < 0.3
        name = ann.file_name
        np.testing.assert_array_equal(_read(tmp_path, f"segm/{name}.png"), frame.mask)
        depth = _read(tmp_path, f"depth/{name}.png").astype(float) * DEPTH_UNIT
        np.testing.assert_allclose(depth, frame.depth, atol=DEPTH_UNIT)
        assert np.allclose(back.mesh_hand.vertices.mean(axis=0), ann.hand_joints_3d.mean(axis=0), atol=0.08)
    in_contact = [anns[i].extra["in_contact"] for i in range(6)]
    assert in_contact[2] and in_contact[5] and not in_contact[0]


def test_splits_follow_the_fractions_and_bad_input_is_refused(capsys):
    splits = [split_of(1, i, 0.2, 0.3) for i in range(2000)]
    assert abs(splits.count("test") / 2000 - 0.3) < 0.05 and abs(splits.count("val") / 2000 - 0.2) < 0.05
    with pytest.raises(ValueError, match="val_frac"):
        SynthConfig(val_frac=0.7, test_frac=0.5)
    assert main(["--out", "/nonexistent", "--num", "0"]) == 2
    assert main(["--out", "/nonexistent", "--num", "1", "--size", "8"]) == 2
    assert "size" in capsys.readouterr().err
