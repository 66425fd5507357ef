"""SynthHO dataset generation: seeded samples and clips written in the gSDF layout.

Every clip (a single sample is a clip of one frame) draws all its randomness from
``numpy.random.default_rng([seed, clip_index])``, so the output does not depend on the number of
worker processes. Sample ids are ``clip_index * clip_len + frame``; a clip's frames share its
split, drawn from ``default_rng([seed, clip_index, 1])`` (``test_frac``, then ``val_frac``).

Per sample the layout writer stores the image, SDF files, normalisation, meshes and the annotation;
beside them this module writes ``segm/<name>.png`` (uint8 labels: 0 background, 1 hand, 2 object,
3 occluder) and ``depth/<name>.png`` (uint16 z-depth in units of :data:`DEPTH_UNIT` metres, 0 for
background).

Annotation conventions: ``hand_poses`` (48) = axis-angle of the wrist rotation (camera <- hand
frame of :mod:`gsdf_ros.hand.skeleton`) followed by the axis-angles of the 15 local finger
rotations in the bone-frame order of :mod:`gsdf_ros.hand.joints` (thumb 1-3, index 1-3, middle,
ring, little), relative to the sample's own template (``hand_template``), with no mean pose added;
``hand_trans`` = wrist position; ``obj_transform`` = camera <- object (scale 1). Extra keys:
``obj_family``, ``articulation`` (the 20 named angles of :mod:`gsdf_ros.hand.limits`, rad),
``hand_template`` (21 rest joints), ``contacts`` (per finger), ``in_contact``, ``clip``, ``frame``.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, Sequence, TypeVar

import cv2
import numpy as np
import torch
import trimesh

from gsdf_ros.data.layout import Annotation, LayoutWriter, SampleRecord, SdfSamples, format_id, write_atomic
from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.geometry.transforms import matrix_to_axis_angle
from gsdf_ros.hand.joints import BONES
from gsdf_ros.hand.limits import articulation_to_local_rotations
from gsdf_ros.hand.skeleton import sample_template
from gsdf_ros.synth import sdf_ops
from gsdf_ros.synth.appearance import Lighting, Material, random_background, sample_lighting, sample_skin
from gsdf_ros.synth.clips import (
    ClipConfig,
    ClipPlan,
    exposure_times,
    frame_times,
    place_clip,
    plan_clip,
    state_grasp,
)
from gsdf_ros.synth.grasp import Grasp, GraspConfig, plan_hand_grasp
from gsdf_ros.synth.hand_shape import HandShape
from gsdf_ros.synth.objects import SynthObject, make_pose, random_rotation, sample_object, sample_occluder
from gsdf_ros.synth.render import LABEL_OCCLUDER, RenderResult, hand_item, object_item, render, render_motion_blur
from gsdf_ros.synth.sdf_samples import make_sdf_samples

SPLITS: tuple[str, ...] = ("train", "val", "test")
T = TypeVar("T")
DISTRACTOR_GAP = 0.05
"""Metres between the hand's farthest joint and the nearest distractor."""
DEPTH_UNIT = 1e-4
"""Metres per unit of the uint16 depth PNGs (0.1 mm, up to 6.5 m)."""


