"""``gsdf-eval``: evaluate an sdf-stage checkpoint on a dataset split (paper and live protocols)."""

from __future__ import annotations

import argparse
import sys

from gsdf_ros.checkpoint import CheckpointError
from gsdf_ros.geometry.pose_looks import DEFAULT_LOOKS, LOOKS_HELP


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gsdf-eval",
        description="Reconstruct every sample of a split, score it (CD, F-score, E_h, E_o) and write "
        "per_sample.jsonl, summary.json, results.md and plots.",
    )
    parser.add_argument("--checkpoint", required=True, help="sdf-stage checkpoint")
    parser.add_argument("--data", required=True, help="dataset root in the gSDF layout")
    parser.add_argument("--split", default="test")
    parser.add_argument("--protocol", choices=("paper", "live", "both"), default="both",
                        help="paper: ground-truth wrist; live: predicted wrist")
    parser.add_argument("--mesh", choices=("dense", "c2f"), default="c2f", help="mesh extraction")
    parser.add_argument("--resolution", type=int, default=128, help="lattice points per axis")
    parser.add_argument("--limit", type=int, help="evaluate the first N samples only")
    parser.add_argument("--points", type=int, default=30000, help="surface samples per mesh for the metrics")
    parser.add_argument("--crop", choices=("full", "box"), help="crop mode (default: the training config's)")
    parser.add_argument("--clip-len", type=int,
                        help="frames per test clip: consecutive non-overlapping clips, the last one filled up "
                        "with preceding frames, every frame scored once (default: the checkpoint's window; "
                        "may only be lowered)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes scoring meshes (ICP, nearest neighbours) while the model reconstructs the "
                        "next samples; same results for any value")
    parser.add_argument("--pose-looks", type=int, default=DEFAULT_LOOKS,
                        help=f"live: {LOOKS_HELP} (the inference node's pose_looks; default {DEFAULT_LOOKS})")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from gsdf_ros import evaluate as ev

    try:
        cfg = ev.EvalConfig(
            checkpoint=args.checkpoint, data=args.data, out=args.out, split=args.split, protocol=args.protocol,
            mesh=args.mesh, resolution=args.resolution, limit=args.limit, device=args.device,
            n_points=args.points, crop=args.crop, clip_len=args.clip_len, workers=args.workers,
            pose_looks=args.pose_looks,
        )
        summary = ev.evaluate(cfg, progress=not args.no_progress)
    except (CheckpointError, OSError, ValueError) as error:
        print(f"gsdf-eval: {error}", file=sys.stderr)
        return 2
    for protocol in summary:
        print(f"{protocol}: " + ", ".join(f"{k} {v['mean']:.4g}" for k, v in summary[protocol].items()))
    print(f"gsdf-eval: wrote {args.out}/results.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
