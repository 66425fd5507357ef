"""GSDFPredictor: a trained gSDF checkpoint behind the :class:`gsdf_ros.predictor.Predictor`
protocol, the predictor the inference node holds; a window of crops in, results out.

Live protocol only: the pose net's root-depth head places the hand, nothing comes from ground
truth. Video models see a causal window: the newest crop and up to T − 1 before it, never a later
one; at start-up, with fewer than T crops, the oldest is repeated to fill the window and the
result's ``window_length`` says how many distinct crops it saw.

Two rates: :meth:`GSDFPredictor.predict_pose` is the pose path (backbones, pose, IK, object
centre; joint and palm frames) and returns, besides the pose result, a :class:`MeshJob` that
:meth:`GSDFPredictor.predict_meshes` turns into the meshes of that same frame, whenever a worker
gets to it. :meth:`GSDFPredictor.predict` does both at once. Everything is returned in the source
optical frame of the newest crop, with per-stage timings (:data:`gsdf_ros.inference.TIMED_STAGES`)
in milliseconds.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch

from gsdf_ros.checkpoint import load_checkpoint_model
from gsdf_ros.detect.tracker import JOINTS_ENLARGE
from gsdf_ros.frames import hand_frames, object_axes, quaternion_xyzw
from gsdf_ros.geometry.camera import Intrinsics
from gsdf_ros.geometry.pose_looks import PoseLooks
from gsdf_ros.geometry.virtual_camera import virtual_crop
from gsdf_ros.inference import StageClock, VolumeTap, peak_sharpness
from gsdf_ros.live_crop import locate_hand, look_at, mean_joints
from gsdf_ros.model import GSDFNet, SDFState
from gsdf_ros.reconstruction import frame_state, meshes_of, pose_of, prepare_window, resolve_window_length
from gsdf_ros.result import CropSample, Reconstruction, TriangleMesh, all_finite

MESH_MODES: tuple[str, ...] = ("c2f", "dense", "none")


class NonFiniteOutputError(RuntimeError):
    """The network produced NaN or infinite joints, centre or meshes; the frame has no valid result."""


def _finite(name: str, value: np.ndarray) -> np.ndarray:
    """``value`` when it is all finite; otherwise :class:`NonFiniteOutputError` naming it."""
    if not all_finite(value):
        raise NonFiniteOutputError(f"the network produced non-finite {name}")
    return value


def _triangle_mesh(name: str, mesh) -> TriangleMesh | None:
    """``mesh`` (a trimesh or None) as a :class:`TriangleMesh`; non-finite vertices raise
    :class:`NonFiniteOutputError` naming the mesh."""
    if mesh is None:
        return None
    vertices = _finite(name, np.asarray(mesh.vertices, dtype=np.float32))
    return TriangleMesh(vertices, np.asarray(mesh.faces, dtype=np.int64))


@dataclass(frozen=True)
class MeshJob:
    """What the mesh path needs of one frame: its encoded single-frame state, the rotation of its
    crop's virtual camera, and the pose result it belongs to (meshes come with that frame's pose)."""

    state: SDFState
    rotation: np.ndarray
    pose: Reconstruction


def with_object_orientation(
    result: Reconstruction, hand: TriangleMesh | None, obj: TriangleMesh | None
) -> Reconstruction:
    """`result` with these meshes and, when the object mesh defines one, the object's principal-axes
    orientation (stamped with the result's own stamp)."""
    axes = None if obj is None else object_axes(obj.vertices, obj.faces, result.hand_joints[0])
    return replace(
        result,
        hand_mesh=hand,
        object_mesh=obj,
        mesh_stamp_ns=result.stamp_ns if (hand is not None or obj is not None) else None,
        object_orientation=None if axes is None else quaternion_xyzw(axes),
        object_orientation_stamp_ns=None if axes is None else result.stamp_ns,
    )


def shape_scale_of(train_config: dict) -> float | None:
    """The shape crop's side over the hand crop's for a model trained with ``pose_crop`` on ``hand``
    crops (the shape net on ``hand_enlarge`` times the joints' box, the pose net on its own crop);
    None for one crop read by both nets."""
    if not (train_config.get("pose_crop") and train_config.get("crop") == "hand"):
        return None
    return max(1.0, float(train_config.get("hand_enlarge", JOINTS_ENLARGE)) / JOINTS_ENLARGE)


def pose_looks_of(train_config: dict) -> PoseLooks | None:
    """The crops to average the joints over for a model trained on hand crops; None for whole images."""
    return PoseLooks() if train_config.get("crop") == "hand" else None


def pose_views(window: Sequence[CropSample], length: int, image_size: int
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """The pose net's own crops of a window (images (T,3,S,S), intrinsics (T,3,3) and the rotations
    (T,3,3) from each pose crop's frame to its shape crop's), the window padded as
    :func:`prepare_window` pads it; None unless every crop carries a ``pose_view``."""
    frames = _window_frames(window, length) if window else []
    if not frames or any(f.pose_view is None for f in frames):
        return None
    images, intrinsics = prepare_window([f.pose_view for f in frames], length, image_size)
    rotations = [np.asarray(f.rotation, np.float64).T @ np.asarray(f.pose_view.rotation, np.float64) for f in frames]
    return images, intrinsics, torch.from_numpy(np.stack(rotations).astype(np.float32))


def _window_frames(window: Sequence[CropSample], length: int) -> list[CropSample]:
    """The newest ``length`` crops of a window, the oldest repeated when fewer (as :func:`prepare_window`)."""
    frames = list(window[-length:])
    return [frames[0]] * (length - len(frames)) + frames


def looks_joints(pose_net: torch.nn.Module, frame: CropSample, image_size: int) -> np.ndarray:
    """The pose net's joints (21, 3) averaged over a crop's ``pose_looks``, in the crop's own frame."""
    images, intrinsics = prepare_window(frame.pose_looks, len(frame.pose_looks), image_size)
    rotations = np.stack([np.asarray(frame.rotation, np.float64).T @ np.asarray(look.rotation, np.float64)
                          for look in frame.pose_looks])
    try:
        return mean_joints(pose_net, images, intrinsics, rotations)
    except ValueError as error:
        raise NonFiniteOutputError(str(error)) from None


class GSDFPredictor:
    """A trained gSDF model behind the :class:`gsdf_ros.predictor.Predictor` protocol, with the
    two-rate methods :meth:`predict_pose` and :meth:`predict_meshes` the inference node uses."""

    def __init__(
        self,
        model: GSDFNet,
        window_length: int = 1,
        device: str | torch.device = "cpu",
        mesh: str = "c2f",
        mesh_resolution: int = 64,
        mesh_every: int = 1,
        coarse: int = 16,
    ) -> None:
        if mesh not in MESH_MODES:
            raise ValueError(f"mesh must be one of {MESH_MODES}, got {mesh!r}")
        if mesh_every < 1 or mesh_resolution < 4 or window_length < 1:
            raise ValueError("need mesh_every >= 1, mesh_resolution >= 4 and window_length >= 1")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.window_length = int(window_length)
        self.mesh = mesh
        self.mesh_resolution = int(mesh_resolution)
        self.mesh_every = int(mesh_every)
        self.coarse = int(coarse)
        self._calls = 0
        self._last_meshes: Reconstruction | None = None
        self.clock = StageClock(
            {
                "backbone": [model.pose_net.backbone, model.pose_net.neck, model.pose_net.volume_head,
                             model.pose_net.root_head, model.backbone, model.sdf_neck, model.temporal],
                "object_center": [model.object_neck, model.object_head],
            },
            self.device,
        )
        self.shape_scale: float | None = None
        """How much wider than the hand crop the shape net's crop is (its training's ``hand_enlarge``
        over the tracker's); None: both nets read the hand crop."""
        self.joint_tap = VolumeTap(model.pose_net.volume_head)
        self.object_tap = VolumeTap(model.object_head)
        self.pose_looks: PoseLooks | None = None
        """The crops around the hand whose joints the model averages, for a model trained on hand crops
        (the hand finder cuts them: ``CropSample.pose_looks``); None: one crop."""
        self._looks_cache: dict[tuple, np.ndarray] = {}
        self._joint_volume: torch.Tensor | None = None

    @property
    def makes_meshes(self) -> bool:
        """False with ``mesh="none"``: :meth:`predict_pose` then returns no mesh job."""
        return self.mesh != "none"

    @classmethod
    def from_checkpoint(
        cls,
        path: str | os.PathLike,
        device: str = "cpu",
        window_length: int | None = None,
        mesh: str = "c2f",
        mesh_resolution: int = 64,
        mesh_every: int = 1,
    ) -> GSDFPredictor:
        """Load an ``sdf``-stage checkpoint; ``window_length`` may lower the checkpoint's clip length."""
        model, checkpoint = load_checkpoint_model(path, device, stage="sdf")
        length = resolve_window_length(checkpoint.window_length, window_length)
        predictor = cls(model, length, device, mesh, mesh_resolution, mesh_every)
        predictor.shape_scale = shape_scale_of(checkpoint.train_config)
        predictor.pose_looks = pose_looks_of(checkpoint.train_config)
        return predictor

    def warm_up(self) -> None:
        """One prediction on a blank crop (allocations, kernel selection); meshes included."""
        size = self.model.cfg.image_size
        f = float(size)
        blank = CropSample(
            stamp_ns=0, frame_id="warm_up", image=np.full((size, size, 3), 127, np.uint8),
            k=np.array([[f, 0, size / 2], [0, f, size / 2], [0, 0, 1]]), rotation=np.eye(3), box=(0.0, 0.0, f),
        )
        try:
            self.predict([blank] * self.window_length)
        except NonFiniteOutputError:
            pass
        self._calls = 0
        self._last_meshes = None

    def encode_window(self, window: Sequence[CropSample]) -> SDFState:
        """The single-frame SDF state of the newest crop, encoded with the crops before it in the
        window (the last ``window_length``, the oldest repeated when fewer); live protocol."""
        size = self.model.cfg.image_size
        images, intrinsics = prepare_window(window, self.window_length, size)
        images, intrinsics = images.to(self.device), intrinsics.to(self.device)
        view = pose_views(window, self.window_length, size)
        if view is not None:
            view = tuple(v.to(self.device) for v in view)
        joints = self._window_joints(window)
        with torch.no_grad():
            if self.window_length > 1:
                state = self.model.encode(images[None], intrinsics[None],
                                          pose_view=None if view is None else tuple(v[None] for v in view),
                                          pose_joints=None if joints is None else joints[None])
            else:
                state = self.model.encode(images[-1:], intrinsics[-1:],
                                          pose_view=None if view is None else tuple(v[-1:] for v in view),
                                          pose_joints=None if joints is None else joints[-1:])
        return frame_state(state, state.wrist.shape[0] - 1)

    def _window_joints(self, window: Sequence[CropSample]) -> torch.Tensor | None:
        """Each window crop's joints (T,21,3) averaged over its ``pose_looks`` (older crops' from a
        cache); None unless every crop carries looks. Keeps the newest crop's first look's joint
        volume for the confidences."""
        self._joint_volume = None
        frames = _window_frames(window, self.window_length)
        if not frames or any(not f.pose_looks for f in frames):
            return None
        size = self.model.cfg.image_size
        key = lambda f: (f.stamp_ns, f.frame_id, tuple(f.box))  # noqa: E731
        cache = {key(f): self._looks_cache.get(key(f)) for f in frames[:-1]}
        for frame in frames[:-1]:
            if cache[key(frame)] is None:
                cache[key(frame)] = looks_joints(self.model.pose_net, frame, size)
        cache[key(frames[-1])] = looks_joints(self.model.pose_net, frames[-1], size)
        self._joint_volume = self.joint_tap.volume[:1]
        self._looks_cache = cache
        stacked = [cache[key(f)] for f in frames]
        return torch.from_numpy(np.stack(stacked).astype(np.float32)).to(self.device)

    def whole_image_look(self, image: np.ndarray, intrinsics: Intrinsics) -> tuple[np.ndarray, np.ndarray]:
        """The pose net's look at a whole (H, W, 3) uint8 RGB frame resized to its input: joints (21, 3)
        in the frame's optical frame (its own root depth) and their confidences (21,). It stands in for
        a hand detector when none is available (crop_mode detect), less reliably."""
        look = locate_hand(self.model.pose_net, image, intrinsics, self.model.cfg.image_size, steps=0)
        with torch.no_grad():
            confidence = peak_sharpness(self.joint_tap.volume[-1:])[0].cpu().numpy()
        return look.joints_source, confidence.astype(np.float64)

    def pose_look(self, image: np.ndarray, intrinsics: Intrinsics, square: tuple[float, float, float]
                  ) -> tuple[np.ndarray, np.ndarray]:
        """The pose net alone on the square crop (x0, y0, side) of an (H, W, 3) uint8 RGB frame: its
        joints projected into the frame (21, 2) and their confidences (21,). It verifies the hand
        detector's candidates (:mod:`gsdf_ros.detect.verify`)."""
        look = look_at(self.model.pose_net, image, virtual_crop(intrinsics, square, self.model.cfg.image_size))
        with torch.no_grad():
            confidence = peak_sharpness(self.joint_tap.volume[-1:])[0].cpu().numpy()
        return intrinsics.project(look.joints_source), confidence.astype(np.float64)

    def predict_pose(self, window: list[CropSample]) -> tuple[Reconstruction, MeshJob | None]:
        """The pose path for the newest crop of ``window`` (oldest first): joints with their frames and
        the object centre, no meshes; and the job that makes this frame's meshes (None without meshes)."""
        newest = window[-1]
        self.clock.reset()
        start = time.perf_counter()
        with torch.no_grad():
            state = self.encode_window(window)
            encode_seconds = time.perf_counter() - start
            volume = self.joint_tap.volume[-1:] if self._joint_volume is None else self._joint_volume
            joint_conf = _finite("joint confidence", peak_sharpness(volume)[0].cpu().numpy())
            object_conf = float(peak_sharpness(self.object_tap.volume[-1:])[0, 0])
        rotation = np.asarray(newest.rotation, dtype=np.float64)
        pose = pose_of(state, rotation)
        _finite("joints", pose.joints)
        _finite("object centre", pose.object_center)
        frames = hand_frames(pose.joints, pose.bone_rotations)
        timed = dict(self.clock.seconds)
        stage_s = {
            "backbone": timed.get("backbone", 0.0),
            "object_center": timed.get("object_center", 0.0),
            "pose_ik": max(0.0, encode_seconds - timed.get("backbone", 0.0) - timed.get("object_center", 0.0)),
        }
        result = Reconstruction(
            stamp_ns=int(newest.stamp_ns),
            frame_id=newest.frame_id,
            hand_joints=pose.joints,
            joint_confidence=joint_conf.astype(np.float64),
            object_center=pose.object_center,
            object_confidence=object_conf,
            hand_frames=frames,
            window_length=min(len(window), self.window_length),
            stage_ms={k: v * 1000.0 for k, v in stage_s.items()},
        )
        return result, (MeshJob(state, rotation, result) if self.makes_meshes else None)

    def predict_meshes(self, job: MeshJob) -> Reconstruction:
        """The job's pose result with this frame's hand and object meshes and, when the object mesh
        defines one, the object orientation; ``sdf_grid`` and ``marching_cubes`` timings added."""
        if not self.makes_meshes:
            raise ValueError("this predictor was built with mesh='none'")
        meshes = meshes_of(self.model, job.state, job.rotation, self.mesh, self.mesh_resolution, self.coarse)
        hand, obj = _triangle_mesh("hand mesh", meshes.hand), _triangle_mesh("object mesh", meshes.object)
        result = with_object_orientation(job.pose, hand, obj)
        stage_ms = {**job.pose.stage_ms, "sdf_grid": meshes.sdf_s * 1e3, "marching_cubes": meshes.mc_s * 1e3}
        return replace(result, stage_ms=stage_ms)

    def predict(self, window: list[CropSample]) -> Reconstruction:
        """Pose and (every ``mesh_every``-th call) meshes of the newest crop of ``window`` in one call;
        between mesh calls the last meshes are kept, with their own ``mesh_stamp_ns``."""
        pose, job = self.predict_pose(window)
        due = job is not None and self._calls % self.mesh_every == 0
        self._calls += 1
        if due:
            self._last_meshes = self.predict_meshes(job)
            return self._last_meshes
        stage_ms = {**pose.stage_ms, "sdf_grid": 0.0, "marching_cubes": 0.0}
        last = self._last_meshes
        if last is None:
            return replace(pose, stage_ms=stage_ms)
        return replace(pose, hand_mesh=last.hand_mesh, object_mesh=last.object_mesh, mesh_stamp_ns=last.mesh_stamp_ns,
                       object_orientation=last.object_orientation,
                       object_orientation_stamp_ns=last.object_orientation_stamp_ns, stage_ms=stage_ms)
