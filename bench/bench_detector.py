"""Time the hand detector per whole camera frame on the CPU: resize to its canvas, normalise, network,
decode (``gsdf_ros.detect.train.detect``), for frames of common camera sizes; with ``--verify-with``
also the detection verified by that model's pose net (``gsdf_ros.detect.verify``), and with
``--check-with`` as well the detection the inference node makes by default, verified and checked by the hand
check (``gsdf_ros.detect.check``).

    python bench/bench_detector.py --checkpoint models/hand_detector.pt --threads 2 \
        --verify-with models/gsdf_tiny_synthho.pt --check-with models/hand_check.pt
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from gsdf_ros.detect.check import check_fn
from gsdf_ros.detect.check_train import load_check
from gsdf_ros.detect.train import load_detector, model_detect_fn
from gsdf_ros.detect.verify import DEFAULT_PROPOSALS, DetectFn
from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.gsdf_predictor import GSDFPredictor

ROOT = Path(__file__).resolve().parents[1]
SIZES = ((640, 480), (320, 240), (1280, 720), (1920, 1080))


def time_frames(detect_fn: DetectFn, size: tuple[int, int], repeats: int, seed: int = 0) -> list[float]:
    """Milliseconds per ``detect_fn`` call on ``repeats`` random frames of ``size`` (after two warm-up calls)."""
    rng = np.random.default_rng(seed)
    width, height = size
    intrinsics = Intrinsics(float(width), float(width), (width - 1) / 2, (height - 1) / 2, width, height)
    frames = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(min(repeats, 8))]
    for frame in frames[:2]:
        detect_fn(frame, intrinsics)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        detect_fn(frames[i % len(frames)], intrinsics)
        times.append(1000.0 * (time.perf_counter() - start))
    return times


def summary(ms: list[float]) -> dict[str, float]:
    return {"median_ms": round(float(np.median(ms)), 2), "p90_ms": round(float(np.percentile(ms, 90)), 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(ROOT / "models" / "hand_detector.pt"))
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--verify-with", metavar="MODEL", default=None,
                        help="also time detection verified by this gSDF model's pose net")
    parser.add_argument("--check-with", metavar="CHECK", default=None,
                        help="with --verify-with: also time detection verified and checked by this hand check")
    parser.add_argument("--proposals", type=int, default=DEFAULT_PROPOSALS, help="candidates verified per frame")
    parser.add_argument("--unfolded", action="store_true",
                        help="keep the batch norms apart (the node folds them into the convolutions)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, _ = load_detector(args.checkpoint, inference=not args.unfolded)
    model.eval()
    verified = checked = None
    if args.verify_with:
        look = GSDFPredictor.from_checkpoint(args.verify_with, mesh="none").pose_look
        verified = model_detect_fn(model, look, args.proposals)
        if args.check_with:
            check = check_fn(load_check(args.check_with, inference=not args.unfolded)[0])
            checked = model_detect_fn(model, look, args.proposals, check=check)
    rows, verified_rows, checked_rows = {}, {}, {}
    for size in SIZES:
        name = f"{size[0]}x{size[1]}"
        rows[name] = summary(time_frames(model_detect_fn(model), size, args.repeats))
        if verified is not None:
            verified_rows[name] = summary(time_frames(verified, size, args.repeats))
        if checked is not None:
            checked_rows[name] = summary(time_frames(checked, size, args.repeats))
    report = {"checkpoint": args.checkpoint, "threads": args.threads, "canvas": list(model.cfg.canvas),
              "repeats": args.repeats, "folded": not args.unfolded, "per_frame": rows}
    if verified is not None:
        report["verified"] = {"model": args.verify_with, "proposals": args.proposals, "per_frame": verified_rows}
    if checked is not None:
        report["checked"] = {"check": args.check_with, "proposals": args.proposals, "per_frame": checked_rows}
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
