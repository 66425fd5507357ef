"""The checkpoint-backed predictor the inference node holds: a window of crops in, one result out.

Live protocol only: the pose net's root-depth head places the hand, nothing comes from ground
truth. Video models see a causal window: the newest crop and up to T − 1 before it, never a later
one; at start-up, with fewer than T crops, the oldest is repeated to fill the window and the
result's ``window_length`` says how many distinct crops it saw. Joints, object centre and meshes are returned in the source optical frame of the newest
crop, with per-stage timings (``backbone``, ``pose_ik``, ``object_center``, ``sdf_grid``,
``marching_cubes``) in milliseconds.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict, deque
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gsdf_ros.checkpoint import load_model
from gsdf_ros.data.dataset import normalise_image
from gsdf_ros.evaluate import extract_meshes, frame_state, metric_mesh, resolve_window_length
from gsdf_ros.mesh import Extraction
from gsdf_ros.model import GSDFNet, SDFState
from gsdf_ros.predictor import CropSample
from gsdf_ros.result import Reconstruction, TriangleMesh

MESH_MODES: tuple[str, ...] = ("c2f", "dense", "none")
STAGES: tuple[str, ...] = ("backbone", "pose_ik", "object_center", "sdf_grid", "marching_cubes")


class NonFiniteOutputError(RuntimeError):
    """The network produced NaN or infinite joints, centre or meshes; the frame has no valid result."""


def peak_sharpness(volume: torch.Tensor) -> torch.Tensor:
    """Confidence (B,J) in [0,1]: the softmax mass of the densest 3x3x3 voxel window of each joint volume."""
    if volume.dim() != 5:
        raise ValueError(f"expected volume (B,J,D,H,W), got {tuple(volume.shape)}")
    b, j = volume.shape[:2]
    prob = volume.float().reshape(b, j, -1).softmax(-1).view_as(volume).flatten(0, 1)[:, None]
    window = F.avg_pool3d(prob, kernel_size=3, stride=1, padding=1, count_include_pad=True) * 27.0
    return window.flatten(1).amax(dim=1).view(b, j).clamp(0.0, 1.0)


class StageClock:
    """Wall time of module groups, from forward hooks (CUDA is synchronised around each module)."""

    def __init__(self, groups: dict[str, Sequence[nn.Module | None]], device: torch.device) -> None:
        self.sync = device.type == "cuda"
        self.seconds: dict[str, float] = defaultdict(float)
        self._starts: dict[int, float] = {}
        self.handles = []
        for group, modules in groups.items():
            for module in modules:
                if module is not None:
                    self.handles.append(module.register_forward_pre_hook(self._start))
                    self.handles.append(module.register_forward_hook(self._stop(group)))

    def _now(self) -> float:
        if self.sync:
            torch.cuda.synchronize()
        return time.perf_counter()

    def _start(self, module: nn.Module, args) -> None:
        self._starts[id(module)] = self._now()

    def _stop(self, group: str):
        def hook(module: nn.Module, args, output) -> None:
            self.seconds[group] += self._now() - self._starts.pop(id(module))

        return hook

    def reset(self) -> None:
        self.seconds.clear()


class VolumeTap:
    """Keeps the last output of a volume head (for peak-sharpness confidences)."""

    def __init__(self, module: nn.Module) -> None:
        self.volume: torch.Tensor | None = None
        self.handle = module.register_forward_hook(self._keep)

    def _keep(self, module: nn.Module, args, output: torch.Tensor) -> None:
        self.volume = output.detach()


def prepare_window(window: Sequence[CropSample], length: int, image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The newest ``length`` crops (the oldest repeated when fewer) as normalised images (T,3,S,S) and
    intrinsics (T,3,3), resized to the model's input size with K scaled alike."""
    if not window:
        raise ValueError("empty window: predict needs at least one crop")
    frames = list(window[-length:])
    frames = [frames[0]] * (length - len(frames)) + frames
    images, intrinsics = [], []
    for crop in frames:
        image = torch.from_numpy(normalise_image(crop.image))
        K = torch.as_tensor(np.asarray(crop.k, dtype=np.float32))
        h, w = image.shape[1:]
        if (h, w) != (image_size, image_size):
            image = F.interpolate(image[None], size=(image_size, image_size), mode="bilinear", antialias=True)[0]
            K = torch.diag(torch.tensor([image_size / w, image_size / h, 1.0])) @ K
        images.append(image)
        intrinsics.append(K)
    return torch.stack(images), torch.stack(intrinsics)


def causal_windows(crops: Iterable[CropSample], length: int) -> Iterator[list[CropSample]]:
    """For each crop of a stream, the window a live predictor gets: it and up to ``length`` − 1
    crops before it, oldest first (a ring buffer of the last ``length`` crops)."""
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    ring: deque[CropSample] = deque(maxlen=length)
    for crop in crops:
        ring.append(crop)
        yield list(ring)


def _triangle_mesh(mesh) -> TriangleMesh | None:
    if mesh is None:
        return None
    return TriangleMesh(np.asarray(mesh.vertices, dtype=np.float32), np.asarray(mesh.faces, dtype=np.int64))


