"""SDF primitives and operations: known distances, exactness and input checks."""

import numpy as np
import pytest

from gsdf_ros.geometry.sampling import box_corners
from gsdf_ros.synth import sdf_ops


def test_primitive_distances_at_known_points():
    p = np.array([[0.0, 0.0, 0.3], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(sdf_ops.sphere(p, 0.1), [0.2, -0.1])
    np.testing.assert_allclose(sdf_ops.box(np.array([[0.3, 0.0, 0.0], [0.2, 0.2, 0.0]]), [0.1, 0.1, 0.1]),
                               [0.2, np.hypot(0.1, 0.1)])
    np.testing.assert_allclose(sdf_ops.cylinder(np.array([[0.3, 0.0, 0.0], [0.0, 0.0, 0.5]]), 0.1, 0.2),
                               [0.2, 0.3])
    np.testing.assert_allclose(sdf_ops.torus(np.array([[0.1, 0.0, 0.0], [0.0, 0.0, 0.0]]), 0.1, 0.02),
                               [-0.02, np.hypot(0.1, 0.0) - 0.02])
    np.testing.assert_allclose(sdf_ops.capsule(p, [0, 0, -0.1], [0, 0, 0.1], 0.05), [0.15, -0.05])
    np.testing.assert_allclose(sdf_ops.capped_cone(np.array([[0.0, 0.0, 0.3], [0.0, 0.0, -0.3]]), 0.1, 0.05, 0.1),
                               [0.2, 0.2])


def test_round_cone_matches_sphere_sweep_outside():
    rng = np.random.default_rng(0)
    a, b, ra, rb = np.array([0.0, 0.0, 0.0]), np.array([0.03, 0.01, 0.04]), 0.012, 0.006
    pts = rng.uniform(-0.05, 0.08, size=(2000, 3))
    t = np.linspace(0.0, 1.0, 4001)
    centres = a + t[:, None] * (b - a)
    sweep = (np.linalg.norm(pts[:, None] - centres[None], axis=2) - (ra + t * (rb - ra))).min(axis=1)
    exact = sdf_ops.round_cone(pts, a, b, ra, rb)
    out = sweep > 0.0
    assert out.sum() > 1000
    np.testing.assert_allclose(exact[out], sweep[out], atol=2e-5)
    assert np.all((exact < 0.0) == (sweep < 0.0))


def test_pair_distances_match_full_matrix():
    rng = np.random.default_rng(1)
    cones = sdf_ops.RoundCones(rng.normal(size=(5, 3)) * 0.05, rng.normal(size=(5, 3)) * 0.05 + 0.1,
                               np.full(5, 0.01), np.full(5, 0.008))
    pts = rng.normal(size=(50, 3)) * 0.1
    full = cones.distances(pts)
    idx = rng.integers(5, size=50)
    np.testing.assert_allclose(cones.pair_distances(pts, idx), full[np.arange(50), idx])


def test_convex_polytope_of_cube_hull_is_box_inside():
    corners = box_corners(np.array([0.05, 0.03, 0.02]))
    normals, offsets = sdf_ops.halfspaces_from_hull(corners)
    pts = np.random.default_rng(2).uniform(-0.02, 0.02, size=(200, 3)) * [2.5, 1.5, 1.0]
    np.testing.assert_allclose(sdf_ops.convex_polytope(pts, normals, offsets),
                               sdf_ops.box(pts, [0.05, 0.03, 0.02]), atol=1e-12)


def test_polygon_and_extrusion_are_exact():
    square = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    q = np.array([[0.0, 0.0], [3.0, 0.0], [2.0, 2.0]])
    np.testing.assert_allclose(sdf_ops.convex_polygon_2d(q, square), [-1.0, 2.0, np.sqrt(2.0)])
    p = np.array([[0.0, 0.0, 3.0], [2.0, 0.0, 1.5]])
    np.testing.assert_allclose(sdf_ops.extruded_polygon(p, square, 1.0), [2.0, np.hypot(1.0, 0.5)])


def test_boolean_operations():
    d1, d2 = np.array([0.1, -0.2, 0.05]), np.array([0.3, 0.1, 0.051])
    np.testing.assert_allclose(sdf_ops.union(d1, d2), [0.1, -0.2, 0.05])
    np.testing.assert_allclose(sdf_ops.subtraction(d1, d2), [0.1, -0.1, 0.05])
    blended = sdf_ops.smooth_union(d1, d2, 0.02)
    assert np.all(blended <= np.minimum(d1, d2) + 1e-12)
    np.testing.assert_allclose(blended[:2], [0.1, -0.2])  # far apart: plain minimum
    assert blended[2] == pytest.approx(0.05 - 0.02 / 4, abs=1e-3)  # equal: dips by up to k/4


def test_transformed_moves_the_shape():
    pose = np.eye(4)
    pose[:3, :3] = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    pose[:3, 3] = [0.1, 0.2, 0.5]
    moved = sdf_ops.transformed(lambda p: sdf_ops.box(p, [0.05, 0.01, 0.01]), pose)
    # the box's long x axis now lies along camera y
    pts = np.array([[0.1, 0.2, 0.5], [0.1, 0.24, 0.5], [0.14, 0.2, 0.5]])
    np.testing.assert_allclose(moved(pts), [-0.01, -0.01, 0.03], atol=1e-12)


@pytest.mark.parametrize("call", [
    lambda: sdf_ops.sphere(np.zeros((4, 2)), 0.1),
    lambda: sdf_ops.sphere(np.zeros((4, 3)), -0.1),
    lambda: sdf_ops.rounded_box(np.zeros((1, 3)), [0.1, 0.1, 0.1], 0.2),
    lambda: sdf_ops.round_cone(np.zeros((1, 3)), [0, 0, 0], [0, 0, 0.01], 0.05, 0.01),
    lambda: sdf_ops.smooth_union(np.zeros(2), np.zeros(2), -1.0),
    lambda: sdf_ops.check_pose(np.diag([1.0, 1.0, -1.0, 1.0])),
    lambda: sdf_ops.sdf_to_mesh(lambda p: sdf_ops.sphere(p, 1.0), [-0.1] * 3, [0.1] * 3, 0.01),
])
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()
