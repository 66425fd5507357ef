"""Compare single-frame and video gSDF on the same held-out clips: accuracy and CPU latency per T.

Every run is evaluated with ``gsdf-eval``'s clip protocol (consecutive non-overlapping clips of T
frames, the last one filled up with preceding frames, every frame scored once), so T = 1, 3 and 5
score exactly the same frames. Latency is the wall time of one live window of T crops on the CPU:
``encode`` (both backbones, pose, transformer) and ``predict`` (encode + meshes), medians over
repetitions after a warm-up.

    python bench/video_compare.py --data data/synth_clips --split test \
        --run 1=runs/tiny_sdf/last.pt --run 3=runs/tiny_video3/last.pt --run 5=runs/tiny_video5/last.pt \
        --out runs/video_compare

Prints a markdown table and writes it with the JSON (``video_compare.md``, ``video_compare.json``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from gsdf_ros.evaluate import EvalConfig, evaluate
from gsdf_ros.gsdf_predictor import GSDFPredictor
from gsdf_ros.result import CropSample

METRICS = ("CD_h", "CD_o", "E_h", "E_o")
UNITS = {"CD_h": "cm²", "CD_o": "cm²", "E_h": "cm", "E_o": "cm"}


@dataclass(frozen=True)
class Run:
    clip_len: int
    checkpoint: str


def parse_run(text: str) -> Run:
    """``T=PATH`` to a run."""
    length, sep, path = text.partition("=")
    if not sep or not length.strip().isdigit() or int(length) < 1 or not path:
        raise argparse.ArgumentTypeError(f"expected T=CHECKPOINT with T >= 1, got {text!r}")
    return Run(int(length), path)


def median_ms(call: Callable[[], object], reps: int) -> float:
    """Median wall time of ``call`` in milliseconds over ``reps`` calls, after one warm-up call."""
    call()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return float(statistics.median(times))


def noise_window(length: int, size: int, seed: int = 0) -> list[CropSample]:
    """``length`` random crops of ``size`` px, oldest first."""
    rng = np.random.default_rng(seed)
    k = np.array([[float(size), 0.0, size / 2], [0.0, float(size), size / 2], [0.0, 0.0, 1.0]])
    return [CropSample(stamp_ns=i, frame_id="camera", image=rng.integers(0, 255, (size, size, 3), dtype=np.uint8),
                       k=k, rotation=np.eye(3), box=(0.0, 0.0, float(size))) for i in range(length)]


def window_latency(run: Run, reps: int, mesh: str, resolution: int) -> dict[str, float]:
    """Encode and full-predict latency (ms) of one window of ``run.clip_len`` crops on the CPU."""
    predictor = GSDFPredictor.from_checkpoint(run.checkpoint, "cpu", run.clip_len, mesh, resolution)
    window = noise_window(run.clip_len, predictor.model.cfg.image_size)
    return {"encode_ms": median_ms(lambda: predictor.encode_window(window), reps),
            "predict_ms": median_ms(lambda: predictor.predict(window), reps)}


def evaluate_run(run: Run, args: argparse.Namespace) -> tuple[dict, list[str]]:
    """Mean metrics of the run under ``args.protocol`` and the ids of the frames it scored."""
    out = Path(args.out) / f"T{run.clip_len}"
    cfg = EvalConfig(checkpoint=run.checkpoint, data=args.data, out=str(out), split=args.split,
                     protocol=args.protocol, mesh=args.mesh, resolution=args.resolution, limit=args.limit,
                     n_points=args.points, clip_len=run.clip_len)
    summary = evaluate(cfg, progress=False)[args.protocol]
    ids = [json.loads(line)["id"] for line in (out / "per_sample.jsonl").read_text().splitlines()
           if json.loads(line)["protocol"] == args.protocol]
    return {name: summary[name]["mean"] for name in METRICS}, ids


def markdown(rows: Sequence[dict], protocol: str) -> str:
    head = ["T", "frames", *(f"{m} ({UNITS[m]})" for m in METRICS), "encode ms", "predict ms", "checkpoint"]
    lines = [f"Protocol `{protocol}`; latency per window on CPU ({torch.get_num_threads()} threads), median.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [str(row["T"]), str(row["frames"]), *(f"{row[m]:.4g}" for m in METRICS),
                 f"{row['encode_ms']:.1f}", f"{row['predict_ms']:.1f}", f"`{row['checkpoint']}`"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="SynthHO (or any gSDF-layout) root with clips/<split>.json")
    parser.add_argument("--split", default="test")
    parser.add_argument("--run", type=parse_run, action="append", required=True,
                        help="T=CHECKPOINT (repeat: e.g. 1=single.pt 3=video3.pt 5=video5.pt)")
    parser.add_argument("--protocol", choices=("paper", "live"), default="paper")
    parser.add_argument("--mesh", choices=("dense", "c2f"), default="c2f")
    parser.add_argument("--resolution", type=int, default=64, help="mesh lattice points per axis")
    parser.add_argument("--points", type=int, default=30000, help="surface samples per mesh for CD")
    parser.add_argument("--limit", type=int, help="first N clips of each T only (the frame sets then differ)")
    parser.add_argument("--reps", type=int, default=20, help="latency repetitions per T")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--out", required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    rows, frame_sets = [], {}
    for run in sorted(args.run, key=lambda r: r.clip_len):
        metrics, ids = evaluate_run(run, args)
        frame_sets[run.clip_len] = sorted(ids)
        latency = window_latency(run, args.reps, args.mesh, args.resolution)
        rows.append({"T": run.clip_len, "checkpoint": run.checkpoint, "frames": len(ids), **metrics, **latency})
    same = len({tuple(ids) for ids in frame_sets.values()}) == 1
    if not same:
        print("video_compare: the runs scored different frames (--limit?)", file=sys.stderr)
    table = markdown(rows, args.protocol)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "video_compare.md").write_text(table)
    report = {"data": args.data, "split": args.split, "protocol": args.protocol, "mesh": args.mesh,
              "resolution": args.resolution, "threads": args.threads, "same_frames": same, "runs": rows}
    (out / "video_compare.json").write_text(json.dumps(report, indent=2))
    print(table)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
