"""CPU sphere-tracing renderer for SynthHO scenes (numpy, no GL).

The camera sits at the origin of the optical frame (x right, y down, z forward, metres) and pixel
(row v, column u) looks through the image point (u, v), pixel centres at integer coordinates as
in OpenCV. Each scene item is a signed distance function with a bounding sphere: rays start where
they enter the nearest bounding sphere, items whose sphere is farther than a margin answer with the
distance to their sphere (a lower bound, so tracing stays safe), and every ray leaves the loop as
soon as it hits or passes all spheres.

Outputs: ``rgb`` (H, W, 3) uint8; ``mask`` (H, W) uint8 with 0 background, 1 hand, 2 object,
3 occluder; ``depth`` (H, W) float32, the z coordinate (metres) of the visible surface and
**0 for background**.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.synth import sdf_ops
from gsdf_ros.synth.appearance import Lighting, Material
from gsdf_ros.synth.hand_shape import HandShape
from gsdf_ros.synth.objects import SynthObject

LABEL_BACKGROUND = 0
LABEL_HAND = 1
LABEL_OBJECT = 2
LABEL_OCCLUDER = 3
_EXACT_WITHIN = 0.02
"""Hand parts farther than this (m) from a traced point answer with a cheap lower bound."""
_TETRA = np.array([[1, -1, -1], [-1, -1, 1], [-1, 1, -1], [1, 1, 1]], dtype=np.float32)


OBMAN_CAMERA = Intrinsics(fx=480.0, fy=480.0, cx=128.0, cy=128.0, width=256, height=256)
"""The default camera: ObMan's intrinsics (480 px focal length, 256 x 256 image)."""


