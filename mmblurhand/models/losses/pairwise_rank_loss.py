# Copyright (c) OpenMMLab. All rights reserved.
"""RankNet-style pair-wise ranking loss: the selection baseline."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmblurhand.registry import MODELS
from .ccr_loss import check_score_inputs


@MODELS.register_module()
class PairwiseRankLoss(nn.Module):
    """Pair-wise ranking loss (RankNet, Burges et al. 2005).

    The baseline the paper compares the CCR loss with (Table III). The
    selector emits two logits per hypothesis; the ranking score is their
    difference ``s_k = logits[k, 1] - logits[k, 0]`` (the log-odds of
    "is top-n", a monotone function of ``softmax(logits)[..., 1]``). For
    every unordered pair ``i < j`` of hypotheses of one image::

        p_ij = sigmoid(sigma * (s_i - s_j))
        t_ij = 1 if e_i < e_j, 0 if e_i > e_j, 0.5 if e_i == e_j
        loss_ij = -t_ij log p_ij - (1 - t_ij) log(1 - p_ij)

    averaged over all pairs of all (weighted) images. Non-finite errors rank
    last; a pair whose two errors are both non-finite is ignored.

    The official repository's ``PairwiseLoss`` returns the un-negated
    log-likelihood and produces NaN through ``0 * log 0`` masking; this
    class is a correct re-statement, not a port.

    Args:
        sigma (float): Steepness of the pair probability. Defaults to
            ``1.0``.
        loss_weight (float): Multiplier of the loss. Defaults to ``1.0``.
    """

    def __init__(self, sigma: float = 1.0, loss_weight: float = 1.0) -> None:
        super().__init__()
        if sigma <= 0:
            raise ValueError(
                f'PairwiseRankLoss: `sigma` must be > 0, got {sigma}.')
        self.sigma = sigma
        self.loss_weight = loss_weight

    def forward(self,
                logits: Tensor,
                errors: Tensor,
                weights: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            logits (Tensor): Selector logits, shape ``(B, K, 2)``.
            errors (Tensor): Error of every hypothesis, shape ``(B, K)``;
                lower is better. Not differentiated.
            weights (Tensor, optional): Per-image weights, shape ``(B,)``.

        Returns:
            Tensor: The scalar loss.
        """
        check_score_inputs('PairwiseRankLoss', logits, errors, weights)
        num_hyps = logits.size(1)
        errors = errors.detach()
        errors = torch.where(
            torch.isfinite(errors), errors,
            torch.full_like(errors, float('inf')))
        scores = logits[..., 1] - logits[..., 0]  # (B, K)

        # (B, K, K) pair tables; keep the strict upper triangle i < j.
        score_diff = self.sigma * (scores[:, :, None] - scores[:, None, :])
        err_i = errors[:, :, None]
        err_j = errors[:, None, :]
        target = torch.full_like(score_diff, 0.5)
        target = torch.where(err_i < err_j, torch.ones_like(target), target)
        target = torch.where(err_i > err_j, torch.zeros_like(target), target)
        upper = torch.ones(
            num_hyps, num_hyps, dtype=torch.bool,
            device=logits.device).triu(diagonal=1)
        pair_valid = upper & (torch.isfinite(err_i) | torch.isfinite(err_j))
        pair_weights = pair_valid.to(score_diff.dtype)
        if weights is not None:
            pair_weights = pair_weights * weights.to(score_diff.dtype)[:, None,
                                                                       None]

        pair_loss = F.binary_cross_entropy_with_logits(
            score_diff, target, reduction='none')
        loss = (pair_loss *
                pair_weights).sum() / pair_weights.sum().clamp(min=1.0)
        return loss * self.loss_weight