@dataclass(frozen=True)
class SynthConfig:
    """What one SynthHO run generates; image sizes in pixels, lengths in metres."""

    size: int = 256
    focal: tuple[float, float] = (400.0, 600.0)
    """Focal length range (px) for a 256-pixel image; scaled with ``size``."""
    principal_jitter: float = 0.04
    """Principal point offset from the image centre, as a fraction of the size (uniform)."""
    clip_len: int = 1
    blur: bool = False
    blur_subframes: int = 3
    occluders: bool = False
    occluder_probability: float = 0.6
    hand_voxel: float = 0.003
    object_voxel: float = 0.003
    sdf_surface: int = 2000
    sdf_uniform: int = 500
    val_frac: float = 0.1
    test_frac: float = 0.1
    image_format: str = "png"
    pose_only: bool = False
    """Images, annotations and label images only (no SDF files, no meshes): pose-stage data, fast."""
    views: int = 1
    """Samples per planned grasp (single-frame data only): each its own camera, instant and look."""
    view_tau: tuple[float, float] = (0.4, 1.0)
    """Range of the motion instant τ of the extra views (1 = the grasp; lower = approaching, opening)."""
    distractors: tuple[int, int] = (0, 0)
    """Fewest and most distractors per clip or view (uniform): skin blobs, bare arms and lone objects
    anywhere in view behind the hand, as in the detector's scenes."""
    grasp: GraspConfig = field(default_factory=GraspConfig)
    clip: ClipConfig = field(default_factory=ClipConfig)

    def __post_init__(self) -> None:
        if self.size < 16:
            raise ValueError(f"size must be at least 16 px, got {self.size}")
        if not 0 < self.focal[0] <= self.focal[1]:
            raise ValueError(f"focal must be an increasing positive range, got {self.focal}")
        if self.clip_len < 1 or self.blur_subframes < 1 or self.blur_subframes % 2 == 0:
            raise ValueError("clip_len must be >= 1 and blur_subframes odd")
        if self.val_frac < 0 or self.test_frac < 0 or self.val_frac + self.test_frac > 1:
            raise ValueError(
                f"val_frac and test_frac must be >= 0 with a sum <= 1, got {self.val_frac}, {self.test_frac}"
            )
        if self.views < 1 or (self.views > 1 and self.clip_len > 1):
            raise ValueError(f"views must be >= 1, and 1 for clips, got {self.views} with clip_len {self.clip_len}")
        if not 0.0 <= self.view_tau[0] <= self.view_tau[1] <= 1.0:
            raise ValueError(f"view_tau must be an increasing range in [0, 1], got {self.view_tau}")
        check_distractor_counts(self.distractors)
        if self.hand_voxel <= 0 or self.object_voxel <= 0 or self.sdf_surface < 1 or self.sdf_uniform < 0:
            raise ValueError("voxels must be > 0, sdf_surface >= 1 and sdf_uniform >= 0")


@dataclass(frozen=True)
class SynthFrame:
    """One generated sample: the record for the layout writer, its split and label images."""

    record: SampleRecord
    split: str
    mask: np.ndarray
    depth: np.ndarray
    clip: int
    stored: bool = False
    """Its files are already on disk (a resumed run): not rendered, only its annotation is new."""


# ---------------------------------------------------------------- per-sample randomness


def clip_rng(seed: int, clip: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(clip)])


def sample_distractor(rng: np.random.Generator, camera: Intrinsics, min_depth: float) -> SynthObject:
    """A skin blob, a skin capsule (an arm without a hand) or an object, somewhere in view at least
    ``min_depth`` metres from the camera."""
    kind = rng.integers(3)
    depth = rng.uniform(min_depth, max(min_depth + 0.1, 2.0))
    uv = np.array([[rng.uniform(0, camera.width), rng.uniform(0, camera.height)]])
    position = camera.unproject(uv, depth)[0]
    if kind == 0:
        obj = sample_object(rng, "blob", position)
        return SynthObject(obj.family, obj.params, obj.pose, sample_skin(rng))
    if kind == 1:
        params = {"radius": float(rng.uniform(0.025, 0.045)), "half_length": float(rng.uniform(0.08, 0.2))}
        return SynthObject("capsule", params, make_pose(random_rotation(rng), position), sample_skin(rng))
    return sample_object(rng, position=position)


def sample_distractors(rng: np.random.Generator, camera: Intrinsics, min_depth: float,
                       counts: tuple[int, int]) -> list[SynthObject]:
    """A count uniform in ``counts`` (fewest, most), then that many :func:`sample_distractor`."""
    count = int(rng.integers(counts[0], counts[1] + 1))
    return [sample_distractor(rng, camera, min_depth) for _ in range(count)]


def check_distractor_counts(counts: tuple[int, int]) -> None:
    """ValueError unless ``counts`` is an increasing range of counts (fewest, most)."""
    if not 0 <= counts[0] <= counts[1]:
        raise ValueError(f"distractors must be an increasing range of counts, got {counts}")


