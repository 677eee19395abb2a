# Copyright (c) OpenMMLab. All rights reserved.
"""Loss terms of the test-time refinement (Human from Blur, §3.1)."""
from typing import Optional

import torch
from torch import Tensor


def soft_iou(pred: Tensor, target: Tensor, eps: float = 1e-6) -> Tensor:
    """IoU of soft masks: ``sum min / sum max`` (paper eq. 4).

    Args:
        pred, target (Tensor): ``(..., H, W)`` in [0, 1].

    Returns:
        Tensor: ``(...)``.
    """
    inter = torch.minimum(pred, target).sum((-1, -2))
    union = torch.maximum(pred, target).sum((-1, -2))
    return inter / union.clamp(min=eps)


def matting_loss(pred: Tensor, target: Tensor) -> Tensor:
    """``1 - soft_iou`` (eq. 4), ``(...)``."""
    return 1.0 - soft_iou(pred, target)


def image_loss(pred: Tensor, target: Tensor,
               mask: Optional[Tensor] = None) -> Tensor:
    """Mean squared error over pixels and channels (eq. 3), ``(...)``.

    Args:
        pred, target (Tensor): ``(..., 3, H, W)``.
        mask (Tensor, optional): ``(..., H, W)`` pixel weights (e.g. zero
            outside the image).
    """
    sq = ((pred - target)**2).mean(-3)
    if mask is None:
        return sq.mean((-1, -2))
    return (sq * mask).sum((-1, -2)) / mask.sum((-1, -2)).clamp(min=1.0)


def joint_2d_loss(pred: Tensor, target: Tensor,
                  weights: Optional[Tensor] = None) -> Tensor:
    """Order-invariant mean L1 distance of 2D joint sequences.

    A blurry image does not tell the direction of motion, so the sequence is
    compared in its order and reversed and the smaller error kept.

    Args:
        pred (Tensor): ``(..., T, J, 2)``.
        target (Tensor): ``(..., T, J, 2)`` (same units).
        weights (Tensor, optional): ``(..., T, J)``.

    Returns:
        Tensor: ``(...)``.
    """
    if weights is None:
        weights = torch.ones_like(target[..., 0])
    denom = weights.sum((-1, -2)).clamp(min=1e-9)

    def err(p):
        return ((p - target).abs().sum(-1) * weights).sum((-1, -2)) / denom

    return torch.minimum(err(pred), err(pred.flip(-3)))


def polynomial_regulariser(coeffs: Tensor) -> Tensor:
    """``|C|_1 + |C|_F`` (eq. 8) over the last two dims, ``(...)``."""
    return coeffs.abs().sum((-1, -2)) + coeffs.pow(2).sum(
        (-1, -2)).clamp(min=1e-12).sqrt()


def gaussian_pose_prior(hand_pose: Tensor,
                        mean: Optional[Tensor] = None,
                        std: Optional[Tensor] = None) -> Tensor:
    """Mean squared Mahalanobis norm of finger poses (diagonal Gaussian).

    Args:
        hand_pose (Tensor): ``(..., N, P)`` axis-angle, relative to the MANO
            mean pose.
        mean, std (Tensor, optional): ``(P,)``; 0 and 1 by default.

    Returns:
        Tensor: ``(...)``, averaged over the N sub-frames and P.
    """
    if mean is not None:
        hand_pose = hand_pose - mean
    if std is not None:
        hand_pose = hand_pose / std
    return hand_pose.pow(2).mean((-1, -2))
