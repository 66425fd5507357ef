"""``gsdf_inference``: crops in; poses on ``reconstruction``, meshes on ``reconstruction/meshes``.
The only node with torch.

Two rates in one process. The pose worker takes the newest window (crops that arrive while it is
busy replace the waiting one: dropped, counted), runs the pose path (backbones, pose, IK, object
centre, joint and palm frames) and publishes at once; it never waits for a mesh. It hands the
frame's encoded state to the mesh worker, which keeps only the newest hand-off and publishes that
frame's full reconstruction with meshes whenever it finishes one (at most ``mesh_rate_hz``). A pose
message never carries a mesh; it carries the newest object orientation the mesh worker estimated
(with that frame's stamp) when it is at most ``orientation_max_age_s`` old.

Results are stamped with the newest crop's stamp and frame; results with NaN/Inf are never
published. Crops lost between preprocess and this node are counted from the crops' sequence.

Whole frames (``crop_mode`` detect: ``CropFrame.whole_frame``) are cropped here, by the pose worker:
a :class:`~gsdf_ros.hand_finder.HandFinder` runs the hand detector when its tracker asks for one
(no track, every ``redetect_every`` frames, joints that left the crop) and otherwise crops around
the previous frame's projected joints. Below ``hand_score_threshold`` the frame's answer is "no
hand": a result without parts, no model run, and the waiting mesh hand-off is dropped. The same
answer goes out when the model's mean joint confidence on the crop is below ``min_joint_confidence``
(the pose check: noise or a distractor in the crop); the track is then dropped. Without a
detector checkpoint the model's own whole-image look stands in for the detector (a WARN, once); a
predictor without one (a custom factory) gets the whole frame, as in crop_mode full.
For a model trained with ``pose_crop`` (the default model) the shape net reads a concentric crop
wider by its training's ``hand_enlarge`` over the tracker's, and the pose net its own hand crop,
as in training and in the evaluated live protocol; ``crop_box`` reports the hand crop.
The window of a video model then holds the crops of the frames the pose worker processed.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from typing import Any

import numpy as np
from rclpy.node import Node

from gsdf.msg import CropFrame, HandObjectReconstruction
from gsdf_ros.detect.tracker import TrackerConfig
from gsdf_ros.detect.verify import CHECKED_THRESHOLD, DEFAULT_PROPOSALS, RAW_THRESHOLD, VERIFIED_THRESHOLD
from gsdf_ros.errors import CheckpointError
from gsdf_ros.geometry.pose_looks import DEFAULT_LOOKS, LOOKS_HELP, MAX_LOOKS
from gsdf_ros.hand_finder import (
    NO_DETECTOR,
    HandFinder,
    crop_of,
    finder_looks,
    load_check_fn,
    load_detect_fn,
    look_detector,
)
from gsdf_ros.nodes import diagnostics, graph, params, runtime
from gsdf_ros.nodes.conversions import crop_frame_to_sample, reconstruction_to_msg
from gsdf_ros.nodes.flow import LatestSlot, RateLimiter, SequenceGaps, StampWindow
from gsdf_ros.nodes.pairing import stamp_order_reason
from gsdf_ros.nodes.validation import RejectCounter, Rejected, RejectReason
from gsdf_ros.predictor import Predictor, TwoRatePredictor, load_predictor
from gsdf_ros.result import CropSample, Reconstruction

NODE_NAME = "gsdf_inference"
MODEL_LOAD_EXIT_CODE = 2
"""Exit code when the checkpoint is missing, unreadable or does not fit the model, or the device is not there."""
MESH_TOPIC = "reconstruction/meshes"
DEFAULT_DETECTOR = "models/hand_detector.pt"
"""The hand detector checkpoint shipped with the package (used by crop_mode detect when present)."""
DEFAULT_CHECK = "models/hand_check.pt"
"""The hand check shipped with the package (judges the verified candidates in crop_mode detect when present)."""

PARAMETERS = (
    params.ParamSpec("checkpoint", "", "model checkpoint file, or module:factory returning a Predictor "
                     "(empty: the shipped tiny SynthHO model)", read_only=True),
    params.ParamSpec("device", "cpu", "torch device of the model, e.g. cpu or cuda:0 "
                     "(a CUDA device that is not there is a start-up error)", read_only=True),
    params.ParamSpec("window_length", 0, "frames per temporal window (0: the model's own)", read_only=True,
                     min_value=0, max_value=64),
    params.ParamSpec("mesh_mode", "c2f", "mesh extraction: c2f (coarse-to-fine narrow band), dense (the paper's grids) "
                     "or none", read_only=True, choices=("c2f", "dense", "none")),
    params.ParamSpec("mesh_resolution", 48, "marching-cubes grid resolution of the meshes", read_only=True,
                     min_value=8, max_value=256),
    params.ParamSpec("mesh_every", 1, "offer every n-th pose frame to the mesh worker (poses go out for every one)",
                     read_only=True, min_value=1, max_value=1000),
    params.ParamSpec("mesh_rate_hz", 1.25, "most meshes per second (0: as fast as the mesh worker goes)",
                     min_value=0.0, max_value=100.0),
    params.ParamSpec("mesh_nice", 5, "the mesh worker thread runs this much nicer than the pose worker "
                     "(Linux, per thread), so poses win the CPU", read_only=True, min_value=0, max_value=19),
    params.ParamSpec("orientation_max_age_s", 1.0, "pose messages carry the object orientation of a mesh at most "
                     "this old", min_value=0.0, max_value=60.0),
    params.ParamSpec("crop_queue_depth", 5, "QoS depth of the crop subscription", read_only=True,
                     min_value=1, max_value=100),
    params.ParamSpec("detector", "", "hand detector checkpoint for crop_mode detect (empty: the package's "
                     f"{DEFAULT_DETECTOR} when present, else the model's own whole-image look; none: that look; "
                     "or module:factory)", read_only=True),
    params.ParamSpec("hand_check", "", "crop_mode detect: hand-check checkpoint that judges the verified candidates "
                     f"too (empty: the package's {DEFAULT_CHECK} when present; none: no check; or module:factory)",
                     read_only=True),
    params.ParamSpec("hand_score_threshold", CHECKED_THRESHOLD, "crop_mode detect: a hand score below this is "
                     "'no hand' (no TF, object pose or meshes for the frame); the default suits candidates verified "
                     f"and checked; without the hand check {VERIFIED_THRESHOLD} suits, with detector_proposals 0 "
                     f"(the detector's own score) {RAW_THRESHOLD}", min_value=0.0, max_value=1.0),
    params.ParamSpec("detector_proposals", DEFAULT_PROPOSALS, "crop_mode detect: the pose net verifies this many of "
                     "the detector's best candidates and the best one's hand score is the geometric mean of the "
                     "detector's score and the mean joint confidence, its box that of the joints (0: the detector's "
                     "best candidate and score alone)", read_only=True, min_value=0, max_value=8),
    params.ParamSpec("min_joint_confidence", 0.15, "crop_mode detect: the pose check; a crop whose mean joint "
                     "confidence is below this is 'no hand' and the next frame re-detects (0: no check)",
                     min_value=0.0, max_value=1.0),
    params.ParamSpec("redetect_every", 5, "crop_mode detect: run the hand detector at least every n-th frame (between "
                     "detections the crop follows the tracked joints)", read_only=True, min_value=1, max_value=1000),
    params.ParamSpec("pose_looks", DEFAULT_LOOKS, "crop_mode detect, models trained on hand crops: " + LOOKS_HELP
                     + " (see the README for what each gains)", read_only=True, min_value=1, max_value=MAX_LOOKS),
    params.CROP_SIZE,
    params.ParamSpec("torch_threads", 0, "torch CPU threads of this process (0: torch's default)", read_only=True,
                     min_value=0, max_value=256),
    params.ParamSpec("busy_drop_warn_ratio", 0.8, "diagnostics warn when more than this fraction of recent crops "
                     "was dropped because the model was busy", min_value=0.0, max_value=1.0),
    params.TIME_JUMP_BACK,
    params.INPUT_STALE,
    params.DIAGNOSTICS_PERIOD,
    params.DROP_WARN,
)
DROP_PLACES = ("busy (pose)", "lost in transport (crop)", "rejected")


@dataclasses.dataclass(frozen=True)
class FrameFacts:
    """What the node knows of a frame besides the model's output: its hand score and crop box."""

    hand_score: float
    crop_box: tuple[float, float, float]

    def fields(self) -> dict[str, Any]:
        """The :class:`Reconstruction` fields these facts set."""
        return {"hand_score": self.hand_score, "crop_box": self.crop_box}


