"""ROS overhead of the gsdf graph's message paths against bare rclpy transport of the same messages.

One run, on a claimed isolated ROS domain, interleaving per round (one message in flight at a time):

* image, graph: this process publishes ``CameraInfo`` + a camera ``Image``; the real
  preprocessing node (its own process, ``crop_mode`` full) decodes, validates, crops and
  publishes ``gsdf/CropFrame``; latency = CropFrame received here − Image published here;
* image, bare relay: the same Image with the same QoS through a bare rclpy relay process
  (subscribe, republish the received message unchanged with the CropFrame publisher's QoS);
* image, in-process pair: the same Image and QoS from a publisher here to a subscriber here
  (no inter-process transport: for scale only);
* result, graph: a ``gsdf/HandObjectReconstruction`` with hand and object meshes to the real
  outputs node, which publishes ``/tf`` and markers (mesh TRIANGLE_LISTs, every message);
  latency = both received here − published here (``/tf`` alone is reported too);
* result, bare relay and in-process pair: the same message and QoS, as for the image.

The graph and the bare relay have the same process topology (two inter-process hops, received
here as serialized messages), so their ratio is what the nodes' conversions and processing add
to plain rclpy transport. No model runs anywhere. Per-message latencies are printed as
distributions (median, p90) with the messages lost (best-effort images can be dropped), and
ratios of medians.

    python bench/bench_ros_overhead.py               # 640x480 bgr8, meshes of 5120 + 5120 faces
    python bench/bench_ros_overhead.py --quick       # seconds
"""

from __future__ import annotations

import argparse
import array
import os
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from benchlib import REPO, distribution, emit, environment

from gsdf_ros.ros_domain import claim_domain_id, isolated_ros_environment

FRAME_ID = "bench_camera_optical_frame"
TOPICS = {
    "image": "/bench/image", "camera_info": "/bench/camera_info", "crop": "/bench/crop",
    "reconstruction": "/bench/reconstruction", "markers": "/bench/markers",
    "relay_image_in": "/bench/relay/image_in", "relay_image_out": "/bench/relay/image_out",
    "relay_rec_in": "/bench/relay/rec_in", "relay_rec_out": "/bench/relay/rec_out",
    "pair_image": "/bench/pair/image", "pair_rec": "/bench/pair/rec",
}
IMAGE_QUEUE_DEPTH = 5
"""The preprocessing node's image subscription depth (sensor-data QoS), used by every image path."""
CROP_QOS_DEPTH = 10
RESULT_QOS_DEPTH = 10
TF_QOS_DEPTH = 100
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


# --- the bare relay (runs as its own process: ``--relay``) -----------------------------------------

def run_relay(image_reliability: str) -> int:
    """Republish every received Image and HandObjectReconstruction unchanged, until SIGINT."""
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from sensor_msgs.msg import Image

    from gsdf.msg import HandObjectReconstruction
    from gsdf_ros.nodes.runtime import reliable_qos, sensor_qos

    rclpy.init()
    node = rclpy.create_node("gsdf_bench_relay")
    image_out = node.create_publisher(Image, TOPICS["relay_image_out"], reliable_qos(CROP_QOS_DEPTH))
    rec_out = node.create_publisher(HandObjectReconstruction, TOPICS["relay_rec_out"], reliable_qos(RESULT_QOS_DEPTH))
    image_qos = sensor_qos(image_reliability, IMAGE_QUEUE_DEPTH)
    node.create_subscription(Image, TOPICS["relay_image_in"], image_out.publish, image_qos)
    node.create_subscription(HandObjectReconstruction, TOPICS["relay_rec_in"], rec_out.publish,
                             reliable_qos(RESULT_QOS_DEPTH))
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


# --- the processes under test ----------------------------------------------------------------------

def node_commands(python: str, image_reliability: str) -> dict[str, list[str]]:
    """The command of each process under test."""
    preprocess = [python, "-m", "gsdf_ros.nodes.preprocess_node", "--ros-args",
                  "-r", f"image:={TOPICS['image']}", "-r", f"camera_info:={TOPICS['camera_info']}",
                  "-r", f"crop:={TOPICS['crop']}", "-p", "crop_mode:=full",
                  "-p", f"image_reliability:={image_reliability}"]
    outputs = [python, "-m", "gsdf_ros.nodes.outputs_node", "--ros-args",
               "-r", f"reconstruction:={TOPICS['reconstruction']}", "-r", f"markers:={TOPICS['markers']}",
               "-p", "marker_rate_hz:=100.0"]
    relay = [python, str(Path(__file__).resolve()), "--relay", "--image-reliability", image_reliability]
    return {"preprocess": preprocess, "outputs": outputs, "relay": relay}


