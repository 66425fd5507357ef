"""``gsdf-prepare``: ObMan and DexYCB to the gSDF layout, and SDF sample files from meshes.

    gsdf-prepare obman  --meta-dir OBMAN/train/meta --out DIR [--split train] [--shapenet-root S] [--mano-pkl M]
    gsdf-prepare obman-gsdf --gsdf-root datasets/obman --split train --out DIR
    gsdf-prepare dexycb --root DEX_YCB_DIR --split s0 --out DIR [--frame-step 5] [--sides right]
    gsdf-prepare sdf    --layout DIR --split train [--workers W] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Optional

from tqdm import tqdm

from gsdf_ros.data.dexycb import SPLITS, DexYcbConverter, convert_dexycb
from gsdf_ros.data.layout import LayoutError
from gsdf_ros.data.obman import ObmanSource, convert_obman, link_gsdf_obman
from gsdf_ros.data.sdf_from_mesh import SampleOutcome, SamplerConfig, prepare_split_sdf, replace_counts
from gsdf_ros.hand.mano import load_mano_pickle


def _bar(description: str) -> tuple[tqdm, Callable[[int, int], None]]:
    """A tqdm bar and a (done, total) callback that drives it."""
    bar = tqdm(desc=description, unit="item")

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, update


def _mano(path: Optional[Path]) -> Optional[dict]:
    return None if path is None else load_mano_pickle(path)


def run_obman(args: argparse.Namespace) -> int:
    split = args.split or args.meta_dir.resolve().parent.name
    source = ObmanSource(args.meta_dir, args.shapenet_root, _mano(args.mano_pkl), not args.no_meshes)
    bar, update = _bar(f"obman {split}")
    with bar:
        count = convert_obman(source, args.out / split, split, limit=args.limit, progress=update)
    print(f"wrote {count} samples of split {split!r} to {args.out / split}")
    return 0


def run_obman_gsdf(args: argparse.Namespace) -> int:
    count = link_gsdf_obman(args.gsdf_root, args.out / args.split, args.split)
    print(f"linked {count} annotations of split {args.split!r} into {args.out / args.split}")
    return 0


def run_dexycb(args: argparse.Namespace) -> int:
    if args.split != "s0":
        raise ValueError(f"only the s0 split is implemented, got {args.split!r}")
    if "left" in args.sides and args.mano_pkl is not None and args.mano_pkl_left is None:
        raise ValueError("hand_poses of left hands need --mano-pkl-left MANO_LEFT.pkl "
                         "(the right hand's PCA basis does not apply)")
    pkls = (("right", args.mano_pkl), ("left", args.mano_pkl_left))
    models = {side: _mano(path) for side, path in pkls if path is not None}
    converter = DexYcbConverter(args.root, args.frame_step, tuple(args.sides), models, args.meshes)
    for part in SPLITS:
        bar, update = _bar(f"dexycb {part}_s0 sequences")
        with bar:
            count = convert_dexycb(converter, args.out, part, progress=update)
        print(f"wrote {count} frames of split {part}_s0 to {args.out}")
    return 0


def run_sdf(args: argparse.Namespace) -> int:
    config = replace_counts(SamplerConfig(), n_surface=args.n_surface, n_uniform=args.n_uniform,
                            max_uncertain=args.max_uncertain)
    bar = tqdm(desc=f"sdf {args.split}", unit="sample")
    failures: list[str] = []

    def update(outcome: SampleOutcome) -> None:
        bar.update(1)
        if outcome.error:
            failures.append(outcome.error)

    with bar:
        outcomes = prepare_split_sdf(args.layout, args.split, config, seed=args.seed, workers=args.workers,
                                     overwrite=args.overwrite, progress=update)
    kept = sum(o.norm is not None for o in outcomes)
    print(f"{kept} of {len(outcomes)} samples have SDF files; listed in splits/{args.split}_sdf.json")
    for line in failures[:20]:
        print(f"no files: {line}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gsdf-prepare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("obman", help="raw ObMan meta pickles + images -> layout <out>/<split>")
    p.add_argument("--meta-dir", type=Path, required=True, help="OBMAN/<split>/meta (images in ../rgb)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--split", help="layout split name (default: the meta folder's parent name)")
    p.add_argument("--shapenet-root", type=Path, help="ShapeNetCore.v2 root the meta obj_path is remapped to")
    p.add_argument("--mano-pkl", type=Path, help="MANO_RIGHT.pkl: hand meshes and hand_poses")
    p.add_argument("--no-meshes", action="store_true", help="do not write mesh_hand / mesh_obj")
    p.add_argument("--limit", type=int, help="convert only the first N samples")
    p.set_defaults(run=run_obman)

    p = sub.add_parser("obman-gsdf", help="released gSDF ObMan tree -> layout <out>/<split> (symlinks)")
    p.add_argument("--gsdf-root", type=Path, required=True, help="datasets/obman of the gSDF tree")
    p.add_argument("--split", choices=("train", "test"), required=True)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(run=run_obman_gsdf)

    p = sub.add_parser("dexycb", help="DexYCB toolkit tree -> layout splits train_s0 / test_s0")
    p.add_argument("--root", type=Path, required=True, help="the DexYCB root ($DEX_YCB_DIR)")
    p.add_argument("--split", default="s0")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--frame-step", type=int, default=5, help="keep every N-th frame (default 5)")
    p.add_argument("--sides", nargs="+", default=["right"], choices=("right", "left"))
    p.add_argument("--mano-pkl", type=Path, help="MANO_RIGHT.pkl: hand_poses of right hands from the PCA pose")
    p.add_argument("--mano-pkl-left", type=Path, help="MANO_LEFT.pkl: hand_poses of left hands (with --sides left)")
    p.add_argument("--meshes", action="store_true", help="write posed YCB object meshes")
    p.set_defaults(run=run_dexycb)

    p = sub.add_parser("sdf", help="sdf_hand / sdf_obj / norm files from a layout split's meshes")
    p.add_argument("--layout", type=Path, required=True)
    p.add_argument("--split", required=True)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-surface", type=int, help="surface points per mesh (default 9400)")
    p.add_argument("--n-uniform", type=int, help="uniform points per mesh (default 1200)")
    p.add_argument("--max-uncertain", type=float, help="reject a mesh above this uncertain-sign fraction (0.05)")
    p.add_argument("--overwrite", action="store_true", help="recompute samples that already have files")
    p.set_defaults(run=run_sdf)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (FileNotFoundError, LayoutError, ValueError, FileExistsError) as exc:
        print(f"gsdf-prepare: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
