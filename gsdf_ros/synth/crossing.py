"""SynthHO crossing clips: one hand (holding an object or not) moving across a whole camera frame.

The clip the hand detector and tracker are judged on through the running graph: a fixed camera
(640x480 by default) and background, a hand whose joints' box spans ``hand_px`` pixels entering
near one side of the frame and leaving near the other along a gentle wave, turning slowly about the
viewing axis while it closes on its object. Ground truth per frame: the 21 joints in the camera's
optical frame (metres) and their pixels. Randomness comes from ``default_rng([seed, CLIP_STREAM])``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.hand.skeleton import sample_template
from gsdf_ros.synth.appearance import random_background, sample_lighting, sample_skin
from gsdf_ros.synth.clips import state_grasp
from gsdf_ros.synth.generate import write_atomic
from gsdf_ros.synth.grasp import pose_hand
from gsdf_ros.synth.objects import make_pose, random_rotation
from gsdf_ros.synth.render import hand_item, object_item, render
from gsdf_ros.synth.scenes import plan_any_grasp

CLIP_STREAM = 0xC705


@dataclass(frozen=True)
class CrossingConfig:
    """One crossing clip's camera and motion."""

    size: tuple[int, int] = (640, 480)
    frames: int = 120
    hfov_deg: float = 60.0
    hand_px: tuple[float, float] = (110.0, 190.0)
    """Longer side of the hand joints' box at the start of the clip, pixels (uniform)."""
    margin: float = 0.2
    """The hand's centre travels from ``margin`` to ``1 - margin`` of the frame width."""
    wave: float = 0.15
    """Vertical swing of the path, as a fraction of the frame height."""
    turn_deg: float = 40.0
    """Total turn about the viewing axis over the clip."""
    with_object: bool = True

    def __post_init__(self) -> None:
        if self.frames < 2 or min(self.size) < 32:
            raise ValueError(f"a crossing clip needs >= 2 frames of >= 32 px, got {self.frames} of {self.size}")
        if not 0.0 <= self.margin < 0.5:
            raise ValueError(f"margin must lie in [0, 0.5), got {self.margin}")


@dataclass(frozen=True)
class CrossingFrame:
    """One frame of a crossing clip and its ground truth."""

    index: int
    rgb: np.ndarray
    joints: np.ndarray
    """(21, 3) joints in the camera's optical frame, metres."""
    joints_2d: np.ndarray
    """(21, 2) their pixels."""


def crossing_camera(config: CrossingConfig) -> Intrinsics:
    """The clip's square-pixel camera: ``size`` with a ``hfov_deg`` horizontal field of view."""
    width, height = config.size
    fx = width / 2.0 / math.tan(math.radians(config.hfov_deg) / 2.0)
    return Intrinsics(fx, fx, (width - 1) / 2.0, (height - 1) / 2.0, width, height)


def path_point(s: float, config: CrossingConfig, leftward: bool) -> tuple[float, float]:
    """The hand centre's pixel at clip time ``s`` in [0, 1]."""
    width, height = config.size
    along = s if not leftward else 1.0 - s
    u = width * (config.margin + (1.0 - 2.0 * config.margin) * along)
    v = height * (0.5 + config.wave * math.sin(2.0 * math.pi * 1.5 * s))
    return u, v


def crossing_clip(seed: int, config: CrossingConfig = CrossingConfig()) -> Iterator[CrossingFrame]:
    """The frames of crossing clip ``seed``, deterministic in (seed, config)."""
    rng = np.random.default_rng([int(seed), CLIP_STREAM])
    camera = crossing_camera(config)
    template = sample_template(rng)
    plan = plan_any_grasp(rng, template)
    start_rotation = random_rotation(rng)
    tau_start = float(rng.uniform(0.3, 0.6))
    leftward = bool(rng.integers(2))
    skin = sample_skin(rng)
    background = random_background(rng, camera.height, camera.width)
    lighting = sample_lighting(rng)
    first = pose_hand(template, plan.state(tau_start).articulation, plan.state(tau_start).wrist_pose)
    extent = float(np.ptp((first @ start_rotation.T)[:, :2], axis=0).max())
    depth = camera.fx * extent / float(rng.uniform(*config.hand_px))
    for index in range(config.frames):
        s = index / (config.frames - 1)
        state = plan.state(tau_start + (1.0 - tau_start) * s)
        local = pose_hand(template, state.articulation, state.wrist_pose)
        turn = Rotation.from_euler("z", config.turn_deg * s, degrees=True).as_matrix()
        rotation = turn @ start_rotation
        centroid = (local @ rotation.T).mean(axis=0)
        u, v = path_point(s, config, leftward)
        target = camera.unproject(np.array([[u, v]]), depth + centroid[2])[0]
        grasp = state_grasp(plan, state.placed(make_pose(rotation, target - centroid)))
        items = [hand_item(grasp.hand_shape(), skin)]
        if config.with_object:
            items.append(object_item(grasp.object))
        rgb = render(items, camera, lighting, background).rgb
        yield CrossingFrame(index, rgb, grasp.joints.astype(np.float64), camera.project(grasp.joints))


def write_crossing_clip(out: Path | str, seed: int, config: CrossingConfig = CrossingConfig(),
                        jpeg_quality: int = 95) -> Path:
    """Render clip ``seed`` into ``out``: ``frames/<index>.jpg`` and ``clip.json`` (camera K, size and
    per frame the joints in metres and pixels); returns the path of ``clip.json``."""
    root = Path(out)
    camera = crossing_camera(config)
    rows = []
    for frame in crossing_clip(seed, config):
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        if not ok:
            raise ValueError(f"could not encode frame {frame.index}")
        name = f"frames/{frame.index:05d}.jpg"
        write_atomic(root / name, jpeg.tobytes())
        rows.append({"file": name, "joints": np.round(frame.joints, 6).tolist(),
                     "joints_2d": np.round(frame.joints_2d, 2).tolist()})
    meta = {"seed": seed, "size": list(config.size), "K": camera.matrix().tolist(), "frames": rows}
    path = root / "clip.json"
    write_atomic(path, json.dumps(meta).encode())
    return path
