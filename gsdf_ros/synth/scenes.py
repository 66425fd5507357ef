"""SynthHO full-frame scenes for the hand detector: a hand (or none) anywhere in a camera frame.

Each scene stands for a frame of a common camera size (320x240 ... 1920x1080). It is rendered either
directly at the detector's input size (longer side ``long_side``), so a hand of 30-400 px in the
nominal frame keeps its relative size (fast: training data), or, with ``long_side`` 0, at the nominal
frame size itself, as a camera would deliver it (the pose net then sees a small hand with all its
pixels). The same seed draws the same scenes at any ``long_side``.

A scene has at most one hand, at a random position, scale and orientation, holding or approaching an
object or alone; about ``no_hand_prob`` of the scenes have no hand. Distractors make "hand" harder to
fake: skin-coloured blobs, arms without a hand (skin capsules), objects alone. Distractors stay behind
the hand, so the hand's visible box is its mask's.

Randomness per scene comes from ``default_rng([seed, index])``; the split from
:func:`gsdf_ros.synth.generate.split_of`, as for the other SynthHO data.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, Optional

import cv2
import numpy as np

from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.hand.skeleton import sample_template
from gsdf_ros.synth.appearance import random_background, sample_lighting, sample_skin
from gsdf_ros.synth.clips import ClipConfig, ClipPlan, plan_clip, state_grasp
from gsdf_ros.synth.generate import check_distractor_counts, map_ordered, sample_distractors, split_of, write_atomic
from gsdf_ros.synth.grasp import GraspConfig, plan_hand_grasp, pose_hand
from gsdf_ros.synth.objects import make_pose, random_rotation, sample_object
from gsdf_ros.synth.render import LABEL_HAND, LABEL_OCCLUDER, hand_item, object_item, render

FRAME_SIZES: tuple[tuple[int, int], ...] = ((320, 240), (640, 480), (848, 480), (1280, 720), (1920, 1080))
"""Camera frame sizes (width, height) a scene stands for."""
MIN_HAND_PIXELS = 20
MIN_HAND_DEPTH = 0.25
"""Metres: a hand never comes closer to the camera (the largest hands are limited by this)."""
"""A hand with fewer visible pixels in the rendered scene counts as absent."""


@dataclass(frozen=True)
class SceneConfig:
    """What one scene run draws; pixel sizes refer to the nominal camera frame."""

    long_side: int = 384
    """Longer side of the rendered image, px; 0 renders at the nominal frame size."""
    frame_sizes: tuple[tuple[int, int], ...] = FRAME_SIZES
    hand_px: tuple[float, float] = (30.0, 400.0)
    """Longer side of the hand joints' box in the nominal frame, log-uniform."""
    no_hand_prob: float = 0.3
    object_prob: float = 0.7
    """Probability that the hand holds or approaches an object."""
    distractors: tuple[int, int] = (0, 3)
    """Fewest and most distractors per scene (uniform)."""
    hfov_deg: tuple[float, float] = (50.0, 80.0)
    val_frac: float = 0.05
    test_frac: float = 0.0
    jpeg_quality: int = 92

    def __post_init__(self) -> None:
        if not (self.long_side == 0 or self.long_side >= 32) or not self.frame_sizes:
            raise ValueError("long_side must be 0 (nominal size) or at least 32 px, and frame_sizes non-empty")
        if not 0 < self.hand_px[0] <= self.hand_px[1]:
            raise ValueError(f"hand_px must be an increasing positive range, got {self.hand_px}")
        if not 0.0 <= self.no_hand_prob <= 1.0 or not 0.0 <= self.object_prob <= 1.0:
            raise ValueError("no_hand_prob and object_prob must lie in [0, 1]")
        check_distractor_counts(self.distractors)


@dataclass(frozen=True)
class Scene:
    """One rendered scene and its hand label (pixels of the rendered image)."""

    index: int
    split: str
    image: np.ndarray
    nominal_size: tuple[int, int]
    box: tuple[float, float, float, float] | None
    """(x0, y0, x1, y1) of the visible hand pixels; None without a hand."""
    joints_2d: np.ndarray | None
    intrinsics: Intrinsics

    def to_json(self) -> dict:
        return {
            "id": self.index,
            "file": f"images/{self.index:08d}.jpg",
            "size": [int(self.image.shape[1]), int(self.image.shape[0])],
            "nominal_size": list(self.nominal_size),
            "K": [self.intrinsics.fx, self.intrinsics.fy, self.intrinsics.cx, self.intrinsics.cy],
            "hand": None if self.box is None else {
                "box": [round(float(v), 2) for v in self.box],
                "joints_2d": np.round(self.joints_2d, 2).tolist(),
                "side": "right",
            },
        }