def split_of(seed: int, clip: int, val_frac: float, test_frac: float) -> str:
    """The split of a clip, from its own random stream (independent of the content)."""
    u = np.random.default_rng([int(seed), int(clip), 1]).uniform()
    return "test" if u < test_frac else "val" if u < test_frac + val_frac else "train"


def sample_intrinsics(rng: np.random.Generator, size: int, focal: tuple[float, float], jitter: float) -> Intrinsics:
    """Square-pixel intrinsics of a size x size image: focal in ``focal`` (per 256 px), centre jittered."""
    scale = size / 256.0
    f = rng.uniform(*focal) * scale
    cx, cy = (size - 1) / 2.0 + rng.uniform(-jitter, jitter, size=2) * size
    return Intrinsics(f, f, float(cx), float(cy), size, size)


# ---------------------------------------------------------------- geometry and annotation


def hand_mesh(hand: HandShape, voxel: float) -> trimesh.Trimesh:
    """Marching-cubes hand mesh; the SDF is exact only near the surface, which is all the mesh needs."""
    lo, hi = hand.bounds()
    return sdf_ops.sdf_to_mesh(lambda p: hand.sdf(p, exact_within=3.0 * voxel), lo, hi, voxel)


def hand_poses(grasp: Grasp) -> np.ndarray:
    """The 48 axis-angle values of the module's convention (wrist, then 15 local finger rotations)."""
    local = articulation_to_local_rotations(grasp.articulation, grasp.template)
    local[0] = grasp.wrist_rotation
    return matrix_to_axis_angle(local).reshape(-1)


def annotation_of(sample_id: int, grasp: Grasp, camera: Intrinsics, norm_offset: np.ndarray | None,
                  norm_scale: float | None,
                  in_contact: bool, clip: int, frame: int) -> Annotation:
    """The layout annotation of one frame."""
    obj = grasp.object
    extra = {
        "obj_family": obj.family,
        "articulation": grasp.articulation.tolist(),
        "hand_template": grasp.template.joints.tolist(),
        "contacts": [bool(c) for c in grasp.contacts],
        "in_contact": bool(in_contact),
        "clip": int(clip),
        "frame": int(frame),
    }
    return Annotation(
        id=sample_id, intrinsics=camera, hand_joints_3d=grasp.joints, obj_center_3d=obj.center,
        obj_corners_3d=obj.corners(), hand_poses=hand_poses(grasp), obj_transform=obj.pose,
        obj_rest_corners_3d=obj.rest_corners(), sdf_offset=norm_offset, sdf_scale=norm_scale,
        hand_trans=grasp.wrist_position, extra=extra,
    )


# ---------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Appearance:
    """Skin, light and background of one clip."""

    skin: Material
    lighting: Lighting
    background: np.ndarray


def sample_appearance(rng: np.random.Generator, camera: Intrinsics) -> Appearance:
    return Appearance(sample_skin(rng), sample_lighting(rng), random_background(rng, camera.height, camera.width))


def _scene(grasp: Grasp, appearance: Appearance, occluders: Sequence[SynthObject]) -> list:
    items = [hand_item(grasp.hand_shape(), appearance.skin), object_item(grasp.object)]
    return items + [object_item(o, LABEL_OCCLUDER) for o in occluders]


def render_frame(plan: ClipPlan, camera_pose: np.ndarray, tau: float, camera: Intrinsics, appearance: Appearance,
                 occluders: Sequence[SynthObject], config: SynthConfig) -> RenderResult:
    """Render the clip at ``tau``; with blur, the colour averages sub-frames centred on ``tau``
    (mask and depth come from the middle one, at ``tau``)."""
    grasp = state_grasp(plan, plan.state(tau).placed(camera_pose))
    if not config.blur:
        return render(_scene(grasp, appearance, occluders), camera, appearance.lighting, appearance.background)
    times = exposure_times(tau, config.clip_len, config.blur_subframes, config.clip)
    frames = [_scene(state_grasp(plan, plan.state(t).placed(camera_pose)), appearance, occluders) for t in times]
    return render_motion_blur(frames, camera, appearance.lighting, appearance.background)


# ---------------------------------------------------------------- one clip


