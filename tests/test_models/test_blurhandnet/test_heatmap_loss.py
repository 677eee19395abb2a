# Copyright (c) OpenMMLab. All rights reserved.
"""HeatmapKLLoss: hand-computed values, axis order, masking, conventions."""
import math

import pytest
import torch

from mmblurhand.models.losses import HeatmapKLLoss


def _axis(sigma, dists):
    w = [math.exp(-0.5 * (d / sigma)**2) for d in dists]
    return [v / sum(w) for v in w]


def test_flat_heatmap_hand_computed():
    # 2x2 heatmap, target at the centre of cell (0, 0): (0.25, 0.25).
    loss = HeatmapKLLoss(sigma=1.0)
    logits = torch.zeros(1, 1, 2, 2)
    target = torch.tensor([[[0.25, 0.25]]])
    a, b = _axis(1.0, [0., 1.])
    q = [a * a, a * b, b * a, b * b]
    expected = sum(v * math.log(v / 0.25) for v in q)
    assert loss(logits, target).item() == pytest.approx(expected, rel=1e-5)


def test_zero_at_target_and_weighting():
    loss = HeatmapKLLoss(sigma=1.5, loss_weight=2.0)
    target = torch.tensor([[[0.3, 0.7], [0.6, 0.2]]])  # (B=1, J=2, 2)
    log_q = loss.target_log_probs(target.view(-1, 2), (4, 4)).view(1, 2, 4, 4)
    assert loss(log_q, target).item() == pytest.approx(0., abs=1e-6)
    # joint 1 wrong, masked out -> still 0; unmasked -> positive
    bad = log_q.clone()
    bad[0, 1] = 0.
    weight = torch.tensor([[1., 0.]])
    assert loss(bad, target, weight).item() == pytest.approx(0., abs=1e-6)
    single = HeatmapKLLoss(sigma=1.5)(bad[:, 1:], target[:, 1:]).item()
    # mean over the 2 valid joints, times the weight 2
    assert loss(bad, target).item() == pytest.approx(single, rel=1e-5)


def test_axis_order_x_is_width():
    # target x = 0.875 (last column), y = 0.125 (first row) on 4x4
    loss = HeatmapKLLoss(sigma=0.5)
    target = torch.tensor([[0.875, 0.125]])
    right = torch.full((1, 4, 4), -10.)
    right[0, 0, 3] = 10.  # row 0, column 3
    wrong = torch.full((1, 4, 4), -10.)
    wrong[0, 3, 0] = 10.
    assert loss(right, target) < 0.5 * loss(wrong, target)


def test_3d_depth_axis_and_official_offset():
    loss = HeatmapKLLoss(sigma=0.5)
    target = torch.tensor([[0.125, 0.125, 0.875]])  # x, y, z on 4^3
    near = torch.full((1, 4, 4, 4), -10.)
    near[0, 3, 0, 0] = 10.  # D index 3
    far = torch.full((1, 4, 4, 4), -10.)
    far[0, 0, 0, 0] = 10.
    assert loss(near, target) < 0.5 * loss(far, target)
    # official index convention: cell i sits at i / S, so 0.75 is cell 3
    official = HeatmapKLLoss(sigma=0.5, cell_offset=0.)
    hm = torch.full((1, 4, 4), -10.)
    hm[0, 3, 3] = 10.
    assert official(hm, torch.tensor([[0.75, 0.75]])) < 0.5 * loss(
        hm, torch.tensor([[0.75, 0.75]]))


def test_bad_inputs():
    with pytest.raises(ValueError, match='sigma'):
        HeatmapKLLoss(sigma=0.)
    with pytest.raises(ValueError, match='leading dims'):
        HeatmapKLLoss()(torch.zeros(2, 3, 4, 4), torch.zeros(2, 2, 2))
