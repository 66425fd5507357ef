"""SDF/centre loss masks (§3.1) and the ordinal pose loss (§1.3)."""

import numpy as np
import pytest
import torch

from gsdf_ros.model.config import LossConfig
from gsdf_ros.model.losses import gsdf_loss, masked_l1, ordinal_loss, sdf_masks


def test_masks_switch_at_sdf_add_epoch():
    from_hand = torch.tensor([[True, True, False, False]])
    m_h, m_o = sdf_masks(from_hand, epoch=10, sdf_add_epoch=11)
    assert m_h.tolist() == [[True, True, False, False]] and m_o.tolist() == [[False, False, True, True]]
    m_h, m_o = sdf_masks(from_hand, epoch=11, sdf_add_epoch=11)
    assert m_h.all() and m_o.all()


def test_l1_is_clamped_and_normalised_by_point_count():
    pred = torch.tensor([0.5, 0.01, 0.0])
    target = torch.tensor([0.0, 0.0, 0.3])
    # clamp at 0.05: errors 0.05, 0.01, 0.05; mask keeps the first two.
    torch.testing.assert_close(masked_l1(pred, target, torch.tensor([1, 1, 0]), 0.05), torch.tensor(0.03))


def test_gsdf_loss_weights_terms():
    cfg = LossConfig(hand_weight=0.5, obj_weight=0.5, center_weight=0.5, clamp=0.05, sdf_add_epoch=5)
    outputs = {"hand_sdf": torch.full((1, 4), 0.02), "obj_sdf": torch.zeros(1, 4), "obj_center": torch.zeros(1, 3)}
    targets = {
        "hand_sdf": torch.zeros(1, 4),
        "obj_sdf": torch.tensor([[0.04, 0.04, 0.01, 0.01]]),
        "from_hand": torch.tensor([[True, True, False, False]]),
        "obj_center": torch.tensor([[0.1, 0.0, 0.0]]),
    }
    early = gsdf_loss(outputs, targets, epoch=0, cfg=cfg)
    torch.testing.assert_close(early["obj_sdf"], torch.tensor(0.01))  # only object-file points
    torch.testing.assert_close(early["obj_center"], torch.tensor(0.01 / 3))
    torch.testing.assert_close(early["loss"], 0.5 * (0.02 + 0.01 + 0.01 / 3) * torch.tensor(1.0))
    late = gsdf_loss(outputs, targets, epoch=5, cfg=cfg)
    torch.testing.assert_close(late["obj_sdf"], torch.tensor(0.025))  # all points


def test_ordinal_loss_zero_for_correct_order_positive_for_mirrored_depth():
    gen = torch.Generator().manual_seed(0)
    gt = torch.randn(3, 21, 3, generator=gen) * 0.05
    assert ordinal_loss(gt * 2.0, gt, generator=torch.Generator().manual_seed(1)) == 0
    mirrored = gt * torch.tensor([1.0, 1.0, -1.0])
    loss = ordinal_loss(mirrored, gt, generator=torch.Generator().manual_seed(1))
    assert loss > 0


# ---------------------------------------------------------------- pose-net terms


def test_trilinear_targets_weights_recover_the_index():
    from gsdf_ros.model.losses import trilinear_targets

    idx = torch.tensor([[[2.25, 0.5, 3.0], [0.0, 0.0, 0.0], [5.9, 5.0, 1.1]]])
    flat, weight, inside = trilinear_targets(idx, (5, 6, 7))  # D, H, W
    assert torch.allclose(weight.sum(-1), torch.ones(1, 3))
    x, y, z = flat % 7, (flat // 7) % 6, flat // 42
    recovered = torch.stack([(weight * x).sum(-1), (weight * y).sum(-1), (weight * z).sum(-1)], dim=-1)
    assert torch.allclose(recovered, idx, atol=1e-5)
    assert inside.tolist() == [[True, True, True]]
    _, _, inside = trilinear_targets(torch.tensor([[[6.5, 1.0, 1.0], [1.0, -0.5, 1.0], [1.0, 1.0, 4.0]]]), (5, 6, 7))
    assert inside.tolist() == [[False, False, True]]


def test_heatmap_loss_is_lowest_at_the_true_voxel_and_ignores_joints_outside():
    from gsdf_ros.model.losses import heatmap_loss

    volume = torch.zeros(1, 2, 4, 4, 4)
    target = torch.tensor([[[1.0, 2.0, 3.0], [9.0, 9.0, 9.0]]])
    flat = heatmap_loss(volume, target)
    assert flat.item() == pytest.approx(np.log(64.0), rel=1e-5)
    peaked = volume.clone()
    peaked[0, 0, 3, 2, 1] = 20.0
    wrong = volume.clone()
    wrong[0, 0, 0, 0, 0] = 20.0
    assert heatmap_loss(peaked, target) < 1e-3 < flat < heatmap_loss(wrong, target)
    peaked[0, 1] = torch.randn(4, 4, 4) * 50  # the joint outside the volume does not count
    assert heatmap_loss(peaked, target) < 1e-3


def test_root_depth_gradient_into_the_backbone_is_scaled():
    from gsdf_ros.model.heads import RootDepthHead

    feats = torch.randn(2, 8, 4, 4, requires_grad=True)
    K = torch.tensor([[300.0, 0.0, 64.0], [0.0, 300.0, 64.0], [0.0, 0.0, 1.0]]).expand(2, 3, 3)
    grads = []
    for scale in (1.0, 0.1):
        torch.manual_seed(0)
        head = RootDepthHead(8, 16, 0.05, 128, grad_scale=scale)
        torch.nn.init.normal_(head.mlp[-1].weight)
        feats.grad = None
        head(feats, K).sum().backward()
        grads.append(feats.grad.clone())
    assert torch.allclose(grads[1], 0.1 * grads[0], atol=1e-6)


def test_pose_loss_terms_are_relative_and_in_index_units():
    from gsdf_ros.model.config import LossConfig
    from gsdf_ros.model.losses import pose_loss

    gt = torch.randn(2, 21, 3) * 0.03 + torch.tensor([0.0, 0.0, 0.5])
    out = pose_loss(gt, gt, LossConfig(), torch.tensor([0.55, 0.45]), torch.tensor([0.5, 0.5]),
                    pred_idx=torch.zeros(2, 21, 3), gt_idx=torch.full((2, 21, 3), 2.0))
    assert out["joints"].item() == pytest.approx(2.0)
    assert out["root_depth"].item() == pytest.approx((np.log(1.1) + abs(np.log(0.9))) / 2, rel=1e-5)
    assert "heatmap" not in out
