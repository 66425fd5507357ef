"""Tests of SDF to mesh extraction: dense reference and coarse-to-fine narrow band."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gsdf_ros import mesh as M
from gsdf_ros.metrics import chamfer_distance, sample_surface

RES = 64


def sphere(p: torch.Tensor) -> torch.Tensor:
    return p.norm(dim=1) - 0.5


def torus(p: torch.Tensor) -> torch.Tensor:
    ring = torch.sqrt(p[:, 0] ** 2 + p[:, 1] ** 2) - 0.45
    return torch.sqrt(ring**2 + p[:, 2] ** 2) - 0.15


def wavy_sphere(p: torch.Tensor) -> torch.Tensor:
    """Not an exact distance (gradient norm up to about 1.1), as a learned SDF is not."""
    return p.norm(dim=1) - 0.5 + 0.02 * torch.sin(5 * p[:, 0]) * torch.cos(4 * p[:, 1])


def sphere_and_blob(p: torch.Tensor) -> torch.Tensor:
    blob = (p - torch.tensor([0.75, 0.75, 0.75])).norm(dim=1) - 0.08
    return torch.minimum(sphere(p), blob)


def _mean_abs_sdf(mesh, sdf_fn) -> float:
    return float(sdf_fn(torch.as_tensor(mesh.vertices, dtype=torch.float32)).abs().mean())


@pytest.mark.parametrize("sdf_fn", [sphere, torus], ids=["sphere", "torus"])
@pytest.mark.parametrize("extract", [M.extract_dense, M.extract_coarse_to_fine], ids=["dense", "c2f"])
def test_mesh_lies_on_the_analytic_surface(sdf_fn, extract):
    result = extract(sdf_fn, RES)
    assert result.reason is None and result.mesh is not None
    voxel = 2.0 / (RES - 1)
    assert _mean_abs_sdf(result.mesh, sdf_fn) < 0.02 * voxel
    assert result.mesh.is_watertight and result.mesh.volume > 0
    assert result.queries > 0 and result.seconds > 0


def test_dense_sphere_volume_and_query_count():
    result = M.extract_dense(sphere, RES)
    assert result.queries == 2 * RES**3
    assert result.mesh.volume == pytest.approx(4 / 3 * np.pi * 0.5**3, rel=0.01)


@pytest.mark.parametrize("sdf_fn", [sphere, torus, wavy_sphere], ids=["sphere", "torus", "wavy"])
def test_coarse_to_fine_reaches_the_dense_surface(sdf_fn):
    dense = M.extract_dense(sdf_fn, RES)
    fine = M.extract_coarse_to_fine(sdf_fn, RES, coarse=16)
    assert fine.queries * 3 < dense.queries
    a = sample_surface(dense.mesh, 5000, seed=0)
    b = sample_surface(fine.mesh, 5000, seed=0)
    self_noise = chamfer_distance(a, sample_surface(dense.mesh, 5000, seed=1))
    assert chamfer_distance(a, b) <= 1.02 * self_noise
    assert len(fine.mesh.faces) == len(dense.mesh.faces)
    np.testing.assert_allclose(np.sort(fine.mesh.vertices, axis=0), np.sort(dense.mesh.vertices, axis=0), atol=1e-5)


def test_coarse_to_fine_needs_eight_times_fewer_queries_at_128():
    dense = M.extract_dense(sphere, 128)
    fine = M.extract_coarse_to_fine(sphere, 128)
    assert dense.queries == 2 * 128**3
    assert fine.queries * 8 <= dense.queries
    assert chamfer_distance(dense.mesh.vertices, fine.mesh.vertices) < 1e-10


@pytest.mark.parametrize("extract", [M.extract_dense, M.extract_coarse_to_fine], ids=["dense", "c2f"])
def test_largest_component_drops_a_separate_blob(extract):
    result = extract(sphere_and_blob, RES)
    assert len(result.mesh.split(only_watertight=False)) == 1
    assert np.linalg.norm(result.mesh.vertices, axis=1).max() < 0.52
    assert result.mesh.area == pytest.approx(4 * np.pi * 0.25, rel=0.01)


@pytest.mark.parametrize(
    "sdf_fn",
    [lambda p: p.norm(dim=1) + 0.1, lambda p: p.norm(dim=1) - 5.0],
    ids=["all-outside", "all-inside"],
)
@pytest.mark.parametrize("extract", [M.extract_dense, M.extract_coarse_to_fine], ids=["dense", "c2f"])
def test_no_surface_returns_none_with_a_reason(sdf_fn, extract):
    result = extract(sdf_fn, 16)
    assert result.mesh is None
    assert result.reason and ("empty" in result.reason or "zero crossing" in result.reason)


def test_counting_sdf_chunks_counts_and_checks_shape():
    calls = []

    def recording(p: torch.Tensor) -> torch.Tensor:
        calls.append(len(p))
        assert p.dtype == torch.float32 and not torch.is_grad_enabled()
        return p[:, 0]

    sdf = M.CountingSdf(recording, chunk=100)
    values = sdf(np.arange(750, dtype=np.float64).reshape(250, 3))
    assert calls == [100, 100, 50] and sdf.queries == 250
    np.testing.assert_array_equal(values, np.arange(0, 750, 3))
    with pytest.raises(ValueError):
        M.CountingSdf(lambda p: p, chunk=10)(np.zeros((4, 3)))
    with pytest.raises(ValueError):
        M.CountingSdf(sphere, chunk=0)


def test_occupied_cube_follows_the_paper_box():
    lattice = M.unit_cube_lattice(11)
    values = np.ones((11, 11, 11))
    values[3:6, 4:5, 2:8] = -1.0  # index extents 2, 0, 5 voxels
    cube = M.occupied_cube(values, lattice)
    side = (5 + 4) * lattice.voxel
    assert cube.n == 11 and cube.voxel == pytest.approx(side / 10)
    centre = lattice.origin + np.array([4.0, 4.0, 4.5]) * lattice.voxel
    np.testing.assert_allclose(cube.origin + 0.5 * side, centre)
    assert M.occupied_cube(np.ones((11, 11, 11)), lattice) is None


def test_coarse_stride():
    assert M.coarse_stride(128, 32) == 4
    assert M.coarse_stride(64, 32) == 2
    assert M.coarse_stride(64, 16) == 4
    assert M.coarse_stride(16, 32) == 1
    with pytest.raises(ValueError):
        M.coarse_stride(1, 32)
    with pytest.raises(ValueError):
        M.evaluate_narrow_band(M.CountingSdf(sphere), M.unit_cube_lattice(9), stride=3)


def test_to_metric_scales_offsets_and_rotates():
    mesh = M.extract_dense(sphere, 24).mesh
    wrist = np.array([0.1, -0.05, 0.6])
    rz = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    virtual = M.to_metric(mesh, 7.0, wrist)
    np.testing.assert_allclose(virtual.vertices, 2.0 * mesh.vertices / 7.0 + wrist)
    real = M.to_metric(mesh, 7.0, wrist, rz)
    np.testing.assert_allclose(real.vertices, virtual.vertices @ rz.T)
    np.testing.assert_allclose(real.vertices[:, 0], -virtual.vertices[:, 1])
    assert np.array_equal(real.faces, mesh.faces)
    with pytest.raises(ValueError):
        M.to_metric(mesh, 0.0, wrist)
    with pytest.raises(ValueError):
        M.to_metric(mesh, 7.0, wrist[:2])
