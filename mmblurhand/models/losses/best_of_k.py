# Copyright (c) OpenMMLab. All rights reserved.
"""Best-of-K ("min over hypotheses") assignment for multi-hypothesis losses.

All tensors are batch-first: ``(B, K, T, ...)`` = images, hypotheses, time
steps. The assignment picks, for every image, the hypothesis closest to the
ground truth; the multi-hypothesis losses are then applied to that hypothesis
only, so only it receives gradients (paper eqs. 2-4).
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

from mmblurhand.registry import TASK_UTILS

BEST_OF_K_MODES = ('sequence', 'time_step')


def hypothesis_errors(pred_joints: Tensor, gt_joints: Tensor,
                      joint_weights: Tensor) -> Tuple[Tensor, Tensor]:
    """Mean per-joint position error of every hypothesis and time step.

    Args:
        pred_joints (Tensor): Predicted joints, shape ``(B, K, T, N, D)``.
        gt_joints (Tensor): Ground-truth joints, shape ``(B, T, N, D)``, in
            the same units as ``pred_joints``.
        joint_weights (Tensor): Joint validity, shape ``(B, T, N)``.

    Returns:
        tuple:
        - errors (Tensor): Weighted mean joint distance, shape ``(B, K, T)``
          (0 where a time step has no valid joint).
        - valid (Tensor): Bool, shape ``(B, T)``: the time step has at
          least one valid joint.
    """
    if pred_joints.dim() != 5:
        raise ValueError(
            'hypothesis_errors: `pred_joints` must have shape (B, K, T, N, '
            f'D), got {tuple(pred_joints.shape)}.')
    batch, _, steps, num_joints, dims = pred_joints.shape
    if gt_joints.shape != (batch, steps, num_joints, dims):
        raise ValueError(
            'hypothesis_errors: `gt_joints` must have shape (B, T, N, D) = '
            f'{(batch, steps, num_joints, dims)}, got '
            f'{tuple(gt_joints.shape)}.')
    if joint_weights.shape != (batch, steps, num_joints):
        raise ValueError(
            'hypothesis_errors: `joint_weights` must have shape (B, T, N) = '
            f'{(batch, steps, num_joints)}, got '
            f'{tuple(joint_weights.shape)}.')
    weights = joint_weights.to(pred_joints.dtype)
    dist = torch.linalg.vector_norm(
        pred_joints - gt_joints.unsqueeze(1), dim=-1)  # (B, K, T, N)
    weight_sum = weights.sum(-1)  # (B, T)
    errors = (dist * weights.unsqueeze(1)).sum(-1) / weight_sum.clamp(
        min=1e-8).unsqueeze(1)
    return errors, weight_sum > 0


def sequence_errors(errors: Tensor, valid: Optional[Tensor] = None) -> Tensor:
    """Average per-time-step errors over the valid time steps.

    Args:
        errors (Tensor): Errors, shape ``(B, K, T)``.
        valid (Tensor, optional): Bool, shape ``(B, T)``. ``None`` means
            every time step counts.

    Returns:
        Tensor: Errors of the whole sequences, shape ``(B, K)``; NaN where
        an image has no valid time step.
    """
    if valid is None:
        return errors.mean(-1)
    weights = valid.to(errors.dtype).unsqueeze(1)  # (B, 1, T)
    count = weights.sum(-1)
    total = (torch.nan_to_num(errors) * weights).sum(-1)
    return torch.where(count > 0, total / count.clamp(min=1.0),
                       torch.full_like(total, float('nan')))


def select_best_hypotheses(errors: Tensor,
                           valid: Optional[Tensor] = None,
                           mode: str = 'sequence') -> Tensor:
    """Index of the best hypothesis for every image and time step.

    Args:
        errors (Tensor): Errors, shape ``(B, K, T)``; lower is better.
        valid (Tensor, optional): Bool, shape ``(B, T)``; time steps without
            ground truth do not vote.
        mode (str): ``'sequence'``: one hypothesis per image, the one with
            the lowest error averaged over the valid time steps (paper eq. 2).
            ``'time_step'``: every time step picks its own hypothesis (the
            official code); a time step without ground truth falls back to
            the sequence choice.

    Returns:
        Tensor: Long indices into K, shape ``(B, T)`` (constant over T in
        ``'sequence'`` mode). Images with no valid time step get index 0.
    """
    if mode not in BEST_OF_K_MODES:
        raise ValueError(f'select_best_hypotheses: `mode` must be one of '
                         f'{BEST_OF_K_MODES}, got {mode!r}.')
    steps = errors.size(-1)
    seq_best = torch.nan_to_num(
        sequence_errors(errors, valid), nan=0.0).argmin(dim=1)  # (B,)
    seq_best = seq_best[:, None].expand(-1, steps)
    if mode == 'sequence':
        return seq_best.contiguous()
    step_best = errors.argmin(dim=1)  # (B, T)
    if valid is None:
        return step_best
    return torch.where(valid, step_best, seq_best)


def gather_hypotheses(values: Tensor, indices: Tensor) -> Tensor:
    """Take hypothesis ``indices[b, t]`` of ``values[b, :, t]``.

    Args:
        values (Tensor): Per-hypothesis values, shape ``(B, K, T, ...)``.
        indices (Tensor): Long, shape ``(B, T)``.

    Returns:
        Tensor: The selected values, shape ``(B, T, ...)``; differentiable
        with respect to the selected entries only.
    """
    if values.dim() < 3 or indices.shape != (values.size(0), values.size(2)):
        raise ValueError(
            'gather_hypotheses: expected `values` of shape (B, K, T, ...) '
            'and `indices` of shape (B, T); got '
            f'{tuple(values.shape)} and {tuple(indices.shape)}.')
    trailing = values.shape[3:]
    index = indices.view(indices.shape[0], 1, indices.shape[1],
                         *([1] * len(trailing)))
    index = index.expand(-1, 1, -1, *trailing)
    return values.gather(1, index).squeeze(1)


@TASK_UTILS.register_module()
class BestOfKAssigner:
    """Assign every image (or image and time step) its closest hypothesis.

    Args:
        mode (str): ``'sequence'`` (default) or ``'time_step'``; see
            :func:`select_best_hypotheses`.

    ``'sequence'`` is the default because a hypothesis is a whole motion
    sequence: paper eqs. 2-4 take ``min_k sum_t``, the selector scores and
    test time picks one whole sequence, and training whole sequences keeps the
    frames of one hypothesis coherent. ``'time_step'`` reproduces the
    official code, where past, middle and future of the "best" hypothesis may
    come from different hypotheses; it lowers the per-time-step oracle error
    but trains frames of one hypothesis with different winners.
    """

    def __init__(self, mode: str = 'sequence') -> None:
        if mode not in BEST_OF_K_MODES:
            raise ValueError(f'BestOfKAssigner: `mode` must be one of '
                             f'{BEST_OF_K_MODES}, got {mode!r}.')
        self.mode = mode

    @torch.no_grad()
    def assign(self, pred_joints: Tensor, gt_joints: Tensor,
               joint_weights: Tensor) -> Tuple[Tensor, Tensor]:
        """Pick the closest hypothesis by mean joint distance.

        Args:
            pred_joints (Tensor): Shape ``(B, K, T, N, D)``.
            gt_joints (Tensor): Shape ``(B, T, N, D)``.
            joint_weights (Tensor): Shape ``(B, T, N)``.

        Returns:
            tuple:
            - indices (Tensor): Long, shape ``(B, T)``.
            - errors (Tensor): Mean joint distance, shape ``(B, K, T)``.
        """
        errors, valid = hypothesis_errors(pred_joints.detach(), gt_joints,
                                          joint_weights)
        return select_best_hypotheses(errors, valid, self.mode), errors

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(mode={self.mode!r})'
