"""``gsdf-selfcheck``: a two-process round trip of the gsdf interfaces over real ROS 2.

``pub`` publishes a :class:`gsdf.msg.HandObjectReconstruction` and a ``tf2_msgs/TFMessage`` on
``/tf``; ``sub`` (a separate process) receives both and checks every field. Both sides build the
same expected messages; values are exactly representable in float32, so a correct transport
reproduces them bit for bit. ``run`` starts both and reports, which checks a machine's DDS set-up.
"""

from __future__ import annotations

import argparse
import array
import os
import subprocess
import sys
import time

import rclpy
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Pose, Quaternion, Transform, TransformStamped, Vector3
from rclpy.qos import QoSProfile, ReliabilityPolicy
from shape_msgs.msg import Mesh, MeshTriangle
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage

from gsdf.msg import HandObjectReconstruction

STAMP = Time(sec=1_700_000_123, nanosec=456_789_000)
FRAME = "camera_color_optical_frame"


def expected_reconstruction() -> HandObjectReconstruction:
    """A reconstruction with every field set to a distinct, float32-exact value."""
    msg = HandObjectReconstruction()
    msg.header = Header(stamp=STAMP, frame_id=FRAME)
    msg.parts = (
        HandObjectReconstruction.PART_HAND_JOINTS
        | HandObjectReconstruction.PART_OBJECT_POSE
        | HandObjectReconstruction.PART_HAND_MESH
        | HandObjectReconstruction.PART_OBJECT_MESH
    )
    msg.hand_joints = [Point(x=0.125 * j, y=-0.0625 * j, z=0.5 + 0.03125 * j) for j in range(21)]
    msg.hand_joint_confidence = array.array("f", [j / 32.0 for j in range(21)])
    msg.object_pose = Pose(position=Point(x=0.25, y=-0.125, z=0.625),
                           orientation=Quaternion(x=0.0, y=0.0, z=0.0, w=1.0))
    msg.object_orientation_estimated = False
    msg.object_confidence = 0.75
    msg.hand_mesh = _mesh(offset=0.0, n_tri=4)
    msg.object_mesh = _mesh(offset=1.0, n_tri=2)
    msg.mesh_stamp = Time(sec=STAMP.sec, nanosec=STAMP.nanosec - 33_000_000)
    msg.window_length = 3
    msg.stage_names = ["preprocess", "backbone", "pose_ik", "sdf_grid", "marching_cubes"]
    msg.stage_latency_ms = array.array("f", [1.5, 12.25, 3.0, 40.5, 8.125])
    return msg


def _mesh(offset: float, n_tri: int) -> Mesh:
    """A small indexed mesh: a fan of n_tri triangles."""
    vertices = [Point(x=offset + 0.0, y=0.0, z=0.5)] + [
        Point(x=offset + 0.015625 * k, y=0.0078125 * (k % 3), z=0.5 + 0.00390625 * k) for k in range(1, n_tri + 2)
    ]
    triangles = [MeshTriangle(vertex_indices=[0, k, k + 1]) for k in range(1, n_tri + 1)]
    return Mesh(triangles=triangles, vertices=vertices)


def expected_tf() -> TFMessage:
    """One transform per hand joint plus the object, children of the camera optical frame."""
    transforms = []
    for j, name in enumerate(["wrist", "thumb_mcp", "index_tip", "object"]):
        transforms.append(
            TransformStamped(
                header=Header(stamp=STAMP, frame_id=FRAME),
                child_frame_id=f"gsdf_{'hand_' if name != 'object' else ''}{name}",
                transform=Transform(
                    translation=Vector3(x=0.125 * j, y=0.25, z=0.5),
                    rotation=Quaternion(x=0.0, y=0.0, z=0.6, w=0.8),
                ),
            )
        )
    return TFMessage(transforms=transforms)


def differences(got: object, want: object, path: str = "") -> list[str]:
    """Every field path where two ROS messages (or their fields) differ."""
    if hasattr(want, "get_fields_and_field_types"):
        out = []
        for field in want.get_fields_and_field_types():
            out += differences(getattr(got, field), getattr(want, field), f"{path}.{field}")
        return out
    if isinstance(want, (list, tuple, array.array)) or type(want).__name__ == "ndarray":
        got_l, want_l = list(got), list(want)
        if len(got_l) != len(want_l):
            return [f"{path}: length {len(got_l)} != {len(want_l)}"]
        out = []
        for i, (g, w) in enumerate(zip(got_l, want_l)):
            out += differences(g, w, f"{path}[{i}]")
        return out
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]


def publish(timeout_s: float) -> int:
    rclpy.init()
    node = rclpy.create_node("gsdf_roundtrip_pub")
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    rec_pub = node.create_publisher(HandObjectReconstruction, "reconstruction", qos)
    tf_pub = node.create_publisher(TFMessage, "/tf", 100)
    rec, tf = expected_reconstruction(), expected_tf()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rec_pub.publish(rec)
        tf_pub.publish(tf)
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()
    rclpy.shutdown()
    return 0


def subscribe(timeout_s: float) -> int:
    rclpy.init()
    node = rclpy.create_node("gsdf_roundtrip_sub")
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    received: dict[str, object] = {}
    node.create_subscription(HandObjectReconstruction, "reconstruction", lambda m: received.setdefault("rec", m), qos)
    node.create_subscription(TFMessage, "/tf", lambda m: received.setdefault("tf", m), 100)
    deadline = time.monotonic() + timeout_s
    while len(received) < 2 and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()
    rclpy.shutdown()
    if len(received) < 2:
        print(f"TIMEOUT: received only {sorted(received)}", flush=True)
        return 2
    problems = differences(received["rec"], expected_reconstruction()) + differences(received["tf"], expected_tf())
    for line in problems:
        print("MISMATCH", line, flush=True)
    if problems:
        return 1
    print("ROUNDTRIP_OK", flush=True)
    return 0


def run_pair(timeout_s: float = 30.0, pub_env: dict[str, str] | None = None) -> tuple[int, str]:
    """Start a subscriber and a publisher process; the subscriber's exit code and output."""
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "gsdf_ros.nodes.selfcheck"]
    sub = subprocess.Popen(cmd + ["sub", str(timeout_s)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
    pub = subprocess.Popen(cmd + ["pub", str(timeout_s + 10)], env=pub_env or env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        out, _ = sub.communicate(timeout=timeout_s + 30)
    finally:
        pub.kill()
        pub.wait()
    return sub.returncode, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gsdf-selfcheck", description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "pub", "sub"])
    parser.add_argument("timeout", nargs="?", type=float, default=30.0, help="seconds to wait")
    args = parser.parse_args(argv)
    if args.mode == "pub":
        return publish(args.timeout)
    if args.mode == "sub":
        return subscribe(args.timeout)
    t0 = time.monotonic()
    code, out = run_pair(args.timeout)
    print(out.strip())
    domain = os.environ.get("ROS_DOMAIN_ID", "0")
    verdict = "OK" if code == 0 else "FAILED"
    print(f"gsdf-selfcheck {verdict}: reconstruction + /tf round trip between two processes "
          f"on ROS_DOMAIN_ID={domain} in {time.monotonic() - t0:.1f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
