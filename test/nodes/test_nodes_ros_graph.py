"""The nodes as separate ROS 2 processes: frames in → crops out, bad input counted while the node
keeps running; a reconstruction in → TF, pose, markers out; crops in → one reconstruction per
processed window, drops counted with a slow predictor."""

from __future__ import annotations

import runpy
import time
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
from gsdf_ros.frames import hand_frames  # noqa: E402
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


def _reject_counts(values: dict[str, str]) -> dict[str, int]:
    """Per-reason reject counts from a preprocess diagnostics status."""
    prefix = "rejected: "
    return {key[len(prefix):]: int(v) for key, v in values.items() if key.startswith(prefix)}


def test_preprocess_crops_good_frames_and_counts_bad_ones(node_process, probe) -> None:
    node_process("preprocess_node", "-p", "crop_mode:=full", "-p", "crop_size:=64", "-p", "image_reliability:=reliable",
                 "-p", "diagnostics_period_s:=0.3")
    image_pub = probe.create_publisher(type(numpy_to_image(np.zeros((1, 1), np.uint8), "mono8")), "image", RELIABLE)
    info_pub = probe.create_publisher(CameraInfo, "camera_info", RELIABLE)
    crops: list[CropFrame] = []
    probe.create_subscription(CropFrame, "crop", crops.append, RELIABLE)
    diag = _diagnostic_values(probe, "gsdf_preprocess")
    assert probe.spin_until(
        lambda: (image_pub.get_subscription_count() and info_pub.get_subscription_count()
                 and probe.count_publishers("crop")),
        20,
    )

    rgb = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)

    def send(stamp_ns: int, pixels: np.ndarray, encoding: str, info: CameraInfo) -> None:
        image_pub.publish(numpy_to_image(pixels, encoding, header=_header(stamp_ns), step=pixels.strides[0] + 8))
        info_pub.publish(info)
        probe.spin_until(lambda: False, 0.15)

    warm_up = lambda i: send(SEC + i * 1_000_000, rgb, "rgb8", _info(SEC + i * 1_000_000))  # noqa: E731
    assert probe.warm_up(warm_up, lambda: bool(crops)), "no crop for 60 good warm-up frames"
    probe.spin_until(lambda: diag.get("gsdf_preprocess"), 5)
    before = _reject_counts(diag["gsdf_preprocess"])

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
    for frame in frames:
        send(*frame)
    expected_rejects = {"unsupported_encoding": 1, "size_mismatch": 1, "bad_intrinsics": 2, "out_of_order": 2}

    def rejects_seen() -> dict[str, int]:
        after = _reject_counts(diag.get("gsdf_preprocess", {}))
        return {reason: after.get(reason, 0) - before.get(reason, 0) for reason in expected_rejects}

    tested = lambda: [c for c in crops if conv.stamp_to_ns(c.header.stamp) >= 10 * SEC]  # noqa: E731
    assert probe.spin_until(lambda: len(tested()) >= 2 and rejects_seen() == expected_rejects, 15), (
        f"{len(tested())} crops; diagnostics {diag}"
    )
    crops = tested()
    assert [conv.stamp_to_ns(c.header.stamp) for c in crops] == [10 * SEC, 15 * SEC]
    expected = virtual_crop(Intrinsics.from_matrix(np.reshape(K, (3, 3)), 640, 480), (-0.5, -80.5, 640.0), 64)
    for crop in crops:
        assert crop.header.frame_id == crop.camera_info.header.frame_id == FRAME
        np.testing.assert_allclose(np.reshape(crop.camera_info.k, (3, 3)), expected.intrinsics.matrix())
        assert (crop.box_x, crop.box_y, crop.box_size) == (-0.5, -80.5, 640.0)
        q = crop.virtual_rotation
        assert (q.x, q.y, q.z, q.w) == (0.0, 0.0, 0.0, 1.0)
        assert (crop.image.width, crop.image.height, crop.image.encoding) == (64, 64, "rgb8")
    assert crops[1].sequence == crops[0].sequence + 1


def _square(n_quads: int = 1) -> TriangleMesh:
    """`n_quads` unit squares side by side (two triangles each), metres, 0.5 m in front of the camera."""
    i = np.arange(n_quads)
    vertices = np.stack([
        np.column_stack([i * 0.1 + dx, np.full(n_quads, dy), np.full(n_quads, 0.5)])
        for dx, dy in ((0, 0), (0.1, 0), (0.1, 0.1), (0, 0.1))
    ], 1)
    base = 4 * i[:, None]
    faces = np.concatenate([base + [0, 1, 2], base + [0, 2, 3]])
    return TriangleMesh(vertices.reshape(-1, 3).astype(np.float32), faces)


