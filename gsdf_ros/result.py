"""The result of one reconstruction, as the core produces it (converted to ROS in nodes/ only)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gsdf_ros.hand.joints import NUM_JOINTS


@dataclass(frozen=True)
class TriangleMesh:
    """An indexed triangle mesh: vertices (V, 3) float32 metres, faces (F, 3) int64 indices."""

    vertices: np.ndarray
    faces: np.ndarray

    def __post_init__(self) -> None:
        if self.vertices.ndim != 2 or self.vertices.shape[1] != 3:
            raise ValueError(f"vertices must be (V, 3), got {self.vertices.shape}")
        if self.faces.ndim != 2 or self.faces.shape[1] != 3:
            raise ValueError(f"faces must be (F, 3), got {self.faces.shape}")
        if self.faces.size and (self.faces.min() < 0 or self.faces.max() >= len(self.vertices)):
            raise ValueError("face index out of range")
        if not np.all(np.isfinite(self.vertices)):
            raise ValueError("mesh vertices must be finite")

    @property
    def num_triangles(self) -> int:
        return int(self.faces.shape[0])


@dataclass(frozen=True)
class Reconstruction:
    """Hand joints, object pose and optional meshes for the newest frame of a window.

    All 3D values are metres in the camera optical frame ``frame_id`` (x right, y down, z
    forward); stamps are nanoseconds of the source frames' acquisition time.
    """

    stamp_ns: int
    frame_id: str
    hand_joints: np.ndarray  # (21, 3), joint order of gsdf_ros.hand.joints
    joint_confidence: np.ndarray  # (21,), in [0, 1]
    object_center: np.ndarray  # (3,)
    object_confidence: float = 1.0
    object_orientation: np.ndarray | None = None  # (4,) quaternion x, y, z, w; None if not estimated
    hand_mesh: TriangleMesh | None = None
    object_mesh: TriangleMesh | None = None
    mesh_stamp_ns: int | None = None
    window_length: int = 1
    stage_ms: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.hand_joints.shape != (NUM_JOINTS, 3):
            raise ValueError(f"hand_joints must be ({NUM_JOINTS}, 3), got {self.hand_joints.shape}")
        if self.joint_confidence.shape != (NUM_JOINTS,):
            raise ValueError(f"joint_confidence must be ({NUM_JOINTS},), got {self.joint_confidence.shape}")
        if self.object_center.shape != (3,):
            raise ValueError(f"object_center must be (3,), got {self.object_center.shape}")
        if self.window_length < 1:
            raise ValueError("window_length must be >= 1")

    def is_finite(self) -> bool:
        """True when every number it would publish is finite (NaN/Inf results are never published)."""
        arrays = [self.hand_joints, self.joint_confidence, self.object_center, np.asarray(self.object_confidence)]
        if self.object_orientation is not None:
            arrays.append(self.object_orientation)
        arrays += [m.vertices for m in (self.hand_mesh, self.object_mesh) if m is not None]
        return all(bool(np.all(np.isfinite(a))) for a in arrays)
