# Copyright (c) OpenMMLab. All rights reserved.
"""Feature-space diversity-promoting loss (paper eq. 6)."""
from typing import Optional

import torch
import torch.nn as nn
from torch import Tensor

from mmblurhand.registry import MODELS


@MODELS.register_module()
class DiversityLoss(nn.Module):
    """Push the features of different hypotheses apart.

    For every image ``b`` and time step ``t`` the joint features of
    hypothesis ``k`` are flattened to ``f_k`` (``J x C`` numbers) and::

        loss = mean_{b, t, k < m} exp(-||f_k - f_m||_p / alpha)

    This is paper eq. 6 (``p = 1``) up to a constant: eq. 6 sums over
    ``t`` and divides the sum over the ``K (K - 1) / 2`` pairs by
    ``K (K - 1)``; taking the mean over images, time steps and pairs keeps
    the loss in ``[0, 1]`` whatever ``B``, ``K`` and ``T`` are (it equals
    eq. 6 times ``2 / T``). The official code uses ``p = 2`` and
    ``alpha = 1``; with ~10k-dimensional features that term is ~0 unless
    hypotheses collapse, so ``alpha`` (the normalising factor) should be of
    the order of the typical distance, e.g. the number of feature elements
    ``J x C`` for ``p = 1``.

    When ``anchor_indices`` is given, the features of that hypothesis (the
    best-of-K one) are detached: gradients only move the other hypotheses
    away from it and from each other.

    Args:
        alpha (float): Normalising factor of the distance. Defaults to
            ``1.0``.
        p (int): Order of the norm, ``1`` (paper) or ``2`` (official code).
            Defaults to ``1``.
        loss_weight (float): Multiplier of the loss. Defaults to ``1.0``.
    """

    def __init__(self,
                 alpha: float = 1.0,
                 p: int = 1,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if alpha <= 0:
            raise ValueError(
                f'DiversityLoss: `alpha` must be > 0, got {alpha}.')
        if p not in (1, 2):
            raise ValueError(f'DiversityLoss: `p` must be 1 or 2, got {p}.')
        self.alpha = alpha
        self.p = p
        self.loss_weight = loss_weight

    def forward(self,
                features: Tensor,
                anchor_indices: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            features (Tensor): Per-hypothesis features, shape
                ``(B, K, T, ...)`` (e.g. ``(B, K, T, J, C)`` refined joint
                tokens).
            anchor_indices (Tensor, optional): Long, shape ``(B, T)``: the
                hypothesis whose features are detached for that image and
                time step.

        Returns:
            Tensor: The scalar loss (0 when ``K == 1``).
        """
        if features.dim() < 3:
            raise ValueError(
                'DiversityLoss: `features` must have shape (B, K, T, ...), '
                f'got {tuple(features.shape)}.')
        batch, num_hyps, steps = features.shape[:3]
        if num_hyps < 2:
            return features.sum() * 0.0
        flat = features.reshape(batch, num_hyps, steps, -1)
        if anchor_indices is not None:
            if anchor_indices.shape != (batch, steps):
                raise ValueError(
                    'DiversityLoss: `anchor_indices` must have shape (B, T) '
                    f'= {(batch, steps)}, got {tuple(anchor_indices.shape)}.')
            hyp_ids = torch.arange(num_hyps, device=features.device)
            is_anchor = hyp_ids.view(1, -1, 1) == anchor_indices.unsqueeze(1)
            flat = torch.where(is_anchor.unsqueeze(-1), flat.detach(), flat)
        flat = flat.transpose(1, 2)  # (B, T, K, D)
        dist = torch.cdist(
            flat,
            flat,
            p=float(self.p),
            compute_mode='donot_use_mm_for_euclid_dist')  # (B, T, K, K)
        upper = torch.ones(
            num_hyps, num_hyps, dtype=torch.bool,
            device=features.device).triu(diagonal=1)
        kernel = torch.exp(-dist[..., upper] / self.alpha)
        return kernel.mean() * self.loss_weight
