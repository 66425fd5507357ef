"""``gsdf-train-detector``, ``gsdf-train-hand-check`` and ``gsdf-eval-detector``: the hand detector and its
hand check on SynthHO scenes."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gsdf_ros.detect.verify import (
    CHECK_WEIGHT,
    CHECKED_THRESHOLD,
    DEFAULT_PROPOSALS,
    DETECTOR_WEIGHT,
    RAW_THRESHOLD,
    VERIFIED_THRESHOLD,
)
from gsdf_ros.train import parse_overrides


def run_training(prog: str, description: str, example: str, argv: list[str] | None, config_class: str,
                 train: str) -> int:
    """The shared body of the training commands: a YAML config, key=value overrides and ``--resume``;
    ``config_class`` and ``train`` name the config class and the train function (``module:name``)."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--config", required=True, help=f"YAML training config ({example})")
    p.add_argument("--resume", help="checkpoint to continue from (OUT/last.pt)")
    p.add_argument("overrides", nargs="*", help="key=value overrides")
    args = p.parse_args(argv)
    import importlib
    import logging

    def named(spec: str):
        module, name = spec.split(":")
        return getattr(importlib.import_module(module), name)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = named(config_class).from_yaml(args.config, parse_overrides(args.overrides))
        last = named(train)(cfg, resume=args.resume)
    except (OSError, ValueError) as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2
    print(f"{prog}: done, last checkpoint {last}")
    return 0


def train_main(argv: list[str] | None = None) -> int:
    return run_training("gsdf-train-detector", "Train the hand detector from a config.", "configs/detector.yaml", argv,
                        "gsdf_ros.detect.train:DetectorTrainConfig", "gsdf_ros.detect.train:train_detector")


def train_check_main(argv: list[str] | None = None) -> int:
    return run_training("gsdf-train-hand-check", "Train the hand check on the detector's candidates from a config.",
                        "configs/hand_check.yaml", argv, "gsdf_ros.detect.check_train:CheckTrainConfig",
                        "gsdf_ros.detect.check_train:train_check")


def eval_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gsdf-eval-detector",
                                description="Recall at IoU 0.5 on frames with a hand, false 'hand' rate on frames "
                                            "without, and time per frame.")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True, help="scenes root (gsdf-synth --scenes)")
    p.add_argument("--split", default="test")
    p.add_argument("--verify-with", metavar="MODEL",
                   help="a gSDF model checkpoint whose pose net verifies the detector's candidates, as the inference "
                        "node does (gsdf_ros.detect.verify); without it the detector's best candidate is the answer")
    p.add_argument("--proposals", type=int, default=DEFAULT_PROPOSALS,
                   help="candidates the pose net verifies (with --verify-with)")
    p.add_argument("--detector-weight", type=float, default=DETECTOR_WEIGHT,
                   help="exponent of the detector's score in the verified hand score (with --verify-with)")
    p.add_argument("--check-with", metavar="CHECK",
                   help="a hand-check checkpoint (models/hand_check.pt) that judges the verified candidates too, "
                        "as the inference node does by default (with --verify-with)")
    p.add_argument("--check-weight", type=float, default=CHECK_WEIGHT,
                   help="exponent of the hand check's probability in the hand score (with --check-with)")
    p.add_argument("--threshold", type=float, default=None,
                   help=f"hand score threshold (default: {RAW_THRESHOLD} for the detector alone, "
                        f"{VERIFIED_THRESHOLD} verified, {CHECKED_THRESHOLD} verified and checked)")
    p.add_argument("--limit", type=int)
    p.add_argument("--out", help="write report.json here")
    args = p.parse_args(argv)
    import torch

    from gsdf_ros.detect.data import SceneDataset
    from gsdf_ros.detect.train import load_detector, model_detect_fn, score_detector

    try:
        if args.proposals < 1:
            raise ValueError(f"--proposals must be >= 1, got {args.proposals}")
        if args.check_with and not args.verify_with:
            raise ValueError("--check-with needs --verify-with (the check judges the pose net's boxes)")
        model, _ = load_detector(args.checkpoint, inference=True)  # as the inference node runs it
        detect_fn = model_detect_fn(model)
        threshold = RAW_THRESHOLD if args.threshold is None else args.threshold
        if args.verify_with:
            from gsdf_ros.gsdf_predictor import GSDFPredictor

            look = GSDFPredictor.from_checkpoint(args.verify_with, mesh="none").pose_look
            check, threshold = None, VERIFIED_THRESHOLD
            if args.check_with:
                from gsdf_ros.detect.check import check_fn
                from gsdf_ros.detect.check_train import load_check

                check, threshold = check_fn(load_check(args.check_with, inference=True)[0]), CHECKED_THRESHOLD
            detect_fn = model_detect_fn(model, look, args.proposals, args.detector_weight, check, args.check_weight)
            threshold = threshold if args.threshold is None else args.threshold
        report = score_detector(detect_fn, SceneDataset(args.data, args.split, model.cfg), threshold, args.limit)
    except (OSError, ValueError) as error:
        print(f"gsdf-eval-detector: {error}", file=sys.stderr)
        return 2
    rows = report.pop("rows")
    report["checkpoint"] = args.checkpoint
    report["torch_threads"] = torch.get_num_threads()
    report["verified_with"] = args.verify_with
    report["proposals"] = args.proposals if args.verify_with else 1
    report["detector_weight"] = args.detector_weight if args.verify_with else None
    report["checked_with"] = args.check_with
    report["check_weight"] = args.check_weight if args.check_with else None
    print(json.dumps(report, indent=2))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps({**report, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(train_main())