def render_size(nominal: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(width, height) of the rendered image: the nominal frame scaled to ``long_side`` (0: not scaled)."""
    if long_side == 0:
        return nominal
    scale = long_side / max(nominal)
    return max(1, round(nominal[0] * scale)), max(1, round(nominal[1] * scale))


def scene_camera(rng: np.random.Generator, size: tuple[int, int], hfov_deg: tuple[float, float]) -> Intrinsics:
    """Square-pixel intrinsics of a (width, height) image with a horizontal field of view drawn in range."""
    width, height = size
    fx = width / 2.0 / math.tan(math.radians(rng.uniform(*hfov_deg)) / 2.0)
    return Intrinsics(fx, fx, (width - 1) / 2.0, (height - 1) / 2.0, width, height)


def plan_any_grasp(rng: np.random.Generator, template: np.ndarray) -> ClipPlan:
    """A grasp clip of ``template``'s hand on some random object (objects are redrawn until one plans)."""
    for _ in range(GraspConfig().attempts):
        obj = sample_object(rng, position=np.zeros(3))
        try:
            return plan_clip(rng, plan_hand_grasp(rng, template, obj), ClipConfig())
        except RuntimeError:
            continue
    raise RuntimeError("could not plan a grasp for a scene")


def hand_object_items(rng: np.random.Generator, camera: Intrinsics, hand_px: float, with_object: bool):
    """Scene items of a hand (grasping, approaching or alone) whose joints' box spans ``hand_px``
    rendered pixels, anywhere in the image; with its camera-frame joints and wrist depth."""
    template = sample_template(rng)
    plan = plan_any_grasp(rng, template)
    state = plan.state(float(rng.uniform(0.3, 1.0)))
    local = pose_hand(template, state.articulation, state.wrist_pose)
    rotation = random_rotation(rng)
    rel = local @ rotation.T
    extent = float(np.ptp(rel[:, :2], axis=0).max())
    side = min(hand_px, 0.6 * min(camera.width, camera.height))
    depth = max(camera.fx * extent / side, MIN_HAND_DEPTH)
    half = camera.fx * extent / depth / 2.0
    u = rng.uniform(min(half, camera.width / 2.0), max(camera.width - half, camera.width / 2.0))
    v = rng.uniform(min(half, camera.height / 2.0), max(camera.height - half, camera.height / 2.0))
    centroid = rel.mean(axis=0)
    target = camera.unproject(np.array([[u, v]]), depth + centroid[2])[0]
    pose = make_pose(rotation, target - centroid)
    grasp = state_grasp(plan, state.placed(pose))
    items = [hand_item(grasp.hand_shape(), sample_skin(rng))]
    if with_object:
        items.append(object_item(grasp.object))
    return items, grasp.joints, float(grasp.joints[:, 2].mean())


def generate_scene(index: int, seed: int, config: SceneConfig) -> Scene:
    """Scene ``index``, deterministic in (seed, index)."""
    rng = np.random.default_rng([int(seed), int(index)])
    nominal = config.frame_sizes[int(rng.integers(len(config.frame_sizes)))]
    camera = scene_camera(rng, render_size(nominal, config.long_side), config.hfov_deg)
    items, joints, hand_depth = [], None, 0.3
    if rng.uniform() >= config.no_hand_prob:
        scale = camera.width / nominal[0]
        hand_px = math.exp(rng.uniform(*np.log(config.hand_px))) * scale
        items, joints, hand_depth = hand_object_items(rng, camera, hand_px, rng.uniform() < config.object_prob)
    items += [object_item(distractor, LABEL_OCCLUDER)
              for distractor in sample_distractors(rng, camera, hand_depth + 0.08, config.distractors)]
    background = random_background(rng, camera.height, camera.width)
    lighting = sample_lighting(rng)
    if not items:
        split = split_of(seed, index, config.val_frac, config.test_frac)
        return Scene(index, split, background, nominal, None, None, camera)
    result = render(items, camera, lighting, background)
    box, joints_2d = None, None
    ys, xs = np.nonzero(result.mask == LABEL_HAND)
    if joints is not None and len(xs) >= MIN_HAND_PIXELS:
        box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
        joints_2d = camera.project(joints)
    split = split_of(seed, index, config.val_frac, config.test_frac)
    return Scene(index, split, result.rgb, nominal, box, joints_2d, camera)


def iterate_scenes(num: int, seed: int, config: SceneConfig, workers: int = 1) -> Iterator[Scene]:
    """Scenes 0..num-1 in order, in this process or a pool of ``workers``."""
    return map_ordered(partial(generate_scene, seed=seed, config=config), num, workers)


def write_scenes(out: Path | str, num: int, seed: int, config: SceneConfig = SceneConfig(), workers: int = 1,
                 on_scene: Optional[Callable[[Scene], None]] = None) -> dict[str, int]:
    """Render ``num`` scenes into ``out``: ``images/<id>.jpg`` and ``scenes_<split>.json`` (a list of
    :meth:`Scene.to_json` entries); returns the number of scenes per split."""
    root = Path(out)
    entries: dict[str, list[dict]] = {}
    for scene in iterate_scenes(num, seed, config, workers):
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(scene.image, cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality])
        if not ok:
            raise ValueError(f"could not encode scene {scene.index}")
        write_atomic(root / "images" / f"{scene.index:08d}.jpg", jpeg.tobytes())
        entries.setdefault(scene.split, []).append(scene.to_json())
        if on_scene is not None:
            on_scene(scene)
    for split, rows in entries.items():
        write_atomic(root / f"scenes_{split}.json", json.dumps({"seed": seed, "scenes": rows}).encode())
    return {split: len(rows) for split, rows in entries.items()}
