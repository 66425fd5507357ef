"""The nodes as separate ROS 2 processes: frames in → crops out, bad input counted while the node
keeps running; a reconstruction in → TF, pose, markers out; crops in → one reconstruction per
processed window, drops counted with a slow predictor."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="rclpy is not installed: source env.sh (tools/setup.sh builds it)")
pytest.importorskip("gsdf.msg", reason="gsdf interfaces are not built: run tools/setup.sh")
pytest.importorskip("tf2_msgs.msg", reason="tf2_msgs is not available: run tools/setup.sh")

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CameraInfo  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from gsdf.msg import CropFrame, HandObjectReconstruction  # noqa: E402
from gsdf_ros.geometry import Intrinsics, virtual_crop  # noqa: E402
from gsdf_ros.hand.joints import JOINT_NAMES  # noqa: E402
from gsdf_ros.nodes import conversions as conv  # noqa: E402
from gsdf_ros.nodes.image_conversion import numpy_to_image  # noqa: E402
from gsdf_ros.result import Reconstruction, TriangleMesh  # noqa: E402

pytestmark = pytest.mark.ros

RELIABLE = QoSProfile(depth=20, reliability=ReliabilityPolicy.RELIABLE)
FRAME = "camera_color_optical_frame"
K = [500.0, 0.0, 319.5, 0.0, 500.0, 239.5, 0.0, 0.0, 1.0]
SEC = 1_000_000_000


def _header(stamp_ns: int) -> Header:
    return Header(stamp=conv.ns_to_stamp(stamp_ns), frame_id=FRAME)


def _info(stamp_ns: int, k: list[float] = K, size: tuple[int, int] = (640, 480)) -> CameraInfo:
    return CameraInfo(header=_header(stamp_ns), width=size[0], height=size[1], k=k)


def _diagnostic_values(probe, node_name: str) -> dict[str, dict[str, str]]:
    """Latest diagnostic key/values per status name containing `node_name` (filled while spinning)."""
    latest: dict[str, dict[str, str]] = {}

    def on_array(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if node_name in status.name:
                latest[node_name] = {kv.key: kv.value for kv in status.values}

    probe.create_subscription(DiagnosticArray, "/diagnostics", on_array, 10)
    return latest


def test_preprocess_crops_good_frames_and_counts_bad_ones(node_process, probe) -> None:
    node_process("preprocess_node", "-p", "crop_mode:=full", "-p", "crop_size:=64", "-p", "image_reliability:=reliable", "-p", "diagnostics_period_s:=0.3")
    image_pub = probe.create_publisher(type(numpy_to_image(np.zeros((1, 1), np.uint8), "mono8")), "image", RELIABLE)
    info_pub = probe.create_publisher(CameraInfo, "camera_info", RELIABLE)
    crops: list[CropFrame] = []
    probe.create_subscription(CropFrame, "crop", crops.append, RELIABLE)
    diag = _diagnostic_values(probe, "gsdf_preprocess")
    assert probe.spin_until(lambda: image_pub.get_subscription_count() and info_pub.get_subscription_count() and probe.count_publishers("crop"), 20)

    rgb = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    depth = np.zeros((480, 640), np.uint16)
    frames = [  # (stamp, pixels, encoding, camera_info), in publishing order
        (10 * SEC, rgb, "rgb8", _info(10 * SEC)),
        (11 * SEC, depth, "16UC1", _info(11 * SEC)),  # unsupported encoding
        (12 * SEC, rgb, "rgb8", _info(12 * SEC, size=(320, 240))),  # size mismatch
        (13 * SEC, rgb, "rgb8", _info(13 * SEC, k=[0.0] * 9)),  # zero K
        (14 * SEC, rgb, "rgb8", _info(14 * SEC, k=[float("nan")] + K[1:])),  # NaN K
        (14 * SEC - 100, rgb, "bgr8", _info(14 * SEC - 100)),  # out of order
        (15 * SEC, rgb[..., ::-1].copy(), "bgr8", _info(15 * SEC)),
    ]
    for stamp_ns, pixels, encoding, info in frames:
        image_pub.publish(numpy_to_image(pixels, encoding, header=_header(stamp_ns), step=pixels.strides[0] + 8))
        info_pub.publish(info)
        probe.spin_until(lambda: False, 0.15)
    assert probe.spin_until(lambda: len(crops) >= 2 and diag.get("gsdf_preprocess", {}).get("rejected") == "6", 15), (len(crops), diag)

    assert [conv.stamp_to_ns(c.header.stamp) for c in crops] == [10 * SEC, 15 * SEC]
    values = diag["gsdf_preprocess"]
    for reason in ("unsupported_encoding", "size_mismatch", "bad_intrinsics", "out_of_order"):
        assert int(values[f"rejected: {reason}"]) >= 1, values
    assert values["rejected: bad_intrinsics"] == "2"
    expected = virtual_crop(Intrinsics.from_matrix(np.reshape(K, (3, 3)), 640, 480), (-0.5, -80.5, 640.0), 64)
    for crop in crops:
        assert crop.header.frame_id == crop.camera_info.header.frame_id == FRAME
        np.testing.assert_allclose(np.reshape(crop.camera_info.k, (3, 3)), expected.intrinsics.matrix())
        assert (crop.box_x, crop.box_y, crop.box_size) == (-0.5, -80.5, 640.0)
        assert (crop.virtual_rotation.x, crop.virtual_rotation.y, crop.virtual_rotation.z, crop.virtual_rotation.w) == (0.0, 0.0, 0.0, 1.0)
        assert (crop.image.width, crop.image.height, crop.image.encoding) == (64, 64, "rgb8")
    assert crops[1].sequence == crops[0].sequence + 1


def _reconstruction(stamp_ns: int) -> Reconstruction:
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    mesh = TriangleMesh(np.array([[0, 0, 0.5], [0.1, 0, 0.5], [0.1, 0.1, 0.5], [0, 0.1, 0.5]], np.float32), faces)
    joints = np.column_stack([np.linspace(-0.05, 0.05, 21), np.zeros(21), np.full(21, 0.5)])
    return Reconstruction(stamp_ns, FRAME, joints, np.ones(21), np.array([0.0, 0.02, 0.55]), hand_mesh=mesh, object_mesh=mesh)


def test_outputs_publish_tf_pose_and_markers_for_a_result(node_process, probe) -> None:
    node_process("outputs_node", "-p", "marker_rate_hz:=50.0", "-p", "frame_prefix:=gsdf_")
    pub = probe.create_publisher(HandObjectReconstruction, "reconstruction", RELIABLE)
    tfs: list[TFMessage] = []
    poses: list[PoseStamped] = []
    markers: list[MarkerArray] = []
    probe.create_subscription(TFMessage, "/tf", tfs.append, QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
    probe.create_subscription(PoseStamped, "object_pose", poses.append, RELIABLE)
    probe.create_subscription(MarkerArray, "markers", markers.append, RELIABLE)
    assert probe.spin_until(lambda: pub.get_subscription_count() and probe.count_publishers("markers"), 20)

    bad = conv.reconstruction_to_msg(_reconstruction(20 * SEC))
    bad.hand_joints = []  # malformed: no joints; must be counted, not fatal
    pub.publish(bad)
    good_stamp = 21 * SEC
    pub.publish(conv.reconstruction_to_msg(_reconstruction(good_stamp)))
    assert probe.spin_until(lambda: tfs and poses and markers, 15)

    assert len(tfs) == 1, "one TFMessage per result"
    transforms = tfs[0].transforms
    assert [t.child_frame_id for t in transforms] == [f"gsdf_hand_{n}" for n in JOINT_NAMES] + ["gsdf_object"]
    assert {t.header.frame_id for t in transforms} == {FRAME}
    assert {conv.stamp_to_ns(t.header.stamp) for t in transforms} == {good_stamp}
    assert conv.stamp_to_ns(poses[0].header.stamp) == good_stamp and poses[0].pose.position.z == pytest.approx(0.55)
    kinds = {m.ns: m for m in markers[0].markers if m.action == Marker.ADD}
    assert markers[0].markers[0].action == Marker.DELETEALL
    for ns in ("gsdf_hand_mesh", "gsdf_object_mesh"):
        assert kinds[ns].type == Marker.TRIANGLE_LIST and len(kinds[ns].points) % 3 == 0 and len(kinds[ns].points) == 6
    assert kinds["gsdf_hand_joints"].type == Marker.SPHERE_LIST and kinds["gsdf_hand_bones"].type == Marker.LINE_LIST


def _crop(stamp_ns: int) -> CropFrame:
    intrinsics = Intrinsics(500.0, 500.0, 319.5, 239.5, 640, 480)
    crop = virtual_crop(intrinsics, (200.0, 100.0, 200.0), 32)
    return conv.make_crop_frame(_header(stamp_ns), np.zeros((32, 32, 3), np.uint8), crop, (640, 480), 0)


def test_inference_publishes_newest_stamps_and_counts_drops(node_process, probe) -> None:
    NAN_STAMP_NS = runpy.run_path(str(Path(__file__).with_name("nodes_fake_predictor.py")))["NAN_STAMP_NS"]
    node_process("inference_node", "-p", "checkpoint:=nodes_fake_predictor:slow", "-p", "diagnostics_period_s:=0.3")
    pub = probe.create_publisher(CropFrame, "crop", RELIABLE)
    results: list[HandObjectReconstruction] = []
    probe.create_subscription(HandObjectReconstruction, "reconstruction", results.append, RELIABLE)
    diag = _diagnostic_values(probe, "gsdf_inference")
    assert probe.spin_until(lambda: pub.get_subscription_count() and probe.count_publishers("reconstruction"), 20)

    # A first crop whose result has NaN joints (sent until counted; repeats are rejected as repeated stamps).
    ticks = iter(range(10**6))
    resend = lambda: next(ticks) % 10 == 0 and pub.publish(_crop(NAN_STAMP_NS))  # noqa: E731
    assert probe.spin_until(lambda: diag.get("gsdf_inference", {}).get("rejected: non_finite") == "1", 15, step=resend), diag
    stamps = [51 * SEC + i * 25_000_000 for i in range(60)]
    for stamp_ns in stamps:
        pub.publish(_crop(stamp_ns))
        probe.spin_until(lambda: False, 0.025)
    last = stamps[-1]
    assert probe.spin_until(lambda: results and conv.stamp_to_ns(results[-1].header.stamp) == last, 10)
    assert probe.spin_until(lambda: diag.get("gsdf_inference", {}).get("published") == str(len(results)), 5), diag

    got = [conv.stamp_to_ns(r.header.stamp) for r in results]
    assert got == sorted(set(got)) and set(got) <= set(stamps) and NAN_STAMP_NS not in got
    assert all(r.header.frame_id == FRAME and 1 <= r.window_length <= 3 for r in results)
    assert len(results) < len(stamps) / 2, "a 0.25 s predictor cannot keep up with 40 Hz"
    values = diag["gsdf_inference"]
    assert int(values["dropped (busy)"]) > 0
    assert values["rejected: non_finite"] == "1"
    assert int(values["dropped (busy)"]) + len(results) + int(values["rejected"]) == int(values["crop received"]), values