def ray_directions(camera: Intrinsics) -> np.ndarray:
    """Unit ray directions (H*W, 3) float32 through the pixel centres, row-major."""
    v, u = np.mgrid[0:camera.height, 0:camera.width].astype(np.float64)
    rays = np.stack([(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, np.ones_like(u)], axis=-1)
    rays = rays.reshape(-1, 3)
    return (rays / np.linalg.norm(rays, axis=1, keepdims=True)).astype(np.float32)


@dataclass(frozen=True)
class SceneItem:
    """One traced shape: its label, SDF, bounding sphere, material and texture frame map."""

    label: int
    sdf: sdf_ops.SDF
    center: np.ndarray
    radius: float
    material: Material
    texture_frame: Callable[[np.ndarray], np.ndarray]

    def __post_init__(self) -> None:
        if self.label not in (LABEL_HAND, LABEL_OBJECT, LABEL_OCCLUDER):
            raise ValueError(f"item label must be 1 (hand), 2 (object) or 3 (occluder), got {self.label}")
        if not self.radius > 0.0:
            raise ValueError(f"bounding radius must be positive, got {self.radius}")


def hand_item(hand: HandShape, material: Material) -> SceneItem:
    """The hand as a scene item; its texture is attached to the wrist."""
    centre, radius = hand.bounding_sphere()
    wrist = hand.joints[0].astype(np.float32)
    return SceneItem(LABEL_HAND, lambda p: hand.sdf(p, exact_within=_EXACT_WITHIN), centre, radius,
                     material, lambda p: p - wrist)


def object_item(obj: SynthObject, label: int = LABEL_OBJECT) -> SceneItem:
    """An object (or, with ``label=LABEL_OCCLUDER``, an occluder); its texture moves with it."""
    return SceneItem(label, obj.sdf, obj.center, obj.bounding_radius * 1.001 + 1e-4, obj.material,
                     obj.to_local)


@dataclass(frozen=True)
class TraceSettings:
    max_steps: int = 96
    hit_pixels: float = 0.25
    """A ray hits when the distance falls below this fraction of its pixel footprint."""
    min_eps: float = 5e-5
    cull_margin: float = 0.01
    """Items whose bounding sphere is farther than this (m) answer with the sphere distance."""
    near: float = 0.01
    block: int = 4
    """Pixels per side of the blocks traced as one cone in the first pass."""


@dataclass(frozen=True)
class RenderResult:
    rgb: np.ndarray
    mask: np.ndarray
    depth: np.ndarray


def _sphere_interval(dirs: np.ndarray, centre: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Entry and exit ray parameters of a sphere (NaN where the ray misses)."""
    b = dirs @ centre.astype(np.float32)
    disc = b * b - (float(centre @ centre) - radius * radius)
    root = np.sqrt(np.where(disc >= 0.0, disc, np.nan))
    return b - root, b + root


def scene_distance(items: Sequence[SceneItem], points: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower-bound scene distance (N,) and the index (N,) of the nearest item, with sphere culling."""
    dists = np.empty((len(items), len(points)), dtype=points.dtype)
    for k, item in enumerate(items):
        dists[k] = sdf_ops.culled(item.sdf, points, item.center, item.radius, margin)
    nearest = dists.argmin(axis=0)
    return dists[nearest, np.arange(len(points))], nearest


def _ray_intervals(items: Sequence[SceneItem], dirs: np.ndarray, near: float) -> tuple[np.ndarray, np.ndarray]:
    """Per ray, where it enters the first bounding sphere and leaves the last (inf/-inf: misses)."""
    t_in = np.full(len(dirs), np.inf, dtype=np.float32)
    t_out = np.full(len(dirs), -np.inf, dtype=np.float32)
    for item in items:
        entry, exit_ = _sphere_interval(dirs, np.asarray(item.center, float), item.radius)
        ok = np.isfinite(entry)
        t_in[ok] = np.minimum(t_in[ok], entry[ok])
        t_out[ok] = np.maximum(t_out[ok], exit_[ok])
    return np.maximum(t_in, near), t_out


def _march(items: Sequence[SceneItem], dirs: np.ndarray, t: np.ndarray, t_far: np.ndarray,
           slack: np.ndarray, stop: np.ndarray, settings: TraceSettings) -> tuple[np.ndarray, np.ndarray]:
    """Sphere-trace from t (updated in place). A ray stops when its distance minus ``slack*t`` falls
    below ``stop*t`` (or ``min_eps``) and returns the index of the nearest item there (-1: none)."""
    found = np.full(len(dirs), -1, dtype=np.int64)
    active = np.flatnonzero(t <= t_far)
    for _ in range(settings.max_steps):
        if active.size == 0:
            break
        ta = t[active]
        dist, nearest = scene_distance(items, dirs[active] * ta[:, None], settings.cull_margin)
        dist = dist - slack[active] * ta
        done = dist < np.maximum(settings.min_eps, stop[active] * ta)
        found[active[done]] = nearest[done]
        t[active] = ta + np.maximum(dist, 0.0)
        active = active[~done & (t[active] <= t_far[active])]
    return t, found


def trace(items: Sequence[SceneItem], camera: Intrinsics, settings: TraceSettings = TraceSettings()
          ) -> tuple[np.ndarray, np.ndarray]:
    """Sphere-trace every pixel; returns hit distance t (H*W,) and item index (H*W,), -1 = miss.

    A first pass marches one cone per ``block`` x ``block`` pixels (the cone covers every pixel ray
    of its block, so any distance it may step is safe for all of them); the pixel rays start where
    their cone stopped, and blocks whose cone left every bounding sphere are background.
    """
    if not items:
        raise ValueError("a scene needs at least one item")
    dirs = ray_directions(camera)
    t, t_far = _ray_intervals(items, dirs, settings.near)
    b = settings.block
    rows, cols = np.divmod(np.arange(len(dirs)), camera.width)
    block_id = (rows // b) * (-(-camera.width // b)) + cols // b
    n_blocks = int(block_id.max()) + 1
    coarse = np.zeros((n_blocks, 3))
    np.add.at(coarse, block_id, dirs)
    coarse = (coarse / np.linalg.norm(coarse, axis=1, keepdims=True)).astype(np.float32)
    chord = np.zeros(n_blocks, dtype=np.float32)
    np.maximum.at(chord, block_id, np.linalg.norm(dirs - coarse[block_id], axis=1))
    c_t = np.full(n_blocks, np.inf, dtype=np.float32)
    np.minimum.at(c_t, block_id, t)
    c_far = np.full(n_blocks, -np.inf, dtype=np.float32)
    np.maximum.at(c_far, block_id, t_far)
    c_t, _ = _march(items, coarse, c_t, c_far, chord * 1.01, chord * 0.5, settings)
    t = np.maximum(t, c_t[block_id])
    pixel_angle = np.full(len(dirs), settings.hit_pixels / min(camera.fx, camera.fy), dtype=np.float32)
    t, found = _march(items, dirs, t, t_far, np.zeros_like(pixel_angle), pixel_angle, settings)
    return np.where(found >= 0, t, np.inf).astype(np.float32), found


def _normals(item: SceneItem, points: np.ndarray, step: float = 3e-4) -> np.ndarray:
    """Unit normals from a tetrahedral finite difference of the item's SDF."""
    offsets = (_TETRA * step)[:, None, :]
    values = item.sdf((points[None] + offsets).reshape(-1, 3)).reshape(4, -1)
    grad = np.einsum("kn,kc->nc", values, _TETRA)
    return grad / np.maximum(np.linalg.norm(grad, axis=1, keepdims=True), 1e-12)


def _shade(items: Sequence[SceneItem], points: np.ndarray, which: np.ndarray, dirs: np.ndarray,
           lighting: Lighting) -> np.ndarray:
    """Lambertian + ambient colour (N, 3) in [0, 1] of hit points."""
    colour = np.zeros((len(points), 3), dtype=np.float32)
    light = lighting.unit_direction().astype(np.float32)
    for k, item in enumerate(items):
        sel = which == k
        if not np.any(sel):
            continue
        normals = _normals(item, points[sel])
        facing = np.einsum("nc,nc->n", normals, dirs[sel]) > 0.0
        normals[facing] *= -1.0  # grazing hits from inside a thin part: light the visible side
        lambert = np.clip(normals @ light, 0.0, None)[:, None]
        albedo = item.material.albedo(item.texture_frame(points[sel]))
        colour[sel] = albedo * (lighting.ambient + lighting.diffuse * lambert) * np.asarray(lighting.colour)
    return np.clip(colour, 0.0, 1.0)


def _check_background(camera: Intrinsics, background: np.ndarray) -> np.ndarray:
    bg = np.asarray(background)
    if bg.shape != (camera.height, camera.width, 3):
        raise ValueError(f"background must be ({camera.height}, {camera.width}, 3), got {bg.shape}")
    return bg.astype(np.float32) / 255.0


def _render_float(items: Sequence[SceneItem], camera: Intrinsics, lighting: Lighting, background: np.ndarray,
                  settings: TraceSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dirs = ray_directions(camera)
    hit_t, hit_item = trace(items, camera, settings)
    hit = hit_item >= 0
    points = dirs[hit] * hit_t[hit, None]
    rgb = _check_background(camera, background).reshape(-1, 3).copy()
    rgb[hit] = _shade(items, points, hit_item[hit], dirs[hit], lighting)
    labels = np.array([it.label for it in items], dtype=np.uint8)
    mask = np.zeros(len(dirs), dtype=np.uint8)
    mask[hit] = labels[hit_item[hit]]
    depth = np.zeros(len(dirs), dtype=np.float32)
    depth[hit] = points[:, 2]
    shape = (camera.height, camera.width)
    return rgb.reshape(*shape, 3), mask.reshape(shape), depth.reshape(shape)


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    return (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def render(items: Sequence[SceneItem], camera: Intrinsics, lighting: Lighting, background: np.ndarray,
           settings: TraceSettings = TraceSettings()) -> RenderResult:
    """Render one frame: colour, label mask and z-depth (0 for background)."""
    rgb, mask, depth = _render_float(items, camera, lighting, background, settings)
    return RenderResult(rgb=_to_uint8(rgb), mask=mask, depth=depth)


def render_motion_blur(frames: Sequence[Sequence[SceneItem]], camera: Intrinsics, lighting: Lighting,
                       background: np.ndarray, settings: TraceSettings = TraceSettings()) -> RenderResult:
    """Average the colour of K sub-frame scenes; mask and depth come from the middle sub-frame."""
    if not frames:
        raise ValueError("motion blur needs at least one sub-frame")
    renders = [_render_float(items, camera, lighting, background, settings) for items in frames]
    rgb = np.mean([r[0] for r in renders], axis=0)
    _, mask, depth = renders[len(renders) // 2]
    return RenderResult(rgb=_to_uint8(rgb), mask=mask, depth=depth)
