"""SDF to mesh: the dense two-grid reference extraction and a coarse-to-fine narrow-band evaluator.

Both work in the network's normalised space [-1, 1]^3 and share one shape:

1. a lattice over [-1, 1]^3 locates the occupied region (SDF < 0);
2. a second lattice, with the same number of points per axis, covers the cube around that region,
   padded by two voxels per side;
3. marching cubes at level 0 on the second lattice, then the largest connected component by area.

The dense path evaluates every lattice point (two 128^3 grids, about 4.2 M queries). The
coarse-to-fine path evaluates the same lattices only in a narrow band around the surface and gives
the other points values of the right sign, so marching cubes sees the same crossings.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch
import trimesh
from skimage.measure import marching_cubes

SdfFn = Callable[[torch.Tensor], torch.Tensor]
"""Maps float32 points (N, 3) in normalised space [-1, 1]^3 to SDF values (N,), negative inside."""

DEFAULT_CHUNK = 1 << 18
BOUNDS_PAD_VOXELS = 2
_FILL_EPS = 1e-4
"""Filled (not evaluated) lattice values keep at least this fraction of a voxel away from zero."""


@dataclass(frozen=True)
class Extraction:
    """A mesh in normalised space (None when there is no surface) and what it cost."""

    mesh: Optional[trimesh.Trimesh]
    queries: int
    seconds: float
    reason: Optional[str] = None
    """Why ``mesh`` is None; None when a mesh was found."""


@dataclass(frozen=True)
class Lattice:
    """A cubic lattice of ``n`` points per axis: point (i, j, k) is ``origin + (i, j, k) * voxel``."""

    origin: np.ndarray
    voxel: float
    n: int

    def points(self, index: np.ndarray, stride: int = 1) -> np.ndarray:
        """Coordinates of integer lattice indices (M, 3) given in units of ``stride`` points."""
        return self.origin + index.astype(np.float64) * (stride * self.voxel)


class CountingSdf:
    """Evaluates an :data:`SdfFn` on numpy points in chunks under ``torch.no_grad()``; counts queries."""

    def __init__(self, sdf_fn: SdfFn, chunk: int = DEFAULT_CHUNK, device: str | torch.device = "cpu"):
        if chunk < 1:
            raise ValueError(f"chunk must be positive, got {chunk}")
        self.sdf_fn = sdf_fn
        self.chunk = int(chunk)
        self.device = torch.device(device)
        self.queries = 0

    def __call__(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points)
        if points.ndim != 2 or points.shape[1] != 3:
            raise ValueError(f"points must have shape (N, 3), got {points.shape}")
        out = np.empty(len(points), dtype=np.float32)
        with torch.no_grad():
            for start in range(0, len(points), self.chunk):
                block = points[start : start + self.chunk]
                query = torch.as_tensor(block, dtype=torch.float32, device=self.device)
                values = self.sdf_fn(query)
                if tuple(values.shape) != (len(block),):
                    raise ValueError(
                        f"sdf_fn must return shape ({len(block)},) for {len(block)} points, "
                        f"got {tuple(values.shape)}"
                    )
                out[start : start + len(block)] = values.detach().float().cpu().numpy()
        self.queries += len(points)
        return out


def unit_cube_lattice(resolution: int) -> Lattice:
    """The lattice of ``resolution`` points per axis spanning [-1, 1]^3."""
    _check_resolution(resolution)
    return Lattice(np.full(3, -1.0), 2.0 / (resolution - 1), resolution)


def evaluate_dense(sdf: CountingSdf, lattice: Lattice) -> np.ndarray:
    """Every lattice point's SDF value, shape (n, n, n)."""
    axis = np.arange(lattice.n)
    index = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    return sdf(lattice.points(index)).reshape((lattice.n,) * 3)


def coarse_stride(resolution: int, coarse: int) -> int:
    """The power-of-two stride whose lattice has at least ``coarse`` points per axis."""
    _check_resolution(resolution)
    if coarse < 2:
        raise ValueError(f"coarse must be at least 2, got {coarse}")
    ratio = (resolution - 1) / (coarse - 1)
    return 1 << max(0, int(math.floor(math.log2(ratio)))) if ratio >= 1 else 1


