# Copyright (c) OpenMMLab. All rights reserved.
"""Masked L1 and temporal order-invariant losses against hand computations."""
import pytest
import torch

from mmblurhand.models.losses import (MaskedL1Loss,
                                      TemporalOrderInvariantLoss,
                                      apply_temporal_order)


def _order_case():
    # (B=2, T=3, J=2, D=1)
    pred = torch.tensor([[[1., 2.], [3., 4.], [5., 6.]],
                         [[1., 1.], [0., 0.], [-1., 1.]]])[..., None]
    target = torch.tensor([[[5., 6.], [3., 5.], [1., 2.]],
                           [[1., 1.], [0., 0.], [-1., -1.]]])[..., None]
    return pred, target


def test_order_invariant_loss_hand_computed():
    pred, target = _order_case()
    loss_fn = TemporalOrderInvariantLoss(loss_weight=8., normalize='all')
    loss, in_order = loss_fn(pred, target, return_order=True)
    # sample 0: forward (8 + 1 + 8) / 4, backward (0 + 1 + 0) / 4 = 0.25
    # sample 1: forward 2 / 4 = 0.5, backward (2 + 0 + 4) / 4 = 1.5
    assert loss.item() == pytest.approx(8. * (0.25 + 0.5))
    assert in_order.tolist() == [False, True]
    fwd, bwd = loss_fn.per_sample_losses(pred, target)
    torch.testing.assert_close(fwd, torch.tensor([17 / 4, 0.5]))
    torch.testing.assert_close(bwd, torch.tensor([0.25, 1.5]))
    # masking the only remaining error of sample 0 makes it free
    weight = torch.ones(2, 3, 2)
    weight[0, 1, 1] = 0.
    assert loss_fn(pred, target, weight).item() == pytest.approx(8. * 0.5)


@pytest.mark.parametrize('normalize', ['all', 'valid'])
def test_order_invariant_loss_symmetric_under_swap(normalize):
    torch.manual_seed(0)
    pred = torch.randn(5, 3, 21, 3)
    target = torch.randn(5, 3, 21, 3)
    weight = (torch.rand(5, 3, 21) > 0.2).float()
    loss_fn = TemporalOrderInvariantLoss(normalize=normalize)
    loss, order = loss_fn(pred, target, weight, return_order=True)
    swapped, swapped_order = loss_fn(
        pred, target.flip(1), weight.flip(1), return_order=True)
    torch.testing.assert_close(loss, swapped)
    assert (order == ~swapped_order).all()
    # never more than the loss in either fixed order
    fixed = MaskedL1Loss(normalize=normalize)
    assert loss <= fixed(pred, target, weight) + 1e-6
    assert loss <= fixed(pred.flip(1), target, weight) + 1e-6


def test_order_invariant_loss_gradient_follows_the_chosen_order():
    pred, target = _order_case()
    pred.requires_grad_(True)
    TemporalOrderInvariantLoss(normalize='all')(pred, target).backward()
    # sample 0 is matched reversed: its perfectly matched ends get zero grad
    assert pred.grad[0, 0].abs().sum() == 0
    assert pred.grad[0, 2].abs().sum() == 0
    assert pred.grad[0, 1, 1].abs().sum() > 0


def test_masked_l1_hand_computed():
    pred = torch.tensor([[[1., 3.], [2., 4.]]])[..., None]  # (1, 2, 2, 1)
    target = torch.zeros_like(pred)
    weight = torch.tensor([[[1., 0.], [1., 1.]]])
    valid = MaskedL1Loss(loss_weight=2., normalize='valid')
    # step 0: 1 / 1; step 1: (2 + 4) / 2 -> (1 + 3) * 2
    assert valid(pred, target, weight).item() == pytest.approx(8.)
    every = MaskedL1Loss(normalize='all')
    # step 0: 1 / 2; step 1: 6 / 2
    assert every(pred, target, weight).item() == pytest.approx(3.5)
    flat = MaskedL1Loss(normalize='valid', step_dim=None)
    assert flat(pred, target, weight).item() == pytest.approx(7 / 3)
    # nothing valid: zero, not NaN
    assert valid(pred, target, torch.zeros_like(weight)).item() == 0.
    with pytest.raises(ValueError, match='leading dims'):
        valid(pred, target, torch.ones(1, 3))
    with pytest.raises(ValueError, match='same shape'):
        valid(pred, target[:, :1])
    with pytest.raises(ValueError, match='normalize'):
        MaskedL1Loss(normalize='sum')


def test_apply_temporal_order():
    x = torch.arange(12.).view(2, 3, 2)
    out = apply_temporal_order(x, torch.tensor([True, False]))
    torch.testing.assert_close(out[0], x[0])
    torch.testing.assert_close(out[1], x[1].flip(0))
    with pytest.raises(ValueError, match=r'\(B,\)'):
        apply_temporal_order(x, torch.tensor([True]))
