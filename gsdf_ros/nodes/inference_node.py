"""``gsdf_inference``: crops in, ``gsdf/HandObjectReconstruction`` out; the only node with torch.

Keeps the last ``window_length`` crops in stamp order, hands the newest window to a worker
thread and, while the worker is busy, keeps only the newest waiting window (the others are
dropped and counted). Results are stamped with the newest crop's stamp and frame; results with
NaN/Inf are never published.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from typing import Any

from gsdf.msg import CropFrame, HandObjectReconstruction
from rclpy.node import Node

from gsdf_ros.nodes import diagnostics, graph, params, runtime
from gsdf_ros.nodes.conversions import crop_frame_to_sample, reconstruction_to_msg, stamp_to_ns
from gsdf_ros.nodes.flow import LatestSlot, StampWindow
from gsdf_ros.nodes.validation import CameraFacts, RejectCounter, RejectReason, check_crop
from gsdf_ros.predictor import CropSample, Predictor, load_predictor

NODE_NAME = "gsdf_inference"
MODEL_LOAD_EXIT_CODE = 2
"""Exit code when the checkpoint is missing, unreadable or does not fit the model."""

PARAMETERS = (
    params.ParamSpec("checkpoint", "", "model checkpoint file, or module:factory returning a Predictor (empty: the shipped tiny SynthHO model)", read_only=True),
    params.ParamSpec("device", "cpu", "torch device of the model, e.g. cpu or cuda:0", read_only=True),
    params.ParamSpec("window_length", 0, "frames per temporal window (0: the model's own)", read_only=True, min_value=0, max_value=64),
    params.ParamSpec("mesh_mode", "c2f", "mesh extraction: c2f (coarse-to-fine narrow band), dense (the paper's grids) or none", read_only=True, choices=("c2f", "dense", "none")),
    params.ParamSpec("mesh_resolution", 48, "marching-cubes grid resolution of the meshes", read_only=True, min_value=8, max_value=256),
    params.ParamSpec("mesh_every", 1, "compute meshes for every n-th processed window (poses go out for every one)", read_only=True, min_value=1, max_value=1000),
    params.ParamSpec("crop_queue_depth", 5, "QoS depth of the crop subscription", read_only=True, min_value=1, max_value=100),
    params.TIME_JUMP_BACK,
    params.INPUT_STALE,
    params.DIAGNOSTICS_PERIOD,
)


class InferenceNode(Node):
    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        p = params.declare(self, PARAMETERS)
        mesh_options = {"mesh": p["mesh_mode"], "mesh_resolution": int(p["mesh_resolution"]), "mesh_every": int(p["mesh_every"])}
        spec = p["checkpoint"] or str(graph.package_file(graph.DEFAULT_CHECKPOINT))
        self._predictor: Predictor = load_model(spec, p["device"], int(p["window_length"]), mesh_options)
        length = int(p["window_length"]) or int(self._predictor.window_length)
        self._window: StampWindow[CropSample] = StampWindow(length, int(p["time_jump_back_s"] * 1e9))
        self.get_logger().info(f"warming up the predictor (window of {length} frames on {p['device']})")
        t0 = time.monotonic()
        self._predictor.warm_up()
        self.get_logger().info(f"predictor ready in {time.monotonic() - t0:.1f} s")

        self._rejects = RejectCounter()
        self._rate = diagnostics.RateMeter()
        self._latency = diagnostics.LatencyStats()
        self._counts = {"dropped (busy)": 0, "published": 0}
        self._slot: LatestSlot[list[CropSample]] = LatestSlot()
        self._stop = threading.Event()
        self._publisher = self.create_publisher(HandObjectReconstruction, "reconstruction", runtime.reliable_qos(10))
        runtime.watched_subscription(self, CropFrame, "crop", self._on_crop, runtime.reliable_qos(int(p["crop_queue_depth"])))
        self._worker = threading.Thread(target=self._work, name="gsdf_inference_worker", daemon=True)
        self._worker.start()
        diagnostics.DiagnosticsTask(self, self._report, p["diagnostics_period_s"])

    def _on_crop(self, msg: CropFrame) -> None:
        self._rate.tick()
        try:
            self._add_crop(msg)
        except Exception as exc:  # one bad message must not stop the node
            self._reject(RejectReason.PROCESSING_ERROR, f"{type(exc).__name__}: {exc}")

    def _add_crop(self, msg: CropFrame) -> None:
        info, q = msg.camera_info, msg.virtual_rotation
        camera = CameraFacts(int(info.width), int(info.height), list(info.k), stamp_to_ns(msg.header.stamp))
        reason = check_crop(msg.image.encoding, int(msg.image.width), int(msg.image.height), camera, (q.x, q.y, q.z, q.w))
        if reason is not None:
            self._reject(reason, f"crop {msg.image.encoding} {msg.image.width}x{msg.image.height} not usable")
            return
        try:
            sample = crop_frame_to_sample(msg)
        except ValueError as exc:
            self._reject(RejectReason.MALFORMED_IMAGE, str(exc))
            return
        accepted, reason = self._window.add(sample)
        if reason is not None:
            self._reject(reason, "window restarted" if accepted else "crop not newer than the window's newest")
        if accepted and self._slot.put(self._window.snapshot()):
            self._counts["dropped (busy)"] += 1

    def _work(self) -> None:
        while not self._stop.is_set():
            window = self._slot.take(timeout_s=0.5)
            if window:
                self._predict_and_publish(window)

    def _predict_and_publish(self, window: list[CropSample]) -> None:
        newest = window[-1]
        t0 = time.monotonic()
        try:
            result = self._predictor.predict(window)
            elapsed_ms = (time.monotonic() - t0) * 1e3
            result = dataclasses.replace(
                result,
                stamp_ns=newest.stamp_ns,
                frame_id=newest.frame_id,
                window_length=len(window),
                stage_ms={**result.stage_ms, "predict": elapsed_ms},
            )
            if not result.is_finite():
                self._reject(RejectReason.NON_FINITE, "the predictor returned NaN or Inf: result not published")
                return
            self._publisher.publish(reconstruction_to_msg(result))
        except Exception as exc:  # a failing prediction must not stop the node
            if self._stop.is_set():
                return
            self._reject(RejectReason.PROCESSING_ERROR, f"{type(exc).__name__}: {exc}")
            return
        self._latency.add(elapsed_ms)
        self._counts["published"] += 1

    def _reject(self, reason: RejectReason, detail: str) -> None:
        count = self._rejects.add(reason)
        self.get_logger().warning(f"{reason.value} ({count} so far): {detail}", throttle_duration_sec=runtime.LOG_THROTTLE_S)

    def _report(self) -> diagnostics.Report:
        report = diagnostics.input_report(self._rate, float(self.get_parameter("input_stale_s").value), "crop")
        report.values.update(self._counts)
        report.values.update(diagnostics.latency_values("predict", self._latency))
        report.values["rejected"] = self._rejects.total
        report.values.update({f"rejected: {k}": v for k, v in self._rejects.as_dict().items()})
        if self._rejects.count(RejectReason.NON_FINITE) or self._rejects.count(RejectReason.PROCESSING_ERROR):
            report.worsen(diagnostics.WARN, "predictor produced errors or non-finite results")
        return report

    def close(self) -> None:
        """Stop the worker thread."""
        self._stop.set()
        self._slot.close()
        self._worker.join(timeout=5.0)


def is_model_load_error(exc: BaseException) -> bool:
    """True for the errors of a missing, unreadable or mismatched checkpoint (or predictor spec)."""
    checkpoint = sys.modules.get("gsdf_ros.checkpoint")  # loaded only when a checkpoint file was read
    if checkpoint is not None and isinstance(exc, checkpoint.CheckpointError):
        return True
    return isinstance(exc, (FileNotFoundError, ValueError))


def load_model(spec: str, device: str, window_length: int, mesh_options: dict[str, Any] | None = None) -> Predictor:
    """:func:`load_predictor`, its model-loading errors turned into one fatal start-up error."""
    try:
        return load_predictor(spec, device, window_length, mesh_options)
    except Exception as exc:
        if not is_model_load_error(exc):
            raise
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]  # some loaders explain over many lines
        text = first_line if spec.strip() and spec.strip() in first_line else f"{spec!r}: {first_line}"
        raise runtime.StartupError(f"cannot load the model: {text}", MODEL_LOAD_EXIT_CODE) from None


def main(args: list[str] | None = None) -> int:
    return runtime.run(InferenceNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
