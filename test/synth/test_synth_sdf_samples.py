"""gSDF-layout SDF samples: signs, the other-shape column, the unit-sphere normalisation."""

import numpy as np
import pytest

from gsdf_ros.geometry import sampling
from gsdf_ros.synth import objects, sdf_samples


@pytest.fixture(scope="module")
def pair(hand, hand_mesh, joints):
    obj = objects.sample_object(np.random.default_rng(21), "box", position=joints[8] + [0.0, 0.0, 0.04])
    return hand, hand_mesh, obj, obj.mesh()


def draw(pair, seed: int, **counts) -> sdf_samples.SdfSampleFiles:
    hand, hand_mesh, obj, obj_mesh = pair
    return sdf_samples.make_sdf_samples(np.random.default_rng(seed), hand_mesh, hand.sdf, obj_mesh, obj.sdf, **counts)


def test_layout_signs_and_counts(pair):
    out = draw(pair, 0, n_surface=1000, n_uniform=300)
    for arrays in (out.hand, out.obj):
        assert set(arrays) == {"pos", "neg", "pos_other", "neg_other"}
        assert arrays["pos"].dtype == np.float32 and arrays["pos"].shape[1] == 4
        assert len(arrays["pos"]) + len(arrays["neg"]) == 2 * 1000 + 300
        assert len(arrays["pos_other"]) == len(arrays["pos"]) and arrays["neg_other"].shape[1] == 1
        assert np.all(arrays["pos"][:, 3] > 0.0) and np.all(arrays["neg"][:, 3] <= 0.0)
        assert len(arrays["neg"]) > 300  # half of the surface points fall inside
    norm = out.norm.as_npz()
    assert norm["offset"].shape == (3,) and norm["scale"].shape == (1,)


def test_values_are_the_analytic_sdfs_in_unit_sphere_units(pair):
    hand, _, obj, _ = pair
    out = draw(pair, 1, n_surface=500, n_uniform=100)
    rows = np.vstack([out.hand["pos"], out.hand["neg"]])
    other = np.vstack([out.hand["pos_other"], out.hand["neg_other"]])[:, 0]
    metres = out.norm.to_metres(rows[:, :3].astype(np.float64))
    np.testing.assert_allclose(rows[:, 3], hand.sdf(metres) * out.norm.scale, atol=1e-5)
    np.testing.assert_allclose(other, obj.sdf(metres) * out.norm.scale, atol=1e-5)
    # most points lie close to the surface (sigma 0.022 and 0.071 in unit units)
    assert np.median(np.abs(rows[:, 3])) < 0.05


def test_normalisation_maps_meshes_into_unit_sphere(pair):
    _, hand_mesh, _, obj_mesh = pair
    norm = sampling.unit_sphere_normalisation(hand_mesh, obj_mesh)
    radii = np.linalg.norm(norm.to_unit(np.vstack([hand_mesh.vertices, obj_mesh.vertices])), axis=1)
    assert radii.max() == pytest.approx(1.0 / 1.03, rel=1e-9)
    verts = np.vstack([hand_mesh.vertices, obj_mesh.vertices])
    np.testing.assert_allclose(-norm.offset, (verts.min(axis=0) + verts.max(axis=0)) / 2.0)


def test_same_seed_gives_identical_samples(pair):
    a, b = draw(pair, 3, n_surface=300, n_uniform=50), draw(pair, 3, n_surface=300, n_uniform=50)
    for key in a.hand:
        np.testing.assert_array_equal(a.hand[key], b.hand[key])
        np.testing.assert_array_equal(a.obj[key], b.obj[key])


def test_bad_counts_raise(pair):
    with pytest.raises(ValueError):
        draw(pair, 0, n_surface=-1)
    with pytest.raises(ValueError):
        draw(pair, 0, sigmas=(0.0,))
