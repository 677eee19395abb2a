# Copyright (c) OpenMMLab. All rights reserved.
"""Per-point errors and their aggregation (pure numpy, batched).

Two ways to average per-point errors over a test set, both offered by
:func:`aggregate_errors`:

- ``'per_joint'`` (the official BlurHandNet evaluation): for every joint
  (or vertex) the mean over the samples where it is valid, then the mean of
  these per-joint means over the joints valid at least once ("mean of
  means").
- ``'pooled'``: the mean over all valid (sample, joint) pairs (the
  multi-hypothesis paper's ``nanmean``).

They differ when joints are invalid in different numbers of samples.
"""
import numpy as np

AGGREGATION_MODES = ('per_joint', 'pooled')


def root_relative(points: np.ndarray, root_index: int = 0) -> np.ndarray:
    """Subtract the root point.

    Args:
        points (np.ndarray): ``(..., N, 3)``.
        root_index (int): Index of the root along ``N``. Defaults to 0.

    Returns:
        np.ndarray: ``(..., N, 3)`` with the root at the origin.
    """
    return points - points[..., root_index:root_index + 1, :]


def point_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Euclidean distance between corresponding points.

    Args:
        pred (np.ndarray): ``(..., N, 3)``.
        gt (np.ndarray): ``(..., N, 3)`` (broadcastable).

    Returns:
        np.ndarray: ``(..., N)`` in the input unit.
    """
    return np.linalg.norm(pred - gt, axis=-1)


def masked_mean(values: np.ndarray, mask: np.ndarray, axis=-1) -> np.ndarray:
    """Mean of ``values`` where ``mask`` is set; NaN where nothing is.

    Args:
        values (np.ndarray): Any shape.
        mask (np.ndarray): Broadcastable to ``values``; nonzero = valid.
        axis (int | tuple[int]): Axes to average over. Defaults to -1.

    Returns:
        np.ndarray: ``values`` reduced over ``axis``.
    """
    mask = np.broadcast_to(np.asarray(mask) > 0, values.shape)
    total = np.where(mask, values, 0.).sum(axis=axis)
    count = mask.sum(axis=axis)
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def aggregate_errors(errors: np.ndarray,
                     mask: np.ndarray,
                     mode: str = 'per_joint') -> np.ndarray:
    """Average per-point errors over samples and points.

    Args:
        errors (np.ndarray): ``(N, ..., P)``: N samples, P points (joints or
            vertices), any dims between.
        mask (np.ndarray): Validity broadcastable to ``errors``.
        mode (str): ``'per_joint'`` (mean over samples per point, then over
            points; official BlurHandNet) or ``'pooled'`` (mean over all
            valid pairs). Defaults to ``'per_joint'``.

    Returns:
        np.ndarray: ``errors.shape[1:-1]`` averages (a 0-d array for
        ``(N, P)`` input); NaN where nothing is valid.
    """
    if mode not in AGGREGATION_MODES:
        raise ValueError(f'aggregate_errors: `mode` must be one of '
                         f'{AGGREGATION_MODES}, got {mode!r}.')
    errors = np.asarray(errors, dtype=np.float64)
    if errors.ndim < 2:
        raise ValueError('aggregate_errors: expected errors of shape '
                         f'(N, ..., P), got {errors.shape}.')
    mask = np.broadcast_to(np.asarray(mask) > 0, errors.shape)
    if mode == 'pooled':
        axes = (0, errors.ndim - 1)
        return masked_mean(errors, mask, axis=axes)
    per_point = masked_mean(errors, mask, axis=0)  # (..., P)
    return masked_mean(
        np.nan_to_num(per_point), ~np.isnan(per_point), axis=-1)
