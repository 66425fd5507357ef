"""Reconstruction ⇄ HandObjectReconstruction, and TF / pose / markers / crop frames built from it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("gsdf.msg", reason="gsdf interfaces are not built: run tools/setup.sh")
pytest.importorskip("tf2_msgs.msg", reason="tf2_msgs is not available: run tools/setup.sh")

from std_msgs.msg import Header  # noqa: E402
from visualization_msgs.msg import Marker  # noqa: E402

from gsdf_ros.geometry import Intrinsics, virtual_crop  # noqa: E402
from gsdf_ros.hand.joints import BONES, JOINT_NAMES  # noqa: E402
from gsdf_ros.nodes import conversions as conv  # noqa: E402
from gsdf_ros.nodes.validation import Rejected, RejectReason  # noqa: E402
from gsdf_ros.result import Reconstruction, TriangleMesh  # noqa: E402

STAMP_NS = 1_700_000_123_456_789_000


def make_reconstruction(n_tri: int = 4, with_meshes: bool = True) -> Reconstruction:
    rng = np.random.default_rng(0)
    faces = np.stack([np.zeros(n_tri), np.arange(1, n_tri + 1), np.arange(2, n_tri + 2)], 1).astype(np.int64)
    mesh = TriangleMesh(rng.random((n_tri + 2, 3)).astype(np.float32), faces)
    return Reconstruction(
        stamp_ns=STAMP_NS,
        frame_id="camera_color_optical_frame",
        hand_joints=rng.random((21, 3)),
        joint_confidence=np.linspace(0.0, 1.0, 21),
        object_center=np.array([0.1, -0.2, 0.6]),
        object_confidence=0.5,
        object_orientation=np.array([0.0, 0.0, 0.6, 0.8]),
        hand_mesh=mesh if with_meshes else None,
        object_mesh=mesh if with_meshes else None,
        mesh_stamp_ns=STAMP_NS - 33_000_000 if with_meshes else None,
        window_length=3,
        stage_ms={"backbone": 12.5, "sdf_grid": 40.25},
    )


def test_round_trip_keeps_every_field() -> None:
    rec = make_reconstruction()
    msg = conv.reconstruction_to_msg(rec)
    assert msg.parts == 15 and conv.stamp_to_ns(msg.mesh_stamp) == rec.mesh_stamp_ns
    back = conv.msg_to_reconstruction(msg)
    assert (back.stamp_ns, back.frame_id, back.window_length, back.mesh_stamp_ns) == (
        rec.stamp_ns, rec.frame_id, 3, rec.mesh_stamp_ns
    )
    np.testing.assert_allclose(back.hand_joints, rec.hand_joints)
    np.testing.assert_allclose(back.joint_confidence, rec.joint_confidence, atol=1e-7)
    np.testing.assert_allclose(back.object_orientation, rec.object_orientation)
    np.testing.assert_array_equal(back.hand_mesh.faces, rec.hand_mesh.faces)
    np.testing.assert_allclose(back.object_mesh.vertices, rec.object_mesh.vertices)
    assert back.stage_ms == rec.stage_ms
    assert conv.msg_to_reconstruction(msg, with_meshes=False).hand_mesh is None


def test_without_meshes_parts_and_mesh_stamp_say_so() -> None:
    msg = conv.reconstruction_to_msg(make_reconstruction(with_meshes=False))
    assert msg.parts == 3 and conv.stamp_to_ns(msg.mesh_stamp) == 0 and not msg.hand_mesh.triangles
    assert conv.msg_to_reconstruction(msg).object_orientation is not None
    msg.hand_joints = []
    with pytest.raises(ValueError, match="no 21 hand joints"):
        conv.msg_to_reconstruction(msg)


def test_tf_one_message_with_joint_and_object_frames() -> None:
    rec = make_reconstruction()
    tf = conv.to_tf_message(rec, "gsdf_")
    assert [t.child_frame_id for t in tf.transforms] == [f"gsdf_hand_{n}" for n in JOINT_NAMES] + ["gsdf_object"]
    assert {t.header.frame_id for t in tf.transforms} == {"camera_color_optical_frame"}
    assert {conv.stamp_to_ns(t.header.stamp) for t in tf.transforms} == {STAMP_NS}
    index_tip = tf.transforms[JOINT_NAMES.index("index_tip") + 0].transform.translation
    assert (index_tip.x, index_tip.y, index_tip.z) == tuple(rec.hand_joints[JOINT_NAMES.index("index_tip")])
    assert tf.transforms[-1].transform.rotation.z == 0.6
    pose = conv.to_pose_stamped(rec)
    assert (pose.pose.position.z, pose.header.frame_id) == (0.6, "camera_color_optical_frame")


def test_markers_have_stable_ids_and_whole_triangles() -> None:
    rec = make_reconstruction(n_tri=10_000)
    array = conv.to_marker_array(rec, delete_all_first=True)
    assert array.markers[0].action == Marker.DELETEALL
    by_ns = {m.ns: m for m in array.markers[1:]}
    assert set(by_ns) == set(conv.MARKER_NAMESPACES) and {m.id for m in by_ns.values()} == {0}
    for ns in ("gsdf_hand_mesh", "gsdf_object_mesh"):
        marker = by_ns[ns]
        assert marker.type == Marker.TRIANGLE_LIST and len(marker.points) == 3 * 10_000
        assert marker.color.a == 1.0 and not marker.frame_locked
        assert conv.stamp_to_ns(marker.header.stamp) == rec.mesh_stamp_ns
    assert len(by_ns["gsdf_hand_bones"].points) == 2 * len(BONES)
    assert len(by_ns["gsdf_hand_joints"].points) == 21
    skeleton_only = conv.to_marker_array(rec, with_meshes=False)
    assert [m.ns for m in skeleton_only.markers] == ["gsdf_hand_joints", "gsdf_hand_bones"]


def test_crop_frame_round_trip_keeps_intrinsics_rotation_and_box() -> None:
    intrinsics = Intrinsics(600.0, 610.0, 320.0, 240.0, 640, 480)
    crop = virtual_crop(intrinsics, (400.0, 100.0, 128.0), 64)
    rgb = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    header = Header(frame_id="cam", stamp=conv.ns_to_stamp(STAMP_NS))
    msg = conv.make_crop_frame(header, rgb, crop, (640, 480), 7)
    assert (msg.camera_info.width, msg.camera_info.height, msg.sequence, msg.source_width) == (64, 64, 7, 640)
    assert list(msg.camera_info.p[:3]) == pytest.approx([600.0 * 0.5, 0.0, 31.5])
    sample = conv.crop_frame_to_sample(msg)
    assert (sample.stamp_ns, sample.frame_id, sample.box) == (STAMP_NS, "cam", (400.0, 100.0, 128.0))
    np.testing.assert_allclose(sample.k, crop.intrinsics.matrix())
    np.testing.assert_allclose(sample.rotation, crop.rotation, atol=1e-9)
    np.testing.assert_array_equal(sample.image, rgb)
    assert not sample.whole_frame


def test_whole_frame_carries_the_camera_and_stays_whole() -> None:
    k = np.array([[600.0, 0.0, 320.0], [0.0, 610.0, 240.0], [0.0, 0.0, 1.0]])
    rgb = np.random.default_rng(2).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    header = Header(frame_id="cam", stamp=conv.ns_to_stamp(STAMP_NS))
    msg = conv.make_whole_frame(header, rgb, k, (-0.5, -80.5, 641.0), 3)
    assert msg.whole_frame and (msg.camera_info.width, msg.camera_info.height) == (640, 480)
    assert (msg.source_width, msg.source_height) == (640, 480)
    sample = conv.crop_frame_to_sample(msg)
    assert sample.whole_frame and sample.box == (-0.5, -80.5, 641.0)
    np.testing.assert_allclose(sample.k, k)
    np.testing.assert_allclose(sample.rotation, np.eye(3))
    np.testing.assert_array_equal(sample.image, rgb)


def _crop_msg():
    crop = virtual_crop(Intrinsics(600.0, 610.0, 320.0, 240.0, 640, 480), (400.0, 100.0, 128.0), 16)
    header = Header(frame_id="cam", stamp=conv.ns_to_stamp(STAMP_NS))
    return conv.make_crop_frame(header, np.zeros((16, 16, 3), np.uint8), crop, (640, 480), 0)


@pytest.mark.parametrize(
    ("defect", "reason"),
    [
        ("encoding", RejectReason.UNSUPPORTED_ENCODING),
        ("stamp", RejectReason.ZERO_STAMP),
        ("size", RejectReason.SIZE_MISMATCH),
        ("k", RejectReason.BAD_INTRINSICS),
        ("rotation", RejectReason.MALFORMED_MESSAGE),
        ("data", RejectReason.MALFORMED_IMAGE),
    ],
)
def test_crop_frame_to_sample_is_the_one_crop_validation(defect: str, reason: RejectReason) -> None:
    """Every defect of a crop message is found by crop_frame_to_sample and named by its reason."""
    msg = _crop_msg()
    if defect == "encoding":
        msg.image.encoding = "bgr8"
    elif defect == "stamp":
        msg.header.stamp = conv.ns_to_stamp(0)
    elif defect == "size":
        msg.camera_info.width = 17
    elif defect == "k":
        msg.camera_info.k = [0.0] * 9
    elif defect == "rotation":
        msg.virtual_rotation.w = 2.0
    else:
        msg.image.data = bytes(5)
    with pytest.raises(Rejected) as caught:
        conv.crop_frame_to_sample(msg)
    assert caught.value.reason is reason and caught.value.detail


def test_no_hand_message_carries_only_the_score() -> None:
    msg = conv.reconstruction_to_msg(Reconstruction.no_hand(STAMP_NS, "cam", 0.125), sequence=4)
    assert msg.parts == 0 and msg.hand_score == pytest.approx(0.125) and msg.sequence == 4
    assert not msg.hand_joints and not msg.hand_joint_confidence and not msg.hand_joint_orientations
    assert not msg.hand_mesh.triangles and conv.stamp_to_ns(msg.mesh_stamp) == 0 and msg.crop_box_size == 0.0
    assert conv.joints_from_msg(msg) is None
    rec = dataclasses.replace(make_reconstruction(), hand_score=0.75, crop_box=(10.0, 20.0, 200.0))
    back = conv.msg_to_reconstruction(conv.reconstruction_to_msg(rec))
    assert back.hand_score == pytest.approx(0.75) and back.crop_box == (10.0, 20.0, 200.0)