def _finite(name: str, value: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(value)):
        raise NonFiniteOutputError(f"the network produced non-finite {name}")
    return value


class GSDFPredictor:
    """A trained gSDF model behind the :class:`gsdf_ros.predictor.Predictor` protocol."""

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
        self._last_meshes: tuple[TriangleMesh | None, TriangleMesh | None, int | None] = (None, None, None)
        self.clock = StageClock(
            {
                "backbone": [model.pose_net.backbone, model.pose_net.neck, model.pose_net.volume_head,
                             model.pose_net.root_head, model.backbone, model.sdf_neck, model.temporal],
                "object_center": [model.object_neck, model.object_head],
            },
            self.device,
        )
        self.joint_tap = VolumeTap(model.pose_net.volume_head)
        self.object_tap = VolumeTap(model.object_head)

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
        model, checkpoint = load_model(path, device, stage="sdf")
        length = resolve_window_length(checkpoint.window_length, window_length)
        return cls(model, length, device, mesh, mesh_resolution, mesh_every)

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
        self._last_meshes = (None, None, None)

    def _meshes(self, state, newest: CropSample) -> tuple[TriangleMesh | None, TriangleMesh | None, int | None, float, float]:
        """Meshes of this call (or the last ones between mesh calls), and (sdf, marching cubes) seconds."""
        due = self.mesh != "none" and self._calls % self.mesh_every == 0
        if not due:
            return (*self._last_meshes, 0.0, 0.0)
        hand, obj, sdf_seconds = extract_meshes(self.model, state, self.mesh, self.mesh_resolution, self.coarse)
        wrist = state.wrist[0].double().cpu().numpy()
        rotation = np.asarray(newest.rotation, dtype=np.float64)
        scale = self.model.cfg.recon_scale
        meshes = [metric_mesh(e, scale, wrist, rotation) for e in (hand, obj)]
        for name, mesh in zip(("hand mesh", "object mesh"), meshes):
            if mesh is not None:
                _finite(name, np.asarray(mesh.vertices))
        self._last_meshes = (_triangle_mesh(meshes[0]), _triangle_mesh(meshes[1]), newest.stamp_ns)
        return (*self._last_meshes, sdf_seconds, _mesh_seconds(hand, obj) - sdf_seconds)

    def encode_window(self, window: Sequence[CropSample]) -> SDFState:
        """The single-frame SDF state of the newest crop, encoded with the crops before it in the
        window (the last ``window_length``, the oldest repeated when fewer); live protocol."""
        images, intrinsics = prepare_window(window, self.window_length, self.model.cfg.image_size)
        images, intrinsics = images.to(self.device), intrinsics.to(self.device)
        with torch.no_grad():
            if self.window_length > 1:
                state = self.model.encode(images[None], intrinsics[None])
            else:
                state = self.model.encode(images[-1:], intrinsics[-1:])
        return frame_state(state, state.wrist.shape[0] - 1)

    def predict(self, window: list[CropSample]) -> Reconstruction:
        """Reconstruct the newest crop of ``window`` (oldest first) in its source optical frame from
        the last ``window_length`` crops (the oldest repeated when fewer); the result's
        ``window_length`` is the number of distinct crops used."""
        newest = window[-1] if window else None
        self.clock.reset()
        start = time.perf_counter()
        with torch.no_grad():
            state = self.encode_window(window)
            encode_seconds = time.perf_counter() - start
            joint_conf = peak_sharpness(self.joint_tap.volume[-1:])[0].cpu().numpy()
            object_conf = float(peak_sharpness(self.object_tap.volume[-1:])[0, 0])
            rotation = np.asarray(newest.rotation, dtype=np.float64)
            joints = _finite("joints", state.joints[0].double().cpu().numpy() @ rotation.T)
            center = _finite("object centre", state.obj_center[0].double().cpu().numpy() @ rotation.T)
            _finite("joint confidence", joint_conf)
            hand_mesh, object_mesh, mesh_stamp, sdf_seconds, mc_seconds = self._meshes(state, newest)
        self._calls += 1
        timed = dict(self.clock.seconds)
        stage_s = {
            "backbone": timed.get("backbone", 0.0),
            "object_center": timed.get("object_center", 0.0),
            "pose_ik": max(0.0, encode_seconds - timed.get("backbone", 0.0) - timed.get("object_center", 0.0)),
            "sdf_grid": sdf_seconds,
            "marching_cubes": max(0.0, mc_seconds),
        }
        return Reconstruction(
            stamp_ns=int(newest.stamp_ns),
            frame_id=newest.frame_id,
            hand_joints=joints,
            joint_confidence=joint_conf.astype(np.float64),
            object_center=center,
            object_confidence=object_conf,
            hand_mesh=hand_mesh,
            object_mesh=object_mesh,
            mesh_stamp_ns=mesh_stamp,
            window_length=min(len(window), self.window_length),
            stage_ms={k: v * 1000.0 for k, v in stage_s.items()},
        )


def _mesh_seconds(*extractions: Extraction) -> float:
    return float(sum(e.seconds for e in extractions))
