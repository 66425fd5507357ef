"""Per-stage and end-to-end latency of one frame through the gsdf pipeline, with peak memory.

Stages, in the order a frame meets them:

* ``preprocess``: decode a raw camera buffer, validate it against its camera, cut the crop with
  the virtual-camera homography (the preprocessing node's work, without its ROS transport);
* ``backbone``, ``pose_ik``, ``object_center``, ``sdf_grid``, ``marching_cubes``: the predictor's
  own ``stage_ms`` (:class:`gsdf_ros.gsdf_predictor.GSDFPredictor`);
* ``publish_convert``: result to ``gsdf/HandObjectReconstruction`` and its serialisation, plus
  the outputs node's ``/tf`` and marker messages (skipped without ROS 2).

``end_to_end`` is the wall time of all of them for one frame; ``unattributed`` is the part of it
in no stage (window preparation, confidences, copies to the host). Peak memory: the process's peak
RSS (VmHWM, reset per configuration where the kernel allows) and, on CUDA,
``torch.cuda.max_memory_allocated``.

Without ``--checkpoint`` the encoders keep random weights and the decoders are first fitted for
``--fit-steps`` steps to the toy hand and object of ``bench_mesh_model.py`` (random decoders give
noise surfaces whose meshes are many times larger than real ones). The JSON says which weights
were used; the figures are timings, not accuracy.

    python bench/bench_stages.py                       # tiny and paper, CPU (and CUDA if present)
    python bench/bench_stages.py --quick               # seconds: tiny only, few repeats, no meshes
    python bench/bench_stages.py --amp --compile       # also with autocast and torch.compile
    python bench/bench_stages.py --batch 4 --window 3  # batched encoder throughput; video window
"""

from __future__ import annotations

import argparse
import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from bench_mesh_model import train_decoders
from benchlib import (
    cuda_peak_mb,
    device_name,
    devices,
    distribution,
    emit,
    environment,
    peak_rss_mb,
    set_threads,
    synchronize,
    timed,
    toy_crop,
)

from gsdf_ros.checkpoint import load_checkpoint_model
from gsdf_ros.geometry import Intrinsics
from gsdf_ros.geometry.virtual_camera import virtual_crop, warp_crop
from gsdf_ros.gsdf_predictor import GSDFPredictor
from gsdf_ros.inference import TIMED_STAGES
from gsdf_ros.model import build_model
from gsdf_ros.nodes.cropping import full_frame_box
from gsdf_ros.nodes.image_conversion import decode_pixels, to_rgb8
from gsdf_ros.nodes.validation import CameraFacts, check_frame
from gsdf_ros.reconstruction import prepare_window
from gsdf_ros.result import CropSample, Reconstruction

ENCODING = "bgr8"


@dataclass(frozen=True)
class CameraFrame:
    """A raw camera buffer as a driver sends it, with its intrinsics."""

    data: bytes
    width: int
    height: int
    k: np.ndarray
    stamp_ns: int


def camera_frame(width: int, height: int, stamp_ns: int = 1) -> CameraFrame:
    """A bgr8 frame holding the toy crop scaled to the frame, with a 60-degree-ish camera."""
    toy = toy_crop(min(width, height)).image
    frame = np.zeros((height, width, 3), np.uint8)
    top, left = (height - toy.shape[0]) // 2, (width - toy.shape[1]) // 2
    frame[top : top + toy.shape[0], left : left + toy.shape[1]] = toy[:, :, ::-1]
    f = 0.9 * width
    k = np.array([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]])
    return CameraFrame(frame.tobytes(), width, height, k, stamp_ns)


def preprocess(frame: CameraFrame, crop_size: int) -> CropSample:
    """Decode, validate and crop one frame as the preprocessing node does (full-frame box)."""
    camera = CameraFacts(frame.width, frame.height, frame.k.reshape(-1).tolist(), frame.stamp_ns)
    reason = check_frame(ENCODING, frame.width, frame.height, frame.stamp_ns, camera)
    if reason is not None:
        raise ValueError(f"bench frame rejected: {reason}")
    rgb = to_rgb8(decode_pixels(frame.height, frame.width, ENCODING, False, frame.width * 3, frame.data), ENCODING)
    intrinsics = Intrinsics.from_matrix(frame.k, frame.width, frame.height)
    crop = virtual_crop(intrinsics, full_frame_box(intrinsics), crop_size)
    return CropSample(stamp_ns=frame.stamp_ns, frame_id="bench_camera_optical_frame", image=warp_crop(rgb, crop),
                      k=crop.intrinsics.matrix(), rotation=crop.rotation, box=crop.box)