def _plan(rng: np.random.Generator, camera: Intrinsics, config: SynthConfig) -> tuple[ClipPlan, np.ndarray]:
    """A grasp, its motion and a camera pose that keeps every frame in view (re-drawn if none fits)."""
    template = sample_template(rng)
    times = frame_times(config.clip_len)
    for _ in range(config.grasp.attempts):
        obj = sample_object(rng, position=np.zeros(3))
        try:
            plan = plan_clip(rng, plan_hand_grasp(rng, template, obj, config.grasp), config.clip)
            return plan, place_clip(rng, plan, times, camera, config.grasp)
        except RuntimeError:
            continue
    raise RuntimeError("could not generate a grasp that fits the image; widen the focal or depth ranges")


def _blank_render(camera: Intrinsics) -> RenderResult:
    """Stand-in images of a sample that is already on disk (rendering draws nothing from the rng)."""
    shape = (camera.height, camera.width)
    return RenderResult(np.zeros((*shape, 3), np.uint8), np.zeros(shape, np.uint8), np.zeros(shape, np.float32))


def frame_record(plan: ClipPlan, camera_pose: np.ndarray, tau: float, camera: Intrinsics, appearance: Appearance,
                 occluders: Sequence[SynthObject], config: SynthConfig, rng: np.random.Generator, sample_id: int,
                 clip: int, frame: int, stored: bool = False) -> tuple[SampleRecord, RenderResult]:
    """Render one instant of a plan and build its layout record (SDF files and meshes unless pose-only);
    ``stored`` (pose-only): the images are on disk already, only the annotation is built."""
    state = plan.state(tau).placed(camera_pose)
    grasp = state_grasp(plan, state)
    if stored and not config.pose_only:
        raise ValueError("only pose-only runs can be resumed")
    result = _blank_render(camera) if stored else render_frame(plan, camera_pose, tau, camera, appearance, occluders,
                                                               config)
    if config.pose_only:
        ann = annotation_of(sample_id, grasp, camera, None, None, state.in_contact, clip, frame)
        return SampleRecord(ann, result.rgb), result
    hand = grasp.hand_shape()
    meshes = hand_mesh(hand, config.hand_voxel), grasp.object.mesh(config.object_voxel)
    sdf = make_sdf_samples(
        rng, meshes[0], hand.sdf, meshes[1], grasp.object.sdf, config.sdf_surface, config.sdf_uniform
    )
    ann = annotation_of(sample_id, grasp, camera, sdf.norm.offset, sdf.norm.scale, state.in_contact, clip, frame)
    return SampleRecord(ann, result.rgb, SdfSamples(**sdf.hand), SdfSamples(**sdf.obj), *meshes), result


def _occluders(rng: np.random.Generator, plan: ClipPlan, camera_pose: np.ndarray, config: SynthConfig) -> list:
    if config.occluders and rng.uniform() < config.occluder_probability:
        return [sample_occluder(rng, (camera_pose @ plan.grasp.object.pose)[:3, 3])]
    return []


def _distractors(rng: np.random.Generator, plan: ClipPlan, camera_pose: np.ndarray, camera: Intrinsics,
                 taus: Sequence[float], config: SynthConfig) -> list:
    """``config.distractors`` distractors behind the hand's farthest joint over the instants ``taus``;
    none (and no random draw) when the range is (0, 0)."""
    if config.distractors[1] == 0:
        return []
    far = max(float(state_grasp(plan, plan.state(t).placed(camera_pose)).joints[:, 2].max()) for t in taus)
    return sample_distractors(rng, camera, far + DISTRACTOR_GAP, config.distractors)


def _extra_view(rng: np.random.Generator, plan: ClipPlan, config: SynthConfig) -> tuple:
    """Another look at the same grasp plan: new intrinsics, instant, camera pose and appearance."""
    camera = sample_intrinsics(rng, config.size, config.focal, config.principal_jitter)
    tau = float(rng.uniform(*config.view_tau))
    for _ in range(config.grasp.attempts):
        try:
            camera_pose = place_clip(rng, plan, np.array([tau]), camera, config.grasp)
            return camera, tau, camera_pose
        except RuntimeError:
            continue
    raise RuntimeError("could not place an extra view of the grasp in the image")