def evaluate_narrow_band(
    sdf: CountingSdf,
    lattice: Lattice,
    stride: int,
    band_margin: float = 0.25,
    *,
    bounds_only: bool = False,
) -> np.ndarray:
    """Lattice values exact wherever the surface may pass, elsewhere of the right sign, shape (n, n, n).

    The lattice is evaluated every ``stride`` points, then refined by halving the stride. For a
    1-Lipschitz SDF a cell can hold a surface point only if every corner value is at most the
    corner's largest distance to the cell (the cell diagonal for its own cells); ``band_margin``
    widens that bound for learned SDFs. Only the corners of cells that pass are evaluated. Every
    other cell is free of surface, so its points take the sign of a known corner and the trilinear
    magnitude of the coarser lattice, kept away from zero: marching cubes finds the same crossings
    as on the dense lattice.

    With ``bounds_only`` only the cells that can still widen the box of the negative points are
    refined: the box of ``values < 0`` is then exact, the values inside it are not.
    """
    if stride < 1 or stride & (stride - 1):
        raise ValueError(f"stride must be a power of two, got {stride}")
    if band_margin < 0:
        raise ValueError(f"band_margin must be non-negative, got {band_margin}")
    cells = -(-(lattice.n - 1) // stride)
    values = evaluate_dense(sdf, Lattice(lattice.origin, lattice.voxel * stride, cells + 1))
    exact = np.ones(values.shape, dtype=bool)
    diagonal = (1.0 + band_margin) * math.sqrt(3.0) * stride * lattice.voxel
    live = np.logical_and.reduce([np.abs(values[c]) <= diagonal for c in _corner_slices(values.shape)])
    while stride > 1:
        if bounds_only:
            live &= ~_cells_inside_negative_box(values, exact)
        stride //= 2
        values, exact, live = _refine(sdf, lattice, stride, values, exact, live, band_margin)
    n = lattice.n
    return values[:n, :n, :n]


_OFFSETS = tuple((dx, dy, dz) for dx in (0, 1) for dy in (0, 1) for dz in (0, 1))


def _corner_slices(shape: tuple[int, ...]) -> list[tuple[slice, slice, slice]]:
    """For each of the 8 corner offsets, the slice of lattice values at that corner of every cell."""
    return [tuple(slice(o, o + size - 1) for o, size in zip(offset, shape)) for offset in _OFFSETS]


def _cells_inside_negative_box(values: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """Cells lying inside the box of the exact negative lattice points (they cannot widen it)."""
    cells = tuple(size - 1 for size in values.shape)
    inside = np.argwhere(exact & (values < 0))
    if len(inside) == 0:
        return np.zeros(cells, dtype=bool)
    low, high = inside.min(axis=0), inside.max(axis=0)
    axes = [(np.arange(count) >= lo) & (np.arange(count) + 1 <= hi) for count, lo, hi in zip(cells, low, high)]
    return axes[0][:, None, None] & axes[1][None, :, None] & axes[2][None, None, :]


def _refine(
    sdf: CountingSdf,
    lattice: Lattice,
    stride: int,
    values: np.ndarray,
    exact: np.ndarray,
    live: np.ndarray,
    band_margin: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lattice at half the spacing: (values, exact mask, cells that may hold surface)."""
    magnitude = np.abs(values)
    corners = _corner_slices(values.shape)
    child_live = np.zeros(tuple(2 * c for c in live.shape), dtype=bool)
    for child in _OFFSETS:
        keep = live.copy()
        for corner, where in zip(_OFFSETS, corners):
            far_axes = sum(a != b for a, b in zip(child, corner))
            reach = (1.0 + band_margin) * stride * lattice.voxel * math.sqrt(3.0 + 3.0 * far_axes)
            keep &= magnitude[where] <= reach
        child_live[child[0] :: 2, child[1] :: 2, child[2] :: 2] = keep
    fine_shape = tuple(2 * size - 1 for size in values.shape)
    needed = np.zeros(fine_shape, dtype=bool)
    for where in _corner_slices(fine_shape):
        needed[where] |= child_live
    fine_exact = np.zeros(fine_shape, dtype=bool)
    fine_exact[::2, ::2, ::2] = exact
    todo = needed & ~fine_exact
    fine = _upsample(values)
    if todo.any():
        fine[todo] = sdf(lattice.points(np.argwhere(todo), stride))
    fine_exact |= todo
    filled = ~fine_exact
    sign_source = _repeat_lower(values)[filled]
    size = np.maximum(np.abs(fine[filled]), _FILL_EPS * lattice.voxel)
    fine[filled] = np.where(sign_source >= 0, size, -size)
    return fine, fine_exact, child_live


def _repeat_lower(values: np.ndarray) -> np.ndarray:
    """Each point of the half-spacing lattice takes the value of the coarse point at its lower corner."""
    out = values
    for axis in range(3):
        out = np.repeat(out, 2, axis=axis)[(slice(None),) * axis + (slice(0, 2 * values.shape[axis] - 1),)]
    return out


def _upsample(values: np.ndarray) -> np.ndarray:
    """Trilinear upsampling by two of a lattice (m, m, m) to (2m-1, 2m-1, 2m-1)."""
    out = values
    for axis in range(3):
        out = np.moveaxis(out, axis, 0)
        up = np.empty((2 * out.shape[0] - 1,) + out.shape[1:], dtype=out.dtype)
        up[::2] = out
        up[1::2] = 0.5 * (out[:-1] + out[1:])
        out = np.moveaxis(up, 0, axis)
    return out


def occupied_cube(values: np.ndarray, lattice: Lattice, pad: int = BOUNDS_PAD_VOXELS) -> Optional[Lattice]:
    """The lattice on the cube around the points with SDF < 0, padded by ``pad`` voxels per side."""
    inside = np.argwhere(values < 0)
    if len(inside) == 0:
        return None
    low, high = inside.min(axis=0), inside.max(axis=0)
    side = (float((high - low).max()) + 2 * pad) * lattice.voxel
    centre = lattice.origin + 0.5 * (low + high) * lattice.voxel
    return Lattice(centre - 0.5 * side, side / (lattice.n - 1), lattice.n)


def surface_mesh(values: np.ndarray, lattice: Lattice) -> tuple[Optional[trimesh.Trimesh], Optional[str]]:
    """Marching cubes at level 0 on lattice values, then the largest component; or None and why."""
    low, high = float(values.min()), float(values.max())
    if not (low < 0.0 < high):
        return None, f"no zero crossing on the lattice (SDF range [{low:.4g}, {high:.4g}])"
    try:
        verts, faces, _, _ = marching_cubes(values, level=0.0, spacing=(lattice.voxel,) * 3)
    except (ValueError, RuntimeError) as error:
        return None, f"marching cubes failed: {error}"
    mesh = trimesh.Trimesh(verts + lattice.origin, faces, process=True)
    if len(mesh.faces) == 0:
        return None, "marching cubes produced no faces"
    return largest_component(mesh), None


def largest_component(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """The connected component of ``mesh`` with the largest surface area."""
    parts = mesh.split(only_watertight=False)
    if len(parts) <= 1:
        return mesh
    return max(parts, key=lambda part: part.area)


LatticeEvaluator = Callable[[CountingSdf, Lattice], np.ndarray]


def _extract(
    locate: LatticeEvaluator, fill: LatticeEvaluator, sdf_fn: SdfFn, resolution: int, chunk: int, device
) -> Extraction:
    """The two-lattice extraction: ``locate`` must get the sign right, ``fill`` the values near the surface."""
    start = time.perf_counter()
    sdf = CountingSdf(sdf_fn, chunk, device)
    first = unit_cube_lattice(resolution)
    second = occupied_cube(locate(sdf, first), first)
    if second is None:
        mesh, reason = None, "no point with negative SDF in [-1, 1]^3 (empty surface)"
    else:
        mesh, reason = surface_mesh(fill(sdf, second), second)
    return Extraction(mesh, sdf.queries, time.perf_counter() - start, reason)


def extract_dense(
    sdf_fn: SdfFn,
    resolution: int = 128,
    *,
    chunk: int = DEFAULT_CHUNK,
    device: str | torch.device = "cpu",
) -> Extraction:
    """The reference path: two dense ``resolution``^3 grids, marching cubes, largest component."""
    return _extract(evaluate_dense, evaluate_dense, sdf_fn, resolution, chunk, device)


def extract_coarse_to_fine(
    sdf_fn: SdfFn,
    resolution: int = 128,
    coarse: int = 32,
    *,
    band_margin: float = 0.25,
    chunk: int = DEFAULT_CHUNK,
    device: str | torch.device = "cpu",
) -> Extraction:
    """The lattices of :func:`extract_dense`, evaluated from ``coarse`` points per axis in a narrow band."""
    stride = coarse_stride(resolution, coarse)

    def locate(sdf: CountingSdf, lattice: Lattice) -> np.ndarray:
        return evaluate_narrow_band(sdf, lattice, stride, band_margin, bounds_only=True)

    def fill(sdf: CountingSdf, lattice: Lattice) -> np.ndarray:
        return evaluate_narrow_band(sdf, lattice, stride, band_margin)

    return _extract(locate, fill, sdf_fn, resolution, chunk, device)


def points_to_metric(
    points: np.ndarray, scale: float, wrist: np.ndarray, rotation: Optional[np.ndarray] = None
) -> np.ndarray:
    """Normalised q (N, 3) to camera metres: P = 2q/s + c in the virtual frame, then R (virtual to real)."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"points must have shape (N, 3), got {points.shape}")
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be positive and finite, got {scale}")
    wrist = np.asarray(wrist, dtype=np.float64)
    if wrist.shape != (3,):
        raise ValueError(f"wrist must have shape (3,), got {wrist.shape}")
    metric = 2.0 * points / scale + wrist
    if rotation is None:
        return metric
    rotation = np.asarray(rotation, dtype=np.float64)
    if rotation.shape != (3, 3):
        raise ValueError(f"rotation must have shape (3, 3), got {rotation.shape}")
    return metric @ rotation.T


def to_metric(
    mesh: trimesh.Trimesh, scale: float, wrist: np.ndarray, rotation: Optional[np.ndarray] = None
) -> trimesh.Trimesh:
    """A copy of a normalised-space mesh in camera metres (see :func:`points_to_metric`)."""
    vertices = points_to_metric(mesh.vertices, scale, wrist, rotation)
    return trimesh.Trimesh(vertices, np.array(mesh.faces), process=False)


def _check_resolution(resolution: int) -> None:
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}")
