"""``gsdf-train``: train a gSDF stage from a YAML config (``configs/*.yaml``) with key=value overrides."""

from __future__ import annotations

import argparse
import logging
import sys

from gsdf_ros.checkpoint import CheckpointError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gsdf-train",
        description="Train the gSDF pose net (stage: pose) or shape net (stage: sdf) from a YAML config.",
        epilog="example: gsdf-train --config configs/tiny_sdf.yaml epochs=5 model_overrides.decoder.dropout=0",
    )
    parser.add_argument("--config", required=True, help="training config YAML (see configs/)")
    parser.add_argument("--data", help="dataset root in the gSDF layout (overrides data_root)")
    parser.add_argument("--out", help="output directory for logs and checkpoints (overrides out_dir)")
    parser.add_argument("--resume", help="checkpoint to continue from (e.g. OUT/last.pt)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides; dotted keys nest")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from gsdf_ros.train import load_train_config, train

    overrides = list(args.overrides)
    if args.data:
        overrides.append(f"data_root={args.data}")
    if args.out:
        overrides.append(f"out_dir={args.out}")
    try:
        cfg = load_train_config(args.config, overrides)
        result = train(cfg, resume=args.resume)
    except (CheckpointError, OSError, ValueError) as error:
        print(f"gsdf-train: {error}", file=sys.stderr)
        return 2
    print(f"gsdf-train: done, last checkpoint {result.last_checkpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
