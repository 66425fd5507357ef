"""Training losses: the gSDF SDF/centre loss (§3.1) and the pose-net loss with ordinal terms (§1.3).

Target keys read by :func:`gsdf_loss`: ``hand_sdf``/``obj_sdf`` (B,N) normalised SDF, ``from_hand`` (B,N) bool
(the point comes from the hand SDF file), ``obj_center`` (B,3) metres.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from gsdf_ros.hand.joints import BONES, NUM_JOINTS
from gsdf_ros.model.config import LossConfig
from gsdf_ros.model.heads import floored_logits

_JOINT_PAIRS = torch.tensor(list(itertools.combinations(range(NUM_JOINTS), 2)))
_BONE_PAIRS = torch.tensor(list(itertools.combinations(range(len(BONES)), 2)))
_BONE_INDEX = torch.tensor(BONES)


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, clamp: float) -> torch.Tensor:
    """sum |clamp(pred) - clamp(target)| * m / sum m."""
    err = (pred.clamp(-clamp, clamp) - target.clamp(-clamp, clamp)).abs()
    mask = mask.to(err.dtype)
    return (err * mask).sum() / mask.sum().clamp_min(1.0)


def sdf_masks(from_hand: torch.Tensor, epoch: int, sdf_add_epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Before ``sdf_add_epoch`` each decoder sees only its own file's points; afterwards all points."""
    if epoch >= sdf_add_epoch:
        ones = torch.ones_like(from_hand, dtype=torch.bool)
        return ones, ones
    return from_hand.bool(), ~from_hand.bool()


def gsdf_loss(
    outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor], epoch: int, cfg: LossConfig
) -> dict[str, torch.Tensor]:
    """L = w_h L1(hand) + w_o L1(object) + w_c MSE(centre); returns the total under ``loss`` and each term."""
    for key in ("hand_sdf", "obj_sdf", "from_hand", "obj_center"):
        if key not in targets:
            raise ValueError(f"targets are missing {key!r}")
    if outputs["hand_sdf"].shape != targets["hand_sdf"].shape:
        raise ValueError(
            f"hand_sdf: predicted {tuple(outputs['hand_sdf'].shape)} vs {tuple(targets['hand_sdf'].shape)}"
        )
    m_h, m_o = sdf_masks(targets["from_hand"], epoch, cfg.sdf_add_epoch)
    hand = masked_l1(outputs["hand_sdf"], targets["hand_sdf"], m_h, cfg.clamp)
    obj = masked_l1(outputs["obj_sdf"], targets["obj_sdf"], m_o, cfg.clamp)
    center = F.mse_loss(outputs["obj_center"], targets["obj_center"])
    total = cfg.hand_weight * hand + cfg.obj_weight * obj + cfg.center_weight * center
    return {"loss": total, "hand_sdf": hand, "obj_sdf": obj, "obj_center": center}


def _view_vectors(count: int, generator: torch.Generator | None) -> torch.Tensor:
    """The camera z axis plus count-1 random unit vectors on the z >= 0 hemisphere."""
    v = torch.randn(count - 1, 3, generator=generator)
    v[:, 2] = v[:, 2].abs()
    v = v / v.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    return torch.cat([torch.tensor([[0.0, 0.0, 1.0]]), v])


