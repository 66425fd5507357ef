"""The pose net and the gSDF shape net, with a registry and ``build_model``.

Batch dict read by :meth:`GSDFNet.forward` (a trailing ``T`` axis after B is optional, for clips):

- ``image``  (B,3,H,W)  ImageNet-normalised crop
- ``K``      (B,3,3)    crop intrinsics
- ``wrist``  (B,3)      wrist c in the camera frame, metres (ground truth for ``paper``, predicted for
  ``live``); when absent the pose net's root-depth head places the hand (``live``)
- ``points`` (B,N,3)    query points in normalised space q = (P - c) * s/2
- ``pose_image`` (B,3,H,W), ``pose_K`` (B,3,3), ``pose_R`` (B,3,3)  optional: the pose net's own
  (tighter) hand crop, its intrinsics and the rotation from its frame to the crop above's
  (P_crop = pose_R P_pose); absent, the pose net reads ``image`` itself
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from gsdf_ros.hand.joints import NUM_JOINTS
from gsdf_ros.model.backbone import create_backbone
from gsdf_ros.model.config import GSDFConfig, get_config
from gsdf_ros.model.decoder import SDFDecoder
from gsdf_ros.model.heads import RootDepthHead, VolumeHead, decode_volume, skeleton_inputs, soft_argmax_3d
from gsdf_ros.model.kinematic import hand_features, object_features
from gsdf_ros.model.necks import UNetNeck
from gsdf_ros.model.pixel_align import GlobalFeatures, PixelAlignedFeatures
from gsdf_ros.model.temporal import SpaceTimeTransformer


@dataclass
class PoseOutput:
    joints: torch.Tensor
    """(B,21,3) camera-frame joints, metres."""
    indices: torch.Tensor
    """(B,21,3) soft-argmax volume indices (x, y, z)."""
    root_depth: torch.Tensor
    """(B,) depth used to decode (given or predicted)."""
    predicted_root_depth: torch.Tensor
    """(B,) the root-depth head's estimate."""
    volume: torch.Tensor | None = None
    """(B,21,D,H,W) joint volume logits (for the heatmap loss)."""


@dataclass
class SDFState:
    """Everything :meth:`GSDFNet.decode_sdf` needs; computed once per image by :meth:`GSDFNet.encode`."""

    visual: torch.Tensor
    """(B,C,h,w) SDF feature map, or (B,C) global feature when pixel alignment is off."""
    K: torch.Tensor
    wrist: torch.Tensor
    joints: torch.Tensor
    frames: torch.Tensor
    valid: torch.Tensor
    obj_center: torch.Tensor
    root_depth: torch.Tensor
    clip: tuple[int, int] | None = None
    """(B, T) when the inputs were clips; tensors above are then flattened to B*T."""


