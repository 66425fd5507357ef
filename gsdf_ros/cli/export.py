"""``gsdf-export``: strip a training checkpoint (gSDF model or hand detector) down to what inference needs
(config + weights + record)."""

from __future__ import annotations

import argparse
import sys

from gsdf_ros.checkpoint import CheckpointError, export_for_inference


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gsdf-export", description=__doc__)
    parser.add_argument("checkpoint",
                        help="training checkpoint (runs/tiny_sdf/last.pt, or a hand detector's runs/detector/last.pt)")
    parser.add_argument("out", help="file to write")
    args = parser.parse_args(argv)
    try:
        from gsdf_ros.detect.train import export_detector, is_detector_checkpoint

        if is_detector_checkpoint(args.checkpoint):
            path = export_detector(args.checkpoint, args.out)
        else:
            path = export_for_inference(args.checkpoint, args.out)
    except (CheckpointError, OSError, ValueError) as exc:
        print(f"gsdf-export: {exc}", file=sys.stderr)
        return 2
    print(f"gsdf-export: wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