def generate_clip(clip: int, seed: int, config: SynthConfig,
                  stored: Optional[Callable[[int], bool]] = None) -> list[SynthFrame]:
    """All frames of clip ``clip`` (one frame when ``clip_len`` is 1, ``views`` frames of one grasp
    with ``views`` > 1), deterministic in (seed, clip). ``stored(sample_id)`` True: that sample's files
    are on disk already and it is not rendered again (same annotation: rendering draws nothing)."""
    stored = stored or (lambda _sample_id: False)
    rng = clip_rng(seed, clip)
    camera = sample_intrinsics(rng, config.size, config.focal, config.principal_jitter)
    plan, camera_pose = _plan(rng, camera, config)
    appearance = sample_appearance(rng, camera)
    occluders = _occluders(rng, plan, camera_pose, config)
    occluders += _distractors(rng, plan, camera_pose, camera, frame_times(config.clip_len), config)
    split = split_of(seed, clip, config.val_frac, config.test_frac)
    frames = []
    for frame, tau in enumerate(frame_times(config.clip_len)):
        sample_id = clip * config.clip_len * config.views + frame
        done = stored(sample_id)
        record, result = frame_record(plan, camera_pose, tau, camera, appearance, occluders, config, rng,
                                      sample_id, clip, frame, done)
        frames.append(SynthFrame(record, split, result.mask, result.depth, clip, done))
    for view in range(1, config.views):
        camera, tau, camera_pose = _extra_view(rng, plan, config)
        appearance = sample_appearance(rng, camera)
        occluders = _occluders(rng, plan, camera_pose, config)
        occluders += _distractors(rng, plan, camera_pose, camera, [tau], config)
        sample_id = clip * config.views + view
        done = stored(sample_id)
        record, result = frame_record(plan, camera_pose, tau, camera, appearance, occluders, config, rng,
                                      sample_id, clip, view, done)
        frames.append(SynthFrame(record, split, result.mask, result.depth, clip, done))
    return frames


# ---------------------------------------------------------------- writing


