"""Measure the running gsdf graph from outside: a 30 Hz camera in, /tf and meshes out.

An independent observer (plain rclpy and the standard message types; it imports nothing from the
gsdf package): it starts the graph with ``gsdf-bringup`` as a user would, plays frames as a camera
(``sensor_msgs/Image`` rgb8 + ``CameraInfo``, reliable, default 640x480 at 30 Hz), and records for
``--seconds`` after a warm-up: the /tf rate and its ratio to the input rate, the rate of mesh
markers (MarkerArrays adding a ``*_mesh`` marker: one per mesh result with a mesh; mesh results
with none only delete), the latency image stamp -> /tf arrival (median, p90), and the drop
counters each node reports on /diagnostics (every key starting with ``dropped``).

    python bench/observe_graph.py --mesh-mode c2f --seconds 40 --json out/observe_c2f.json
    python bench/observe_graph.py --mesh-mode none --seconds 40 --json out/observe_none.json
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rclpy
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray

ROOT = Path(__file__).resolve().parents[1]
IMAGE_TOPIC, INFO_TOPIC = "/observer/image", "/observer/camera_info"
FRAME = "observer_camera_optical_frame"


def frames(width: int, height: int, pattern: str, count: int = 16) -> list[np.ndarray]:
    """RGB frames: the first `count` images matching `pattern`, scaled to the height and centred, or a gradient."""
    import cv2

    out = []
    for path in sorted(glob.glob(pattern))[:count]:
        bgr = cv2.imread(path)
        if bgr is None:
            continue
        scale = height / bgr.shape[0]
        rgb = cv2.resize(bgr, (int(bgr.shape[1] * scale), height))[..., ::-1]
        canvas = np.zeros((height, width, 3), np.uint8)
        x0 = max(0, (width - rgb.shape[1]) // 2)
        canvas[:, x0 : x0 + rgb.shape[1]] = rgb[:, : width - x0]
        out.append(canvas)
    if not out:
        gradient = np.linspace(0, 255, width, dtype=np.uint8)
        out.append(np.repeat(np.repeat(gradient[None, :, None], height, 0), 3, 2))
    return out


def params_file(mesh_mode: str, mesh_resolution: int, crop_mode: str, directory: Path) -> Path:
    """The package's parameter file with the mesh and crop settings of this run."""
    params = yaml.safe_load((ROOT / "config" / "gsdf.yaml").read_text())
    params["/**"]["ros__parameters"].update(mesh_mode=mesh_mode, mesh_resolution=mesh_resolution, crop_mode=crop_mode)
    path = directory / f"params_{mesh_mode}.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def launch(image_topic: str, info_topic: str, params: Path, log_path: Path) -> subprocess.Popen:
    """``gsdf-bringup`` on these camera topics with this parameter file, in a process group of its own,
    its output to ``log_path``."""
    return subprocess.Popen(
        [sys.executable, "-m", "gsdf_ros.nodes.bringup", "--image", image_topic, "--camera-info", info_topic,
         "--params-file", str(params)],
        stdout=log_path.open("w"), stderr=subprocess.STDOUT, start_new_session=True, env=dict(os.environ),
    )


