# Copyright (c) OpenMMLab. All rights reserved.
"""Per-sample choice of the time order of a predicted sequence.

A blurry image does not tell the direction of the motion, so the official
BlurHandNet evaluation compares the predicted end frames with the ground
truth in both orders and keeps the one with the smaller error. For ``T``
steps the two candidates are the predicted sequence and its time reversal
(for T=3: past/future kept or swapped; the middle step is the same in both).
"""
import numpy as np

from .keypoint_errors import masked_mean, point_errors


def choose_temporal_order(pred: np.ndarray, gt: np.ndarray,
                          mask: np.ndarray) -> np.ndarray:
    """Whether the predicted order fits the ground truth better than reversed.

    The error of an order is the sum over time steps of the mean error over
    the step's valid joints (official: ``err_pf = mean(|e1 - past|) +
    mean(|e2 - future|)``). A step without valid joints adds nothing to
    either order (the official code's NaN comparison then always picked the
    swapped order). Ties keep the predicted order.

    Args:
        pred (np.ndarray): ``(..., T, J, 3)`` predicted sequence.
        gt (np.ndarray): ``(..., T, J, 3)`` ground truth.
        mask (np.ndarray): ``(..., T, J)`` validity.

    Returns:
        np.ndarray: ``(...)`` bool, True = keep the predicted order.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim < 3:
        raise ValueError('choose_temporal_order: expected pred and gt of the '
                         f'same shape (..., T, J, 3), got {pred.shape} and '
                         f'{gt.shape}.')
    mask = np.broadcast_to(np.asarray(mask) > 0, pred.shape[:-1])
    forward = np.nan_to_num(
        masked_mean(point_errors(pred, gt), mask, axis=-1)).sum(-1)
    backward = np.nan_to_num(
        masked_mean(point_errors(np.flip(pred, -3), gt), mask,
                    axis=-1)).sum(-1)
    return forward <= backward


def apply_temporal_order(x: np.ndarray, in_order: np.ndarray,
                         time_axis: int) -> np.ndarray:
    """Reverse the time axis where ``in_order`` is False.

    Args:
        x (np.ndarray): Array whose axis ``time_axis`` is time, e.g.
            ``(N, T, J, 3)`` with ``time_axis=1``.
        in_order (np.ndarray): Bool of the dims before ``time_axis``, e.g.
            ``(N,)``.
        time_axis (int): The (non-negative) time axis.

    Returns:
        np.ndarray: ``x`` with reversed time where requested.
    """
    in_order = np.asarray(in_order, dtype=bool)
    if in_order.shape != x.shape[:time_axis]:
        raise ValueError(
            f'apply_temporal_order: flags of shape {in_order.shape} must '
            f'match the dims before the time axis {x.shape[:time_axis]}.')
    keep = in_order.reshape(in_order.shape + (1, ) * (x.ndim - time_axis))
    return np.where(keep, x, np.flip(x, time_axis))
