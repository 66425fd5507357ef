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
        raise ValueError(f"hand_sdf: predicted {tuple(outputs['hand_sdf'].shape)} vs {tuple(targets['hand_sdf'].shape)}")
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
    """Hand ordinal loss: joint level log(1+relu(-sign(g.v) p.v)) + part level relu(-sign((g_a x g_b).v)(p_a x p_b).v)."""
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


def pose_loss(
    pred_joints: torch.Tensor,
    gt_joints: torch.Tensor,
    cfg: LossConfig,
    pred_root_depth: torch.Tensor | None = None,
    gt_root_depth: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """volume_weight MSE(joints) + ordinal_weight ordinal + root_depth_weight L1(root depth) when given."""
    volume = F.mse_loss(pred_joints, gt_joints)
    ordinal = ordinal_loss(pred_joints, gt_joints, generator=generator)
    total = cfg.volume_weight * volume + cfg.ordinal_weight * ordinal
    out = {"volume": volume, "ordinal": ordinal}
    if pred_root_depth is not None and gt_root_depth is not None:
        out["root_depth"] = F.l1_loss(pred_root_depth, gt_root_depth)
        total = total + cfg.root_depth_weight * out["root_depth"]
    return {"loss": total, **out}
