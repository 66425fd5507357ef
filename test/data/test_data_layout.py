"""The gSDF layout: round trip, byte-for-byte determinism, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from gsdf_ros.data.dataset import data_fingerprint
from gsdf_ros.data.layout import (
    Annotation,
    LayoutError,
    SampleRecord,
    SdfSamples,
    annotation_path,
    format_id,
    image_path,
    read_annotations,
    read_clips,
    read_image,
    read_norm,
    read_record,
    read_sdf,
    read_split_ids,
    write_split,
)
from gsdf_ros.geometry.camera import Intrinsics


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _assert_annotations_equal(a: Annotation, b: Annotation) -> None:
    assert (a.id, a.file_name, a.intrinsics, a.sdf_scale, a.ycb_id, a.extra) == (
        b.id, b.file_name, b.intrinsics, b.sdf_scale, b.ycb_id, b.extra
    )  # fmt: skip
    for name in ("bbox", "hand_joints_3d", "obj_center_3d", "obj_corners_3d", "hand_poses", "obj_transform",
                 "obj_rest_corners_3d", "sdf_offset"):  # fmt: skip
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_round_trip_reads_back_what_was_written(tmp_path: Path, write_fixture) -> None:
    records = write_fixture(tmp_path, count=3, clips=[[3, 1], [2]])
    annotations = read_annotations(tmp_path, "train")
    assert sorted(annotations) == [1, 2, 3]
    assert read_split_ids(tmp_path, "train") == [1, 2, 3]
    assert read_clips(tmp_path, "train") == [[3, 1], [2]]
    for written in records:
        read = read_record(tmp_path, annotations[written.annotation.id])
        _assert_annotations_equal(read.annotation, written.annotation)
        np.testing.assert_array_equal(read.image, written.image)
        for kind in ("sdf_hand", "sdf_obj"):
            for key, value in getattr(written, kind).arrays().items():
                np.testing.assert_array_equal(getattr(read, kind).arrays()[key], value, err_msg=f"{kind}.{key}")
        for kind in ("mesh_hand", "mesh_obj"):
            np.testing.assert_array_equal(getattr(read, kind).vertices, getattr(written, kind).vertices)
            np.testing.assert_array_equal(getattr(read, kind).faces, getattr(written, kind).faces)
        offset, scale = read_norm(tmp_path, written.annotation.file_name)
        np.testing.assert_allclose(offset, written.annotation.sdf_offset, rtol=1e-6)
        assert scale == pytest.approx(written.annotation.sdf_scale, rel=1e-6)


def test_same_input_gives_same_bytes(tmp_path: Path, write_fixture) -> None:
    write_fixture(tmp_path / "a", count=2, clips=[[1, 2]])
    write_fixture(tmp_path / "b", count=2, clips=[[1, 2]])
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert sorted(a) == sorted(b)
    assert "sdf_hand/00000001.npz" in a and "rgb/00000001.png" in a and "clips/train.json" in a
    assert a == b
    assert data_fingerprint(tmp_path / "a", "train") == data_fingerprint(tmp_path / "b", "train")


def test_rewriting_a_read_layout_reproduces_it(tmp_path: Path, write_fixture) -> None:
    write_fixture(tmp_path / "a", count=2)
    annotations = read_annotations(tmp_path / "a", "train")
    write_split(tmp_path / "b", "train", [read_record(tmp_path / "a", annotations[i]) for i in sorted(annotations)])
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_annotation_json_follows_the_gsdf_keys(tmp_path: Path, write_fixture) -> None:
    write_fixture(tmp_path, count=2)
    document = json.loads(annotation_path(tmp_path, "train").read_text())
    assert document["images"][0] == {"id": 1, "file_name": "00000001", "width": 128, "height": 128}
    entry = document["annotations"][0]
    for key in ("bbox", "hand_joints_3d", "hand_poses", "obj_transform", "obj_center_3d", "obj_corners_3d",
                "obj_rest_corners_3d", "fx", "fy", "cx", "cy", "sdf_scale", "sdf_offset"):  # fmt: skip
        assert key in entry, key
    assert entry["image_id"] == entry["id"] == 1
    assert entry["bbox"] == [0.0, 0.0, 128.0, 128.0]
    assert np.array(entry["hand_joints_3d"]).shape == (21, 3)
    assert entry["object_class"] == "box"
    assert json.loads((tmp_path / "splits" / "train.json").read_text()) == ["00000001", "00000002"]
    with np.load(tmp_path / "sdf_obj" / "00000002.npz") as npz:
        assert sorted(npz.files) == ["neg", "neg_other", "pos", "pos_other"]
        assert npz["pos"].shape == (50, 4) and npz["pos_other"].shape == (50, 1)
        assert npz["pos"].dtype == np.float32


def test_fingerprint_changes_with_the_annotations(tmp_path: Path, write_fixture) -> None:
    write_fixture(tmp_path, count=2)
    before = data_fingerprint(tmp_path, "train")
    path = annotation_path(tmp_path, "train")
    path.write_text(path.read_text().replace('"fx":150.0', '"fx":151.0', 1))
    assert data_fingerprint(tmp_path, "train") != before
    assert len(before) == 16


def test_missing_and_malformed_files_are_named(tmp_path: Path, write_fixture) -> None:
    write_fixture(tmp_path, count=2)
    with pytest.raises(FileNotFoundError, match="splits/val.json"):
        read_split_ids(tmp_path, "val")
    (tmp_path / "sdf_hand" / "00000002.npz").unlink()
    with pytest.raises(FileNotFoundError, match=r"sdf_hand/00000002\.npz"):
        read_sdf(tmp_path, "hand", "00000002")
    (tmp_path / "sdf_obj" / "00000001.npz").write_bytes(b"not a zip")
    with pytest.raises(LayoutError, match=r"sdf_obj/00000001\.npz"):
        read_sdf(tmp_path, "obj", "00000001")
    path = annotation_path(tmp_path, "train")
    document = json.loads(path.read_text())
    del document["annotations"][1]["obj_center_3d"]
    path.write_text(json.dumps(document))
    with pytest.raises(LayoutError, match=r"train\.json.*annotation id 2.*obj_center_3d"):
        read_annotations(tmp_path, "train")
    path.write_text("{")
    with pytest.raises(LayoutError, match=r"train\.json: not valid JSON"):
        read_annotations(tmp_path, "train")


def test_writer_validates_records() -> None:
    k_args = dict(hand_joints_3d=np.zeros((21, 3)), obj_center_3d=np.zeros(3), obj_corners_3d=np.zeros((8, 3)))
    k = Intrinsics(100.0, 100.0, 31.5, 31.5, 64, 64)
    with pytest.raises(ValueError, match="hand_joints_3d"):
        Annotation(id=1, intrinsics=k, **{**k_args, "hand_joints_3d": np.zeros((20, 3))})
    with pytest.raises(ValueError, match="sample id"):
        Annotation(id=10**8, intrinsics=k, **k_args)
    ann = Annotation(id=7, intrinsics=k, **k_args)
    assert ann.file_name == format_id(7) == "00000007"
    with pytest.raises(ValueError, match="uint8"):
        SampleRecord(annotation=ann, image=np.zeros((32, 64, 3), np.uint8))
    rows = np.zeros((3, 4))
    with pytest.raises(ValueError, match="pos_other"):
        SdfSamples(pos=rows, neg=rows, pos_other=np.zeros((2, 1)), neg_other=np.zeros((3, 1)))
    samples = SdfSamples(pos=rows, neg=rows, pos_other=np.zeros((3, 1)), neg_other=np.zeros((3, 1)))
    with pytest.raises(ValueError, match="sdf_scale"):
        SampleRecord(annotation=ann, image=np.zeros((64, 64, 3), np.uint8), sdf_hand=samples)


def _flat_blocks(height: int, width: int) -> np.ndarray:
    """Two flat colour halves whose channels all differ (a BGR/RGB swap moves every value far)."""
    image = np.empty((height, width, 3), np.uint8)
    image[:, : width // 2] = (200, 40, 10)
    image[:, width // 2:] = (10, 90, 230)
    return image


def test_jpg_images_decode_as_rgb_and_png_comes_first(tmp_path: Path, write_fixture) -> None:
    records = write_fixture(tmp_path, count=1)
    png = records[0].image
    jpg = _flat_blocks(*png.shape[:2])
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(jpg, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    (tmp_path / "rgb" / "00000001.jpg").write_bytes(encoded.tobytes())
    assert image_path(tmp_path, "00000001") == tmp_path / "rgb" / "00000001.png"
    np.testing.assert_array_equal(read_image(tmp_path, "00000001"), png)  # both exist: the png is read
    (tmp_path / "rgb" / "00000001.png").unlink()
    assert image_path(tmp_path, "00000001") == tmp_path / "rgb" / "00000001.jpg"
    image = read_image(tmp_path, "00000001")
    assert image.shape == jpg.shape and image.dtype == np.uint8
    interior = (slice(8, -8), np.r_[8 : png.shape[1] // 2 - 8, png.shape[1] // 2 + 8 : png.shape[1] - 8])
    assert np.abs(image[interior].astype(int) - jpg[interior].astype(int)).max() <= 3
    np.testing.assert_array_equal(read_record(tmp_path, read_annotations(tmp_path, "train")[1]).image, image)
    (tmp_path / "rgb" / "00000001.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(LayoutError, match=r"00000001\.jpg: not a readable image"):
        read_image(tmp_path, "00000001")
    (tmp_path / "rgb" / "00000001.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="no image for sample '00000001'"):
        read_image(tmp_path, "00000001")
