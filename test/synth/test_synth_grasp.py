"""Grasps and clips of SynthHO: contact, interpenetration, visibility and continuous motion."""

from __future__ import annotations

import numpy as np
import pytest

from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.hand.limits import within_limits
from gsdf_ros.hand.skeleton import sample_template
from gsdf_ros.synth import sdf_ops
from gsdf_ros.synth.clips import ClipConfig, frame_times, place_clip, plan_clip, state_grasp
from gsdf_ros.synth.generate import hand_mesh
from gsdf_ros.synth.grasp import (
    GraspConfig,
    fingertip_gaps,
    inside_image,
    object_surface_points,
    phalanx_distances,
    plan_hand_grasp,
    sample_grasp,
)
from gsdf_ros.synth.objects import sample_object

CAMERA = Intrinsics(480.0, 480.0, 127.5, 127.5, 256, 256)


@pytest.fixture(scope="module")
def grasps():
    return [sample_grasp(np.random.default_rng(seed), CAMERA, family)
            for seed, family in enumerate(("sphere", "box", "cylinder", "mug", "convex"))]


def _object_points(grasp, voxel=0.002):
    return sdf_ops.apply_pose(grasp.object.pose, object_surface_points(grasp.object, voxel))


def test_interpenetration_below_two_millimetres_on_dense_meshes(grasps):
    for g in grasps:
        hand = g.hand_shape()
        hand_vertices = np.asarray(hand_mesh(hand, 0.002).vertices)
        obj_points = _object_points(g)
        hand_in_object = -g.object.sdf(hand_vertices).min()
        object_in_hand = -hand.sdf(obj_points).min()
        assert max(hand_in_object, object_in_hand) <= 0.002, g.object.family


def test_touching_fingers_end_on_the_surface_and_the_others_stay_clear(grasps):
    for g in grasps:
        assert sum(g.contacts) >= 2, g.object.family
        points = _object_points(g)
        for finger, touching in enumerate(g.contacts):
            closest = phalanx_distances(g.joints, points, finger).min()
            if touching:
                assert abs(closest) < 0.0015, (g.object.family, finger, closest)
            else:
                assert closest > 0.0, (g.object.family, finger, closest)
        assert np.all(np.abs(fingertip_gaps(g, points)) < 0.2)


def test_grasp_is_in_view_and_within_limits(grasps):
    for g in grasps:
        assert within_limits(g.articulation, tolerance=1e-6)
        assert 0.3 <= g.wrist_position[2] <= 0.8
        assert inside_image(CAMERA.project(g.joints), CAMERA, 0.0)
        assert inside_image(CAMERA.project(_object_points(g, 0.006)), CAMERA, 0.0)
        # the palm (−z of the hand frame) faces the object
        palm_normal = g.wrist_rotation @ np.array([0.0, 0.0, -1.0])
        assert palm_normal @ (g.object.center - g.joints[[0, 5, 9, 13, 17]].mean(axis=0)) > 0.0


def test_bad_depth_range_is_rejected():
    with pytest.raises(ValueError, match="wrist_depth"):
        GraspConfig(wrist_depth=(0.8, 0.3))


@pytest.mark.parametrize("lift", [0.0, 1.0])
def test_clip_moves_continuously_and_ends_in_the_grasp(lift):
    rng = np.random.default_rng(7)
    template = sample_template(rng)
    grasp = plan_hand_grasp(rng, template, sample_object(rng, "cylinder", np.zeros(3)))
    plan = plan_clip(rng, grasp, ClipConfig(lift_probability=lift))
    times = frame_times(10)
    camera_pose = place_clip(rng, plan, times, CAMERA)
    frames = [state_grasp(plan, plan.state(t).placed(camera_pose)) for t in times]
    joints = np.stack([f.joints for f in frames])
    steps = np.linalg.norm(np.diff(joints, axis=0), axis=2).max(axis=1)
    assert steps.max() < 0.08 and steps.max() > 0.0
    # finer sampling: the motion is continuous (steps shrink with the frame interval)
    fine = np.stack([state_grasp(plan, plan.state(t).placed(camera_pose)).joints for t in np.linspace(0, 1, 91)])
    assert np.linalg.norm(np.diff(fine, axis=0), axis=2).max() < steps.max() / 4
    # the last frame holds the grasp: same angles, same hand pose relative to the object
    last = frames[-1]
    np.testing.assert_allclose(last.articulation, grasp.articulation, atol=1e-12)
    relative = np.linalg.inv(last.object.pose) @ last.wrist_pose
    np.testing.assert_allclose(relative, np.linalg.inv(grasp.object.pose), atol=1e-9)
    assert (np.linalg.norm(joints[-1] - joints[0], axis=1).max() > 0.03)
    for f in frames:
        assert inside_image(CAMERA.project(f.joints), CAMERA, 0.0)