def _pair_subset(pairs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """A random third of the pairs."""
    keep = torch.randperm(len(pairs), generator=generator)[: max(1, len(pairs) // 3)]
    return pairs[keep]


def ordinal_loss(
    pred: torch.Tensor, gt: torch.Tensor, num_views: int = 21, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Hand ordinal loss: joint level log(1+relu(-sign(g.v) p.v))
    + part level relu(-sign((g_a x g_b).v)(p_a x p_b).v)."""
    if pred.shape != gt.shape or pred.shape[-2:] != (NUM_JOINTS, 3):
        raise ValueError(f"expected joints (B,{NUM_JOINTS},3) twice, got {tuple(pred.shape)} and {tuple(gt.shape)}")
    views = _view_vectors(num_views, generator).to(pred)
    jp = _pair_subset(_JOINT_PAIRS, generator).to(pred.device)
    d_pred = (pred[:, jp[:, 0]] - pred[:, jp[:, 1]]) @ views.T
    d_gt = (gt[:, jp[:, 0]] - gt[:, jp[:, 1]]) @ views.T
    joint_level = torch.log1p(F.relu(-torch.sign(d_gt) * d_pred)).mean()
    bones_pred = pred[:, _BONE_INDEX[:, 1]] - pred[:, _BONE_INDEX[:, 0]]
    bones_gt = gt[:, _BONE_INDEX[:, 1]] - gt[:, _BONE_INDEX[:, 0]]
    bp = _pair_subset(_BONE_PAIRS, generator).to(pred.device)
    c_pred = torch.linalg.cross(bones_pred[:, bp[:, 0]], bones_pred[:, bp[:, 1]]) @ views.T
    c_gt = torch.linalg.cross(bones_gt[:, bp[:, 0]], bones_gt[:, bp[:, 1]]) @ views.T
    part_level = F.relu(-torch.sign(c_gt) * c_pred).mean()
    return joint_level + part_level


def trilinear_targets(
    idx: torch.Tensor, shape: tuple[int, int, int]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The 8 voxels around each fractional index (x, y, z) (B,J,3) of a (D,H,W) volume: flat positions
    (B,J,8), trilinear weights (B,J,8) summing to 1, and a (B,J) mask of indices inside the volume."""
    d, h, w = shape
    size = idx.new_tensor([w - 1, h - 1, d - 1])
    inside = ((idx >= 0) & (idx <= size)).all(dim=-1)
    idx = torch.minimum(idx.clamp_min(0.0), size)
    low = idx.floor().clamp(max=size - 1).clamp_min(0.0)
    frac = idx - low
    corners = idx.new_tensor([[i, j, k] for k in (0, 1) for j in (0, 1) for i in (0, 1)])  # (8, 3) as (x, y, z)
    pos = (low[..., None, :] + corners).long()  # (B,J,8,3)
    weight = torch.where(corners.bool(), frac[..., None, :], 1.0 - frac[..., None, :]).prod(dim=-1)
    flat = (pos[..., 2] * h + pos[..., 1]) * w + pos[..., 0]
    return flat, weight, inside


def heatmap_loss(volume: torch.Tensor, target_idx: torch.Tensor) -> torch.Tensor:
    """Cross-entropy between each joint's softmax over its (D,H,W) volume and a trilinear one-hot of the
    true index; joints outside the volume do not count. ``volume`` (B,J,D,H,W), ``target_idx`` (B,J,3)."""
    if volume.dim() != 5 or target_idx.shape != (*volume.shape[:2], 3):
        raise ValueError(f"expected volume (B,J,D,H,W) and indices (B,J,3), got {tuple(volume.shape)}, "
                         f"{tuple(target_idx.shape)}")
    b, j = volume.shape[:2]
    log_prob = floored_logits(volume.reshape(b, j, -1).float()).log_softmax(dim=-1)
    flat, weight, inside = trilinear_targets(target_idx.detach().float(), tuple(volume.shape[2:]))
    ce = -(log_prob.gather(-1, flat) * weight).sum(dim=-1)
    mask = inside.to(ce.dtype)
    return (ce * mask).sum() / mask.sum().clamp_min(1.0)


def pose_loss(
    pred_joints: torch.Tensor,
    gt_joints: torch.Tensor,
    cfg: LossConfig,
    pred_root_depth: torch.Tensor | None = None,
    gt_root_depth: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    *,
    volume: torch.Tensor | None = None,
    pred_idx: torch.Tensor | None = None,
    gt_idx: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """The pose-net loss: heatmap_weight CE(volume, trilinear target) + joint_weight L1(indices, voxels)
    + ordinal_weight ordinal(joints) + root_depth_weight L1(log root depth); each term when its inputs are given."""
    ordinal = ordinal_loss(pred_joints, gt_joints, generator=generator)
    out = {"ordinal": ordinal}
    total = cfg.ordinal_weight * ordinal
    if volume is not None and gt_idx is not None:
        out["heatmap"] = heatmap_loss(volume, gt_idx)
        total = total + cfg.heatmap_weight * out["heatmap"]
    if pred_idx is not None and gt_idx is not None:
        out["joints"] = F.l1_loss(pred_idx, gt_idx)
        total = total + cfg.joint_weight * out["joints"]
    if pred_root_depth is not None and gt_root_depth is not None:
        log_ratio = torch.log(pred_root_depth.clamp_min(1e-3)) - torch.log(gt_root_depth.clamp_min(1e-3))
        out["root_depth"] = log_ratio.abs().mean()
        total = total + cfg.root_depth_weight * out["root_depth"]
    return {"loss": total, **out}
