"""FrameDataset and ClipDataset: coordinates (§5.5), exact crops, augmentation, clips, errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from gsdf_ros.data.augment import AugmentConfig, AugmentParams
from gsdf_ros.data.dataset import (
    ClipDataset,
    FrameDataset,
    clip_windows,
    full_image_crop,
)
from gsdf_ros.data.layout import Annotation, LayoutError, SampleRecord, read_sdf, write_split
from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.geometry.transforms import rotation_angle
from gsdf_ros.image_norm import IMAGENET_MEAN, IMAGENET_STD

S = 7.0
NO_COLOUR = dict(colour_low=1.0, colour_high=1.0)

EXPECTED = {
    "image": ((3, 64, 64), torch.float32),
    "K": ((3, 3), torch.float32),
    "wrist": ((3,), torch.float32),
    "joints": ((21, 3), torch.float32),
    "obj_center": ((3,), torch.float32),
    "points": ((200, 3), torch.float32),
    "hand_sdf": ((200,), torch.float32),
    "obj_sdf": ((200,), torch.float32),
    "from_hand": ((200,), torch.bool),
    "cam_rot": ((3, 3), torch.float32),
}


def _project(k: np.ndarray, points: np.ndarray) -> np.ndarray:
    p = points @ k.T
    return p[:, :2] / p[:, 2:]


def _source_pixels_seen(sample: dict, uv: np.ndarray) -> np.ndarray:
    """Decode the ramp image: the source pixel (u, v) shown at crop pixels uv (bilinear)."""
    rgb = (sample["image"].numpy().transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN) * 255.0
    x0, y0 = np.floor(uv[:, 0]).astype(int), np.floor(uv[:, 1]).astype(int)
    fx, fy = (uv[:, 0] - x0)[:, None], (uv[:, 1] - y0)[:, None]
    top = rgb[y0, x0] * (1 - fx) + rgb[y0, x0 + 1] * fx
    bottom = rgb[y0 + 1, x0] * (1 - fx) + rgb[y0 + 1, x0 + 1] * fx
    return (top * (1 - fy) + bottom * fy)[:, :2]


def test_sample_contract(tmp_path: Path, write_fixture) -> None:
    write_fixture(tmp_path, count=2)
    sample = FrameDataset(tmp_path, "train", S, 64, num_points=200)[1]
    for key, (shape, dtype) in EXPECTED.items():
        assert tuple(sample[key].shape) == shape and sample[key].dtype == dtype, key
    assert sample["id"] == "00000002" and sample["index"] == 1
    assert int(sample["from_hand"].sum()) == 100
    torch.testing.assert_close(sample["wrist"], sample["joints"][0])
    batch = torch.utils.data.default_collate([sample, sample])
    assert batch["points"].shape == (2, 200, 3)


def test_points_and_sdf_follow_the_unit_sphere_formula(tmp_path: Path, write_fixture) -> None:
    records = write_fixture(tmp_path, count=2)
    ds = FrameDataset(tmp_path, "train", S, 64, num_points=200)
    sample, ann = ds[0], records[0].annotation
    np.testing.assert_allclose(sample["cam_rot"].numpy(), np.eye(3))
    wrist = ann.hand_joints_3d[0]
    np.testing.assert_allclose(sample["wrist"].numpy(), wrist, rtol=1e-6)
    points, hand_sdf, obj_sdf = (sample[k].numpy().astype(np.float64) for k in ("points", "hand_sdf", "obj_sdf"))
    for kind, is_hand in (("hand", True), ("obj", False)):
        file = read_sdf(tmp_path, kind, ann.file_name)
        rows = np.concatenate([file.pos, file.neg]).astype(np.float64)
        other = np.concatenate([file.pos_other, file.neg_other])[:, 0].astype(np.float64)
        q_file = ((rows[:, :3] / ann.sdf_scale - ann.sdf_offset) - wrist) * S / 2
        own = rows[:, 3] / ann.sdf_scale * S / 2
        other = other / ann.sdf_scale * S / 2
        mine = np.flatnonzero(sample["from_hand"].numpy() == is_hand)
        for i in mine:
            match = np.flatnonzero(np.linalg.norm(q_file - points[i], axis=1) < 1e-5)
            assert len(match) == 1, f"{kind} point {i} matches no file row"
            j = match[0]
            assert rows[j, 0] != pytest.approx(0.123), "a filtered (NaN / |sdf| >= 2) row was drawn"
            h, o = (own[j], other[j]) if is_hand else (other[j], own[j])
            assert hand_sdf[i] == pytest.approx(h, abs=1e-6) and obj_sdf[i] == pytest.approx(o, abs=1e-6)
        own_sdf = (hand_sdf if is_hand else obj_sdf)[mine]
        assert np.sum(own_sdf > 0) == 50 and np.sum(own_sdf <= 0) == 50


def test_box_crop_projects_joints_through_the_exact_homography(tmp_path: Path, write_fixture) -> None:
    records = write_fixture(tmp_path, count=2, off_centre=True)
    sample = FrameDataset(tmp_path, "train", S, 64, num_points=0, crop="box")[0]
    ann = records[0].annotation
    k_src, k_crop, rot = ann.intrinsics.matrix(), sample["K"].double().numpy(), sample["cam_rot"].double().numpy()
    assert np.degrees(rotation_angle(rot)) > 10.0, "the fixture box should be off-centre"
    uv_crop = _project(k_crop, sample["joints"].double().numpy())
    homography = k_crop @ rot.T @ np.linalg.inv(k_src)
    uv_src = _project(k_src, ann.hand_joints_3d)
    mapped = np.concatenate([uv_src, np.ones((21, 1))], axis=1) @ homography.T
    np.testing.assert_allclose(uv_crop, mapped[:, :2] / mapped[:, 2:], atol=0.5)
    assert np.all((uv_crop > 0) & (uv_crop < 63)), "joints should lie inside the crop"
    # The warped image agrees: the crop pixel under each projected joint shows that joint's source pixel.
    np.testing.assert_allclose(_source_pixels_seen(sample, uv_crop), uv_src, atol=1.5)
    np.testing.assert_allclose(sample["joints"].double().numpy() @ rot.T, ann.hand_joints_3d, atol=1e-6)


def test_rotation_augmentation_keeps_joints_on_their_pixels(tmp_path: Path, write_fixture) -> None:
    records = write_fixture(tmp_path, count=3)
    augment = AugmentConfig(rotation_prob=1.0, **NO_COLOUR)
    ds = FrameDataset(tmp_path, "train", S, 128, num_points=50, augment=augment, seed=3)
    plain = FrameDataset(tmp_path, "train", S, 128, num_points=50)
    angles = []
    for index, record in enumerate(records):
        sample = ds[index]
        rot = sample["cam_rot"].double().numpy()
        angles.append(np.degrees(rotation_angle(rot)))
        np.testing.assert_allclose(rot[:, 2], [0, 0, 1], atol=1e-6)
        uv = _project(sample["K"].double().numpy(), sample["joints"].double().numpy())
        uv_src = _project(record.annotation.intrinsics.matrix(), record.annotation.hand_joints_3d)
        np.testing.assert_allclose(_source_pixels_seen(sample, uv), uv_src, atol=1.5)
        # The SDF targets and normalised distances do not change under a rotation.
        np.testing.assert_allclose(
            sample["points"].norm(dim=1).numpy(), _norms_of_same_draw(plain, ds, index), rtol=1e-5
        )
    assert max(angles) > 5.0


def _norms_of_same_draw(plain: FrameDataset, augmented: FrameDataset, index: int) -> np.ndarray:
    """|q| of item `index` drawn with the augmented dataset's random stream but no augmentation."""
    rng = augmented.rng(index)
    augmented.params_for(rng)
    return plain.load(index, AugmentParams(), rng)["points"].norm(dim=1).numpy()


