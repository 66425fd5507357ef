"""Dense reference vs coarse-to-fine mesh extraction on a trained gSDF model's decoders.

Both paths mesh the hand and the object of ONE encoded input (the same ``SDFState``) through
:func:`gsdf_ros.reconstruction.extract_meshes`, the function the predictor uses. The model is a
``--checkpoint`` when given, else an ``sdf``-stage checkpoint found under ``runs/``, else the
``tiny`` model with its decoders trained here for ``--steps`` steps on an analytic toy hand
(capsules) and object (sphere), ending with the training loss's clamp, so that its SDF is shaped
like a trained one (fitted near the surface, looser beyond the clamp). The JSON says which.

Figures per extraction method: decoder queries (points sent through ``decode_sdf``, which runs
both decoders), seconds, and the Chamfer distance between the coarse-to-fine and the dense
meshes, as RMS distance relative to the dense mesh's bounding-box diagonal.

    python bench/bench_mesh_model.py                  # resolution 128, as the paper
    python bench/bench_mesh_model.py --quick          # seconds: resolution 32, coarse 8
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from benchlib import emit, environment, set_threads, toy_crop

from gsdf_ros.checkpoint import Checkpoint, CheckpointError, load_checkpoint_model, save_checkpoint
from gsdf_ros.gsdf_predictor import GSDFPredictor
from gsdf_ros.mesh import Extraction
from gsdf_ros.metrics import chamfer_distance, sample_surface
from gsdf_ros.model import GSDFNet, SDFState, build_model
from gsdf_ros.model.losses import masked_l1
from gsdf_ros.reconstruction import extract_meshes

TARGETS = {"query_ratio": 8.0, "speedup": 5.0, "cd_rel": 0.02}


# --- the toy shapes (normalised SDF space) ---------------------------------------------------

def capsule(p: torch.Tensor, a: tuple[float, ...], b: tuple[float, ...], radius: float) -> torch.Tensor:
    a_t, b_t = p.new_tensor(a), p.new_tensor(b)
    ab = b_t - a_t
    t = ((p - a_t) @ ab / ab.dot(ab)).clamp(0.0, 1.0)
    return (p - a_t - t[:, None] * ab).norm(dim=1) - radius


def toy_hand(p: torch.Tensor) -> torch.Tensor:
    """A palm and five fingers as capsules from the wrist at the origin."""
    parts = [capsule(p, (0.0, 0.0, 0.0), (0.0, -0.3, 0.0), 0.12)]
    for x, length in ((-0.12, 0.28), (-0.04, 0.33), (0.04, 0.31), (0.12, 0.25)):
        parts.append(capsule(p, (x, -0.3, 0.0), (x, -0.3 - length, 0.05), 0.045))
    parts.append(capsule(p, (-0.1, -0.08, 0.0), (-0.35, -0.25, 0.08), 0.05))
    return torch.stack(parts).amin(dim=0)


def toy_object(p: torch.Tensor) -> torch.Tensor:
    return (p - p.new_tensor((0.3, -0.45, 0.25))).norm(dim=1) - 0.22


def training_points(n: int, generator: torch.Generator) -> torch.Tensor:
    """Half uniform in [-1, 1]^3, half concentrated around the shapes."""
    uniform = torch.rand(n // 2, 3, generator=generator) * 2 - 1
    centres = torch.tensor([[0.0, -0.35, 0.0], [0.3, -0.45, 0.25]])
    near = centres[torch.randint(0, 2, (n - n // 2,), generator=generator)]
    return torch.cat([uniform, near + 0.25 * torch.randn(n - n // 2, 3, generator=generator)])


def train_decoders(model: GSDFNet, state: SDFState, steps: int, points: int = 2048, seed: int = 0) -> float:
    """Fit both decoders to the toy shapes for ``state`` (encoders untouched); the last loss.

    The first half of the steps uses a wide clamp (1.0): with the training clamp from the start,
    a few hundred steps push every output beyond the clamp, where no gradient flows. The second
    half uses the training loss's clamp, as gSDF training does.
    """
    generator = torch.Generator().manual_seed(seed)
    params = [*model.hand_decoder.parameters(), *model.object_decoder.parameters()]
    optimiser = torch.optim.Adam(params, lr=1e-3)
    loss = torch.tensor(float("nan"))
    model.eval()
    for step in range(steps):
        clamp = 1.0 if step < steps // 2 else model.cfg.loss.clamp
        q = training_points(points, generator).to(state.K.device)
        hand, obj = model.decode_sdf(state, q[None])
        ones = torch.ones_like(hand)
        loss = masked_l1(hand, toy_hand(q)[None], ones, clamp) + masked_l1(obj, toy_object(q)[None], ones, clamp)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return float(loss.detach())


# --- the model ---------------------------------------------------------------------------------

def find_run_checkpoint(runs: Path) -> Path | None:
    """The newest ``sdf``-stage checkpoint under ``runs`` that loads, if any."""
    for path in sorted(runs.glob("**/*.pt"), key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            load_checkpoint_model(path, "cpu", stage="sdf")
        except CheckpointError:
            continue
        return path
    return None


def model_and_state(args: argparse.Namespace) -> tuple[GSDFNet, SDFState, dict[str, Any]]:
    path = Path(args.checkpoint) if args.checkpoint else find_run_checkpoint(Path(args.runs))
    if path is not None:
        model, _ = load_checkpoint_model(path, "cpu", stage="sdf")
        predictor = GSDFPredictor(model, mesh="none")
        state = predictor.encode_window([toy_crop(model.cfg.image_size)])
        return model, state, {"model": f"checkpoint {path}", "trained_here": False}
    torch.manual_seed(args.seed)
    model = build_model("tiny")
    predictor = GSDFPredictor(model, mesh="none")
    state = predictor.encode_window([toy_crop(model.cfg.image_size)])
    with torch.enable_grad():
        loss = train_decoders(model, state, args.steps, seed=args.seed)
    info = {"model": f"tiny, random encoders, decoders trained here for {args.steps} steps on analytic toy shapes",
            "trained_here": True, "final_loss": loss}
    if args.save:
        checkpoint = Checkpoint(model_config=model.cfg.to_dict(), stage="sdf", model_state=model.state_dict())
        save_checkpoint(args.save, checkpoint)
        info["saved"] = args.save
    return model.eval(), state, info


# --- the comparison ----------------------------------------------------------------------------

def run_method(model: GSDFNet, state: SDFState, method: str, resolution: int, coarse: int) -> dict[str, Any]:
    hand, obj, decoder_s = extract_meshes(model, state, method, resolution, coarse)
    return {"method": method, "hand": hand, "object": obj, "queries": hand.queries + obj.queries,
            "seconds": hand.seconds + obj.seconds, "decoder_s": decoder_s}


def mesh_gap(dense: Extraction, other: Extraction, points: int) -> dict[str, float]:
    """Chamfer distance between two meshes of one shape (surface samples drawn alike: identical meshes give 0),
    absolute, as RMS distance over the dense mesh's bounding-box diagonal, and over the dense mesh's own
    sampling noise (two independent sample sets of it)."""
    if dense.mesh is None or other.mesh is None:
        return {"cd": float("nan"), "cd_rel": float("nan"), "faces_dense": 0, "faces_c2f": 0}
    a, b = sample_surface(dense.mesh, points, seed=0), sample_surface(other.mesh, points, seed=0)
    cd = chamfer_distance(a, b)
    noise = chamfer_distance(a, sample_surface(dense.mesh, points, seed=1))
    diagonal = float(np.linalg.norm(dense.mesh.extents))
    return {"cd": cd, "cd_rel": math.sqrt(cd) / diagonal, "cd_over_sampling_noise": cd / noise,
            "faces_dense": len(dense.mesh.faces), "faces_c2f": len(other.mesh.faces)}


def compare(model: GSDFNet, state: SDFState, resolution: int, coarse: int, points: int) -> dict[str, Any]:
    dense = run_method(model, state, "dense", resolution, coarse)
    c2f = run_method(model, state, "c2f", resolution, coarse)
    gaps = {shape: mesh_gap(dense[shape], c2f[shape], points) for shape in ("hand", "object")}
    return {
        "resolution": resolution,
        "coarse": coarse,
        "dense": _summary(dense),
        "c2f": _summary(c2f),
        "query_ratio": dense["queries"] / c2f["queries"],
        "speedup": dense["seconds"] / c2f["seconds"],
        "cd": gaps,
        "cd_rel_max": max(g["cd_rel"] for g in gaps.values()),
    }


def _summary(run: dict[str, Any]) -> dict[str, Any]:
    return {"queries": run["queries"], "seconds": run["seconds"], "decoder_s": run["decoder_s"],
            "hand_queries": run["hand"].queries, "object_queries": run["object"].queries,
            "hand_reason": run["hand"].reason, "object_reason": run["object"].reason}


def verdict(result: dict[str, Any]) -> dict[str, bool]:
    return {"queries": result["query_ratio"] >= TARGETS["query_ratio"],
            "speed": result["speedup"] >= TARGETS["speedup"],
            "cd": bool(result["cd_rel_max"] <= TARGETS["cd_rel"])}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="sdf-stage checkpoint (default: runs/, else train the tiny decoders here)")
    parser.add_argument("--runs", default="runs", help="where to look for a gsdf-train checkpoint")
    parser.add_argument("--steps", type=int, default=400, help="toy training steps when no checkpoint is used")
    parser.add_argument("--save", help="save the toy-trained model as a checkpoint here")
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--coarse", type=int, default=32)
    parser.add_argument("--points", type=int, default=30000, help="surface samples per mesh for the Chamfer distance")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--quick", action="store_true", help="seconds: resolution 32, coarse 8, 3000 points")
    args = parser.parse_args(argv)
    if args.quick:
        args.resolution, args.coarse, args.points = 32, 8, 3000
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    set_threads(args.threads)
    model, state, info = model_and_state(args)
    result = compare(model, state, args.resolution, args.coarse, args.points)
    report = {"bench": "mesh_model", "environment": environment(), **info, "targets": TARGETS, **result,
              "meets_targets": verdict(result)}
    rows = [[args.resolution, args.coarse, result["dense"]["queries"], result["c2f"]["queries"],
             f"{result['query_ratio']:.1f}x", result["dense"]["seconds"], result["c2f"]["seconds"],
             f"{result['speedup']:.1f}x", f"{100 * result['cd']['hand']['cd_rel']:.2f}%",
             f"{100 * result['cd']['object']['cd_rel']:.2f}%"]]
    emit(report, ["res", "coarse", "dense queries", "c2f queries", "ratio", "dense s", "c2f s", "speed-up",
                  "hand CD rel", "object CD rel"], rows)


if __name__ == "__main__":
    main()
