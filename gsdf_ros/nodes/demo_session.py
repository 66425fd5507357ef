"""Run the whole gsdf graph on a played-back source and record what it publishes (for ``gsdf-demo``).

The graph is started by ``gsdf-bringup`` exactly as a user starts it; the demo camera plays the
source once it is up; a recorder node collects every ``reconstruction`` (poses) and
``reconstruction/meshes`` message (a frame's full reconstruction, used when that frame has one) and
counts ``/tf`` messages. The caller claims the ROS domain (``gsdf_ros.ros_domain``) before calling.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import rclpy
import yaml
from tf2_msgs.msg import TFMessage

from gsdf.msg import HandObjectReconstruction
from gsdf_ros.demo_report import DemoRun, LiveFrame
from gsdf_ros.nodes import conversions as conv
from gsdf_ros.nodes import graph, runtime
from gsdf_ros.nodes.conversions import result_of_msg

CAMERA_TOPIC = "/gsdf_demo/image"
CAMERA_INFO_TOPIC = "/gsdf_demo/camera_info"


@dataclass(frozen=True)
class SessionConfig:
    """What to play, with which model, and for how long."""

    source: str
    checkpoint: str
    frames: int
    rate_hz: float
    out: Path
    device: str = "cpu"
    crop_mode: str | None = None
    """The graph's crop mode; None: the parameter file's (the hand detector and tracker)."""
    hfov_deg: float = 60.0
    """Horizontal field of view the demo camera gives sources without intrinsics (image folders)."""
    ready_timeout_s: float = 180.0
    settle_s: float = 30.0
    """Once every frame is sent, how long to wait for a further result before stopping."""


def demo_params(out: Path, crop_mode: str | None = None) -> Path:
    """The package's parameter file, with ``crop_mode`` when given (None keeps the file's: the hand
    detector and tracker, what a user's graph runs)."""
    params = yaml.safe_load(graph.package_file(graph.PARAMS_FILE).read_text())
    if crop_mode is not None:
        params["/**"]["ros__parameters"]["crop_mode"] = crop_mode
    path = out / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def _start(cmd: list[str], log: Path) -> subprocess.Popen:
    handle = log.open("w")
    return subprocess.Popen(cmd, env=dict(os.environ), stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen, timeout_s: float = 20.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _read_index(path: Path) -> dict[int, str]:
    if not path.is_file():
        return {}
    return {e["stamp_ns"]: e["name"] for e in map(json.loads, path.read_text().splitlines())}


def run_session(cfg: SessionConfig) -> DemoRun:
    """Start the graph, play ``cfg.frames`` frames, record the results, stop everything."""
    cfg.out.mkdir(parents=True, exist_ok=True)
    index = cfg.out / "frames.jsonl"
    index.unlink(missing_ok=True)
    bringup = _start([
        sys.executable, "-m", "gsdf_ros.nodes.bringup", "--image", CAMERA_TOPIC, "--camera-info", CAMERA_INFO_TOPIC,
        "--checkpoint", cfg.checkpoint, "--device", cfg.device,
        "--params-file", str(demo_params(cfg.out, cfg.crop_mode)),
    ], cfg.out / "graph.log")
    camera = None
    rclpy.init()
    node = rclpy.create_node("gsdf_demo_recorder")
    received: list[tuple[HandObjectReconstruction, int]] = []
    with_meshes: dict[int, HandObjectReconstruction] = {}
    tf_count = [0]
    node.create_subscription(HandObjectReconstruction, "reconstruction",
                             lambda m: received.append((m, time.time_ns())), runtime.reliable_qos(100))
    node.create_subscription(HandObjectReconstruction, "reconstruction/meshes",
                             lambda m: with_meshes.__setitem__(conv.stamp_to_ns(m.header.stamp), m),
                             runtime.reliable_qos(100))
    node.create_subscription(TFMessage, "/tf", lambda m: tf_count.__setitem__(0, tf_count[0] + 1),
                             runtime.reliable_qos(100))
    t0 = time.monotonic()
    try:
        deadline = time.monotonic() + cfg.ready_timeout_s
        while node.count_publishers("/reconstruction") < 1:
            if time.monotonic() > deadline or bringup.poll() is not None:
                raise RuntimeError(
                    f"the graph did not come up in {cfg.ready_timeout_s:.0f} s (log: {cfg.out / 'graph.log'})"
                )
            rclpy.spin_once(node, timeout_sec=0.2)
        camera = _start([
            sys.executable, "-m", "gsdf_ros.nodes.camera_node", "--ros-args",
            "-r", f"image:={CAMERA_TOPIC}", "-r", f"camera_info:={CAMERA_INFO_TOPIC}",
            "-p", f"source:={cfg.source}", "-p", f"rate_hz:={cfg.rate_hz}", "-p", f"max_frames:={cfg.frames}",
            "-p", "wait_for_subscribers:=1", "-p", f"index_file:={index}", "-p", f"hfov_deg:={cfg.hfov_deg}",
        ], cfg.out / "camera.log")
        t0 = time.monotonic()
        play_s = cfg.frames / cfg.rate_hz
        deadline = time.monotonic() + play_s + cfg.ready_timeout_s
        last_change, last_count = time.monotonic(), 0
        while time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
            sent = len(_read_index(index))
            if len(received) != last_count:
                last_change, last_count = time.monotonic(), len(received)
            if sent >= cfg.frames and (len(received) >= sent or time.monotonic() - last_change > cfg.settle_s):
                break
        seconds = time.monotonic() - t0
    finally:
        if camera is not None:
            _stop(camera)
        _stop(bringup)
        node.destroy_node()
        rclpy.try_shutdown()
    names = _read_index(index)
    results = [
        LiveFrame(names[rec.stamp_ns], rec, recv)
        for rec, recv in (
            (result_of_msg(with_meshes.get(conv.stamp_to_ns(m.header.stamp), m)), t) for m, t in received
        )
        if rec.stamp_ns in names
    ]
    return DemoRun(frames_sent=len(names), results=results, seconds=seconds, checkpoint=cfg.checkpoint,
                   source=cfg.source, extra={"tf_messages": tf_count[0]})
