# Copyright (c) OpenMMLab. All rights reserved.
"""Combined classifying-ranking (CCR) loss of the selection model."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmblurhand.registry import MODELS


def check_score_inputs(name: str, logits: Tensor, errors: Tensor,
                       weights: Optional[Tensor]) -> None:
    """Check the ``(B, K, 2)`` logits / ``(B, K)`` errors contract.

    Args:
        name (str): The calling loss, used in the error message.
        logits (Tensor): Selector logits, shape ``(B, K, 2)``.
        errors (Tensor): Per-hypothesis errors, shape ``(B, K)``.
        weights (Tensor, optional): Per-image weights, shape ``(B,)``.

    Raises:
        ValueError: When a shape does not match.
    """
    if logits.dim() != 3 or logits.size(-1) != 2:
        raise ValueError(
            f'{name}: `logits` must have shape (B, K, 2) (channel 1 = "is '
            f'top-n"), got {tuple(logits.shape)}.')
    if errors.shape != logits.shape[:2]:
        raise ValueError(
            f'{name}: `errors` must have shape (B, K) = '
            f'{tuple(logits.shape[:2])} to match `logits`, got '
            f'{tuple(errors.shape)}. Aggregate per-time-step errors over T '
            'before calling the loss.')
    if weights is not None and weights.shape != logits.shape[:1]:
        raise ValueError(
            f'{name}: `weights` must have shape (B,) = '
            f'{tuple(logits.shape[:1])}, got {tuple(weights.shape)}.')


def top_n_labels(errors: Tensor, num_positive: int) -> Tensor:
    """Mark the ``num_positive`` lowest errors of every row as positive.

    Ties are broken by the hypothesis index (a stable sort). Non-finite
    errors (NaN / inf, e.g. a hypothesis that could not be scored) rank last.

    Args:
        errors (Tensor): Errors, shape ``(B, K)``, lower is better.
        num_positive (int): How many hypotheses per row are positive.

    Returns:
        Tensor: Bool labels, shape ``(B, K)``, ``True`` for the top-n.
    """
    finite = torch.isfinite(errors)
    ranked = torch.where(finite, errors, torch.full_like(errors, float('inf')))
    order = torch.argsort(ranked, dim=1, stable=True)
    labels = torch.zeros_like(errors, dtype=torch.bool)
    labels.scatter_(1, order[:, :num_positive], True)
    return labels


@MODELS.register_module()
class CCRLoss(nn.Module):
    """Combined classifying and ranking loss (paper eqs. 7-9).

    Each of the ``K`` hypotheses of an image gets two logits
    ``(nu, mu)`` = channels ``(0, 1)``; channel 1 means "is top-n" and the
    score is ``softmax(logits)[..., 1]``. The ``num_positive`` hypotheses
    with the lowest error are labelled positive (``y = 1``), the rest
    negative. For hypothesis ``k`` with label ``y``::

        class_k = -log softmax_2(logits_k)[y]                     (eq. 8)
        rank_k  = -log softmax_K(logits[:, y])[k]                  (eq. 9)
        loss_k  = alpha * class_k + (1 - alpha) * rank_k           (eq. 7)

    i.e. the rank term is a softmax over the K hypotheses of the channel
    that matches the hypothesis' own label. The loss is averaged over the
    ``B x K`` (weighted) entries. Images whose errors are all non-finite get
    weight 0.

    Args:
        alpha (float): Balance between the classification and the ranking
            term, in ``[0, 1]``. Defaults to ``0.75`` (the value the official
            code uses).
        num_positive (int): ``n``: how many hypotheses per image are labelled
            positive. Defaults to ``4``.
        loss_weight (float): Multiplier of the loss. Defaults to ``1.0``.
    """

    def __init__(self,
                 alpha: float = 0.75,
                 num_positive: int = 4,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f'CCRLoss: `alpha` must be in [0, 1], got '
                             f'{alpha}.')
        if num_positive < 1:
            raise ValueError('CCRLoss: `num_positive` must be >= 1, got '
                             f'{num_positive}.')
        self.alpha = alpha
        self.num_positive = num_positive
        self.loss_weight = loss_weight

    def forward(self,
                logits: Tensor,
                errors: Tensor,
                weights: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            logits (Tensor): Selector logits, shape ``(B, K, 2)``.
            errors (Tensor): Error of every hypothesis (e.g. MPJPE of the
                whole sequence), shape ``(B, K)``; lower is better. Not
                differentiated.
            weights (Tensor, optional): Per-image weights, shape ``(B,)``
                (e.g. 0 for images without a valid joint).

        Returns:
            Tensor: The scalar loss.
        """
        check_score_inputs('CCRLoss', logits, errors, weights)
        num_hyps = logits.size(1)
        if self.num_positive > num_hyps:
            raise ValueError(
                f'CCRLoss: `num_positive`={self.num_positive} exceeds the '
                f'number of hypotheses K={num_hyps}; lower `num_positive`.')
        errors = errors.detach()
        labels = top_n_labels(errors, self.num_positive).long()
        index = labels.unsqueeze(-1)
        class_term = -F.log_softmax(
            logits, dim=-1).gather(-1, index).squeeze(-1)
        rank_term = -F.log_softmax(logits, dim=1).gather(-1, index).squeeze(-1)
        loss = self.alpha * class_term + (1.0 - self.alpha) * rank_term

        image_weights = torch.isfinite(errors).any(dim=1).to(loss.dtype)
        if weights is not None:
            image_weights = image_weights * weights.to(loss.dtype)
        denom = (image_weights.sum() * num_hyps).clamp(min=1.0)
        loss = (loss * image_weights[:, None]).sum() / denom
        return loss * self.loss_weight
