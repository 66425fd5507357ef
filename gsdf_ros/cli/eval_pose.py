"""``gsdf-eval-pose``: score pose nets (pose- or sdf-stage checkpoints) on a split, paper and live protocols.

Several checkpoints of one run give its learning curve: one row per checkpoint and protocol in
``curve.csv`` (step, epoch, E_h, centroid baseline, bone-length and wrist errors).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from gsdf_ros.checkpoint import CheckpointError
from gsdf_ros.geometry.pose_looks import DEFAULT_LOOKS, LOOKS_HELP


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gsdf-eval-pose", description=__doc__)
    p.add_argument("--checkpoint", required=True, nargs="+", help="pose- or sdf-stage checkpoint(s)")
    p.add_argument("--data", required=True, help="dataset root in the gSDF layout")
    p.add_argument("--split", default="val")
    p.add_argument("--protocol", choices=("paper", "live", "both"), default="both",
                   help="paper: hand-centred crop and true wrist depth; live: nothing from the ground truth")
    p.add_argument("--limit", type=int, help="the first N samples only")
    p.add_argument("--refine-steps", type=int, default=None, help="live: hand crops after the whole-image look")
    p.add_argument("--pose-looks", type=int, default=DEFAULT_LOOKS,
                   help=f"live: {LOOKS_HELP} (the inference node's pose_looks; default {DEFAULT_LOOKS})")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", required=True, help="output directory")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import torch

    from gsdf_ros.checkpoint import load_checkpoint_model
    from gsdf_ros.data import FrameDataset
    from gsdf_ros.geometry.pose_looks import pose_looks
    from gsdf_ros.live_crop import REFINE_STEPS
    from gsdf_ros.pose_eval import PoseEvalConfig, evaluate_pose_net, pose_table, summarize_pose, write_pose_report

    protocols = ("paper", "live") if args.protocol == "both" else (args.protocol,)
    out = Path(args.out)
    curve = []
    try:
        cfg = PoseEvalConfig(protocols, args.limit, REFINE_STEPS if args.refine_steps is None else args.refine_steps,
                             pose_looks(args.pose_looks))
        for path in args.checkpoint:
            model, checkpoint = load_checkpoint_model(path, torch.device(args.device))
            pose_net = model if checkpoint.stage == "pose" else model.pose_net
            mcfg = pose_net.cfg
            data = FrameDataset(args.data, args.split, mcfg.recon_scale, mcfg.image_size, num_points=0, crop="hand")
            rows = evaluate_pose_net(pose_net, data, cfg)
            summary = summarize_pose(rows)
            target = out if len(args.checkpoint) == 1 else out / Path(path).stem
            meta = {"checkpoint": str(path), "step": checkpoint.step, "epoch": checkpoint.epoch,
                    "data": args.data, "split": args.split, "refine_steps": cfg.refine_steps,
                    "pose_looks": cfg.looks.count}
            write_pose_report(target, rows, summary, meta)
            print(f"{path} (step {checkpoint.step}, {args.split}, n={len(rows) // len(protocols)})")
            print(pose_table(summary))
            for protocol, metrics in summary.items():
                curve.append({"checkpoint": str(path), "step": checkpoint.step, "epoch": checkpoint.epoch,
                              "split": args.split, "protocol": protocol,
                              **{name: round(m["mean"], 4) for name, m in metrics.items()}})
    except (CheckpointError, OSError, ValueError) as error:
        print(f"gsdf-eval-pose: {error}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    with (out / "curve.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(curve[0]))
        writer.writeheader()
        writer.writerows(curve)
    return 0


if __name__ == "__main__":
    sys.exit(main())