def _volume_decode(
    cfg: GSDFConfig, volume: torch.Tensor, K: torch.Tensor, root: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Camera-frame points (B,J,3) and soft-argmax indices (B,J,3) of a (B,J,D,H,W) volume."""
    idx = soft_argmax_3d(volume)
    points = decode_volume(idx, K, root, cfg.depth_dim, cfg.heatmap_size, cfg.image_size, cfg.depth_bins)
    return points, idx


class PoseNet(nn.Module):
    """Backbone -> UNet neck -> hand volume head -> soft-argmax -> camera joints; plus a root-depth head."""

    def __init__(self, cfg: GSDFConfig) -> None:
        super().__init__()
        self.cfg = cfg
        pc = cfg.pose
        self.backbone = create_backbone(pc.backbone)
        self.neck = UNetNeck(self.backbone.out_channels, pc.neck_channels, pc.neck_layers)
        self.volume_head = VolumeHead(pc.neck_channels, NUM_JOINTS, cfg.depth_bins)
        self.root_head = RootDepthHead(
            self.backbone.out_channels,
            pc.root_depth.hidden,
            pc.root_depth.real_area,
            cfg.image_size,
            pc.root_depth.backbone_grad_scale,
            pc.root_depth.skeleton_hidden,
            NUM_JOINTS,
        )

    def forward(self, image: torch.Tensor, K: torch.Tensor, root_depth: torch.Tensor | None = None) -> PoseOutput:
        """Decode with ``root_depth`` (B,) when given (``paper``), else with the predicted one (``live``)."""
        feats = self.backbone(image)
        volume = self.volume_head(self.neck(feats))
        idx = soft_argmax_3d(volume)
        skeleton = None
        if self.root_head.skeleton_mlp is not None:
            skeleton = skeleton_inputs(idx, self.cfg.heatmap_size, self.cfg.depth_bins)
        predicted = self.root_head(feats, K, skeleton)
        root = predicted if root_depth is None else root_depth.reshape(-1)
        joints = decode_volume(idx, K, root, self.cfg.depth_dim, self.cfg.heatmap_size, self.cfg.image_size,
                               self.cfg.depth_bins)
        return PoseOutput(joints, idx, root, predicted, volume)


def _package_template() -> torch.Tensor:
    """The package's (21,3) rest skeleton from :mod:`gsdf_ros.hand.skeleton`."""
    from gsdf_ros.hand.skeleton import default_template

    return default_template().tensor()


def _bone_frames(joints: torch.Tensor, template: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bone frames (B,16,4,4) and validity (B,) by inverse kinematics on the template."""
    from gsdf_ros.hand.ik import joints_to_bone_frames

    frames, _, valid = joints_to_bone_frames(joints, template.to(joints))
    return frames.to(joints), valid


def _flatten_clip(x: torch.Tensor, clip: tuple[int, int] | None, name: str) -> torch.Tensor:
    if clip is None:
        return x
    if tuple(x.shape[:2]) != clip:
        raise ValueError(f"{name}: expected leading (B,T)={clip}, got {tuple(x.shape)}")
    return x.flatten(0, 1)


def _unflatten_clip(x: torch.Tensor, clip: tuple[int, int] | None) -> torch.Tensor:
    return x if clip is None else x.view(*clip, *x.shape[1:])


class GSDFNet(nn.Module):
    """Frozen pose net + shape net (object centre, SDF features) + hand and object SDF decoders."""

    def __init__(self, cfg: GSDFConfig, template: torch.Tensor | None = None, pose_net: PoseNet | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        sc, dc = cfg.shape, cfg.decoder
        self.pose_net = pose_net if pose_net is not None else PoseNet(cfg)
        self.pose_net.requires_grad_(False)
        template = _package_template() if template is None else torch.as_tensor(template, dtype=torch.float32)
        if template.shape != (NUM_JOINTS, 3):
            raise ValueError(f"expected template ({NUM_JOINTS},3), got {tuple(template.shape)}")
        self.register_buffer("template", template.clone())
        self.backbone = create_backbone(sc.backbone)
        self.object_neck = UNetNeck(self.backbone.out_channels, sc.neck_channels, sc.neck_layers)
        self.object_head = VolumeHead(sc.neck_channels, 1, cfg.depth_bins)
        self.sdf_neck: UNetNeck | None = None
        self.temporal: SpaceTimeTransformer | None = None
        if sc.pixel_align:
            self.sdf_neck = UNetNeck(self.backbone.out_channels, sc.sdf_channels, sc.sdf_neck_layers)
            self.visual = PixelAlignedFeatures(sc.sdf_channels, cfg.image_size)
        else:
            self.visual = GlobalFeatures(self.backbone.out_channels, sc.sdf_channels)
        if cfg.temporal.enabled:
            tc = cfg.temporal
            self.temporal = SpaceTimeTransformer(
                sc.sdf_channels, cfg.sdf_map_size, tc.depth, tc.heads, tc.dim_head, tc.mlp_dim, tc.residual
            )
        decoder = lambda latent: SDFDecoder(  # noqa: E731
            sc.sdf_channels + latent, dc.width, dc.num_layers, dc.skip_layers, dc.dropout
        )
        self.hand_decoder = decoder(dc.hand_point_latent)
        self.object_decoder = decoder(dc.obj_point_latent)

    def train(self, mode: bool = True) -> GSDFNet:
        """The frozen pose net always stays in eval mode."""
        super().train(mode)
        self.pose_net.eval()
        return self

    def _visual_state(self, feats: torch.Tensor, clip: tuple[int, int] | None) -> torch.Tensor:
        if self.sdf_neck is None:
            return self.visual.pool(feats)
        maps = self.sdf_neck(feats)
        if self.temporal is not None:
            maps = self.temporal(maps.view(*(clip or (maps.shape[0], 1)), *maps.shape[1:])).flatten(0, 1)
        return maps

    def _pose(
        self, image: torch.Tensor, K: torch.Tensor, wrist: torch.Tensor | None, pose_view: tuple | None,
        pose_joints: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Joints (B,21,3) in the frame of ``image`` and the depth the volumes are decoded at, from the
        frozen pose net on ``image`` or on its own crop ``pose_view`` = (image, K, R pose -> crop), or
        ``pose_joints`` read beforehand."""
        if pose_joints is not None:
            return pose_joints, (pose_joints[:, 0] if wrist is None else wrist)[:, 2]
        with torch.no_grad():
            if pose_view is None:
                pose = self.pose_net(image, K, None if wrist is None else wrist[:, 2])
                return pose.joints, pose.root_depth
            pose_image, pose_K, rotation = pose_view
            root = None if wrist is None else torch.einsum("bji,bj->bi", rotation, wrist)[:, 2]
            pose = self.pose_net(pose_image, pose_K, root)
            joints = torch.einsum("bij,bkj->bki", rotation, pose.joints)
            return joints, (joints[:, 0] if wrist is None else wrist)[:, 2]

    def encode(
        self,
        image: torch.Tensor,
        K: torch.Tensor,
        wrist: torch.Tensor | None = None,
        pose_view: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
        pose_joints: torch.Tensor | None = None,
    ) -> SDFState:
        """Run both backbones once. Images (B,3,H,W) or clips (B,T,3,H,W) with K/wrist shaped alike;
        ``pose_view`` (pose_image, pose_K, pose_R): the pose net's own crop (see the module docstring);
        ``pose_joints`` (B,21,3) (or (B,T,21,3)) in the frame of ``image``: the pose net's joints read
        beforehand (:func:`gsdf_ros.live_crop.read_hand` averages several looks), used instead of its
        forward pass here."""
        if image.dim() not in (4, 5):
            raise ValueError(f"expected image (B,3,H,W) or (B,T,3,H,W), got {tuple(image.shape)}")
        clip = tuple(image.shape[:2]) if image.dim() == 5 else None
        image = _flatten_clip(image, clip, "image")
        K = _flatten_clip(K, clip, "K")
        if K.shape != (image.shape[0], 3, 3):
            raise ValueError(f"expected K (B,3,3), got {tuple(K.shape)}")
        if wrist is not None:
            wrist = _flatten_clip(wrist, clip, "wrist")
            if wrist.shape != (image.shape[0], 3):
                raise ValueError(f"expected wrist (B,3), got {tuple(wrist.shape)}")
        if pose_view is not None:
            names = ("pose_image", "pose_K", "pose_R")
            pose_view = tuple(_flatten_clip(x, clip, name) for x, name in zip(pose_view, names))
            if pose_view[0].shape[0] != image.shape[0] or pose_view[2].shape != K.shape:
                raise ValueError(f"pose crop: expected {image.shape[0]} images and rotations (B,3,3), got "
                                 f"{tuple(pose_view[0].shape)} and {tuple(pose_view[2].shape)}")
        if pose_joints is not None:
            pose_joints = _flatten_clip(pose_joints, clip, "pose_joints")
            if pose_joints.shape != (image.shape[0], 21, 3):
                raise ValueError(f"expected pose_joints ({image.shape[0]},21,3), got {tuple(pose_joints.shape)}")
        joints, root_depth = self._pose(image, K, wrist, pose_view, pose_joints)
        wrist = joints[:, 0] if wrist is None else wrist
        with torch.no_grad():
            frames, valid = _bone_frames(joints, self.template)
        feats = self.backbone(image)
        obj_center, _ = _volume_decode(self.cfg, self.object_head(self.object_neck(feats)), K, root_depth)
        return SDFState(
            visual=self._visual_state(feats, clip),
            K=K,
            wrist=wrist,
            joints=joints,
            frames=frames,
            valid=valid,
            obj_center=obj_center[:, 0],
            root_depth=root_depth,
            clip=clip,
        )

    def decode_sdf(self, state: SDFState, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Hand and object SDF (B,N) (or (B,T,N) for clips) at normalised points q (B,N,3) / (B,T,N,3)."""
        hand, obj = self._decode(state, q, ("hand", "object"))
        return hand, obj

    def decode_part(self, state: SDFState, q: torch.Tensor, part: str) -> torch.Tensor:
        """One decoder's SDF (``part`` = ``hand`` or ``object``); mesh extraction queries them apart."""
        if part not in ("hand", "object"):
            raise ValueError(f"part must be 'hand' or 'object', got {part!r}")
        return self._decode(state, q, (part,))[0]

    def _decode(self, state: SDFState, q: torch.Tensor, parts: tuple[str, ...]) -> list[torch.Tensor]:
        clip = state.clip if q.dim() == 4 else None
        q = _flatten_clip(q, clip, "points")
        if q.dim() != 3 or q.shape[0] != state.K.shape[0] or q.shape[-1] != 3:
            raise ValueError(f"expected points ({state.K.shape[0]},N,3), got {tuple(q.shape)}")
        s = self.cfg.recon_scale
        dc = self.cfg.decoder
        points_cam = q * (2.0 / s) + state.wrist[:, None, :]
        e_v = self.visual(state.visual, points_cam, state.K)
        out = []
        for part in parts:
            if part == "hand":
                e_h = hand_features(q, state.frames, s, dc.hand_point_latent)
                out.append(self.hand_decoder(torch.cat([e_v, e_h], dim=-1)))
            else:
                e_o = object_features(
                    q, state.frames, state.joints - state.wrist[:, None], state.obj_center - state.wrist, s,
                    dc.obj_point_latent,
                )
                out.append(self.object_decoder(torch.cat([e_v, e_o], dim=-1)))
        return [_unflatten_clip(x, clip) for x in out]

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Training forward: ``hand_sdf``/``obj_sdf`` (B,N), ``obj_center``/``wrist`` (B,3), ``joints`` (B,21,3),
        ``root_depth`` (B,), ``valid`` (B,) — with a T axis after B for clips."""
        missing = {"image", "K", "points"} - set(batch)
        if missing:
            raise ValueError(f"batch is missing {sorted(missing)}")
        pose_view = tuple(batch[k] for k in ("pose_image", "pose_K", "pose_R")) if "pose_image" in batch else None
        state = self.encode(batch["image"], batch["K"], batch.get("wrist"), pose_view)
        hand, obj = self.decode_sdf(state, batch["points"])
        if state.clip is not None and hand.dim() == 2:
            hand, obj = _unflatten_clip(hand, state.clip), _unflatten_clip(obj, state.clip)
        out = {
            "obj_center": state.obj_center,
            "wrist": state.wrist,
            "joints": state.joints,
            "root_depth": state.root_depth,
            "valid": state.valid,
        }
        out = {k: _unflatten_clip(v, state.clip) for k, v in out.items()}
        return {"hand_sdf": hand, "obj_sdf": obj, **out}


_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str, factory: Callable[..., nn.Module]) -> None:
    if name in _MODELS:
        raise ValueError(f"model {name!r} is already registered")
    _MODELS[name] = factory


register_model("gsdf", GSDFNet)
register_model("pose", PoseNet)


def build_model(config: GSDFConfig | str, kind: str = "gsdf", **kwargs) -> nn.Module:
    """Build a registered model (``gsdf`` or ``pose``) from a config or preset name."""
    cfg = get_config(config) if isinstance(config, str) else config
    try:
        factory = _MODELS[kind]
    except KeyError:
        raise ValueError(f"unknown model {kind!r}; known: {', '.join(sorted(_MODELS))}") from None
    return factory(cfg, **kwargs)


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
