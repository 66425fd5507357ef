"""``gsdf-demo``: the package's main job on its embedded default.

It makes held-out SynthHO approach-and-grasp clips (a seed the default checkpoint never trained
on), starts the whole ROS 2 graph with ``gsdf-bringup`` on a ROS domain of its own (demo camera →
preprocessing → inference with the shipped checkpoint → outputs), plays a bounded number of
frames, compares the live outputs with the ground truth and writes a report (metrics, latency,
rate, pictures); the graph runs in its default crop mode (hand detector and tracker), as a
user's does. Then it starts the graph again on whole 640x480 frames: a hand crossing the frame,
then frames of noise and scenes without a hand (:mod:`gsdf_ros.demo_finding`), and reports
whether the hand was found and followed and whether "no hand" was said — then ends with one
summary line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gsdf_ros.ros_domain import claim_domain_id, isolated_ros_environment

HELD_OUT_SEED = 20261125
"""Seed of the demo's clips; the default checkpoint's training data used another seed (see its record)."""


def package_path(relative: str) -> Path:
    """A file shipped with the package: installed share directory first, else this source tree."""
    from gsdf_ros.nodes.graph import package_file

    return package_file(relative)


def make_clips(root: Path, clips: int, clip_len: int) -> None:
    """Held-out SynthHO clips in ``root`` (test split), unless they are there already."""
    from gsdf_ros.synth.generate import SynthConfig, write_dataset

    if (root / "test.json").is_file():
        return
    config = SynthConfig(clip_len=clip_len, val_frac=0.0, test_frac=1.0)
    write_dataset(root, clips, HELD_OUT_SEED, config, workers=min(2, os.cpu_count() or 1))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gsdf-demo", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="",
                        help="model checkpoint (default: the package's shipped tiny SynthHO model)")
    parser.add_argument("--frames", type=int, default=24, help="frames to play")
    parser.add_argument("--rate", type=float, default=2.0, help="camera rate, frames per second")
    parser.add_argument("--clips", type=int, default=3, help="held-out clips to generate")
    parser.add_argument("--clip-len", type=int, default=8, help="frames per clip")
    parser.add_argument("--data", type=Path, default=None,
                        help="gSDF-layout folder to play (default: generated held-out clips)")
    parser.add_argument("--split", default="test", help="split of --data to play")
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="report folder")
    parser.add_argument("--device", default="cpu", help="torch device of the model")
    parser.add_argument("--finding-frames", type=int, default=48,
                        help="frames of the whole-frame crossing clip (0: skip the hand-finding part)")
    parser.add_argument("--hand-free-frames", type=int, default=12,
                        help="frames without a hand after the crossing clip (half noise, half rendered scenes)")
    args = parser.parse_args(argv)
    if args.frames < 1 or args.rate <= 0:
        parser.error("--frames must be >= 1 and --rate > 0")
    if args.finding_frames == 1 or args.finding_frames < 0 or args.hand_free_frames < 0:
        parser.error("--finding-frames must be 0 or >= 2 and --hand-free-frames >= 0")
    return args


def run_finding(args: argparse.Namespace, checkpoint: Path) -> dict:
    """The hand-finding part: whole frames through the graph in its default crop mode; its report."""
    from gsdf_ros.demo_finding import FindingSource, write_finding_report, write_finding_source
    from gsdf_ros.nodes.demo_session import SessionConfig, run_session

    folder = args.out / "finding"
    noise = args.hand_free_frames // 2
    truth = write_finding_source(folder, FindingSource(HELD_OUT_SEED, args.finding_frames, noise,
                                                       args.hand_free_frames - noise))
    count = len(truth["frames"])
    print(f"gsdf-demo: finding the hand in {count} whole {truth['size'][0]}x{truth['size'][1]} frames "
          "(default crop mode: hand detector and tracker)", flush=True)
    session = SessionConfig(f"images:{folder / 'frames'}", str(checkpoint.resolve()), count, args.rate,
                            folder, args.device, hfov_deg=truth["hfov_deg"])
    return write_finding_report(run_session(session).results, folder, args.out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from gsdf_ros.nodes.graph import DEFAULT_CHECKPOINT

    checkpoint = Path(args.checkpoint) if args.checkpoint else package_path(DEFAULT_CHECKPOINT)
    if not checkpoint.is_file():
        print(f"gsdf-demo: checkpoint {checkpoint} does not exist", file=sys.stderr)
        return 2
    data = args.data or args.out / "clips"
    if args.data is None:
        print(f"gsdf-demo: held-out SynthHO clips in {data} (seed {HELD_OUT_SEED})", flush=True)
        make_clips(data, args.clips, args.clip_len)
    claim = claim_domain_id()
    os.environ.update(isolated_ros_environment(claim))
    try:
        from gsdf_ros.demo_report import summary_line, write_report
        from gsdf_ros.nodes.demo_session import SessionConfig, run_session

        print(f"gsdf-demo: starting the graph on ROS_DOMAIN_ID={claim.domain_id} with {checkpoint}", flush=True)
        session = SessionConfig(f"synthho:{data}:{args.split}", str(checkpoint.resolve()), args.frames, args.rate,
                                args.out, args.device)
        run = run_session(session)
        if not run.results:
            print(f"gsdf-demo: no reconstruction arrived ({run.frames_sent} frames sent); see {args.out}/graph.log",
                  file=sys.stderr)
            return 1
        finding = run_finding(args, checkpoint) if args.finding_frames else None
        report = write_report(run, data, args.split, args.out, finding=finding)
    finally:
        claim.release()
    print(f"gsdf-demo: report {args.out / 'report.md'}")
    print(summary_line(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
