"""SDF sample files from triangle meshes, headless (no OpenGL, no virtual scan).

Point distribution per mesh (the research sampler's): ``n_surface`` area-weighted surface points,
each perturbed twice with isotropic Gaussian noise of variance 0.005 and 0.0005 (unit-sphere units),
plus ``n_uniform`` points uniform in [−1, 1]³ of the per-sample unit sphere; by default
9,400·2 + 1,200 = 20,000 candidates, 94 % near the surface. The unit sphere is shared by the hand
and the object: offset = −centre of their joint vertex bounds, scale = 1/(1.03·max distance).

Distances are exact point-to-triangle distances (``trimesh.proximity.closest_point``). Signs:

- *normal votes*: the ``votes`` nearest of a dense area-weighted set of surface samples each vote
  with the side of its face normal the point lies on (sign of (p − s)·n);
- *containment* (watertight meshes only): ray-parity ``mesh.contains``.

For the file's own mesh a watertight mesh takes the containment sign and a point is uncertain when
the normal votes are unanimous and say the opposite; a mesh with holes takes the vote and a point
is uncertain when the votes are mixed. Uncertain points are discarded, and a mesh with more than
``max_uncertain`` of them is rejected (no file, as the research pipeline gives none). The SDF to the
other mesh is never discarded: containment when it is watertight, else the nearest sample's vote.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from gsdf_ros.data.layout import (
    Annotation,
    SdfSamples,
    annotation_path,
    json_bytes,
    norm_path,
    read_annotations,
    read_json,
    read_mesh,
    read_norm,
    save_npz,
    sdf_path,
    split_path,
)
from gsdf_ros.geometry.sampling import Normalisation, sample_points, split_by_sign, unit_sphere_normalisation

Progress = Callable[[int, int], None]


def _no_progress(done: int, total: int) -> None:
    """The default progress callback: does nothing."""


class MeshRejected(ValueError):
    """Too many sample points of a mesh have an uncertain sign."""


@dataclass(frozen=True)
class SamplerConfig:
    """Counts and tolerances of the sampler (defaults: the research sampler's)."""

    n_surface: int = 9400
    n_uniform: int = 1200
    variances: tuple[float, ...] = (0.005, 0.0005)
    votes: int = 11
    n_vote_samples: int = 100_000
    chunk: int = 4096
    max_uncertain: float = 0.05

    def __post_init__(self) -> None:
        if self.n_surface <= 0 or self.n_uniform < 0 or self.votes <= 0 or self.n_vote_samples < self.votes:
            raise ValueError(f"invalid sampler counts: {self}")
        if self.chunk <= 0 or not 0.0 <= self.max_uncertain <= 1.0 or any(v <= 0 for v in self.variances):
            raise ValueError(f"invalid sampler settings: {self}")

    @property
    def sigmas(self) -> tuple[float, ...]:
        return tuple(float(np.sqrt(v)) for v in self.variances)

    @property
    def candidates(self) -> int:
        """Candidate points per mesh."""
        return self.n_surface * len(self.variances) + self.n_uniform


@dataclass(frozen=True)
class SignEvidence:
    """Unsigned distances (N,), normal votes (N, k) of ±1, and containment (N,) or None."""

    distance: np.ndarray
    votes: np.ndarray
    inside: Optional[np.ndarray]

    def own(self) -> tuple[np.ndarray, np.ndarray]:
        """(SDF, certain) for the file's own mesh (rules in the module docstring)."""
        unanimous = np.all(self.votes == self.votes[:, :1], axis=1)
        vote = self.votes[:, 0]
        if self.inside is None:
            return self.distance * vote, unanimous
        sign = np.where(self.inside, -1.0, 1.0)
        return self.distance * sign, ~(unanimous & (vote != sign))

    def other(self) -> np.ndarray:
        """SDF to the other mesh: containment when available, else the nearest sample's vote."""
        sign = self.votes[:, 0] if self.inside is None else np.where(self.inside, -1.0, 1.0)
        return self.distance * sign


class MeshSigner:
    """Distance and sign evidence for query points against one mesh."""

    def __init__(self, mesh: trimesh.Trimesh, config: SamplerConfig, seed: int) -> None:
        if len(mesh.faces) == 0:
            raise ValueError("mesh has no triangles")
        self.mesh = mesh
        self.config = config
        samples, faces = trimesh.sample.sample_surface(mesh, config.n_vote_samples, seed=seed)
        self._samples = np.asarray(samples, np.float64)
        self._normals = np.asarray(mesh.face_normals, np.float64)[faces]
        self._tree = cKDTree(self._samples)
        self.watertight = bool(mesh.is_watertight and mesh.is_winding_consistent)

    def evidence(self, points: np.ndarray) -> SignEvidence:
        """Evidence for one chunk of points (N, 3)."""
        _, distance, _ = trimesh.proximity.closest_point(self.mesh, points)
        _, nearest = self._tree.query(points, k=self.config.votes)
        nearest = nearest.reshape(len(points), -1)
        offsets = points[:, None, :] - self._samples[nearest]
        votes = np.where(np.einsum("nkd,nkd->nk", offsets, self._normals[nearest]) >= 0.0, 1.0, -1.0)
        inside = self.mesh.contains(points) if self.watertight else None
        return SignEvidence(np.asarray(distance, np.float64), votes, inside)

    def evidence_chunked(self, points: np.ndarray, progress: Progress = _no_progress) -> SignEvidence:
        """Evidence for many points, `config.chunk` at a time."""
        parts = []
        for start in range(0, len(points), self.config.chunk):
            parts.append(self.evidence(points[start:start + self.config.chunk]))
            progress(min(start + self.config.chunk, len(points)), len(points))
        inside = None if not self.watertight else np.concatenate([p.inside for p in parts])
        return SignEvidence(np.concatenate([p.distance for p in parts]),
                            np.concatenate([p.votes for p in parts]), inside)


def sample_mesh_file(
    own: MeshSigner, other: MeshSigner, norm: Normalisation, rng: np.random.Generator,
    progress: Progress = _no_progress,
) -> SdfSamples:
    """One SDF file: candidates around `own`, uncertain ones dropped, both SDFs in unit-sphere units."""
    config = own.config
    points = sample_points(rng, own.mesh, norm, config.n_surface, config.n_uniform, config.sigmas)
    total = 2 * len(points)
    own_sdf, certain = own.evidence_chunked(points, lambda d, t: progress(d, total)).own()
    uncertain = 1.0 - float(np.mean(certain))
    if uncertain > config.max_uncertain:
        raise MeshRejected(f"{uncertain:.1%} of the points have an uncertain sign (limit {config.max_uncertain:.1%})")
    other_sdf = other.evidence_chunked(points[certain], lambda d, t: progress(len(points) + d, total)).other()
    arrays = split_by_sign(norm.to_unit(points[certain]), own_sdf[certain] * norm.scale, other_sdf * norm.scale)
    return SdfSamples(**arrays)


@dataclass(frozen=True)
class SdfPair:
    """The hand file, the object file and the shared normalisation of one sample."""

    hand: SdfSamples
    obj: SdfSamples
    norm: Normalisation


def sample_sdf_pair(
    hand: trimesh.Trimesh, obj: trimesh.Trimesh, config: SamplerConfig = SamplerConfig(), seed: int = 0,
    progress: Progress = _no_progress,
) -> SdfPair:
    """Both SDF files of one sample (meshes in camera metres); raises MeshRejected."""
    norm = unit_sphere_normalisation(hand, obj)
    rng = np.random.default_rng(seed)
    hand_signer = MeshSigner(hand, config, int(rng.integers(2**31)))
    obj_signer = MeshSigner(obj, config, int(rng.integers(2**31)))
    hand_file = sample_mesh_file(hand_signer, obj_signer, norm, rng, lambda d, t: progress(d, 2 * t))
    obj_file = sample_mesh_file(obj_signer, hand_signer, norm, rng, lambda d, t: progress(t + d, 2 * t))
    return SdfPair(hand_file, obj_file, norm)


# ---------------------------------------------------------------- a layout split


@dataclass(frozen=True)
class SampleOutcome:
    """What became of one sample: its normalisation, or why it has no files."""

    id: int
    norm: Optional[Normalisation] = None
    skipped: bool = False
    error: str = ""


def has_sdf_files(root: Path, file_name: str) -> bool:
    """Both SDF files and the normalisation file exist."""
    return norm_path(root, file_name).is_file() and all(
        sdf_path(root, kind, file_name).is_file() for kind in ("hand", "obj")
    )


def prepare_sample(root: Path, ann: Annotation, config: SamplerConfig, seed: int, overwrite: bool) -> SampleOutcome:
    """Write (or keep) one sample's sdf_hand, sdf_obj and norm files from its meshes."""
    name = ann.file_name
    if not overwrite and has_sdf_files(root, name):
        offset, scale = read_norm(root, name)
        return SampleOutcome(ann.id, Normalisation(offset, scale), skipped=True)
    try:
        pair = sample_sdf_pair(read_mesh(root, "hand", name), read_mesh(root, "obj", name), config,
                               seed=int(np.random.default_rng([seed, ann.id]).integers(2**31)))
    except (MeshRejected, FileNotFoundError, ValueError) as exc:
        return SampleOutcome(ann.id, error=f"{name}: {exc}")
    save_npz(sdf_path(root, "hand", name), pair.hand.arrays())
    save_npz(sdf_path(root, "obj", name), pair.obj.arrays())
    save_npz(norm_path(root, name), pair.norm.as_npz())
    stored = pair.norm.as_npz()
    return SampleOutcome(ann.id, Normalisation(stored["offset"].astype(np.float64), float(stored["scale"][0])))


def _prepare_star(args: tuple[Path, Annotation, SamplerConfig, int, bool]) -> SampleOutcome:
    return prepare_sample(*args)


def iter_outcomes(
    root: Path, annotations: Sequence[Annotation], config: SamplerConfig, seed: int, overwrite: bool, workers: int
) -> Iterator[SampleOutcome]:
    """Outcomes in input order, computed in `workers` processes (1: in this process)."""
    jobs = [(root, ann, config, seed, overwrite) for ann in annotations]
    if workers <= 1:
        yield from map(_prepare_star, jobs)
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from pool.map(_prepare_star, jobs, chunksize=4)


def record_normalisations(root: Path, split: str, outcomes: Sequence[SampleOutcome], subset: str) -> None:
    """Store sdf_scale / sdf_offset in ``<split>.json`` (float32 values, as the norm files hold them)
    and list the samples with SDF files in ``splits/<subset>.json``."""
    path = annotation_path(root, split)
    document = read_json(path, "annotation file")
    norms = {o.id: o.norm for o in outcomes if o.norm is not None}
    for entry in document["annotations"]:
        norm = norms.get(int(entry["id"]))
        if norm is not None:
            entry["sdf_offset"] = [float(v) for v in np.asarray(norm.offset, np.float32)]
            entry["sdf_scale"] = [float(np.float32(norm.scale))]
    path.write_bytes(json_bytes(document))
    listed = split_path(root, subset)
    listed.parent.mkdir(parents=True, exist_ok=True)
    listed.write_bytes(json_bytes([f"{i:08d}" for i in sorted(norms)]))


def prepare_split_sdf(
    root: Path | str,
    split: str,
    config: SamplerConfig = SamplerConfig(),
    seed: int = 0,
    workers: int = 1,
    overwrite: bool = False,
    subset: Optional[str] = None,
    progress: Callable[[SampleOutcome], None] = lambda outcome: None,
) -> list[SampleOutcome]:
    """SDF files for every sample of a layout split that has both meshes; then the annotation file
    gains the normalisations and ``splits/<split>_sdf.json`` lists the samples that have files."""
    root = Path(root)
    annotations = sorted(read_annotations(root, split).values(), key=lambda a: a.id)
    outcomes = []
    for outcome in iter_outcomes(root, annotations, config, seed, overwrite, workers):
        outcomes.append(outcome)
        progress(outcome)
    record_normalisations(root, split, outcomes, subset or f"{split}_sdf")
    return outcomes


def replace_counts(config: SamplerConfig, **changes: Any) -> SamplerConfig:
    """A copy of `config` with the given fields changed (None values are ignored)."""
    return dataclasses.replace(config, **{k: v for k, v in changes.items() if v is not None})
