"""Object families and the hand surface: SDF signs against their meshes, sizes, zero sets."""

import numpy as np
import pytest

from gsdf_ros.synth import objects, sdf_ops
from gsdf_ros.synth.hand_shape import HandShape


@pytest.mark.parametrize("family", objects.OBJECT_FAMILIES)
def test_object_sdf_sign_matches_mesh_and_size(family, sign_agreement_of):
    rng = np.random.default_rng(sum(map(ord, family)))
    obj = objects.sample_object(rng, family)
    mesh = obj.mesh(voxel=0.003)
    assert mesh.is_watertight
    assert sign_agreement_of(obj.sdf, mesh, rng, count=600) >= 0.99
    assert objects.MIN_EXTENT - 0.004 <= 2.0 * obj.half_extents.max() <= objects.MAX_EXTENT + 1e-9
    # the object frame's origin is the centre of the rest shape's bounding box
    rest = mesh.copy().apply_transform(sdf_ops.inverse_pose(obj.pose))
    np.testing.assert_allclose(rest.bounds.mean(axis=0), 0.0, atol=0.003)
    np.testing.assert_allclose(rest.extents / 2.0, obj.half_extents, atol=0.004)
    np.testing.assert_allclose(obj.center, obj.pose[:3, 3])


def test_sample_object_is_deterministic_and_covers_families():
    a = [objects.sample_object(np.random.default_rng(7)) for _ in range(2)]
    assert a[0].family == a[1].family and a[0].params == a[1].params
    np.testing.assert_array_equal(a[0].pose, a[1].pose)
    rng = np.random.default_rng(3)
    drawn = {objects.sample_object(rng).family for _ in range(200)}
    assert drawn == set(objects.OBJECT_FAMILIES)


def test_object_rejects_unknown_family():
    with pytest.raises(ValueError):
        objects.sample_object(np.random.default_rng(0), "teapot")


def test_hand_sdf_sign_matches_mesh(hand, hand_mesh, sign_agreement_of):
    assert hand_mesh.is_watertight and hand_mesh.body_count == 1
    assert 2.0e-4 < hand_mesh.volume < 6.0e-4  # an adult hand is a few hundred cm^3
    assert sign_agreement_of(hand.sdf, hand_mesh, np.random.default_rng(4), count=1000) >= 0.99


def test_hand_zero_set_matches_marching_cubes_within_1mm(hand, hand_mesh):
    assert np.abs(hand.sdf(hand_mesh.vertices)).max() < 1e-3


def test_hand_sdf_is_distance_like_near_surface(hand, hand_mesh):
    rng = np.random.default_rng(5)
    pts = hand_mesh.sample(3000, seed=5) + rng.normal(scale=0.004, size=(3000, 3))
    h = 1e-5
    grad = np.stack([(hand.sdf(pts + h * e) - hand.sdf(pts - h * e)) / (2 * h) for e in np.eye(3)], axis=1)
    norm = np.linalg.norm(grad, axis=1)
    assert np.median(norm) == pytest.approx(1.0, abs=0.01)
    # only the smooth blend between palm and fingers (a few % of the shell) departs from 1
    assert np.mean(np.abs(norm - 1.0) < 0.1) > 0.9
    assert np.percentile(norm, 1) > 0.6
    assert norm.max() < 1.0 + 1e-3  # never overshoots: safe for sphere tracing


def test_hand_radius_tapers_and_fingertip_ends_at_tip(hand, joints):
    # at a fingertip joint the surface passes through the joint; at the MCP it is ~1 cm deep
    tips = hand.sdf(joints[[8, 12, 16]])
    np.testing.assert_allclose(tips, 0.0, atol=1.5e-3)
    assert np.all(hand.sdf(joints[[5, 9, 13]]) < -0.008)


def test_hand_culled_sdf_is_exact_near_surface_and_a_lower_bound(hand):
    rng = np.random.default_rng(6)
    lo, hi = hand.bounds()
    pts = rng.uniform(lo - 0.03, hi + 0.03, size=(4000, 3))
    exact, fast = hand.sdf(pts), hand.sdf(pts, exact_within=0.02)
    assert np.all(fast <= exact + 1e-12)
    near = exact < 0.01
    np.testing.assert_allclose(fast[near], exact[near], atol=1e-12)


def test_hand_rejects_bad_joints(make_joints):
    with pytest.raises(ValueError):
        HandShape.from_joints(np.zeros((20, 3)))
    bad = make_joints()
    bad[6] = bad[5]
    with pytest.raises(ValueError):
        HandShape.from_joints(bad)
