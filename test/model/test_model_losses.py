"""SDF/centre loss masks (§3.1) and the ordinal pose loss (§1.3)."""

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
