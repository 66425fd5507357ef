"""``gsdf-export``: strip a training checkpoint (gSDF model or hand detector) down to what inference needs
(config + weights + record); given several checkpoints of one gSDF model, write their weight average."""

from __future__ import annotations

import argparse
import sys

from gsdf_ros.checkpoint import (
    CheckpointError,
    average_checkpoints,
    export_for_inference,
    load_checkpoint,
    save_checkpoint,
    with_root_head,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gsdf-export", description=__doc__)
    parser.add_argument("checkpoint", nargs="+",
                        help="training checkpoint (runs/tiny_sdf/last.pt, or a hand detector's runs/detector/last.pt); "
                             "several (e.g. runs/tiny_pose_depth/epoch_*.pt): their weights' mean")
    parser.add_argument("out", help="file to write")
    parser.add_argument("--root-head", metavar="POSE_CHECKPOINT",
                        help="a gSDF model only: put in this pose-stage checkpoint's root-depth head, retrained with "
                             "the rest of the same pose net frozen (train_only: [root_head])")
    args = parser.parse_args(argv)
    try:
        from gsdf_ros.detect.export import export_detector, is_detector_checkpoint

        if args.root_head is not None:
            if len(args.checkpoint) > 1:
                raise ValueError("--root-head takes one gSDF checkpoint")
            model, head = load_checkpoint(args.checkpoint[0]), load_checkpoint(args.root_head)
            path = save_checkpoint(args.out, with_root_head(model, head, args.root_head))
        elif len(args.checkpoint) > 1:
            if any(is_detector_checkpoint(path) for path in args.checkpoint):
                raise ValueError("averaging takes gSDF checkpoints, not hand detectors")
            path = save_checkpoint(args.out, average_checkpoints(args.checkpoint))
        elif is_detector_checkpoint(args.checkpoint[0]):
            path = export_detector(args.checkpoint[0], args.out)
        else:
            path = export_for_inference(args.checkpoint[0], args.out)
    except (CheckpointError, OSError, ValueError) as exc:
        print(f"gsdf-export: {exc}", file=sys.stderr)
        return 2
    print(f"gsdf-export: wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
