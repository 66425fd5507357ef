"""Draw meshes and joints into camera images (flat-shaded painter's algorithm with OpenCV).

The one mesh drawer of the package: the demo report and the evaluation's example renders use it.
"""

from __future__ import annotations

import cv2
import numpy as np

from gsdf_ros.geometry.camera import Intrinsics

LIGHT_DIRECTION = np.array([0.3, -0.4, -1.0]) / np.linalg.norm([0.3, -0.4, -1.0])


def shade(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Per-face brightness in [0.35, 1]: Lambert against a light near the camera, both sides lit."""
    tri = vertices[faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    return 0.35 + 0.65 * np.abs(normals @ LIGHT_DIRECTION)


def draw_mesh(image: np.ndarray, vertices: np.ndarray, faces: np.ndarray, intrinsics: Intrinsics,
              colour: tuple[int, int, int], alpha: float = 0.75) -> np.ndarray:
    """A copy of ``image`` (H, W, 3 RGB) with the camera-frame mesh drawn over it, far faces first."""
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    colours = np.tile(np.asarray(colour, dtype=np.float64), (len(faces), 1))
    return _draw_coloured(image, np.asarray(vertices, dtype=np.float64), faces, colours, intrinsics, alpha)


def draw_scene(
    image: np.ndarray,
    intrinsics: Intrinsics,
    meshes: list[tuple[np.ndarray, np.ndarray, tuple[int, int, int]]],
    joints: np.ndarray | None = None,
) -> np.ndarray:
    """Meshes (vertices, faces, colour) drawn together in depth order, then the hand skeleton."""
    if meshes:
        offsets = np.cumsum([0] + [len(v) for v, _, _ in meshes[:-1]])
        vertices = np.concatenate([v for v, _, _ in meshes])
        faces = np.concatenate([f + o for (_, f, _), o in zip(meshes, offsets)])
        colours = np.concatenate([np.tile(c, (len(f), 1)) for _, f, c in meshes])
        image = _draw_coloured(image, vertices, faces, colours, intrinsics)
    if joints is not None:
        from gsdf_ros.synth.generate import draw_skeleton

        image = draw_skeleton(image, intrinsics.project(np.asarray(joints, dtype=np.float64)), 1)
    return image


def _draw_coloured(image: np.ndarray, vertices: np.ndarray, faces: np.ndarray, colours: np.ndarray,
                   intrinsics: Intrinsics, alpha: float = 0.75) -> np.ndarray:
    """Faces with one colour each, far faces first, blended over a copy of ``image``."""
    out = np.ascontiguousarray(image).copy()
    if len(faces) == 0:
        return out
    keep = vertices[faces][:, :, 2].min(axis=1) > 1e-3
    faces, colours = faces[keep], colours[keep]
    if len(faces) == 0:
        return out
    uv = intrinsics.project(vertices)
    layer = out.copy()
    brightness = shade(vertices, faces)
    for f in np.argsort(-vertices[faces][:, :, 2].mean(axis=1)):
        pts = np.round(uv[faces[f]] * 16).astype(np.int32)
        fill = tuple(int(c) for c in np.clip(colours[f] * brightness[f], 0, 255))
        cv2.fillConvexPoly(layer, pts, fill, lineType=cv2.LINE_AA, shift=4)
    return cv2.addWeighted(layer, alpha, out, 1.0 - alpha, 0.0)