def ros_converter() -> Callable[[Reconstruction], None] | None:
    """Result → message + serialisation, and the outputs node's /tf and markers; None without ROS 2."""
    try:
        from rclpy.serialization import serialize_message

        from gsdf_ros.nodes.conversions import (
            msg_to_reconstruction,
            reconstruction_to_msg,
            to_marker_array,
            to_tf_message,
        )
    except ImportError:
        return None

    def convert(rec: Reconstruction) -> None:
        msg = reconstruction_to_msg(rec)
        serialize_message(msg)
        received = msg_to_reconstruction(msg)
        serialize_message(to_tf_message(received, "gsdf_"))
        serialize_message(to_marker_array(received))

    return convert


def reset_peak_rss() -> None:
    """Reset VmHWM to the current RSS (Linux: write 5 to clear_refs); silently kept where refused."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def network_modules(model: Any) -> list[torch.nn.Module]:
    """The networks of a gSDF model: what AMP and torch.compile apply to (not IK or the geometry)."""
    pose = model.pose_net
    candidates = (pose.backbone, pose.neck, pose.volume_head, pose.root_head, model.backbone, model.object_neck,
                  model.object_head, model.sdf_neck, model.temporal, model.hand_decoder, model.object_decoder)
    return [m for m in candidates if m is not None]


def enable_amp(model: Any, device: torch.device) -> None:
    """Run each network under autocast (bf16 on CPU, fp16 on CUDA) and hand float32 to the code after it."""
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    for module in network_modules(model):
        forward = module.forward

        def mixed(*args: Any, _forward: Callable[..., Any] = forward, **kwargs: Any) -> Any:
            with torch.autocast(device_type=device.type, dtype=dtype):
                out = _forward(*args, **kwargs)
            return out.float() if isinstance(out, torch.Tensor) else out

        module.forward = mixed


def make_predictor(args: argparse.Namespace, config: str, device: torch.device) -> tuple[GSDFPredictor, str]:
    if args.checkpoint:
        model, _ = load_checkpoint_model(args.checkpoint, device, stage="sdf")
        weights = f"checkpoint {args.checkpoint}"
    else:
        torch.manual_seed(args.seed)
        model = build_model(config)
        weights = "random (timing only)"
    window = args.window if model.cfg.temporal.enabled else 1
    predictor = GSDFPredictor(model, window, device, args.mesh, args.mesh_resolution, coarse=args.coarse)
    if not args.checkpoint and args.fit_steps > 0:
        state = predictor.encode_window([toy_crop(model.cfg.image_size)])
        with torch.enable_grad():
            train_decoders(model, state, args.fit_steps, seed=args.seed)
        model.eval()
        weights = f"random encoders; decoders fitted {args.fit_steps} steps to toy shapes (timing only)"
    return predictor, weights


def compile_model(predictor: GSDFPredictor) -> str | None:
    """torch.compile the networks in place; why not, when it is unavailable."""
    try:
        for module in network_modules(predictor.model):
            module.compile(dynamic=True)
    except Exception as error:  # any backend or compiler problem: report and run eagerly
        return f"{type(error).__name__}: {error}"
    return None


def time_frames(predictor: GSDFPredictor, frame: CameraFrame, args: argparse.Namespace, device: torch.device,
                convert: Callable[[Reconstruction], None] | None) -> dict[str, Any]:
    """Per-stage and end-to-end distributions over ``args.repeats`` frames (after ``args.warmup``)."""
    crop_size = predictor.model.cfg.image_size
    samples: dict[str, list[float]] = {}
    faces: list[int] = []
    for index in range(args.warmup + args.repeats):
        start = time.perf_counter()
        crop, pre_s = timed(lambda: preprocess(frame, crop_size), device)
        rec, _ = timed(lambda: predictor.predict([crop] * predictor.window_length), device)
        stages = {"preprocess": pre_s * 1e3, **rec.stage_ms}
        if convert is not None:
            stages["publish_convert"] = timed(lambda: convert(rec), device)[1] * 1e3
        synchronize(device)
        stages["end_to_end"] = (time.perf_counter() - start) * 1e3
        stages["unattributed"] = stages["end_to_end"] - sum(v for k, v in stages.items() if k != "end_to_end")
        if index >= args.warmup:
            for name, value in stages.items():
                samples.setdefault(name, []).append(value)
            faces.append(sum(m.num_triangles for m in (rec.hand_mesh, rec.object_mesh) if m is not None))
    return {"stages_ms": {name: distribution(v) for name, v in samples.items()}, "mesh_faces": faces}


def time_batched_encoder(predictor: GSDFPredictor, batch: int, repeats: int, device: torch.device) -> dict[str, Any]:
    """Throughput of ``model.encode`` on ``batch`` crops (or clips) per call: ms per call and per crop."""
    model = predictor.model
    images, intrinsics = prepare_window([toy_crop(model.cfg.image_size)], predictor.window_length, model.cfg.image_size)
    if predictor.window_length > 1:
        images, intrinsics = images[None], intrinsics[None]
    else:
        images, intrinsics = images[-1:], intrinsics[-1:]
    images = images.expand(batch, *images.shape[1:]).contiguous().to(device)
    intrinsics = intrinsics.expand(batch, *intrinsics.shape[1:]).contiguous().to(device)
    calls = []
    with torch.no_grad():
        for index in range(repeats + 1):
            _, seconds = timed(lambda: model.encode(images, intrinsics), device)
            if index:
                calls.append(seconds * 1e3)
    per_call = distribution(calls)
    return {"batch": batch, "encode_ms": per_call, "encode_ms_per_crop": per_call["median"] / batch}


def run_case(args: argparse.Namespace, config: str, device: torch.device, amp: bool, compiled: bool,
             frame: CameraFrame, convert: Callable[[Reconstruction], None] | None) -> dict[str, Any]:
    reset_peak_rss()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    predictor, weights = make_predictor(args, config, device)
    case: dict[str, Any] = {"config": config, "device": str(device), "device_name": device_name(device), "amp": amp,
                            "compile": compiled, "weights": weights, "window_length": predictor.window_length,
                            "mesh": args.mesh, "mesh_resolution": args.mesh_resolution}
    if amp:
        enable_amp(predictor.model, device)
    if compiled:
        problem = compile_model(predictor)
        if problem is not None:
            return {**case, "skipped": f"torch.compile unavailable: {problem}"}
    try:
        start = time.perf_counter()
        case.update(time_frames(predictor, frame, args, device, convert))
        case["wall_s"] = time.perf_counter() - start
        if args.batch > 1:
            case["batched"] = time_batched_encoder(predictor, args.batch, args.repeats, device)
    except Exception as error:  # e.g. an op without an autocast or compiled kernel on this device
        return {**case, "skipped": f"{type(error).__name__}: {error}"}
    case["peak_rss_mb"] = peak_rss_mb()
    case["cuda_max_allocated_mb"] = cuda_peak_mb(device)
    return case


def cases(args: argparse.Namespace) -> Iterator[tuple[str, torch.device, bool, bool]]:
    for device in devices(args.devices):
        for config in args.configs:
            yield config, device, False, False
            if args.amp:
                yield config, device, True, False
            if args.compile:
                yield config, device, False, True


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["tiny", "paper"],
                        help="model configs (e.g. tiny paper tiny_video)")
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"], help="devices; cuda is skipped where absent")
    parser.add_argument("--checkpoint", help="sdf-stage checkpoint (its config replaces --configs)")
    parser.add_argument("--mesh", choices=("c2f", "dense", "none"), default="c2f")
    parser.add_argument("--mesh-resolution", type=int, default=64)
    parser.add_argument("--coarse", type=int, default=16)
    parser.add_argument("--fit-steps", type=int, default=300,
                        help="without a checkpoint, fit the decoders to toy shapes first so meshes have realistic "
                             "sizes (0: random)")
    parser.add_argument("--width", type=int, default=640, help="camera frame width")
    parser.add_argument("--height", type=int, default=480, help="camera frame height")
    parser.add_argument("--window", type=int, default=3, help="window length for video configs")
    parser.add_argument("--batch", type=int, default=1, help="also time model.encode on this many crops per call")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--amp", action="store_true",
                        help="also run the networks under autocast (bf16 on CPU, fp16 on CUDA)")
    parser.add_argument("--compile", action="store_true", help="also run with torch.compile'd networks")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="seconds: tiny on CPU, 2 frames, no meshes")
    args = parser.parse_args(argv)
    if args.quick:
        args.configs, args.devices, args.repeats, args.warmup = ["tiny"], ["cpu"], 2, 1
        args.mesh, args.fit_steps = "none", 0
    if args.checkpoint:
        args.configs = ["checkpoint"]
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    set_threads(args.threads)
    frame = camera_frame(args.width, args.height)
    convert = ros_converter()
    results = [run_case(args, *case, frame, convert) for case in cases(args)]
    report = {"bench": "stages", "environment": environment(), "frame": f"{args.width}x{args.height} {ENCODING}",
              "publish_convert": "measured" if convert else "skipped: ROS 2 not importable",
              "stages": ["preprocess", *TIMED_STAGES, "publish_convert", "unattributed", "end_to_end"],
              "cases": results}
    header = ["config", "device", "amp", "compile", *report["stages"], "peak RSS MB"]
    rows = [[c["config"], c["device"], c["amp"], c["compile"],
             *[c.get("stages_ms", {}).get(s, {}).get("median", "-") for s in report["stages"]],
             c.get("peak_rss_mb", c.get("skipped", "-"))] for c in results]
    emit(report, header, rows)


if __name__ == "__main__":
    main()