def start_processes(env: dict[str, str], image_reliability: str) -> dict[str, subprocess.Popen]:
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))}
    return {name: subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for name, cmd in node_commands(sys.executable, image_reliability).items()}


def stop_processes(processes: dict[str, subprocess.Popen]) -> dict[str, str]:
    """SIGINT each process, then kill it if it hangs; what each wrote on stderr when it failed."""
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    errors = {}
    for name, process in processes.items():
        try:
            _, err = process.communicate(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        if process.returncode not in (0, -signal.SIGINT):
            errors[name] = f"exit {process.returncode}: {(err or '')[-500:]}"
    return errors


# --- messages --------------------------------------------------------------------------------------

def camera_messages(width: int, height: int) -> tuple[Any, Any]:
    """(Image bgr8, CameraInfo) of one camera frame; stamps are set per send."""
    from sensor_msgs.msg import CameraInfo, Image

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    image = Image(height=height, width=width, encoding="bgr8", step=width * 3)
    image.data = array.array("B", pixels.tobytes())
    image.header.frame_id = FRAME_ID
    f = 0.9 * width
    info = CameraInfo(width=width, height=height, distortion_model="plumb_bob")
    info.k = [f, 0.0, width / 2, 0.0, f, height / 2, 0.0, 0.0, 1.0]
    info.header.frame_id = FRAME_ID
    return image, info


def reconstruction_message(subdivisions: int) -> Any:
    """A HandObjectReconstruction with joints and two icosphere meshes (metres, in front of the camera)."""
    import trimesh

    from gsdf_ros.hand.joints import NUM_JOINTS
    from gsdf_ros.nodes.conversions import reconstruction_to_msg
    from gsdf_ros.result import Reconstruction, TriangleMesh

    def sphere(radius: float, centre: tuple[float, float, float]) -> TriangleMesh:
        mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
        return TriangleMesh(np.asarray(mesh.vertices + centre, np.float32), np.asarray(mesh.faces, np.int64))

    joints = np.array([0.0, 0.0, 0.5]) + np.linspace(0.0, 0.1, NUM_JOINTS)[:, None] * np.array([1.0, -1.0, 0.2])
    rec = Reconstruction(
        stamp_ns=1, frame_id=FRAME_ID, hand_joints=joints, joint_confidence=np.ones(NUM_JOINTS),
        object_center=np.array([0.05, 0.0, 0.55]), object_confidence=1.0,
        hand_mesh=sphere(0.08, (0.0, 0.0, 0.5)), object_mesh=sphere(0.04, (0.05, 0.0, 0.55)),
        mesh_stamp_ns=1, window_length=1, stage_ms={"backbone": 1.0},
    )
    return reconstruction_to_msg(rec)


def stamp_of(ns: int) -> Any:
    from gsdf_ros.nodes.conversions import ns_to_stamp

    return ns_to_stamp(ns)


HEADER_FIRST = 4
"""CDR offset of header.stamp in a message whose first field is a std_msgs/Header."""
FIRST_ELEMENT_HEADER = 8
"""CDR offset of the first element's header.stamp in a message that is one sequence of stamped messages."""


def stamp_in_cdr(raw: bytes, offset: int) -> int:
    """The stamp (ns) at ``offset`` of a serialized message (after the 4-byte encapsulation header)."""
    order = "<" if raw[1] & 1 else ">"
    sec, nanosec = struct.unpack_from(order + "iI", raw, offset)
    return sec * 1_000_000_000 + nanosec


# --- the probe: publishers and subscribers of this process -----------------------------------------

@dataclass
class MeasuredPath:
    """One measured path: what to publish, which receptions complete a message, and the latencies."""

    name: str
    send: Callable[[int], None]
    needed: tuple[str, ...]
    latencies_ms: list[float] = field(default_factory=list)
    part_ms: dict[str, list[float]] = field(default_factory=dict)
    """Per-output latencies when a message completes with several outputs (e.g. /tf and markers)."""
    lost: int = 0


class Probe:
    """Publishes timed messages on every path and records when their outputs come back."""

    def __init__(self, node: Any, image: Any, info: Any, result: Any, image_reliability: str) -> None:
        from sensor_msgs.msg import CameraInfo, Image
        from tf2_msgs.msg import TFMessage
        from visualization_msgs.msg import MarkerArray

        from gsdf.msg import CropFrame, HandObjectReconstruction
        from gsdf_ros.nodes.runtime import reliable_qos, sensor_qos

        self.node = node
        self.image, self.info, self.result = image, info, result
        self.sent_ns: dict[int, int] = {}
        self.received: dict[tuple[str, int], int] = {}
        image_qos, result_qos = sensor_qos(image_reliability, IMAGE_QUEUE_DEPTH), reliable_qos(RESULT_QOS_DEPTH)
        pub = node.create_publisher
        self.publishers = {
            "image": pub(Image, TOPICS["image"], image_qos),
            "camera_info": pub(CameraInfo, TOPICS["camera_info"], image_qos),
            "relay_image": pub(Image, TOPICS["relay_image_in"], image_qos),
            "pair_image": pub(Image, TOPICS["pair_image"], image_qos),
            "reconstruction": pub(HandObjectReconstruction, TOPICS["reconstruction"], result_qos),
            "relay_rec": pub(HandObjectReconstruction, TOPICS["relay_rec_in"], result_qos),
            "pair_rec": pub(HandObjectReconstruction, TOPICS["pair_rec"], result_qos),
        }

        def on(key: str, offset: int) -> Callable[[bytes], None]:
            def record(raw: bytes) -> None:
                self.received.setdefault((key, stamp_in_cdr(raw, offset)), time.perf_counter_ns())

            return record

        # raw (serialized) subscriptions: the receive time is the arrival in this process, not
        # Python's deserialisation of the message here (the same for every path)
        subscriptions = [
            (CropFrame, TOPICS["crop"], reliable_qos(CROP_QOS_DEPTH), "crop", HEADER_FIRST),
            (Image, TOPICS["relay_image_out"], reliable_qos(CROP_QOS_DEPTH), "relay_image", HEADER_FIRST),
            (Image, TOPICS["pair_image"], image_qos, "pair_image", HEADER_FIRST),
            (TFMessage, "/tf", reliable_qos(TF_QOS_DEPTH), "tf", FIRST_ELEMENT_HEADER),
            (MarkerArray, TOPICS["markers"], reliable_qos(2), "markers", FIRST_ELEMENT_HEADER),
            (HandObjectReconstruction, TOPICS["relay_rec_out"], result_qos, "relay_rec", HEADER_FIRST),
            (HandObjectReconstruction, TOPICS["pair_rec"], result_qos, "pair_rec", HEADER_FIRST),
        ]
        self.subscriptions = [node.create_subscription(t, topic, on(key, offset), qos, raw=True)
                              for t, topic, qos, key, offset in subscriptions]

    def paths(self) -> list[MeasuredPath]:
        send_image = lambda topic: lambda ns: self._send(topic, self.image, ns)  # noqa: E731
        send_result = lambda topic: lambda ns: self._send(topic, self._result(ns), ns)  # noqa: E731
        return [
            MeasuredPath("image: graph (preprocess node)", self._send_camera, ("crop",)),
            MeasuredPath("image: bare relay", send_image("relay_image"), ("relay_image",)),
            MeasuredPath("image: in-process pair", send_image("pair_image"), ("pair_image",)),
            MeasuredPath("result: graph (outputs node)", send_result("reconstruction"), ("tf", "markers")),
            MeasuredPath("result: bare relay", send_result("relay_rec"), ("relay_rec",)),
            MeasuredPath("result: in-process pair", send_result("pair_rec"), ("pair_rec",)),
        ]

    def connected(self) -> bool:
        """Every publisher matched and every subscription has a publisher."""
        return all(p.get_subscription_count() > 0 for p in self.publishers.values()) and all(
            s.get_publisher_count() > 0 for s in self.subscriptions)

    def _result(self, ns: int) -> Any:
        self.result.mesh_stamp = stamp_of(ns)  # a new mesh each message: the outputs node draws it
        return self.result

    def _send_camera(self, ns: int) -> None:
        self.info.header.stamp = stamp_of(ns)
        self.publishers["camera_info"].publish(self.info)
        self._send("image", self.image, ns)

    def _send(self, key: str, msg: Any, ns: int) -> None:
        msg.header.stamp = stamp_of(ns)
        self.sent_ns[ns] = time.perf_counter_ns()
        self.publishers[key].publish(msg)

    def done(self, path: MeasuredPath, ns: int) -> bool:
        return all((key, ns) in self.received for key in path.needed)

    def record(self, path: MeasuredPath, ns: int) -> None:
        """The message's latency (its last output) and, with several outputs, each output's."""
        arrivals = {key: (self.received[(key, ns)] - self.sent_ns[ns]) / 1e6 for key in path.needed}
        path.latencies_ms.append(max(arrivals.values()))
        if len(arrivals) > 1:
            for key, value in arrivals.items():
                path.part_ms.setdefault(key, []).append(value)


def spin_until(executor: Any, condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        executor.spin_once(timeout_sec=0.01)
    return True


def measure(
    probe: Probe, executor: Any, rounds: int, warmup: int, gap_s: float, timeout_s: float
) -> list[MeasuredPath]:
    """Interleaved rounds: each path sends one message and waits for it (or times out)."""
    paths = probe.paths()
    ns = 1_000_000_000
    for index in range(warmup + rounds):
        for path in paths:
            ns += 1_000_000
            path.send(ns)
            arrived = spin_until(executor, lambda: probe.done(path, ns), timeout_s)
            if index >= warmup:
                if arrived:
                    probe.record(path, ns)
                else:
                    path.lost += 1
            spin_until(executor, lambda: False, gap_s)
    return paths


def ratios(summary: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """Median latency of each graph path (all outputs received) over its bare relay and in-process pair;
    None where either path had no message arrive."""
    out: dict[str, float | None] = {}
    for kind in ("image", "result"):
        graph = next(v for k, v in summary.items() if k.startswith(f"{kind}: graph")).get("median")
        for base in ("bare relay", "in-process pair"):
            baseline = summary[f"{kind}: {base}"].get("median")
            out[f"{kind}: graph / {base}"] = None if graph is None or baseline is None else graph / baseline
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--subdivisions", type=int, default=4, help="icosphere level of each mesh (4: 5120 faces)")
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--gap", type=float, default=0.02, help="seconds between messages")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds before a message counts as lost")
    parser.add_argument("--image-reliability", choices=("best_effort", "reliable"), default="best_effort",
                        help="QoS of every image path (the preprocessing node's image_reliability)")
    parser.add_argument("--quick", action="store_true", help="seconds: 320x240, 320-face meshes, 5 rounds")
    parser.add_argument("--relay", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.width, args.height, args.subdivisions, args.rounds, args.warmup = 320, 240, 2, 5, 2
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    claim = claim_domain_id()
    env = isolated_ros_environment(claim)
    os.environ.update({k: env[k] for k in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE")})
    os.environ.pop("ROS_STATIC_PEERS", None)
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    processes = start_processes(env, args.image_reliability)
    rclpy.init()
    node = rclpy.create_node("gsdf_bench_probe")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        image, info = camera_messages(args.width, args.height)
        result = reconstruction_message(args.subdivisions)
        probe = Probe(node, image, info, result, args.image_reliability)
        if not spin_until(executor, probe.connected, START_TIMEOUT_S):
            raise RuntimeError("the nodes under test did not connect within %.0f s" % START_TIMEOUT_S)
        paths = measure(probe, executor, args.rounds, args.warmup, args.gap, args.timeout)
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
        errors = stop_processes(processes)
        claim.release()
    summary = {p.name: {**distribution(p.latencies_ms), "lost": p.lost} for p in paths}
    for p in paths:
        summary.update({f"{p.name}, {key} only": {**distribution(v), "lost": p.lost} for key, v in p.part_ms.items()})
    return {
        "bench": "ros_overhead", "environment": environment(), "ros_domain_id": claim.domain_id,
        "image": f"{args.width}x{args.height} bgr8, QoS {args.image_reliability} depth {IMAGE_QUEUE_DEPTH}",
        "result": f"HandObjectReconstruction, two icospheres of {20 * 4 ** args.subdivisions} faces, "
                  f"QoS reliable depth {RESULT_QOS_DEPTH}",
        "rounds": args.rounds, "latency_ms": summary, "ratio_of_medians": ratios(summary), "process_errors": errors,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.relay:
        return run_relay(args.image_reliability)
    report = run(args)
    latency = report["latency_ms"]
    rows = [[name, d.get("median", "-"), d.get("p90", "-"), d["n"], d["lost"]] for name, d in latency.items()]
    rows += [[name, value, "", "", ""] for name, value in report["ratio_of_medians"].items()]
    emit(report, ["path", "median ms", "p90 ms", "n", "lost"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