@dataclasses.dataclass
class Orientation:
    """The newest object orientation the mesh worker estimated."""

    frame_id: str
    stamp_ns: int
    quaternion: Any


class InferenceNode(Node):
    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        p = params.declare(self, PARAMETERS)
        mesh_options = {"mesh": p["mesh_mode"], "mesh_resolution": int(p["mesh_resolution"]), "mesh_every": 1}
        spec = p["checkpoint"] or str(graph.package_file(graph.DEFAULT_CHECKPOINT))
        check_device(str(p["device"]))
        set_torch_threads(int(p["torch_threads"]))
        self._predictor: Predictor = load_node_predictor(spec, p["device"], int(p["window_length"]), mesh_options)
        self._finder, self._finder_kind = make_finder(self._predictor, str(p["detector"]), int(p["crop_size"]),
                                                      float(p["hand_score_threshold"]), int(p["redetect_every"]),
                                                      int(p["detector_proposals"]), int(p["pose_looks"]),
                                                      str(p["hand_check"]))
        self._finder_warned = False
        self._crop_size = int(p["crop_size"])
        self._last_whole: CropSample | None = None
        self._jump_back_ns = int(p["time_jump_back_s"] * 1e9)
        length = int(self._predictor.window_length)  # the requested window, or the model's own when 0
        self._window: StampWindow[CropSample] = StampWindow(length, self._jump_back_ns)
        self._crop_window: StampWindow[CropSample] = StampWindow(length, self._jump_back_ns)  # crops cut here
        self._two_rate = isinstance(self._predictor, TwoRatePredictor)
        self.get_logger().info(
            f"warming up the predictor (window of {length} frames on {p['device']}; "
            f"{'poses and meshes at their own rates' if self._two_rate else 'one predict call per window'})"
        )
        t0 = time.monotonic()
        self._predictor.warm_up()
        self.get_logger().info(f"predictor ready in {time.monotonic() - t0:.1f} s")

        self._rejects = RejectCounter()
        self._rate = diagnostics.RateMeter()
        self._latency = diagnostics.LatencyStats()
        self._mesh_latency = diagnostics.LatencyStats()
        self._drops = diagnostics.DropMeter(DROP_PLACES)
        self._crop_gaps = SequenceGaps()
        self._counts = {"poses published": 0, "meshes published": 0, "mesh frames superseded": 0,
                        "frames without a hand": 0, "crops refused by the pose check": 0,
                        "meshes withheld (hand gone)": 0}
        self._no_hand_stamp_ns: int | None = None
        self._mesh_every = int(p["mesh_every"])
        self._mesh_nice = int(p["mesh_nice"])
        self._poses_done = 0
        self._orientation: Orientation | None = None
        self._slot: LatestSlot[list[CropSample]] = LatestSlot()
        self._mesh_slot: LatestSlot[Any] = LatestSlot()
        self._mesh_limit = RateLimiter(float(p["mesh_rate_hz"]) or float("inf"))
        self._stop = threading.Event()
        self._publish_lock = threading.Lock()
        self._sequences = {"pose": 0, "mesh": 0}
        self._publisher = self.create_publisher(HandObjectReconstruction, "reconstruction", runtime.reliable_qos(10))
        self._mesh_publisher = self.create_publisher(HandObjectReconstruction, MESH_TOPIC, runtime.reliable_qos(2))
        crop_qos = runtime.reliable_qos(int(p["crop_queue_depth"]))
        runtime.watched_subscription(self, CropFrame, "crop", self._on_crop, crop_qos)
        self._workers = [threading.Thread(target=self._pose_loop, name="gsdf_pose_worker", daemon=True)]
        if self._two_rate and self._predictor.makes_meshes:
            self._workers.append(threading.Thread(target=self._mesh_loop, name="gsdf_mesh_worker", daemon=True))
        for worker in self._workers:
            worker.start()
        diagnostics.DiagnosticsTask(self, self._report, p["diagnostics_period_s"])

    # --- crops in ---------------------------------------------------------------------------
    def _on_crop(self, msg: CropFrame) -> None:
        self._rate.tick()
        self._drops.arrive()
        self._drops.drop("lost in transport (crop)", self._crop_gaps.add(int(msg.sequence)))
        try:
            self._add_crop(msg)
        except Exception as exc:  # one bad message must not stop the node
            self._reject(RejectReason.PROCESSING_ERROR, f"{type(exc).__name__}: {exc}")

    def _add_crop(self, msg: CropFrame) -> None:
        try:
            sample = crop_frame_to_sample(msg)  # the one validation of a crop
        except Rejected as exc:
            self._reject(exc.reason, exc.detail)
            return
        accepted, reason = self._window.add(sample)
        if reason is not None:
            self._reject(reason, "window restarted" if accepted else "crop not newer than the window's newest")
        if accepted and self._slot.put(self._window.snapshot()):
            self._drops.drop("busy (pose)")

    # --- pose worker ------------------------------------------------------------------------
    def _pose_loop(self) -> None:
        while not self._stop.is_set():
            window = self._slot.take(timeout_s=0.5)
            if window:
                self._guarded(self._pose_and_publish, window)

    def _guarded(self, work: Any, item: Any) -> None:
        """Run one unit of work; its errors are counted and logged, never fatal."""
        try:
            work(item)
        except Exception as exc:  # a failing prediction must not stop the node
            if not self._stop.is_set():
                self._reject(RejectReason.PROCESSING_ERROR, f"{type(exc).__name__}: {exc}")

    def _pose_and_publish(self, window: list[CropSample]) -> None:
        hand_score, tracked = 1.0, window[-1].whole_frame
        if tracked:
            found = self._find_hand(window[-1])
            if found is None:
                return
            window, hand_score = found
        newest = window[-1]
        t0 = time.monotonic()
        if self._two_rate:
            result, job = self._predictor.predict_pose(window)
        else:
            result, job = self._predictor.predict(window), None
        elapsed_ms = (time.monotonic() - t0) * 1e3
        if tracked and self._finder is not None:
            self._finder.set_min_confidence(float(self.get_parameter("min_joint_confidence").value))
            # the next frame's crop (non-finite joints ask for a detection); a refused crop is "no hand"
            if not self._finder.follow(result.hand_joints, result.joint_confidence):
                self._counts["crops refused by the pose check"] += 1
                self._publish_no_hand(newest, min(hand_score, float(np.mean(result.joint_confidence))))
                return
        facts = FrameFacts(hand_score, (newest.pose_view or newest).box)  # the hand crop's box
        result = dataclasses.replace(result, stamp_ns=newest.stamp_ns, frame_id=newest.frame_id,
                                     window_length=len(window), stage_ms={**result.stage_ms, "predict": elapsed_ms},
                                     **facts.fields())
        if not result.is_finite():
            self._reject(RejectReason.NON_FINITE, "the predictor returned NaN or Inf: result not published")
            return
        has_meshes = result.hand_mesh is not None or result.object_mesh is not None
        if not self._two_rate and has_meshes and result.mesh_stamp_ns in (None, result.stamp_ns):
            self._publish(self._mesh_publisher, "mesh", result)  # a one-call predictor's fresh meshes
        self._publish(self._publisher, "pose", self._pose_only(result))
        self._latency.add(elapsed_ms)
        self._counts["poses published"] += 1
        self._poses_done += 1
        if job is not None and (self._poses_done - 1) % self._mesh_every == 0 and self._mesh_slot.put((job, facts)):
            self._counts["mesh frames superseded"] += 1

    # --- finding the hand in whole frames (crop_mode detect) -----------------------------------
    def _find_hand(self, frame: CropSample) -> tuple[list[CropSample], float] | None:
        """The crop window and hand score of a whole frame; None when there is no hand (answered
        here) or no way to find one (counted)."""
        if not self._finder_warned:
            self._finder_warned = True
            if self._finder is None:
                self.get_logger().warning("crop_mode detect without a hand detector checkpoint, and the predictor has "
                                          "no whole-image look: whole frames are used as in crop_mode full, with no "
                                          "hand check; detection quality is reduced")
            elif not self._finder_kind.startswith("detector"):
                self.get_logger().warning(f"crop_mode detect without a hand detector checkpoint: {self._finder_kind} "
                                          "finds the hand; detection quality is reduced")
        if self._finder is None:  # a predictor without a whole-image look: the whole frame, as crop_mode full
            self._crop_window.add(crop_of(frame, frame.box, self._crop_size))
            return self._crop_window.snapshot(), 1.0
        previous, self._last_whole = self._last_whole, frame
        if previous is not None and (previous.frame_id != frame.frame_id or stamp_order_reason(
                previous.stamp_ns, frame.stamp_ns, self._jump_back_ns) is RejectReason.TIME_JUMP_BACK):
            self._finder.reset()  # another camera, or time jumped back: the track is not this stream's
        self._finder.set_threshold(float(self.get_parameter("hand_score_threshold").value))
        found = self._finder.find(frame)
        if found.sample is None:
            self._publish_no_hand(frame, found.score)
            return None
        self._crop_window.add(found.sample)
        return self._crop_window.snapshot(), found.score

    def _publish_no_hand(self, frame: CropSample, score: float) -> None:
        """Answer "no hand" for a frame: a result without parts; meshes of earlier frames are not sent."""
        self._crop_window.clear()
        self._no_hand_stamp_ns = frame.stamp_ns
        if self._mesh_slot.take(timeout_s=0.0) is not None:
            self._counts["meshes withheld (hand gone)"] += 1
        self._publish(self._publisher, "pose", Reconstruction.no_hand(frame.stamp_ns, frame.frame_id, score))
        self._counts["frames without a hand"] += 1
        self._counts["poses published"] += 1

    def _pose_only(self, result: Reconstruction) -> Reconstruction:
        """`result` without meshes, with the newest estimated object orientation when recent enough."""
        result = dataclasses.replace(result, hand_mesh=None, object_mesh=None, mesh_stamp_ns=None)
        known = self._orientation
        max_age_ns = float(self.get_parameter("orientation_max_age_s").value) * 1e9
        if result.object_orientation is None and known is not None and known.frame_id == result.frame_id \
                and 0 <= result.stamp_ns - known.stamp_ns <= max_age_ns:
            result = dataclasses.replace(result, object_orientation=known.quaternion,
                                         object_orientation_stamp_ns=known.stamp_ns)
        elif result.object_orientation is not None and result.object_orientation_stamp_ns is not None \
                and not 0 <= result.stamp_ns - result.object_orientation_stamp_ns <= max_age_ns:
            result = dataclasses.replace(result, object_orientation=None, object_orientation_stamp_ns=None)
        return result

    # --- mesh worker ------------------------------------------------------------------------
    def _mesh_loop(self) -> None:
        lower_thread_priority(self._mesh_nice)
        while not self._stop.is_set():
            self._mesh_limit.rate_hz = float(self.get_parameter("mesh_rate_hz").value) or float("inf")
            while not self._mesh_limit.ready() and not self._stop.is_set():
                time.sleep(0.01)
            handoff = self._mesh_slot.take(timeout_s=0.5)
            if handoff is not None:
                self._mesh_limit.done()
                self._guarded(self._mesh_and_publish, handoff)

    def _mesh_and_publish(self, handoff: tuple[Any, FrameFacts]) -> None:
        job, facts = handoff
        t0 = time.monotonic()
        result = dataclasses.replace(self._predictor.predict_meshes(job), **facts.fields())
        elapsed_ms = (time.monotonic() - t0) * 1e3
        gone = self._no_hand_stamp_ns
        if gone is not None and result.stamp_ns <= gone:
            self._counts["meshes withheld (hand gone)"] += 1  # a later frame said "no hand"
            return
        if not result.is_finite():
            self._reject(RejectReason.NON_FINITE, "the mesh path returned NaN or Inf: meshes not published")
            return
        if result.object_orientation is not None:
            self._orientation = Orientation(result.frame_id, result.stamp_ns, result.object_orientation)
        stage_ms = {**result.stage_ms, "meshes": elapsed_ms}
        self._publish(self._mesh_publisher, "mesh", dataclasses.replace(result, stage_ms=stage_ms))
        self._mesh_latency.add(elapsed_ms)
        self._counts["meshes published"] += 1

    def _publish(self, publisher: Any, kind: str, result: Reconstruction) -> None:
        msg = reconstruction_to_msg(result, self._sequences[kind])
        with self._publish_lock:
            self._sequences[kind] += 1
            publisher.publish(msg)

    # --- diagnostics ------------------------------------------------------------------------
    def _reject(self, reason: RejectReason, detail: str) -> None:
        count = self._rejects.add(reason)
        if reason not in (RejectReason.TIME_JUMP_BACK, RejectReason.FRAME_MISMATCH):
            self._drops.drop("rejected")
        self.get_logger().warning(f"{reason.value} ({count} so far): {detail}",
                                  throttle_duration_sec=runtime.LOG_THROTTLE_S)

    def _report(self) -> diagnostics.Report:
        report = diagnostics.input_report(self._rate, float(self.get_parameter("input_stale_s").value), "crop")
        report.values.update(self._counts)
        report.values["hand finder"] = self._finder_kind
        if self._finder is not None:
            report.values["hand detector runs"] = self._finder.detections
            report.values["tracked frames"] = self._finder.tracked
            report.values["hand score (last)"] = round(self._finder.score, 3)
        report.values.update(diagnostics.latency_values("pose predict", self._latency))
        report.values.update(diagnostics.latency_values("meshes", self._mesh_latency))
        report.values["rejected"] = self._rejects.total
        report.values.update({f"rejected: {k}": v for k, v in self._rejects.as_dict().items()})
        warn = float(self.get_parameter("drop_warn_ratio").value)
        self._drops.report(report, {"busy (pose)": float(self.get_parameter("busy_drop_warn_ratio").value), "*": warn})
        if self._rejects.count(RejectReason.NON_FINITE) or self._rejects.count(RejectReason.PROCESSING_ERROR):
            report.worsen(diagnostics.WARN, "predictor produced errors or non-finite results")
        return report

    def close(self) -> None:
        """Stop the worker threads."""
        self._stop.set()
        self._slot.close()
        self._mesh_slot.close()
        for worker in self._workers:
            worker.join(timeout=5.0)


