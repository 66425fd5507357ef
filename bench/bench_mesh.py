"""Dense vs coarse-to-fine mesh extraction on an analytic SDF and on a small random MLP SDF.

Prints one JSON object, then a short table. Usage: python bench/bench_mesh.py [--resolution 128]
"""

from __future__ import annotations

import argparse
import json

import torch

from gsdf_ros.mesh import SdfFn, extract_coarse_to_fine, extract_dense
from gsdf_ros.metrics import chamfer_distance, sample_surface


def torus(p: torch.Tensor) -> torch.Tensor:
    ring = torch.sqrt(p[:, 0] ** 2 + p[:, 1] ** 2) - 0.45
    return torch.sqrt(ring**2 + p[:, 2] ** 2) - 0.15


def mlp_sdf(width: int = 128, seed: int = 0) -> SdfFn:
    """A sphere perturbed by a random MLP: smooth, roughly 1-Lipschitz, as costly as a small decoder."""
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(3, width), torch.nn.ReLU(), torch.nn.Linear(width, width), torch.nn.ReLU(),
        torch.nn.Linear(width, 1), torch.nn.Tanh(),
    ).eval()
    return lambda p: p.norm(dim=1) - 0.5 + 0.05 * net(p)[:, 0]


def compare(name: str, sdf_fn: SdfFn, resolution: int, points: int) -> dict:
    dense = extract_dense(sdf_fn, resolution)
    fine = extract_coarse_to_fine(sdf_fn, resolution)
    a, b = sample_surface(dense.mesh, points, seed=0), sample_surface(fine.mesh, points, seed=0)
    noise = chamfer_distance(a, sample_surface(dense.mesh, points, seed=1))
    return {
        "sdf": name,
        "resolution": resolution,
        "dense_queries": dense.queries,
        "c2f_queries": fine.queries,
        "query_ratio": dense.queries / fine.queries,
        "dense_s": dense.seconds,
        "c2f_s": fine.seconds,
        "speedup": dense.seconds / fine.seconds,
        "cd_c2f_vs_dense": chamfer_distance(a, b),
        "cd_relative_to_dense_sampling_noise": chamfer_distance(a, b) / noise,
        "same_faces": len(dense.mesh.faces) == len(fine.mesh.faces),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--points", type=int, default=30000)
    args = parser.parse_args()
    rows = [compare(name, fn, args.resolution, args.points) for name, fn in (("torus", torus), ("mlp", mlp_sdf()))]
    print(json.dumps(rows, indent=1))
    print("| sdf | dense queries | c2f queries | ratio | dense s | c2f s | speed-up | CD / dense noise |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['sdf']} | {r['dense_queries']} | {r['c2f_queries']} | {r['query_ratio']:.1f}x | "
            f"{r['dense_s']:.2f} | "
            f"{r['c2f_s']:.2f} | {r['speedup']:.1f}x | {r['cd_relative_to_dense_sampling_noise']:.3f} |"
        )


if __name__ == "__main__":
    main()
