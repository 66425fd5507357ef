"""Time the hand detector per whole camera frame on the CPU: resize to its canvas, normalise, network,
decode (``gsdf_ros.detect.train.detect``), for frames of common camera sizes.

    python bench/bench_detector.py --checkpoint models/hand_detector.pt --threads 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from gsdf_ros.detect.train import detect, load_detector

ROOT = Path(__file__).resolve().parents[1]
SIZES = ((640, 480), (320, 240), (1280, 720), (1920, 1080))


def time_frames(model: torch.nn.Module, size: tuple[int, int], repeats: int, seed: int = 0) -> list[float]:
    """Milliseconds per ``detect`` call on ``repeats`` random frames of ``size`` (after two warm-up calls)."""
    rng = np.random.default_rng(seed)
    width, height = size
    frames = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(min(repeats, 8))]
    for frame in frames[:2]:
        detect(model, frame)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        detect(model, frames[i % len(frames)])
        times.append(1000.0 * (time.perf_counter() - start))
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(ROOT / "models" / "hand_detector.pt"))
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, _ = load_detector(args.checkpoint)
    model.eval()
    rows = {}
    for size in SIZES:
        ms = time_frames(model, size, args.repeats)
        rows[f"{size[0]}x{size[1]}"] = {"median_ms": round(float(np.median(ms)), 2),
                                        "p90_ms": round(float(np.percentile(ms, 90)), 2)}
    report = {"checkpoint": args.checkpoint, "threads": args.threads, "canvas": list(model.cfg.canvas),
              "repeats": args.repeats, "per_frame": rows}
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
