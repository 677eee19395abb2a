# Copyright (c) OpenMMLab. All rights reserved.
"""Temporal order-invariant loss and Unfolder-driven ordering.

Reference: Oh et al., CVPR 2023, Sec. 4.4 (eqs. 4-8). A blurry image does
not tell whether the hand moved from pose A to pose B or back, so the loss
on the unfolded sequence takes the better of the two time orders per sample,
and the order it picks is reused for every other loss on the end frames
(Unfolder-driven temporal ordering).
"""
from typing import Optional, Tuple, Union

import torch
from torch import Tensor, nn

from mmblurhand.registry import MODELS
from .masked_l1_loss import (check_normalize, check_pair, expand_weight,
                             step_normalisers)


def apply_temporal_order(x: Tensor, in_order: Tensor) -> Tensor:
    """Reverse the time axis of the samples whose order flag is False.

    Args:
        x (Tensor): ``(B, T, ...)`` per-step predictions.
        in_order (Tensor): ``(B,)`` bool; True keeps the predicted order,
            False reverses it (past <-> future; the middle of an odd T
            stays).

    Returns:
        Tensor: ``(B, T, ...)`` predictions in ground-truth order.
    """
    if in_order.shape != x.shape[:1]:
        raise ValueError(
            f'apply_temporal_order: order flags {tuple(in_order.shape)} '
            f'must be (B,) for predictions {tuple(x.shape)}.')
    keep = in_order.view(-1, *([1] * (x.dim() - 1)))
    return torch.where(keep, x, x.flip(1))


@MODELS.register_module()
class TemporalOrderInvariantLoss(nn.Module):
    """Masked L1 loss that takes the better of the two time orders.

    For each sample ``b`` the loss is computed against the ground truth in
    the predicted order (forward) and with the prediction's time axis
    reversed (backward); the smaller one counts:

    ``loss = w * sum_b min(L_b(forward), L_b(backward))`` with
    ``L_b(o) = sum_t sum_i v_bti |p_{b,o(t),i} - g_bti| / N_t``.

    ``N_t`` is the same per-step denominator as in :class:`MaskedL1Loss`
    (``'valid'``: valid elements of step ``t`` over the batch; ``'all'``:
    all elements), so for T=3 and ``normalize='all'`` this equals the
    official ``joint_img`` (middle) plus ``joint_img_pf`` (ends) terms. The
    middle step of an odd T is the same in both orders and never affects
    the choice. The loss is symmetric under reversing the ground truth
    (swapping past and future).

    Args:
        loss_weight (float): Multiplier. Defaults to 1.
        normalize (str): ``'valid'`` or ``'all'``. Defaults to ``'valid'``.
    """

    def __init__(self, loss_weight: float = 1., normalize: str = 'valid'):
        super().__init__()
        check_normalize(normalize, type(self).__name__)
        self.loss_weight = loss_weight
        self.normalize = normalize

    def per_sample_losses(self,
                          pred: Tensor,
                          target: Tensor,
                          weight: Optional[Tensor] = None
                          ) -> Tuple[Tensor, Tensor]:
        """Per-sample losses in the forward and the backward order.

        Args:
            pred (Tensor): ``(B, T, ...)`` predictions.
            target (Tensor): Same shape.
            weight (Tensor, optional): Validity with the leading dims of
                ``pred`` (e.g. ``(B, T, J)``).

        Returns:
            tuple[Tensor, Tensor]: ``(B,)`` forward and backward losses
            (without ``loss_weight``).
        """
        name = type(self).__name__
        shape = check_pair(pred, target, name)
        if len(shape) < 2:
            raise ValueError(f'{name}: expected (B, T, ...) inputs, got '
                             f'{shape}.')
        weight = expand_weight(weight, pred, name)
        norm = step_normalisers(weight, 1, self.normalize)  # (T,) or ()
        norm = norm.view(1, -1) if norm.dim() else norm

        def order_loss(p: Tensor) -> Tensor:
            err = ((p - target).abs() * weight).flatten(2).sum(-1)  # (B, T)
            return (err / norm).sum(-1)

        return order_loss(pred), order_loss(pred.flip(1))

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                return_order: bool = False
                ) -> Union[Tensor, Tuple[Tensor, Tensor]]:
        """Compute the loss (and the chosen order).

        Args:
            pred (Tensor): ``(B, T, ...)`` predictions.
            target (Tensor): Same shape.
            weight (Tensor, optional): Validity with the leading dims of
                ``pred``.
            return_order (bool): Also return the order flags. Defaults to
                False.

        Returns:
            Tensor | tuple[Tensor, Tensor]: The scalar loss, and with
            ``return_order`` the ``(B,)`` bool flags (True: forward order,
            chosen on ties; computed without gradient) to pass to
            :func:`apply_temporal_order`.
        """
        forward_loss, backward_loss = self.per_sample_losses(
            pred, target, weight)
        in_order = (forward_loss <= backward_loss).detach()
        loss = torch.where(in_order, forward_loss, backward_loss).sum()
        loss = loss * self.loss_weight
        if return_order:
            return loss, in_order
        return loss