def _reconstruction(
    stamp_ns: int, hand_mesh: TriangleMesh | None = None, object_mesh: TriangleMesh | None = None
) -> Reconstruction:
    joints = np.column_stack([np.linspace(-0.05, 0.05, 21), np.zeros(21), np.full(21, 0.5)])
    joints[[5, 9, 13, 17], 1] = [0.02, 0.0, -0.02, -0.04]  # a palm that spans a plane
    bones = np.repeat(np.eye(3)[None], 16, axis=0)
    return Reconstruction(stamp_ns, FRAME, joints, np.ones(21), np.array([0.0, 0.02, 0.55]),
                          hand_frames=hand_frames(joints, bones), hand_mesh=hand_mesh, object_mesh=object_mesh,
                          mesh_stamp_ns=stamp_ns if hand_mesh or object_mesh else None)


def _outputs_probe(node_process, probe, *ros_args: str):
    node_process("outputs_node", "-p", "marker_rate_hz:=50.0", "-p", "frame_prefix:=gsdf_", "-p",
                 "diagnostics_period_s:=0.3", *ros_args)
    pubs = {
        topic: probe.create_publisher(HandObjectReconstruction, topic, RELIABLE)
        for topic in ("reconstruction", "reconstruction/meshes")
    }
    got: dict[str, list] = {"tf": [], "pose": [], "markers": []}
    stamp = lambda kind: (lambda m: got[kind].append((m, time.monotonic())))  # noqa: E731
    tf_qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    probe.create_subscription(TFMessage, "/tf", stamp("tf"), tf_qos)
    probe.create_subscription(PoseStamped, "object_pose", stamp("pose"), RELIABLE)
    probe.create_subscription(MarkerArray, "markers", stamp("markers"), RELIABLE)
    assert probe.spin_until(
        lambda: all(p.get_subscription_count() for p in pubs.values()) and probe.count_publishers("markers"), 20
    )
    # Results with NaN joints (counted, nothing published) until each topic is seen to arrive.
    diag = _diagnostic_values(probe, "gsdf_outputs")
    non_finite = lambda: int(diag.get("gsdf_outputs", {}).get("rejected: non_finite", 0))  # noqa: E731
    for pub in pubs.values():
        seen = non_finite()
        nan_result = conv.reconstruction_to_msg(_reconstruction(SEC))
        nan_result.hand_joints[0].x = float("nan")

        def send(_: int, pub=pub, msg=nan_result) -> None:
            pub.publish(msg)
            probe.spin_until(lambda: False, 0.2)

        assert probe.warm_up(send, lambda: non_finite() > seen), f"nothing arrived on {pub.topic_name}"
    return pubs, got


def _marker_actions(got: dict[str, list]) -> list[tuple[str, int]]:
    return [(m.ns, m.action) for array, _ in got["markers"] for m in array.markers]


def test_outputs_publish_tf_pose_and_markers_for_a_result(node_process, probe) -> None:
    pubs, got = _outputs_probe(node_process, probe)
    bad = conv.reconstruction_to_msg(_reconstruction(20 * SEC))
    bad.hand_joints = []  # malformed: no joints; must be counted, not fatal
    pubs["reconstruction"].publish(bad)
    good_stamp = 21 * SEC
    rec = _reconstruction(good_stamp)
    pubs["reconstruction"].publish(conv.reconstruction_to_msg(rec))
    assert probe.spin_until(lambda: got["tf"] and got["pose"] and got["markers"], 15)

    assert len(got["tf"]) == 1, "one TFMessage per result"
    transforms = got["tf"][0][0].transforms
    children = [f"gsdf_hand_{n}" for n in JOINT_NAMES] + ["gsdf_hand", "gsdf_object"]
    assert [t.child_frame_id for t in transforms] == children
    assert {t.header.frame_id for t in transforms} == {FRAME}
    assert {conv.stamp_to_ns(t.header.stamp) for t in transforms} == {good_stamp}
    for t, expected in zip(transforms, list(rec.hand_frames.joint_rotations) + [rec.hand_frames.palm_rotation]):
        np.testing.assert_allclose(conv.rotation_of(t.transform.rotation), expected, atol=1e-6)
    pose = got["pose"][0][0]
    assert conv.stamp_to_ns(pose.header.stamp) == good_stamp and pose.pose.position.z == pytest.approx(0.55)
    first = got["markers"][0][0].markers
    assert first[0].action == Marker.DELETEALL
    kinds = {m.ns: m for m in first if m.action == Marker.ADD}
    assert kinds["gsdf_hand_joints"].type == Marker.SPHERE_LIST and kinds["gsdf_hand_bones"].type == Marker.LINE_LIST
    assert "gsdf_hand_mesh" not in kinds, "a pose result carries no mesh"

    pubs["reconstruction/meshes"].publish(conv.reconstruction_to_msg(_reconstruction(good_stamp, _square(), _square())))
    assert probe.spin_until(lambda: len(got["markers"]) >= 2, 10)
    meshes = {m.ns: m for m in got["markers"][1][0].markers}
    for ns in ("gsdf_hand_mesh", "gsdf_object_mesh"):
        marker = meshes[ns]
        assert marker.action == Marker.ADD and marker.type == Marker.TRIANGLE_LIST and len(marker.points) == 6
        assert marker.lifetime.sec == 2, "mesh markers expire unless replaced"