def lower_thread_priority(nice: int) -> None:
    """Make the calling thread (and the threads it starts later) `nice` steps nicer; best effort."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + nice)
    except (OSError, AttributeError):
        pass


def set_torch_threads(threads: int) -> None:
    """Limit this process's torch CPU threads (0: leave torch's default)."""
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


def make_finder(predictor: Predictor, detector: str, crop_size: int, threshold: float,
                redetect_every: int, proposals: int = 0, pose_looks: int = 1, hand_check: str = NO_DETECTOR
                ) -> tuple[HandFinder | None, str]:
    """The hand finder of crop_mode detect and what finds the hand: ``detector`` (a checkpoint or
    factory; its best ``proposals`` candidates verified by the predictor's pose net when it has one),
    the model's whole-image look (no checkpoint), or nothing (neither: the whole frame is the crop,
    hand score 1.0, as in crop_mode full). With ``pose_looks`` > 1 the finder also cuts that many of the
    crops whose joints the predictor averages (its ``pose_looks``, when it has them). A named detector
    that cannot be loaded is a start-up error."""
    look = getattr(predictor, "pose_look", None) if proposals > 0 else None
    check = None
    if look is not None:
        try:
            check = load_check_fn(hand_check, graph.package_file(DEFAULT_CHECK))
        except Exception as exc:
            raise runtime.StartupError(f"cannot load the hand check {hand_check!r}: {exc}",
                                       MODEL_LOAD_EXIT_CODE) from None
    try:
        detect = load_detect_fn(detector, graph.package_file(DEFAULT_DETECTOR), look, proposals, check)
    except Exception as exc:
        raise runtime.StartupError(f"cannot load the hand detector {detector!r}: {exc}", MODEL_LOAD_EXIT_CODE) from None
    kind = "detector"
    if look is not None:
        kind = f"detector, {proposals} candidates verified by the pose net" + (" and checked" if check else "")
    if detect is None:
        look = getattr(predictor, "whole_image_look", None)
        if look is None:
            return None, "none (whole frames as in crop_mode full)"
        detect, kind = look_detector(look), "the model's whole-image look"
    cfg = TrackerConfig(score_threshold=threshold, redetect_every=redetect_every)
    return HandFinder(detect, crop_size, cfg, shape_scale=getattr(predictor, "shape_scale", None),
                      looks=finder_looks(predictor, pose_looks)), kind


def check_device(device: str) -> None:
    """StartupError unless `device` exists: a CUDA device needs a CUDA build of torch and that GPU."""
    name = device.strip().lower()
    if not name.startswith("cuda"):
        return
    import torch

    index = int(name.split(":", 1)[1]) if ":" in name and name.split(":", 1)[1].isdigit() else 0
    if not torch.cuda.is_available():
        why = "this torch has no CUDA support" if torch.version.cuda is None else "no CUDA GPU is visible"
        raise runtime.StartupError(f"device {device!r} was requested but {why} (torch {torch.__version__}); "
                                   "set device:=cpu or install a CUDA build", MODEL_LOAD_EXIT_CODE)
    if index >= torch.cuda.device_count():
        raise runtime.StartupError(
            f"device {device!r} was requested but only {torch.cuda.device_count()} CUDA device(s) exist",
            MODEL_LOAD_EXIT_CODE,
        )


def is_model_load_error(exc: BaseException) -> bool:
    """True for the errors of a missing, unreadable or mismatched checkpoint (or predictor spec)."""
    return isinstance(exc, (CheckpointError, FileNotFoundError, ValueError))


def load_node_predictor(
    spec: str, device: str, window_length: int, mesh_options: dict[str, Any] | None = None
) -> Predictor:
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
