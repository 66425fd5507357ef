"""Approach-and-grasp clips: a continuous motion from an open hand at a distance to a grasp.

Time runs over τ in [0, 1]. The motion is planned in the frame of the final hand (the grasp's
hand frame) and placed in the camera frame as a whole:

- approach, τ in [0, τ_c]: the wrist comes from ``approach_distance`` back along the palm normal,
  turned by up to ``approach_rotation``, on a minimum-jerk profile (zero velocity and acceleration
  at both ends) to the grasp pose; the angles go from the open hand to the grasp on a minimum-jerk
  profile that starts at ``close_start`` of the approach; the object stays still;
- hold and lift, τ in [τ_c, 1] (only in clips that lift): hand and object move together, rigidly,
  back along the approach direction by ``lift_distance``.

Frames are sampled at τ = i / (T − 1) (a single frame sits at τ = 1, the grasp); motion-blurred
frames average sub-frames over an exposure centred on their τ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.geometry.transforms import axis_angle_to_matrix
from gsdf_ros.synth import sdf_ops
from gsdf_ros.synth.grasp import Grasp, GraspConfig, HandGrasp, object_view_points, place_in_camera, pose_hand
from gsdf_ros.synth.objects import make_pose


@dataclass(frozen=True)
class ClipConfig:
    """Parameters of the approach-and-grasp motion (metres, radians, fractions of the clip)."""

    approach_distance: tuple[float, float] = (0.06, 0.14)
    approach_rotation: float = math.radians(25.0)
    close_start: float = 0.4
    """Fraction of the approach after which the fingers start to close."""
    lift_probability: float = 0.5
    lift_fraction: float = 0.3
    """Fraction of the clip spent holding and lifting, in clips that lift."""
    lift_distance: tuple[float, float] = (0.03, 0.07)
    shutter: float = 0.5
    """Exposure as a fraction of the frame interval, for motion blur."""
    single_frame_exposure: float = 0.04
    """Exposure (in τ) of a motion-blurred single-frame sample."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.close_start < 1.0 or not 0.0 < self.lift_fraction < 1.0:
            raise ValueError("close_start must lie in [0, 1) and lift_fraction in (0, 1)")
        if not 0.0 <= self.lift_probability <= 1.0 or not 0.0 <= self.shutter <= 1.0:
            raise ValueError("lift_probability and shutter must lie in [0, 1]")


def minimum_jerk(s: float) -> float:
    """The minimum-jerk profile 10s³ − 15s⁴ + 6s⁵ of s clipped to [0, 1]."""
    s = min(max(float(s), 0.0), 1.0)
    return s * s * s * (10.0 - 15.0 * s + 6.0 * s * s)


@dataclass(frozen=True)
class ClipState:
    """The scene at one instant: poses camera <- wrist and camera <- object (or final-hand frame
    before placement), the 20 angles and whether the hand holds the object."""

    tau: float
    wrist_pose: np.ndarray
    object_pose: np.ndarray
    articulation: np.ndarray
    in_contact: bool

    def placed(self, camera_pose: np.ndarray) -> "ClipState":
        """The state seen from a camera at ``camera_pose`` (camera <- final hand)."""
        return ClipState(self.tau, camera_pose @ self.wrist_pose, camera_pose @ self.object_pose,
                         self.articulation, self.in_contact)


@dataclass(frozen=True)
class ClipPlan:
    """One motion in the final hand frame; :meth:`state` evaluates it at any τ in [0, 1]."""

    grasp: HandGrasp
    start_offset: np.ndarray
    """Wrist position at τ = 0, final hand frame."""
    start_rotation: np.ndarray
    """Axis-angle (3,) of the wrist rotation at τ = 0, relative to the final hand."""
    lift: np.ndarray
    """Rigid translation (3,) of hand and object at τ = 1; zero for clips that do not lift."""
    contact_time: float
    """τ at which the hand reaches the grasp (1 for clips that do not lift)."""
    close_start: float

    def state(self, tau: float) -> ClipState:
        """The scene at time ``tau`` (clipped to [0, 1]) in the final hand frame."""
        tau = min(max(float(tau), 0.0), 1.0)
        approach = min(tau / self.contact_time, 1.0)
        contact = self.contact_time
        lifted = 0.0 if tau <= contact else minimum_jerk((tau - contact) / (1.0 - contact))
        remaining = 1.0 - minimum_jerk(approach)
        wrist = make_pose(axis_angle_to_matrix(remaining * self.start_rotation), remaining * self.start_offset)
        carry = make_pose(np.eye(3), lifted * self.lift)
        closing = minimum_jerk((approach - self.close_start) / (1.0 - self.close_start))
        g = self.grasp
        angles = g.open_articulation + closing * (g.articulation - g.open_articulation)
        return ClipState(tau, carry @ wrist, carry @ g.object.pose, angles, approach >= 1.0)


