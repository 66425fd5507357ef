"""Time the inference node's pose path per camera frame for each count of pose looks: the hand finder
cutting the hand crop and its looks out of a whole frame (``gsdf_ros.hand_finder``), then the model's
pose reading averaged over them (``GSDFPredictor.predict_pose``). The hand's box is given, as a
detection would give it, so the detector's own time (``bench_detector.py``) is not in these figures.

    python bench/bench_pose_looks.py --threads 2
    python bench/bench_pose_looks.py --quick    # seconds: one and three looks
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import yaml
from benchlib import distribution, emit, environment, set_threads

from gsdf_ros.detect.tracker import TrackerConfig
from gsdf_ros.detect.verify import Found
from gsdf_ros.geometry.pose_looks import DEFAULT_LOOKS, MAX_LOOKS
from gsdf_ros.hand_finder import HandFinder, finder_looks
from gsdf_ros.predictor import load_predictor
from gsdf_ros.result import CropSample

ROOT = Path(__file__).resolve().parents[1]


def whole_frame(width: int, height: int, seed: int = 0) -> CropSample:
    """A noise frame of a camera with a 60 degree horizontal field of view."""
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    focal = width / (2.0 * np.tan(np.radians(30.0)))
    k = np.array([[focal, 0.0, (width - 1) / 2.0], [0.0, focal, (height - 1) / 2.0], [0.0, 0.0, 1.0]])
    return CropSample(0, "camera", image, k, np.eye(3), (-0.5, -0.5, float(max(width, height))), whole_frame=True)


def node_crop_size() -> int:
    """The inference node's ``crop_size`` in the package's parameter file."""
    return int(yaml.safe_load((ROOT / "config" / "gsdf.yaml").read_text())["/**"]["ros__parameters"]["crop_size"])


def pose_path_ms(predictor, frame: CropSample, box: tuple[float, float, float, float], looks: int,
                 crop_size: int, repeats: int, warmup: int) -> list[float]:
    """Per frame: the finder's crops and the pose reading, in ms (the node's finder for ``pose_looks``)."""
    finder = HandFinder(lambda image, intrinsics: Found(1.0, box), crop_size,
                        TrackerConfig(score_threshold=0.5, redetect_every=1),
                        shape_scale=getattr(predictor, "shape_scale", None), looks=finder_looks(predictor, looks))
    times = []
    for index in range(warmup + repeats):
        start = time.perf_counter()
        predictor.predict_pose([finder.find(frame).sample])
        if index >= warmup:
            times.append((time.perf_counter() - start) * 1000.0)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(ROOT / "models" / "gsdf_tiny_synthho.pt"))
    parser.add_argument("--looks", type=int, nargs="+", default=sorted({1, 3, DEFAULT_LOOKS, MAX_LOOKS}),
                        help=f"pose_looks counts to time (1 to {MAX_LOOKS}; the node's default is {DEFAULT_LOOKS})")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--hand-px", type=float, default=160.0, help="side of the hand's box in the frame, pixels")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--quick", action="store_true", help="seconds: one and three looks, two repeats")
    args = parser.parse_args(argv)
    if args.quick:
        args.looks, args.repeats, args.warmup = [1, 3], 2, 1
    if any(not 1 <= n <= MAX_LOOKS for n in args.looks):
        parser.error(f"--looks must lie in [1, {MAX_LOOKS}]")
    set_threads(args.threads)
    predictor = load_predictor(args.checkpoint, "cpu", 1, {"mesh": "none"})
    frame = whole_frame(args.width, args.height)
    x0, y0 = (args.width - args.hand_px) / 2.0, (args.height - args.hand_px) / 2.0
    box = (x0, y0, x0 + args.hand_px, y0 + args.hand_px)
    crop_size = node_crop_size()
    results = {n: distribution(pose_path_ms(predictor, frame, box, n, crop_size, args.repeats, args.warmup))
               for n in args.looks}
    report = {"bench": "pose_looks", "environment": environment(), "checkpoint": args.checkpoint,
              "frame": f"{args.width}x{args.height}",
              "hand_px": args.hand_px, "crop_size": crop_size, "pose_path_ms": results}
    emit(report, ["pose_looks", "median ms", "p90 ms"],
         [[n, r["median"], r["p90"]] for n, r in results.items()])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
