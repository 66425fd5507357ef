"""The package's own right-hand template."""

import numpy as np
import pytest

from gsdf_ros.hand.joints import FINGER_JOINTS, MCP_JOINTS, TIP_JOINTS
from gsdf_ros.hand.skeleton import HandTemplate, default_template, hand_axes, sample_template


def test_default_template_has_adult_dimensions():
    t = default_template()
    assert t.joints.shape == (21, 3)
    np.testing.assert_array_equal(t.joints[0], 0.0)
    assert 0.08 <= t.palm_length() <= 0.09
    assert 0.05 <= t.palm_width() <= 0.07
    lengths = t.bone_lengths()
    assert np.all((lengths >= 0.015) & (lengths <= 0.09))
    middle_length = np.linalg.norm(t.joints[TIP_JOINTS[2]])
    assert 0.17 <= middle_length <= 0.20  # wrist to middle fingertip
    # Middle finger the longest, little the shortest of the four fingers.
    finger_len = [sum(lengths[FINGER_JOINTS[f][1] - 1 : FINGER_JOINTS[f][3]]) for f in range(1, 5)]
    assert np.argmax(finger_len) == 1 and np.argmin(finger_len) == 3


def test_template_frame_is_right_handed_with_thumb_on_plus_y():
    t = default_template()
    axes = t.axes()
    np.testing.assert_allclose(axes @ axes.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(axes), 1.0)
    np.testing.assert_allclose(axes, np.eye(3), atol=1e-12)  # the documented template frame
    assert t.joints[TIP_JOINTS[0], 1] > 0.05  # thumb tip far on the radial side
    assert t.joints[TIP_JOINTS[4], 1] < 0.0
    assert t.joints[MCP_JOINTS[0], 2] < 0.0  # thumb base on the palmar side


def test_wrist_to_base_vectors_are_not_coplanar():
    bases = default_template().joints[list(MCP_JOINTS)]
    singular = np.linalg.svd(bases, compute_uv=False)
    assert singular[-1] > 0.005  # metres: a clear third dimension for the Kabsch fit


def test_sample_template_is_deterministic_and_bounded():
    base = default_template()
    a = sample_template(np.random.default_rng(7))
    b = sample_template(np.random.default_rng(7))
    np.testing.assert_array_equal(a.joints, b.joints)
    samples = [sample_template(np.random.default_rng(s), 0.1, 0.08) for s in range(50)]
    ratios = np.array([s.bone_lengths() / base.bone_lengths() for s in samples])
    assert ratios.min() >= 0.85 and ratios.max() <= 1.15
    assert ratios.std() > 0.02  # the hands do vary
    widths = np.array([s.palm_width() / base.palm_width() for s in samples])
    assert widths.min() >= 0.85 and widths.max() <= 1.15
    np.testing.assert_allclose(sample_template(np.random.default_rng(1), 0.0, 0.0).joints, base.joints)


def test_bad_templates_raise():
    with pytest.raises(ValueError, match="shape"):
        HandTemplate(np.zeros((20, 3)))
    with pytest.raises(ValueError, match="finite"):
        HandTemplate(np.full((21, 3), np.nan))
    with pytest.raises(ValueError, match="micrometre"):
        HandTemplate(np.zeros((21, 3)))
    with pytest.raises(ValueError, match="bone_scale_range"):
        sample_template(np.random.default_rng(0), bone_scale_range=1.5)


def test_hand_axes_follow_a_rotated_hand():
    t = default_template()
    rot = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(hand_axes(t.joints @ rot.T), t.axes() @ rot.T, atol=1e-12)