def plan_clip(rng: np.random.Generator, grasp: HandGrasp, config: ClipConfig = ClipConfig()) -> ClipPlan:
    """A random approach (and maybe a lift) that ends in ``grasp``."""
    back = np.array([*rng.normal(scale=0.25, size=2), 1.0])  # away from the palm (+z), a little sideways
    back /= np.linalg.norm(back)
    axis = rng.normal(size=3)
    rotation = axis / np.linalg.norm(axis) * rng.uniform(0.0, config.approach_rotation)
    lifts = rng.uniform() < config.lift_probability
    lift = back * rng.uniform(*config.lift_distance) if lifts else np.zeros(3)
    return ClipPlan(
        grasp=grasp,
        start_offset=back * rng.uniform(*config.approach_distance),
        start_rotation=rotation,
        lift=lift,
        contact_time=1.0 - config.lift_fraction if lifts else 1.0,
        close_start=config.close_start,
    )


def frame_times(length: int) -> np.ndarray:
    """The τ of each of ``length`` frames: evenly from 0 to 1, a single frame at 1."""
    if length < 1:
        raise ValueError(f"a clip needs at least one frame, got {length}")
    return np.ones(1) if length == 1 else np.linspace(0.0, 1.0, length)


def exposure_times(tau: float, length: int, subframes: int, config: ClipConfig = ClipConfig()) -> np.ndarray:
    """Sub-frame times of a motion-blurred frame: an exposure centred on ``tau`` (clipped to [0, 1]);
    with an odd count the middle sub-frame is ``tau`` itself."""
    if subframes < 1:
        raise ValueError(f"motion blur needs at least one sub-frame, got {subframes}")
    span = config.single_frame_exposure if length == 1 else config.shutter / (length - 1)
    return np.clip(tau + span * np.linspace(-0.5, 0.5, subframes), 0.0, 1.0)


def clip_visibility_points(plan: ClipPlan, times: np.ndarray, per_frame: int = 150) -> np.ndarray:
    """Final-hand-frame points that must stay in view over the clip: joints and object surface points."""
    g = plan.grasp
    surface = object_view_points(g.object, per_frame)
    points = []
    for tau in times:
        s = plan.state(tau)
        points.append(pose_hand(g.template, s.articulation, s.wrist_pose))
        points.append(sdf_ops.apply_pose(s.object_pose, surface))
    return np.vstack(points)


def place_clip(rng: np.random.Generator, plan: ClipPlan, times: np.ndarray, camera: Intrinsics,
               config: GraspConfig = GraspConfig()) -> np.ndarray:
    """A camera pose (camera <- final hand) keeping every frame of the clip inside the image."""
    return place_in_camera(rng, clip_visibility_points(plan, times), camera, config)


def state_grasp(plan: ClipPlan, state: ClipState) -> Grasp:
    """A placed state as a :class:`Grasp` (joints, poses and angles at that instant)."""
    g = plan.grasp
    return Grasp(
        template=g.template,
        articulation=state.articulation.copy(),
        open_articulation=g.open_articulation.copy(),
        wrist_pose=state.wrist_pose.copy(),
        object=g.object.with_pose(state.object_pose),
        contacts=g.contacts if state.in_contact else (False,) * len(g.contacts),
        joints=pose_hand(g.template, state.articulation, state.wrist_pose),
    )