def test_colour_gains_scale_channels(tmp_path: Path, write_fixture) -> None:
    write_fixture(tmp_path, count=1)
    augment = AugmentConfig(rotation_prob=0.0, colour_low=0.8, colour_high=1.2)
    aug = FrameDataset(tmp_path, "train", S, 128, num_points=0, augment=augment)[0]["image"]
    plain = FrameDataset(tmp_path, "train", S, 128, num_points=0)[0]["image"]
    std, mean = torch.tensor(IMAGENET_STD)[:, None, None], torch.tensor(IMAGENET_MEAN)[:, None, None]
    a, p = (aug * std + mean) * 255, (plain * std + mean) * 255
    ratios = (a[:, 100, 100] / p[:, 100, 100]).numpy()
    assert np.all((ratios >= 0.8 - 1e-4) & (ratios <= 1.2 + 1e-4)) and np.ptp(ratios) > 1e-3


def test_same_seed_and_epoch_give_the_same_sample(tmp_path: Path, write_fixture) -> None:
    write_fixture(tmp_path, count=1)
    ds = FrameDataset(tmp_path, "train", S, 64, num_points=100, augment=AugmentConfig(), seed=5)
    first = ds[0]["points"]
    torch.testing.assert_close(ds[0]["points"], first)
    ds.set_epoch(1)
    assert not torch.equal(ds[0]["points"], first)


def test_clip_windows_cover_each_frame_once() -> None:
    assert clip_windows(7, 3) == [([0, 1, 2], [True] * 3), ([3, 4, 5], [True] * 3), ([4, 5, 6], [False, False, True])]
    assert clip_windows(2, 3) == [([0, 1, 1], [True, True, False])]


