#!/usr/bin/env python3
"""Soak run of the gsdf graph: memory per node and message rates over a long run.

Claims a ROS domain of its own, starts the graph with ``gsdf-bringup`` (the real predictor from
``--checkpoint``, or a test double with ``--predictor fake``), publishes synthetic Image +
CameraInfo at ``--rate-hz`` for ``--duration`` seconds, prints every ``--report-every`` seconds
the RSS of each node (from /proc) and the input, reconstruction and /tf rates, and ends with one
JSON line: rates, counts, RSS growth per node and which nodes died (were restarted).

    python bench/soak.py --duration 1800 --predictor fake          # 30 minutes, test double
    python bench/soak.py --duration 1800 --predictor real --checkpoint model.pt   # 30 minutes, real model
    python bench/soak.py --duration 60 --predictor real --checkpoint model.pt --kill-inference-at 20

``--kill-inference-at S`` SIGKILLs the inference node once, S seconds in, and reports the time from
the kill to the first reconstruction of a frame taken after it (``restart.resumed_after_s``).
Exit code 0 when every node stayed up (or, after the deliberate kill, came back) and every rate
was above zero.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
NODE_NAMES = ("gsdf_preprocess", "gsdf_inference", "gsdf_outputs")
IMAGE_TOPIC = "/soak/image"
INFO_TOPIC = "/soak/camera_info"
FAKE_PREDICTOR = "soak:fake_predictor"
FRAME_ID = "soak_camera_optical_frame"
STOP_TIMEOUT_S = 20.0


# --- the test-double predictor (loaded by the inference node as soak:fake_predictor) ---------

class FakePredictor:
    """A fixed hand 0.5 m in front of the camera after `delay_s`: exercises the graph, not a model."""

    def __init__(self, window_length: int, delay_s: float) -> None:
        self.window_length = window_length
        self.delay_s = delay_s

    def warm_up(self) -> None:
        pass

    def predict(self, window: list[Any]) -> Any:
        import numpy as np

        from gsdf_ros.result import Reconstruction

        time.sleep(self.delay_s)
        newest = window[-1]
        joints = np.column_stack([np.linspace(-0.05, 0.05, 21), np.zeros(21), np.full(21, 0.5)])
        return Reconstruction(newest.stamp_ns, newest.frame_id, joints, np.ones(21), np.array([0.0, 0.02, 0.55]))


def fake_predictor(device: str, window_length: int) -> FakePredictor:
    return FakePredictor(window_length or 4, delay_s=0.02)


# --- the graph's processes ------------------------------------------------------------------

def start_graph(
    checkpoint: str,
    log: Any = subprocess.DEVNULL,
    image_topic: str = IMAGE_TOPIC,
    info_topic: str = INFO_TOPIC,
    pythonpath: list[Path] = (),
    detector: str = "",
) -> subprocess.Popen:
    """``gsdf-bringup`` for `checkpoint` in its own session, its output and its nodes' to `log`; the
    environment passes on unchanged (with `pythonpath` in front, for a module:factory predictor).
    A non-empty `detector` overrides the parameter file's (``none``: the predictor's own whole-image
    look finds the hand, as a test double's frames hold no real hand)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*map(str, pythonpath), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "gsdf_ros.nodes.bringup", "--image", image_topic, "--camera-info", info_topic,
               "--checkpoint", checkpoint]
    if detector:
        import tempfile

        import yaml

        from gsdf_ros.nodes import graph

        params = yaml.safe_load(graph.package_file(graph.PARAMS_FILE).read_text())
        params["/**"]["ros__parameters"]["detector"] = detector
        path = Path(tempfile.mkdtemp(prefix="gsdf_soak_")) / "params.yaml"
        path.write_text(yaml.safe_dump(params, sort_keys=False))
        command += ["--params-file", str(path)]
    return subprocess.Popen(command, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)


