"""SynthHO generation throughput: samples per second (256² images with SDF files and meshes) on the
available cores, bytes on disk per sample, and where one sample's time goes.

Prints one JSON object, then a short table. Usage: python bench/bench_synth.py [--num 16] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from gsdf_ros.hand.skeleton import sample_template
from gsdf_ros.synth.clips import frame_times, place_clip, plan_clip, state_grasp
from gsdf_ros.synth.generate import SynthConfig, hand_mesh, sample_appearance, sample_intrinsics, write_dataset
from gsdf_ros.synth.grasp import plan_hand_grasp
from gsdf_ros.synth.objects import sample_object
from gsdf_ros.synth.render import hand_item, object_item, render
from gsdf_ros.synth.sdf_samples import make_sdf_samples


def _timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def stage_times(config: SynthConfig, seeds: range) -> dict[str, float]:
    """Mean seconds per stage of one single-frame sample, in this process."""
    totals: dict[str, float] = {"grasp": 0.0, "render": 0.0, "hand_mesh": 0.0, "object_mesh": 0.0, "sdf": 0.0}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        camera = sample_intrinsics(rng, config.size, config.focal, config.principal_jitter)

        def plan():
            g = plan_hand_grasp(rng, sample_template(rng), sample_object(rng, position=np.zeros(3)), config.grasp)
            p = plan_clip(rng, g, config.clip)
            return state_grasp(p, p.state(1.0).placed(place_clip(rng, p, frame_times(1), camera, config.grasp)))

        grasp, totals["grasp"] = _accumulate(totals["grasp"], plan)
        look = sample_appearance(rng, camera)
        hand = grasp.hand_shape()
        items = [hand_item(hand, look.skin), object_item(grasp.object)]
        _, totals["render"] = _accumulate(totals["render"], render, items, camera, look.lighting, look.background)
        hm, totals["hand_mesh"] = _accumulate(totals["hand_mesh"], hand_mesh, hand, config.hand_voxel)
        om, totals["object_mesh"] = _accumulate(totals["object_mesh"], grasp.object.mesh, config.object_voxel)
        _, totals["sdf"] = _accumulate(totals["sdf"], make_sdf_samples, rng, hm, hand.sdf, om, grasp.object.sdf,
                                       config.sdf_surface, config.sdf_uniform)
    return {k: v / len(seeds) for k, v in totals.items()}


def _accumulate(total: float, fn, *args):
    out, seconds = _timed(fn, *args)
    return out, total + seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=16, help="samples to generate")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--profile", type=int, default=4, help="samples to time stage by stage")
    args = parser.parse_args()
    config = SynthConfig(size=args.size)
    with tempfile.TemporaryDirectory() as tmp:
        _, seconds = _timed(write_dataset, tmp, args.num, 0, config, args.workers)
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
        per_dir = {p.name: sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) // args.num
                   for p in sorted(Path(tmp).iterdir()) if p.is_dir()}
    result = {
        "samples": args.num, "workers": args.workers, "size": args.size, "seconds": round(seconds, 2),
        "samples_per_s": round(args.num / seconds, 3), "bytes_per_sample": size // args.num,
        "bytes_per_sample_by_folder": per_dir,
        "stage_seconds": {k: round(v, 3) for k, v in stage_times(config, range(args.profile)).items()},
    }
    print(json.dumps(result, indent=1))
    print(f"\n{'samples/s':>10} {'workers':>8} {'MB/sample':>10}")
    print(f"{result['samples_per_s']:>10.2f} {args.workers:>8d} {result['bytes_per_sample'] / 1e6:>10.2f}")
    for stage, s in result["stage_seconds"].items():
        print(f"  {stage:<12} {s:6.3f} s")


if __name__ == "__main__":
    main()