def test_outputs_delete_stale_mesh_markers(node_process, probe) -> None:
    """A mesh result without the object's mesh deletes the object mesh marker; a result without a
    hand deletes the hand's markers."""
    pubs, got = _outputs_probe(node_process, probe)
    pubs["reconstruction/meshes"].publish(conv.reconstruction_to_msg(_reconstruction(30 * SEC, _square(), _square())))
    assert probe.spin_until(lambda: ("gsdf_object_mesh", Marker.ADD) in _marker_actions(got), 15)
    pubs["reconstruction/meshes"].publish(conv.reconstruction_to_msg(_reconstruction(31 * SEC, _square(), None)))
    assert probe.spin_until(
        lambda: ("gsdf_object_mesh", Marker.DELETE) in _marker_actions(got), 10
    ), _marker_actions(got)
    no_hand = conv.reconstruction_to_msg(_reconstruction(32 * SEC))
    no_hand.parts = HandObjectReconstruction.PART_OBJECT_POSE
    no_hand.hand_joints, no_hand.hand_joint_confidence, no_hand.hand_joint_orientations = [], [], []
    pubs["reconstruction"].publish(no_hand)
    wanted = {
        ("gsdf_hand_mesh", Marker.DELETE), ("gsdf_hand_joints", Marker.DELETE), ("gsdf_hand_bones", Marker.DELETE)
    }
    assert probe.spin_until(lambda: wanted <= set(_marker_actions(got)), 10), _marker_actions(got)


def test_tf_is_not_delayed_by_a_large_mesh(node_process, probe) -> None:
    """A pose result right behind a large mesh result gets its /tf first, within a short delay."""
    pubs, got = _outputs_probe(node_process, probe)
    pubs["reconstruction"].publish(conv.reconstruction_to_msg(_reconstruction(40 * SEC)))  # warm the pose path
    assert probe.spin_until(lambda: got["tf"], 15)
    big = conv.reconstruction_to_msg(_reconstruction(41 * SEC, _square(20_000), _square(20_000)))  # 80k triangles
    pose = conv.reconstruction_to_msg(_reconstruction(42 * SEC))
    pubs["reconstruction/meshes"].publish(big)
    sent = time.monotonic()
    pubs["reconstruction"].publish(pose)
    assert probe.spin_until(
        lambda: len(got["tf"]) >= 2 and any(m.ns == "gsdf_hand_mesh" for a, _ in got["markers"] for m in a.markers), 30
    )
    tf_at = got["tf"][1][1]
    mesh_at = next(t for a, t in got["markers"] if any(m.ns == "gsdf_hand_mesh" for m in a.markers))
    assert tf_at < mesh_at, "the /tf of the later pose went out before the large mesh's markers"
    assert tf_at - sent < 0.25, f"/tf {1e3 * (tf_at - sent):.0f} ms after the pose result"


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
    assert probe.spin_until(
        lambda: diag.get("gsdf_inference", {}).get("rejected: non_finite") == "1", 15, step=resend
    ), diag
    stamps = [51 * SEC + i * 25_000_000 for i in range(60)]
    for stamp_ns in stamps:
        pub.publish(_crop(stamp_ns))
        probe.spin_until(lambda: False, 0.025)
    last = stamps[-1]
    assert probe.spin_until(lambda: results and conv.stamp_to_ns(results[-1].header.stamp) == last, 10)
    assert probe.spin_until(lambda: diag.get("gsdf_inference", {}).get("poses published") == str(len(results)), 5), diag

    got = [conv.stamp_to_ns(r.header.stamp) for r in results]
    assert got == sorted(set(got)) and set(got) <= set(stamps) and NAN_STAMP_NS not in got
    assert all(r.header.frame_id == FRAME and 1 <= r.window_length <= 3 for r in results)
    assert len(results) < len(stamps) / 2, "a 0.25 s predictor cannot keep up with 40 Hz"
    values = diag["gsdf_inference"]
    assert int(values["dropped: busy (pose)"]) > 0
    assert values["rejected: non_finite"] == "1"
    accounted = int(values["dropped: busy (pose)"]) + len(results) + int(values["rejected"])
    assert accounted == int(values["crop received"]), values