def stop_graph(bringup: subprocess.Popen) -> int:
    """SIGINT the launcher (it stops its nodes) and wait; its exit code."""
    if bringup.poll() is None:
        bringup.send_signal(signal.SIGINT)
    try:
        bringup.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        bringup.kill()
        bringup.wait()
    return int(bringup.returncode)


def node_pids(parent_pid: int) -> dict[str, int]:
    """Node name -> pid of the launcher's children (read from /proc)."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent_pid:
            names = [a.split(":=", 1)[1] for a in args if a.startswith("__node:=")]
            if names:
                found[names[0]] = int(entry.name)
    return found


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process in MiB, None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


# --- the synthetic camera and the counters --------------------------------------------------

class SyntheticCamera:
    """Publishes Image + CameraInfo with equal stamps at `rate_hz` from a timer of `node`."""

    def __init__(
        self,
        node: Any,
        rate_hz: float,
        size: tuple[int, int] = (320, 240),
        image_topic: str = IMAGE_TOPIC,
        info_topic: str = INFO_TOPIC,
    ) -> None:
        import numpy as np
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, Image

        from gsdf_ros.nodes.image_conversion import numpy_to_image

        width, height = size
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self._node = node
        self.image_pub = node.create_publisher(Image, image_topic, qos)
        self.info_pub = node.create_publisher(CameraInfo, info_topic, qos)
        self._frames = []
        for i in range(8):  # a square moving across the frame, prepared once
            pixels = np.full((height, width, 3), 40, np.uint8)
            x = (i * width) // 10
            pixels[height // 3: height // 3 + height // 4, x: x + width // 5] = (220, 180, 150)
            self._frames.append(numpy_to_image(pixels, "rgb8"))
        f = float(width)
        k = [f, 0.0, width / 2 - 0.5, 0.0, f, height / 2 - 0.5, 0.0, 0.0, 1.0]
        self._info = CameraInfo(width=width, height=height, k=k)
        self.sent = 0
        self._timer = node.create_timer(1.0 / rate_hz, self.publish)

    def publish(self) -> None:
        stamp = self._node.get_clock().now().to_msg()
        image = self._frames[self.sent % len(self._frames)]
        for msg in (image, self._info):
            msg.header.stamp = stamp
            msg.header.frame_id = FRAME_ID
        self.image_pub.publish(image)
        self.info_pub.publish(self._info)
        self.sent += 1

    def connected(self) -> bool:
        return bool(self.image_pub.get_subscription_count() and self.info_pub.get_subscription_count())


@dataclass
class Counts:
    """Messages received per output, with the receive time of the first one."""

    reconstruction: int = 0
    tf: int = 0
    first_result_at: float | None = None
    newest_stamp_ns: int = 0

    def on_reconstruction(self, msg: Any) -> None:
        from gsdf_ros.nodes.conversions import stamp_to_ns

        self.reconstruction += 1
        self.newest_stamp_ns = max(self.newest_stamp_ns, stamp_to_ns(msg.header.stamp))
        if self.first_result_at is None:
            self.first_result_at = time.monotonic()

    def on_tf(self, msg: Any) -> None:
        if any(t.child_frame_id.startswith("gsdf_") for t in msg.transforms):
            self.tf += 1


@dataclass
class NodeMemory:
    """RSS samples of one node and the pids it ran under (more than one: it died and restarted)."""

    pids: list[int] = field(default_factory=list)
    baseline_mb: float | None = None
    last_mb: float | None = None
    peak_mb: float = 0.0

    def sample(self, pid: int | None, baseline: bool) -> None:
        if pid is None:
            self.last_mb = None
            return
        if not self.pids or self.pids[-1] != pid:
            self.pids.append(pid)
        self.last_mb = rss_mb(pid)
        if self.last_mb is not None:
            self.peak_mb = max(self.peak_mb, self.last_mb)
            if baseline or self.baseline_mb is None:
                self.baseline_mb = self.last_mb

    def summary(self) -> dict[str, Any]:
        growth = None if self.baseline_mb is None or self.last_mb is None else round(self.last_mb - self.baseline_mb, 2)
        return {
            "rss_baseline_mb": _round(self.baseline_mb), "rss_final_mb": _round(self.last_mb),
            "rss_peak_mb": round(self.peak_mb, 2),
            "rss_growth_mb": growth, "restarts": max(0, len(self.pids) - 1), "alive": self.last_mb is not None,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


# --- the run --------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="soak", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0,
                        help="seconds of publishing (1800 for a 30-minute soak)")
    parser.add_argument("--report-every", type=float, default=10.0, help="seconds between progress lines")
    parser.add_argument("--rate-hz", type=float, default=30.0, help="camera rate")
    parser.add_argument("--size", default="320x240", help="synthetic image size WIDTHxHEIGHT")
    parser.add_argument("--predictor", choices=("fake", "real"), default="fake",
                        help="fake: a test double; real: --checkpoint")
    parser.add_argument("--checkpoint", default="", help="checkpoint file for --predictor real")
    parser.add_argument("--detector", default="", help="hand detector for --predictor real (empty: the params file's)")
    parser.add_argument("--start-timeout", type=float, default=60.0, help="seconds to wait for the graph to answer")
    parser.add_argument("--log", type=Path, default=None,
                        help="file for the graph's output (default: a new file in /tmp)")
    parser.add_argument("--kill-inference-at", type=float, default=None, metavar="S",
                        help="SIGKILL the inference node S seconds into the run and report how long until "
                             "results resume")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.predictor == "real" and not args.checkpoint:
        print("soak: --predictor real needs --checkpoint", file=sys.stderr)
        return 2
    from gsdf_ros.ros_domain import claim_domain_id, isolated_ros_environment

    claim = claim_domain_id()
    os.environ.update(isolated_ros_environment(claim))  # before rclpy starts; the graph inherits it
    checkpoint = FAKE_PREDICTOR if args.predictor == "fake" else args.checkpoint
    log_path = args.log or Path(f"/tmp/gsdf-soak-{os.getpid()}.log")
    with open(log_path, "wb") as log:
        launched = time.monotonic()
        detector = "none" if args.predictor == "fake" else args.detector
        bringup = start_graph(checkpoint, log, pythonpath=[BENCH.parent, BENCH], detector=detector)  # this tree's nodes
        try:
            summary = _soak(args, bringup, claim.domain_id, checkpoint, launched)
        finally:
            code = stop_graph(bringup)
            claim.release()
    summary["bringup_exit_code"] = code
    summary["log"] = str(log_path)
    resumed = summary.get("restart", {}).get("resumed_after_s") is not None
    summary["ok"] = bool(not summary["died"] and all(v > 0 for v in summary["rates_hz"].values())
                         and (args.kill_inference_at is None or resumed))
    print(json.dumps(summary), flush=True)
    return 0 if summary["ok"] else 1


def _soak(
    args: argparse.Namespace, bringup: subprocess.Popen, domain_id: int, checkpoint: str, launched: float
) -> dict[str, Any]:
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from tf2_msgs.msg import TFMessage

    from gsdf.msg import HandObjectReconstruction

    rclpy.init()
    node = rclpy.create_node("gsdf_soak")
    try:
        counts = Counts()
        reliable = ReliabilityPolicy.RELIABLE
        node.create_subscription(HandObjectReconstruction, "/reconstruction", counts.on_reconstruction,
                                 QoSProfile(depth=10, reliability=reliable))
        node.create_subscription(TFMessage, "/tf", counts.on_tf, QoSProfile(depth=100, reliability=reliable))
        width, height = (int(v) for v in args.size.split("x"))
        camera = SyntheticCamera(node, args.rate_hz, (width, height))
        memory = {name: NodeMemory() for name in NODE_NAMES}
        while (counts.first_result_at is None and time.monotonic() - launched < args.start_timeout
               and bringup.poll() is None):
            rclpy.spin_once(node, timeout_sec=0.05)
        startup_s = time.monotonic() - launched
        print(f"[soak] domain {domain_id}, predictor {checkpoint}: first reconstruction after {startup_s:.1f} s",
              flush=True)
        camera.sent, counts.reconstruction, counts.tf = 0, 0, 0  # rates count the measured run only
        _sample(memory, bringup.pid, baseline=True)
        t0 = last_report = time.monotonic()
        last = (0, 0, 0)
        kill = KillOnce(args.kill_inference_at)
        while time.monotonic() - t0 < args.duration and bringup.poll() is None:
            rclpy.spin_once(node, timeout_sec=0.02)
            now = time.monotonic()
            kill.step(now - t0, bringup.pid, counts)
            if now - last_report >= args.report_every:
                _sample(memory, bringup.pid, baseline=False)
                current = (camera.sent, counts.reconstruction, counts.tf)
                rates = [(c - p) / (now - last_report) for c, p in zip(current, last)]
                rss = " ".join(f"{n}={m.last_mb or 0:.1f}MB" for n, m in memory.items())
                print(f"[soak] t={now - t0:6.1f}s rates Hz: input={rates[0]:.1f} reconstruction={rates[1]:.1f} "
                      f"tf={rates[2]:.1f} | rss {rss}", flush=True)
                last, last_report = current, now
        elapsed = time.monotonic() - t0
        _sample(memory, bringup.pid, baseline=False)
        nodes = {name: m.summary() for name, m in memory.items()}
        totals = {"input": camera.sent, "reconstruction": counts.reconstruction, "tf": counts.tf}
        if kill.pid is not None and nodes["gsdf_inference"]["restarts"] == 1 and nodes["gsdf_inference"]["alive"]:
            nodes["gsdf_inference"]["restarts"] = 0  # the deliberate kill, reported under "restart"
        return {
            **({"restart": kill.summary()} if args.kill_inference_at is not None else {}),
            "duration_s": round(elapsed, 1), "domain_id": domain_id, "predictor": checkpoint,
            "startup_s": round(startup_s, 1),
            "rates_hz": {k: round(v / elapsed, 2) for k, v in totals.items()},
            "counts": totals,
            "nodes": nodes,
            "died": sorted(n for n, s in nodes.items() if s["restarts"] or not s["alive"]),
        }
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


class KillOnce:
    """SIGKILLs the inference node once, `at_s` into the run; measures until the next reconstruction."""

    def __init__(self, at_s: float | None) -> None:
        self.at_s = at_s
        self.pid: int | None = None
        self.killed_at_ns: int | None = None  # system time, as the camera's stamps
        self.resumed_after_s: float | None = None

    def step(self, elapsed_s: float, bringup_pid: int, counts: Counts) -> None:
        if self.at_s is None or elapsed_s < self.at_s:
            return
        if self.killed_at_ns is None:
            self.pid = node_pids(bringup_pid).get("gsdf_inference")
            if self.pid is None:
                return
            os.kill(self.pid, signal.SIGKILL)
            self.killed_at_ns = time.time_ns()
            print(f"[soak] killed gsdf_inference (pid {self.pid}) at t={elapsed_s:.1f}s", flush=True)
        elif self.resumed_after_s is None and counts.newest_stamp_ns > self.killed_at_ns:
            self.resumed_after_s = (time.time_ns() - self.killed_at_ns) / 1e9
            print(f"[soak] reconstructions resumed {self.resumed_after_s:.2f} s after the kill", flush=True)

    def summary(self) -> dict[str, Any]:
        resumed = None if self.resumed_after_s is None else round(self.resumed_after_s, 2)
        return {"killed_pid": self.pid, "resumed_after_s": resumed}


def _sample(memory: dict[str, NodeMemory], bringup_pid: int, baseline: bool) -> None:
    pids = node_pids(bringup_pid)
    for name, node_memory in memory.items():
        node_memory.sample(pids.get(name), baseline)


if __name__ == "__main__":
    sys.exit(main())
