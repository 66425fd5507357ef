"""Articulation limits and named angles -> local rotations."""

import numpy as np
import pytest

from gsdf_ros.hand.joints import BONE_FRAME_JOINTS, FINGER_JOINTS, TIP_JOINTS
from gsdf_ros.hand.kinematics import forward_kinematics_np
from gsdf_ros.hand.limits import (
    ARTICULATION_NAMES,
    ARTICULATIONS,
    LOWER,
    UPPER,
    articulation_axes,
    articulation_index,
    articulation_to_local_rotations,
    clamp_articulation,
    sample_articulation,
    within_limits,
)
from gsdf_ros.hand.skeleton import default_template

TEMPLATE = default_template()


def pose(**angles_deg: float) -> np.ndarray:
    """Joints (21, 3) of the template posed with the named angles (degrees), others zero."""
    angles = np.zeros(len(ARTICULATION_NAMES))
    for name, deg in angles_deg.items():
        angles[articulation_index(name)] = np.radians(deg)
    return forward_kinematics_np(articulation_to_local_rotations(angles, TEMPLATE), TEMPLATE.joints)[0]


def test_names_and_ranges():
    assert len(ARTICULATION_NAMES) == len(set(ARTICULATION_NAMES)) == 20
    assert np.all(LOWER < 0) and np.all(UPPER > 0)  # the flat rest pose is allowed
    assert np.all(UPPER - LOWER > np.radians(20)) and np.all(UPPER <= np.radians(110) + 1e-12)
    assert articulation_index("index_pip_flexion") == 6
    with pytest.raises(KeyError, match="unknown articulation"):
        articulation_index("index_knuckle")


def test_zero_angles_give_identity_and_rest_pose():
    local = articulation_to_local_rotations(np.zeros(20), TEMPLATE)
    np.testing.assert_allclose(local, np.broadcast_to(np.eye(3), (16, 3, 3)), atol=1e-15)
    np.testing.assert_allclose(pose(), TEMPLATE.joints, atol=1e-15)


def test_axes_are_unit_and_perpendicular_to_their_bones():
    axes = articulation_axes(TEMPLATE)
    np.testing.assert_allclose(np.linalg.norm(axes, axis=1), 1.0)
    for axis, art in zip(axes, ARTICULATIONS):
        joint = BONE_FRAME_JOINTS[art.frame]
        assert abs(axis @ (TEMPLATE.joints[joint + 1] - TEMPLATE.joints[joint])) < 1e-12


def test_flexion_closes_fingers_into_the_palm():
    rest_index = TEMPLATE.joints[FINGER_JOINTS[1][1]] - TEMPLATE.joints[FINGER_JOINTS[1][0]]
    bent = pose(index_mcp_flexion=90.0)
    segment = bent[FINGER_JOINTS[1][1]] - bent[FINGER_JOINTS[1][0]]
    np.testing.assert_allclose(segment / np.linalg.norm(segment), [0.0, 0.0, -1.0], atol=1e-12)
    assert np.linalg.norm(segment) == pytest.approx(np.linalg.norm(rest_index))
    fist = {n: np.degrees(hi) for n, hi in zip(ARTICULATION_NAMES, UPPER) if "flexion" in n}
    closed = pose(**fist)
    tips, mcps = closed[list(TIP_JOINTS[1:])], closed[[FINGER_JOINTS[f][0] for f in range(1, 5)]]
    assert np.all(tips[:, 2] < -0.01)  # fingertips on the palm side
    assert np.all(tips[:, 0] < mcps[:, 0] - 0.01)  # and curled back past the knuckles: a fist
    tip_to_wrist = np.linalg.norm(closed[list(TIP_JOINTS[1:])], axis=1)
    assert np.all(tip_to_wrist < 0.8 * np.linalg.norm(TEMPLATE.joints[list(TIP_JOINTS[1:])], axis=1))


def test_abduction_and_thumb_directions():
    rest = TEMPLATE.joints
    assert pose(index_mcp_abduction=20.0)[TIP_JOINTS[1], 1] > rest[TIP_JOINTS[1], 1] + 0.01
    assert pose(little_mcp_abduction=-25.0)[TIP_JOINTS[4], 1] < rest[TIP_JOINTS[4], 1] - 0.01
    assert pose(thumb_cmc_flexion=40.0)[TIP_JOINTS[0], 1] < rest[TIP_JOINTS[0], 1] - 0.02
    assert pose(thumb_cmc_abduction=40.0)[TIP_JOINTS[0], 2] < rest[TIP_JOINTS[0], 2] - 0.02
    curled = pose(thumb_mcp_flexion=50.0, thumb_ip_flexion=70.0)
    assert curled[TIP_JOINTS[0], 2] < rest[TIP_JOINTS[0], 2] - 0.01


def test_clamp_sample_and_batching():
    rng = np.random.default_rng(0)
    angles = sample_articulation(rng, 32)
    assert angles.shape == (32, 20) and within_limits(angles).all()
    wild = angles * 5.0
    clamped = clamp_articulation(wild)
    assert within_limits(clamped).all() and not within_limits(wild).all()
    inside = within_limits(wild)
    np.testing.assert_array_equal(clamped[inside], wild[inside])
    batched = articulation_to_local_rotations(angles, TEMPLATE)
    assert batched.shape == (32, 16, 3, 3)
    np.testing.assert_allclose(batched[3], articulation_to_local_rotations(angles[3], TEMPLATE))
    np.testing.assert_allclose(np.linalg.det(batched), 1.0, atol=1e-12)
    from_array = articulation_to_local_rotations(angles[:2], TEMPLATE.joints.copy())
    np.testing.assert_allclose(from_array, batched[:2])


def test_bad_angles_raise():
    with pytest.raises(ValueError, match="shape"):
        clamp_articulation(np.zeros(19))
    with pytest.raises(ValueError, match="finite"):
        articulation_to_local_rotations(np.full(20, np.nan), TEMPLATE)