def test_inference_poses_do_not_wait_for_meshes(node_process, probe) -> None:
    """Poses (20 ms each) go out for the crops of a 20 Hz stream while meshes (0.5 s each) follow at
    their own rate on reconstruction/meshes; no pose message carries a mesh."""
    node_process("inference_node", "-p", "checkpoint:=nodes_fake_predictor:two_rate", "-p", "mesh_rate_hz:=0.0")
    pub = probe.create_publisher(CropFrame, "crop", RELIABLE)
    poses: list[HandObjectReconstruction] = []
    meshes: list[HandObjectReconstruction] = []
    probe.create_subscription(HandObjectReconstruction, "reconstruction", poses.append, RELIABLE)
    probe.create_subscription(HandObjectReconstruction, "reconstruction/meshes", meshes.append, RELIABLE)
    assert probe.spin_until(
        lambda: pub.get_subscription_count() and probe.count_publishers("reconstruction/meshes"), 20
    )
    stamps = [60 * SEC + i * 50_000_000 for i in range(60)]  # 3 s at 20 Hz
    for stamp_ns in stamps:
        pub.publish(_crop(stamp_ns))
        probe.spin_until(lambda: False, 0.05)
    assert probe.spin_until(lambda: poses and conv.stamp_to_ns(poses[-1].header.stamp) == stamps[-1], 10)
    probe.spin_until(lambda: False, 1.0)
    assert len(poses) >= 0.6 * len(stamps), f"{len(poses)} poses for {len(stamps)} crops"
    assert 2 <= len(meshes) <= len(poses) / 3, f"{len(meshes)} meshes (0.5 s each) for {len(poses)} poses"
    mesh_bits = HandObjectReconstruction.PART_HAND_MESH | HandObjectReconstruction.PART_OBJECT_MESH
    assert all(
        not p.parts & mesh_bits and not p.hand_mesh.triangles and conv.stamp_to_ns(p.mesh_stamp) == 0 for p in poses
    )
    pose_stamps = {conv.stamp_to_ns(p.header.stamp) for p in poses}
    for m in meshes:
        assert m.parts & HandObjectReconstruction.PART_HAND_MESH
        assert conv.stamp_to_ns(m.mesh_stamp) == conv.stamp_to_ns(m.header.stamp) in pose_stamps
    assert [p.sequence for p in poses] == list(range(poses[0].sequence, poses[0].sequence + len(poses)))