def close(node: "rclpy.node.Node", graph: subprocess.Popen) -> None:
    """Destroy the observer node, shut rclpy down and stop the graph's process group (SIGINT, then SIGKILL)."""
    node.destroy_node()
    rclpy.try_shutdown()
    if graph.poll() is None:
        os.killpg(graph.pid, signal.SIGINT)
        try:
            graph.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(graph.pid, signal.SIGKILL)


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mesh-mode", default="c2f", choices=("c2f", "dense", "none"))
    parser.add_argument("--mesh-resolution", type=int, default=48)
    parser.add_argument("--crop-mode", default="full", choices=("full", "tracked"),
                        help="full: the played frames are hand-object views already (as in the demo)")
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--seconds", type=float, default=40.0, help="measured time after the warm-up")
    parser.add_argument("--warmup", type=float, default=8.0, help="seconds of frames before measuring")
    parser.add_argument("--images", default=str(ROOT / "data" / "synth_pose" / "rgb" / "*.jpg"),
                        help="glob of frames to play")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="gsdf_observe_"))
    graph = launch(IMAGE_TOPIC, INFO_TOPIC, params_file(args.mesh_mode, args.mesh_resolution, args.crop_mode, work),
                   work / "graph.log")
    rclpy.init()
    node = rclpy.create_node("gsdf_observer")
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    image_pub = node.create_publisher(Image, IMAGE_TOPIC, reliable)
    info_pub = node.create_publisher(CameraInfo, INFO_TOPIC, reliable)
    state = {"measuring": False, "sent": 0, "tf": [], "meshes": 0, "mesh_results": 0, "diag": {}}

    def on_tf(msg: TFMessage) -> None:
        if state["measuring"] and msg.transforms and msg.transforms[0].header.frame_id == FRAME:
            stamp = msg.transforms[0].header.stamp
            state["tf"].append((time.time_ns() - (stamp.sec * 10**9 + stamp.nanosec)) / 1e6)

    def on_markers(msg: MarkerArray) -> None:
        mesh_markers = [m for m in msg.markers if m.ns.endswith("_mesh")]
        if state["measuring"] and mesh_markers:
            state["mesh_results"] += 1
            state["meshes"] += any(m.action == Marker.ADD for m in mesh_markers)

    def on_diag(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if "gsdf" in status.name:
                state["diag"][status.name] = {kv.key: kv.value for kv in status.values}

    node.create_subscription(TFMessage, "/tf", on_tf, QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
    node.create_subscription(MarkerArray, "/markers", on_markers,
                             QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 50)

    pictures = frames(args.width, args.height, args.images)
    f = 0.9 * args.height
    k = [f, 0.0, args.width / 2 - 0.5, 0.0, f, args.height / 2 - 0.5, 0.0, 0.0, 1.0]
    try:
        deadline = time.monotonic() + 240
        while (node.count_subscribers(IMAGE_TOPIC) < 1 or node.count_publishers("/reconstruction") < 1
               or "gsdf_inference" not in str(state["diag"])):
            if time.monotonic() > deadline or graph.poll() is not None:
                raise RuntimeError(f"the graph did not come up (log: {work / 'graph.log'})")
            rclpy.spin_once(node, timeout_sec=0.2)
        period = 1.0 / args.rate
        start = time.monotonic()
        next_at = start
        measure_from = start + args.warmup
        end = measure_from + args.seconds
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_at:
                stamp = node.get_clock().now().to_msg()
                rgb = pictures[state["sent"] % len(pictures)]
                image = Image(height=args.height, width=args.width, encoding="rgb8", step=3 * args.width,
                              data=rgb.tobytes())
                image.header.stamp, image.header.frame_id = stamp, FRAME
                info = CameraInfo(height=args.height, width=args.width, k=k, distortion_model="plumb_bob", d=[0.0] * 5)
                info.header = image.header
                image_pub.publish(image)
                info_pub.publish(info)
                if not state["measuring"] and now >= measure_from:
                    state["measuring"], measured_start, sent_at_start = True, now, state["sent"]
                state["sent"] += 1
                next_at = max(next_at + period, time.monotonic() - period)  # a camera never bursts to catch up
            rclpy.spin_once(node, timeout_sec=max(0.0, min(next_at - time.monotonic(), 0.005)))
        span = time.monotonic() - measured_start
        settle = time.monotonic() + 2.5  # one more diagnostics round with the final counters
        while time.monotonic() < settle:
            rclpy.spin_once(node, timeout_sec=0.05)
    finally:
        close(node, graph)
    input_hz = (state["sent"] - sent_at_start) / span
    tf_hz = len(state["tf"]) / span
    drops = {name: {k: v for k, v in values.items() if k.startswith(("dropped", "rejected", "mesh"))}
             for name, values in state["diag"].items()}
    summary = {
        "mesh_mode": args.mesh_mode, "mesh_resolution": args.mesh_resolution, "image": f"{args.width}x{args.height}",
        "seconds": round(span, 1), "input_hz": round(input_hz, 2), "tf_hz": round(tf_hz, 2),
        "tf_over_input": round(tf_hz / input_hz, 3),
        "meshes_hz": round(state["meshes"] / span, 2), "mesh_results_hz": round(state["mesh_results"] / span, 2),
        "latency_ms_median": percentile(state["tf"], 50), "latency_ms_p90": percentile(state["tf"], 90),
        "diagnostics_drops": drops, "graph_log": str(work / "graph.log"),
    }
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
