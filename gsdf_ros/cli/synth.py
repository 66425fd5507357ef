"""``gsdf-synth``: generate a SynthHO dataset (hand grasping an object, exact ground truth) in the
gSDF layout, optionally as approach-and-grasp clips, and optionally a contact sheet of it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from tqdm import tqdm

from gsdf_ros.synth.generate import SynthConfig, SynthFrame, write_contact_sheet, write_dataset

SHEET_SIZE = 16


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gsdf-synth", description=__doc__)
    p.add_argument("--out", type=Path, required=True, help="dataset root (created)")
    p.add_argument("--num", type=int, required=True, help="number of samples, or of clips with --clip-len > 1")
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same bytes")
    p.add_argument("--clip-len", type=int, default=1, help="frames per clip (1: single samples)")
    p.add_argument("--workers", type=int, default=1, help="processes (1: in-process); does not change the output")
    p.add_argument("--size", type=int, default=256, help="image width and height (px)")
    p.add_argument("--blur", action="store_true", help="motion blur from sub-frame renders")
    p.add_argument("--occluders", action="store_true", help="sometimes put a blob between camera and hand")
    p.add_argument("--val-frac", type=float, default=0.1, help="fraction of clips in the val split")
    p.add_argument("--test-frac", type=float, default=0.1, help="fraction of clips in the test split")
    p.add_argument("--sdf-points", type=int, default=2000, help="surface points per SDF file (each gives 2 samples)")
    p.add_argument("--image-format", choices=("png", "jpg"), default="png")
    p.add_argument("--pose-only", action="store_true",
                   help="images, annotations and label images only (no SDF files or meshes): pose-net data, fast")
    p.add_argument("--scenes", action="store_true",
                   help="whole-frame scenes for the hand detector (a hand or none anywhere in frames of common camera "
                        "sizes, distractors), rendered at --size on the longer side (--size 0: at each frame's own "
                        "camera size): images/ and scenes_<split>.json")
    p.add_argument("--resume", action="store_true",
                   help="pose-only: keep the samples an interrupted run left complete on disk, render the rest")
    p.add_argument("--views", type=int, default=1,
                   help="samples per planned grasp (single samples only), each with its own camera, instant and look;"
                        " --num then counts grasps")
    p.add_argument("--distractors", type=int, nargs=2, metavar=("MIN", "MAX"), default=None,
                   help="distractors (skin blobs, bare arms, lone objects) behind the hand, MIN..MAX per clip, view or "
                        "scene (default: 0 0 for samples and clips, 0 3 for --scenes)")
    p.add_argument("--contact-sheet", type=Path, default=None,
                   help=f"also write a PNG of the first {SHEET_SIZE} samples")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.num < 1 or args.workers < 1:
        print("gsdf-synth: --num and --workers must be >= 1", file=sys.stderr)
        return 2
    if args.scenes:
        return _scenes(args)
    try:
        config = SynthConfig(size=args.size, clip_len=args.clip_len, blur=args.blur, occluders=args.occluders,
                             val_frac=args.val_frac, test_frac=args.test_frac, sdf_surface=args.sdf_points,
                             sdf_uniform=args.sdf_points // 4, image_format=args.image_format,
                             pose_only=args.pose_only, views=args.views, **_distractors(args))
    except ValueError as exc:
        print(f"gsdf-synth: {exc}", file=sys.stderr)
        return 2
    kept: list[SynthFrame] = []
    with tqdm(total=args.num, unit="clip" if args.clip_len > 1 else "sample", disable=args.quiet) as bar:

        def on_clip(frames: list[SynthFrame]) -> None:
            kept.extend(frames[: SHEET_SIZE - len(kept)])
            bar.update(1)

        counts = write_dataset(args.out, args.num, args.seed, config, args.workers, on_clip, resume=args.resume)
    summary: dict[str, object] = {"out": str(args.out), "samples": counts}
    if args.contact_sheet is not None:
        summary["contact_sheet"] = str(write_contact_sheet(args.contact_sheet, kept))
    print(json.dumps(summary, sort_keys=True))
    return 0


def _distractors(args: argparse.Namespace) -> dict[str, tuple[int, int]]:
    """The --distractors range as a config keyword, or nothing (the config's default)."""
    return {} if args.distractors is None else {"distractors": tuple(args.distractors)}


def _scenes(args: argparse.Namespace) -> int:
    from gsdf_ros.synth.scenes import SceneConfig, write_scenes

    try:
        config = SceneConfig(long_side=args.size, val_frac=args.val_frac, test_frac=args.test_frac,
                             **_distractors(args))
    except ValueError as exc:
        print(f"gsdf-synth: {exc}", file=sys.stderr)
        return 2
    with tqdm(total=args.num, unit="scene", disable=args.quiet) as bar:
        counts = write_scenes(args.out, args.num, args.seed, config, args.workers, lambda _scene: bar.update(1))
    print(json.dumps({"out": str(args.out), "scenes": counts}, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