def test_inference_refuses_a_cuda_device_that_is_not_there() -> None:
    import os
    import subprocess
    import sys

    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    cmd = [sys.executable, "-m", "gsdf_ros.nodes.inference_node", "--ros-args", "-p", "device:=cuda:0"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert out.returncode == 2, out.stdout + out.stderr
    assert "cuda:0" in out.stderr + out.stdout and "CUDA" in out.stderr + out.stdout


# --- crop_mode detect: the whole frame through the three nodes ---------------------------------

def _frame_with_patch(seed: int, patch_x: int | None) -> np.ndarray:
    """A 640x480 noise frame with a 60 px pure-red square (the fake detector's "hand") at (patch_x, 200)."""
    rgb = np.random.default_rng(seed).integers(0, 120, (480, 640, 3), dtype=np.uint8)
    if patch_x is not None:
        rgb[200:260, patch_x:patch_x + 60] = (255, 0, 0)
    return rgb


def _detect_graph(node_process, probe, *inference_args: str):
    """preprocess (crop_mode detect, the default) -> inference -> outputs, with a probe that sends
    camera frames and collects results, /tf, markers and diagnostics."""
    node_process("preprocess_node", "-p", "image_reliability:=reliable", "-p", "crop_size:=64")
    node_process("inference_node", "-p", "checkpoint:=nodes_fake_predictor:centred", "-p", "torch_threads:=1",
                 "-p", "diagnostics_period_s:=0.3", "-p", "mesh_rate_hz:=0.0", *inference_args)
    node_process("outputs_node", "-p", "marker_rate_hz:=50.0", "-p", "diagnostics_period_s:=0.3")
    image_pub = probe.create_publisher(type(numpy_to_image(np.zeros((1, 1), np.uint8), "mono8")), "image", RELIABLE)
    info_pub = probe.create_publisher(CameraInfo, "camera_info", RELIABLE)
    got: dict[str, list] = {"results": [], "tf": [], "markers": []}
    probe.create_subscription(HandObjectReconstruction, "reconstruction", got["results"].append, RELIABLE)
    tf_qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    probe.create_subscription(TFMessage, "/tf", got["tf"].append, tf_qos)
    probe.create_subscription(MarkerArray, "markers", got["markers"].append, RELIABLE)
    diag = {name: _diagnostic_values(probe, name) for name in ("gsdf_inference", "gsdf_outputs")}
    ready = lambda: (image_pub.get_subscription_count() and info_pub.get_subscription_count()  # noqa: E731
                     and all(diag[name] for name in diag))  # each node reports once it is up
    assert probe.spin_until(ready, 60)
    probe.spin_until(lambda: False, 0.5)  # crop and reconstruction subscriptions matched

    def send(stamp_ns: int, rgb: np.ndarray) -> None:
        image_pub.publish(numpy_to_image(rgb, "rgb8", header=_header(stamp_ns)))
        info_pub.publish(_info(stamp_ns))
        probe.spin_until(lambda: False, 0.1)

    def result_of(stamp_ns: int) -> HandObjectReconstruction | None:
        return next((r for r in got["results"] if conv.stamp_to_ns(r.header.stamp) == stamp_ns), None)

    noise = lambda i: np.random.default_rng(1000 + i).integers(0, 120, (480, 640, 3), dtype=np.uint8)  # noqa: E731
    assert probe.warm_up(lambda i: send(SEC + i * 100_000_000, noise(i)), lambda: bool(got["results"]), 100), (
        "no result for 100 warm-up frames"
    )
    return send, result_of, got, lambda name: diag[name].get(name, {})


def test_detect_mode_tracks_between_detections_and_no_hand_clears_the_outputs(node_process, probe) -> None:
    send, result_of, got, diag = _detect_graph(
        node_process, probe, "-p", "detector:=nodes_fake_predictor:red_patch_detector", "-p", "redetect_every:=4")
    warm_up = len(got["results"])  # "no hand" answers, one detection each
    hand_stamps = [70 * SEC + i * 100_000_000 for i in range(16)]
    for i, stamp_ns in enumerate(hand_stamps):  # the "hand" moves across the frame (the fake model's joints do not
        send(stamp_ns, _frame_with_patch(i, 200 + 8 * i))  # follow it: the crop moves at detections only)
    assert probe.spin_until(lambda: result_of(hand_stamps[-1]) is not None and got["tf"], 20), len(got["results"])
    hands = [r for r in got["results"] if r.parts & HandObjectReconstruction.PART_HAND_JOINTS]
    assert len(hands) >= 0.6 * len(hand_stamps)
    for r in hands:
        i = hand_stamps.index(conv.stamp_to_ns(r.header.stamp))
        centre = (r.crop_box_x + r.crop_box_size / 2, r.crop_box_y + r.crop_box_size / 2)
        assert r.hand_score == pytest.approx(0.9, abs=1e-6), r.hand_score
        assert abs(centre[0] - (230 + 8 * i)) < r.crop_box_size / 2, (i, centre)
    assert probe.spin_until(lambda: int(diag("gsdf_inference").get("poses published", 0)) >= len(hands), 5)
    runs, tracked = int(diag("gsdf_inference")["hand detector runs"]), int(diag("gsdf_inference")["tracked frames"])
    assert 1 <= runs - warm_up < len(hands) / 2 and tracked >= len(hands) / 2, diag("gsdf_inference")
    assert diag("gsdf_inference")["hand finder"] == "detector"

    gone_stamps = [72 * SEC + i * 100_000_000 for i in range(8)]
    for i, stamp_ns in enumerate(gone_stamps):  # the hand has left: the next detection says so
        send(stamp_ns, _frame_with_patch(100 + i, None))
    assert probe.spin_until(lambda: result_of(gone_stamps[-1]) is not None, 20)
    probe.spin_until(lambda: False, 0.5)
    no_hand = [conv.stamp_to_ns(r.header.stamp) for r in got["results"] if not r.parts]
    gone = [s for s in no_hand if s >= gone_stamps[0]]
    assert gone and gone[-1] == gone_stamps[-1] and gone[0] <= gone_stamps[4], "re-detection within 4 frames"
    assert all(result_of(s).hand_score < 0.5 and not result_of(s).hand_joints for s in no_hand)
    tf_stamps = {conv.stamp_to_ns(t.header.stamp) for m in got["tf"] for t in m.transforms}
    assert not tf_stamps & set(no_hand) and max(tf_stamps) < gone[0], "no /tf once the hand is gone"
    actions = [(m.ns, m.action) for a in got["markers"] for m in a.markers]
    deleted_at = max(i for i, a in enumerate(actions) if a == ("gsdf_hand_mesh", Marker.DELETE))
    assert {(ns, Marker.DELETE) for ns in conv.MARKER_NAMESPACES} <= set(actions[deleted_at - 3:deleted_at + 1])
    assert ("gsdf_hand_mesh", Marker.ADD) in actions[:deleted_at], "meshes were shown while the hand was there"
    assert all(action != Marker.ADD for _, action in actions[deleted_at:]), "nothing shown again after 'no hand'"
    # (the warm-up's first answers may have gone out before every subscriber matched: at least, not exactly)
    assert probe.spin_until(lambda: int(diag("gsdf_outputs").get("results without a hand", 0)) >= len(gone), 5)
    assert int(diag("gsdf_inference")["frames without a hand"]) >= len(no_hand)


def test_detect_mode_noise_frames_with_an_untrained_detector_give_no_hand(node_process, probe, tmp_path) -> None:
    fakes = runpy.run_path(str(Path(__file__).with_name("nodes_fake_predictor.py")))
    detector = fakes["save_untrained_detector"](tmp_path / "detector.pt")
    send, result_of, got, diag = _detect_graph(node_process, probe, "-p", f"detector:={detector}")
    stamps = [80 * SEC + i * 100_000_000 for i in range(6)]
    for i, stamp_ns in enumerate(stamps):
        send(stamp_ns, np.random.default_rng(i).integers(0, 256, (480, 640, 3), dtype=np.uint8))
    assert probe.spin_until(lambda: result_of(stamps[-1]) is not None, 30), len(got["results"])
    without_hand = lambda: int(diag("gsdf_outputs").get("results without a hand", 0))  # noqa: E731
    assert probe.spin_until(lambda: without_hand() >= len(stamps), 5)
    assert got["results"] and all(not r.parts and r.hand_score < 0.5 for r in got["results"])
    assert not got["tf"], "a noise frame is not a hand"
    runs = lambda: int(diag("gsdf_inference").get("hand detector runs", 0))  # noqa: E731
    assert probe.spin_until(lambda: runs() >= len(got["results"]), 5), (runs(), len(got["results"]))


def test_detect_mode_without_a_detector_uses_the_models_look_and_warns_once(node_process, probe) -> None:
    """No detector checkpoint (detector:=none): the shipped model's own whole-image look finds the hand,
    with one WARN; on noise frames its mean joint confidence is far below the threshold: no /tf."""
    from rcl_interfaces.msg import Log

    from gsdf_ros.nodes import graph

    logs: list[Log] = []
    rosout_qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    probe.create_subscription(Log, "/rosout", logs.append, rosout_qos)
    shipped = graph.package_file(graph.DEFAULT_CHECKPOINT)
    send, result_of, got, diag = _detect_graph(
        node_process, probe, "-p", "detector:=none", "-p", f"checkpoint:={shipped}", "-p", "mesh_mode:=none")
    stamps = [90 * SEC + i * 200_000_000 for i in range(4)]
    for i, stamp_ns in enumerate(stamps):
        send(stamp_ns, np.random.default_rng(i).integers(0, 256, (480, 640, 3), dtype=np.uint8))
    assert probe.spin_until(lambda: result_of(stamps[-1]) is not None, 30), len(got["results"])
    probe.spin_until(lambda: False, 0.5)
    assert got["results"] and all(not r.parts and r.hand_score < 0.5 for r in got["results"]) and not got["tf"]
    assert diag("gsdf_inference")["hand finder"] == "the model's whole-image look"
    warnings = [m.msg for m in logs if "detection quality is reduced" in m.msg]
    assert len(warnings) == 1, [m.msg for m in logs]