def _png_bytes(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("could not encode a PNG")
    return buf.tobytes()


def depth_to_png(depth: np.ndarray) -> np.ndarray:
    """z-depth (m, 0 = background) as uint16 in units of :data:`DEPTH_UNIT`."""
    return np.clip(np.round(np.asarray(depth, np.float64) / DEPTH_UNIT), 0, 65535).astype(np.uint16)


def write_label_images(root: Path, frame: SynthFrame) -> None:
    """``segm/<name>.png`` and ``depth/<name>.png`` of one frame."""
    name = frame.record.annotation.file_name
    write_atomic(root / "segm" / f"{name}.png", _png_bytes(frame.mask))
    write_atomic(root / "depth" / f"{name}.png", _png_bytes(depth_to_png(frame.depth)))


def _init_worker() -> None:
    torch.set_num_threads(1)


@contextlib.contextmanager
def _single_threaded_torch() -> Iterator[None]:
    """Run in-process generation with one torch thread, as the workers do (same arithmetic)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def sample_on_disk(root: Path, image_ext: str, sample_id: int) -> bool:
    """Whether every file of a pose-only sample is on disk (the depth image is written last)."""
    name = format_id(sample_id)
    return (root / "depth" / f"{name}.png").is_file() and (root / "rgb" / f"{name}{image_ext}").is_file()


def map_ordered(job: Callable[[int], T], num: int, workers: int = 1) -> Iterator[T]:
    """``job(0)`` .. ``job(num - 1)`` in order, in this process (``workers`` = 1) or a process pool, each
    with one torch thread (the same arithmetic either way)."""
    if num < 0 or workers < 1:
        raise ValueError(f"num must be >= 0 and workers >= 1, got {num}, {workers}")
    if workers == 1:
        with _single_threaded_torch():
            for index in range(num):
                yield job(index)
        return
    context = multiprocessing.get_context("spawn" if os.name == "nt" else "fork")
    with context.Pool(workers, initializer=_init_worker) as pool:
        yield from pool.imap(job, range(num), chunksize=1)


def iterate_clips(num: int, seed: int, config: SynthConfig, workers: int = 1,
                  stored: Optional[Callable[[int], bool]] = None) -> Iterator[list[SynthFrame]]:
    """The clips 0..num-1 in order, generated in-process (``workers`` = 1) or by a process pool."""
    return map_ordered(partial(generate_clip, seed=seed, config=config, stored=stored), num, workers)


def write_dataset(out: Path | str, num: int, seed: int, config: SynthConfig = SynthConfig(), workers: int = 1,
                  on_clip: Optional[Callable[[list[SynthFrame]], None]] = None, resume: bool = False) -> dict[str, int]:
    """Generate ``num`` clips into ``out``; returns the number of samples per split. ``resume`` (pose-only
    runs): samples whose files are on disk, e.g. from an interrupted run, are kept and not rendered again."""
    if resume and not config.pose_only:
        raise ValueError("only pose-only runs can be resumed (SDF files and meshes are not kept)")
    root = Path(out)
    writers = {s: LayoutWriter(root, s, image_format=config.image_format) for s in SPLITS}
    counts = {s: 0 for s in SPLITS}
    stored = partial(sample_on_disk, root, f".{config.image_format}") if resume else None
    for frames in iterate_clips(num, seed, config, workers, stored):
        for frame in frames:
            if frame.stored:
                writers[frame.split].keep(frame.record.annotation)
            else:
                writers[frame.split].add(frame.record)
                write_label_images(root, frame)
            counts[frame.split] += 1
        if config.clip_len > 1:
            writers[frames[0].split].add_clip([f.record.annotation.id for f in frames])
        if on_clip is not None:
            on_clip(frames)
    for split, writer in writers.items():
        if counts[split]:
            writer.close()
    return counts


# ---------------------------------------------------------------- contact sheet


FINGER_COLOURS: tuple[tuple[int, int, int], ...] = (
    (255, 80, 80), (255, 200, 0), (60, 220, 60), (0, 200, 255), (200, 90, 255)
)
"""RGB of the thumb .. little finger bones on the contact sheet."""


def draw_skeleton(image: np.ndarray, uv: np.ndarray, thickness: int = 1) -> np.ndarray:
    """A copy of ``image`` (H, W, 3 RGB) with the 21 projected joints (21, 2) and bones drawn."""
    out = np.ascontiguousarray(image).copy()
    pts = [(int(round(u)), int(round(v))) for u, v in np.asarray(uv, float)]
    for parent, child in BONES:
        cv2.line(out, pts[parent], pts[child], FINGER_COLOURS[(child - 1) // 4], thickness, cv2.LINE_AA)
    for j, p in enumerate(pts):
        colour = (255, 255, 255) if j == 0 else FINGER_COLOURS[(j - 1) // 4]
        cv2.circle(out, p, thickness + 1, colour, -1, cv2.LINE_AA)
    return out


def contact_sheet(frames: Iterable[SynthFrame], columns: int = 4, tile: int = 256) -> np.ndarray:
    """Tiles (RGB) of the frames with their skeletons drawn, ``columns`` per row."""
    tiles = []
    for frame in frames:
        ann = frame.record.annotation
        k = ann.intrinsics
        image = cv2.resize(frame.record.image, (tile, tile), interpolation=cv2.INTER_NEAREST)
        uv = k.scaled(tile / k.width, tile / k.height).project(ann.hand_joints_3d)
        tiles.append(draw_skeleton(image, uv, max(1, tile // 256)))
    if not tiles:
        raise ValueError("a contact sheet needs at least one frame")
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % columns)
    rows = [np.hstack(tiles[r:r + columns]) for r in range(0, len(tiles), columns)]
    return np.vstack(rows)


def write_contact_sheet(path: Path | str, frames: Sequence[SynthFrame], columns: int = 4) -> Path:
    """Write :func:`contact_sheet` of ``frames`` as a PNG."""
    path = Path(path)
    write_atomic(path, _png_bytes(cv2.cvtColor(contact_sheet(frames, columns), cv2.COLOR_RGB2BGR)))
    return path
