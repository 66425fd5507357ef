"""``gsdf-train-detector`` and ``gsdf-eval-detector``: the hand detector on SynthHO scenes."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gsdf_ros.train import parse_overrides


def train_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gsdf-train-detector", description="Train the hand detector from a config.")
    p.add_argument("--config", required=True, help="YAML training config (configs/detector.yaml)")
    p.add_argument("--resume", help="checkpoint to continue from (OUT/last.pt)")
    p.add_argument("overrides", nargs="*", help="key=value overrides")
    args = p.parse_args(argv)
    import logging

    from gsdf_ros.detect.train import DetectorTrainConfig, train_detector

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = DetectorTrainConfig.from_yaml(args.config, parse_overrides(args.overrides))
        last = train_detector(cfg, resume=args.resume)
    except (OSError, ValueError) as error:
        print(f"gsdf-train-detector: {error}", file=sys.stderr)
        return 2
    print(f"gsdf-train-detector: done, last checkpoint {last}")
    return 0


def eval_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gsdf-eval-detector",
                                description="Recall at IoU 0.5 on frames with a hand, false 'hand' rate on frames "
                                            "without, and time per frame.")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True, help="scenes root (gsdf-synth --scenes)")
    p.add_argument("--split", default="test")
    p.add_argument("--threshold", type=float, default=0.5, help="hand score threshold")
    p.add_argument("--limit", type=int)
    p.add_argument("--out", help="write report.json here")
    args = p.parse_args(argv)
    import torch

    from gsdf_ros.detect.data import SceneDataset
    from gsdf_ros.detect.train import load_detector, score_detector

    try:
        model, _ = load_detector(args.checkpoint)
        report = score_detector(model, SceneDataset(args.data, args.split, model.cfg), args.threshold, args.limit)
    except (OSError, ValueError) as error:
        print(f"gsdf-eval-detector: {error}", file=sys.stderr)
        return 2
    rows = report.pop("rows")
    report["torch_threads"] = torch.get_num_threads()
    print(json.dumps(report, indent=2))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps({**report, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(train_main())