def test_test_clips_cover_every_frame_exactly_once(tmp_path: Path, write_fixture) -> None:
    write_fixture(tmp_path, count=7, clips=[[1, 2, 3, 4, 5], [6, 7]])
    clips = ClipDataset(tmp_path, "train", 3, "test", recon_scale=S, input_size=32, num_points=8)
    assert len(clips) == 3
    seen: list[str] = []
    for clip in clips:
        assert clip["image"].shape == (3, 3, 32, 32) and clip["points"].shape == (3, 8, 3)
        assert clip["index"].shape == (3,) and len(clip["id"]) == 3
        seen += [name for name, new in zip(clip["id"], clip["new_frame"].tolist()) if new]
    assert sorted(seen) == [f"{i:08d}" for i in range(1, 8)]
    assert clips[1]["id"] == ["00000003", "00000004", "00000005"]
    assert clips[1]["new_frame"].tolist() == [False, True, True]


def test_train_clips_draw_distinct_frames_with_one_augmentation(tmp_path: Path, write_fixture) -> None:
    write_fixture(tmp_path, count=6, clips=[[1, 2, 3, 4], [5, 6]])
    augment = AugmentConfig(rotation_prob=1.0)
    clips = ClipDataset(tmp_path, "train", 3, "train", recon_scale=S, input_size=32, num_points=8, augment=augment)
    assert len(clips) == 1, "the 2-frame sequence is too short for T = 3"
    orders = set()
    for epoch in range(4):
        clips.set_epoch(epoch)
        clip = clips[0]
        assert len(set(clip["id"])) == 3 and set(clip["id"]) <= {f"{i:08d}" for i in range(1, 5)}
        orders.add(tuple(clip["id"]))
        rot = clip["cam_rot"]
        assert np.degrees(rotation_angle(rot[0].double().numpy())) > 0.1
        torch.testing.assert_close(rot, rot[:1].expand(3, 3, 3))
    assert len(orders) > 1


def test_missing_files_raise_errors_naming_them(tmp_path: Path, write_fixture) -> None:
    write_fixture(tmp_path, count=2)
    ds = FrameDataset(tmp_path, "train", S, 64, num_points=20)
    (tmp_path / "sdf_obj" / "00000001.npz").unlink()
    with pytest.raises(FileNotFoundError, match=r"sdf_obj/00000001\.npz"):
        ds[0]
    (tmp_path / "rgb" / "00000002.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"rgb/00000002\.png"):
        ds[1]
    (tmp_path / "mesh_obj" / "00000002.obj").unlink()
    with pytest.raises(FileNotFoundError, match=r"mesh_obj/00000002\.obj"):
        ds.gt_meshes(1)
    with pytest.raises(FileNotFoundError, match=r"clips/train\.json"):
        ClipDataset(tmp_path, "train", 2, "test", recon_scale=S, input_size=32)
    with pytest.raises(FileNotFoundError, match=r"test\.json"):
        FrameDataset(tmp_path, "test", S, 64)


def test_gt_meshes_are_in_the_source_frame(tmp_path: Path, write_fixture) -> None:
    records = write_fixture(tmp_path, count=1, off_centre=True)
    hand, obj = FrameDataset(tmp_path, "train", S, 64, crop="box").gt_meshes(0)
    np.testing.assert_allclose(hand.vertices, records[0].mesh_hand.vertices)
    np.testing.assert_allclose(obj.vertices.mean(axis=0), records[0].annotation.obj_center_3d, atol=1e-9)


def test_full_crop_of_a_wide_image_scales_each_axis() -> None:
    crop = full_image_crop(Intrinsics(200.0, 200.0, 100.0, 50.0, 200, 100), 64)
    np.testing.assert_allclose(crop.rotation, np.eye(3))
    corners = crop.source_to_crop_pixels(np.array([[-0.5, -0.5], [199.5, 99.5]]))
    np.testing.assert_allclose(corners, [[-0.5, -0.5], [63.5, 63.5]], atol=1e-9)


def test_image_size_must_match_the_annotation(tmp_path: Path) -> None:
    """A 96x64 (width x height) annotation: the transposed image is refused, the right one is read."""
    k = Intrinsics(100.0, 100.0, 47.5, 31.5, 96, 64)
    centre = np.array([0.0, 0.0, 0.5])
    ann = Annotation(id=4, intrinsics=k, hand_joints_3d=centre + np.linspace(-0.03, 0.03, 63).reshape(21, 3),
                     obj_center_3d=centre, obj_corners_3d=centre + np.full((8, 3), 0.01))
    v, u = np.mgrid[0:64, 0:96]
    image = np.stack([u, v, np.full_like(u, 7)], axis=-1).astype(np.uint8)
    write_split(tmp_path, "train", [SampleRecord(ann, image)])
    ds = FrameDataset(tmp_path, "train", S, 32, num_points=0)
    assert tuple(ds[0]["image"].shape) == (3, 32, 32)
    path = tmp_path / "rgb" / "00000004.png"
    assert cv2.imwrite(str(path), np.ascontiguousarray(image.transpose(1, 0, 2)))
    with pytest.raises(LayoutError, match=r"00000004\.png: image is 64x96, the annotation says 96x64"):
        ds[0]
    assert cv2.imwrite(str(path), np.zeros((64, 95, 3), np.uint8))
    with pytest.raises(LayoutError, match=r"image is 95x64, the annotation says 96x64"):
        ds[0]
