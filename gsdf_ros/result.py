"""The core's data: a cropped camera frame in (:class:`CropSample`), one reconstruction out
(:class:`Reconstruction`); converted to ROS messages in nodes/ only."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gsdf_ros.frames import HandFrames
from gsdf_ros.hand.joints import NUM_JOINTS

Box = tuple[float, float, float]


def all_finite(*arrays: np.ndarray | float) -> bool:
    """True when every number of every array is finite (no NaN, no infinity)."""
    return all(bool(np.all(np.isfinite(a))) for a in arrays)


@dataclass(frozen=True)
class CropSample:
    """One cropped camera frame with the intrinsics of its virtual camera.

    image: (N, N, 3) uint8 RGB; k: 3x3 intrinsics of the crop; rotation: 3x3, maps virtual-frame
    vectors to the source optical frame; box: (x0, y0, size) in source pixels. ``whole_frame``: the
    image is the whole camera frame (H, W, 3), k the camera's own K and rotation the identity; the
    inference process finds the hand and cuts the crop (``crop_mode`` detect). ``pose_view``: the pose
    net's own tighter crop of the same frame, for a model whose shape net reads a wider crop than its
    pose net (``pose_crop`` training); None: both nets read this crop. ``pose_looks``: crops of the
    same frame around the hand whose joints the model averages (:class:`gsdf_ros.live_crop.PoseLooks`);
    empty: the joints come from the pose net's one crop.
    """

    stamp_ns: int
    frame_id: str
    image: np.ndarray
    k: np.ndarray
    rotation: np.ndarray
    box: Box
    whole_frame: bool = False
    pose_view: CropSample | None = None
    pose_looks: tuple[CropSample, ...] = ()

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(f"image must be (H, W, 3) uint8 RGB, got {self.image.shape} {self.image.dtype}")
        if self.k.shape != (3, 3) or self.rotation.shape != (3, 3):
            raise ValueError(f"k and rotation must be 3x3, got {self.k.shape} and {self.rotation.shape}")


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
        if not all_finite(self.vertices):
            raise ValueError("mesh vertices must be finite")

    @property
    def num_triangles(self) -> int:
        return int(self.faces.shape[0])


@dataclass(frozen=True)
class Reconstruction:
    """Hand joints, object pose and optional meshes for the newest frame of a window.

    All 3D values are metres in the camera optical frame ``frame_id`` (x right, y down, z
    forward); stamps are nanoseconds of the source frames' acquisition time. ``hand_frames``: the
    joint and palm frames (:mod:`gsdf_ros.frames`), None when not estimated. The object orientation
    may come from an earlier frame's object mesh: ``object_orientation_stamp_ns`` is that frame's stamp.

    ``hand_score`` in [0, 1]: how sure the hand finder is that the frame holds a hand (1.0 when the
    crop was chosen without looking for one); ``hand_present`` False: "no hand" (the result carries
    no joints, object pose or meshes, see :meth:`no_hand`); ``crop_box``: the square (x0, y0, side)
    in source pixels the model read, None when unknown.
    """

    stamp_ns: int
    frame_id: str
    hand_joints: np.ndarray  # (21, 3), joint order of gsdf_ros.hand.joints
    joint_confidence: np.ndarray  # (21,), in [0, 1]
    object_center: np.ndarray  # (3,)
    object_confidence: float = 1.0
    object_orientation: np.ndarray | None = None  # (4,) quaternion x, y, z, w; None if not estimated
    object_orientation_stamp_ns: int | None = None  # stamp of the frame the orientation was estimated from
    hand_frames: HandFrames | None = None
    hand_mesh: TriangleMesh | None = None
    object_mesh: TriangleMesh | None = None
    mesh_stamp_ns: int | None = None
    window_length: int = 1
    stage_ms: dict[str, float] = field(default_factory=dict)
    hand_score: float = 1.0
    hand_present: bool = True
    crop_box: Box | None = None

    @classmethod
    def no_hand(cls, stamp_ns: int, frame_id: str, hand_score: float, crop_box: Box | None = None) -> Reconstruction:
        """The answer "no hand in this frame": placeholder zeros for the arrays, ``hand_present`` False."""
        return cls(stamp_ns, frame_id, np.zeros((NUM_JOINTS, 3)), np.zeros(NUM_JOINTS), np.zeros(3),
                   object_confidence=0.0, hand_score=float(hand_score), hand_present=False, crop_box=crop_box)

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
        arrays = [self.hand_joints, self.joint_confidence, self.object_center, self.object_confidence, self.hand_score]
        if self.object_orientation is not None:
            arrays.append(self.object_orientation)
        if self.hand_frames is not None:
            frames = self.hand_frames
            arrays += [frames.joint_rotations, frames.palm_origin, frames.palm_rotation]
        arrays += [m.vertices for m in (self.hand_mesh, self.object_mesh) if m is not None]
        return all_finite(*arrays)
