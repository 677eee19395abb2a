# Copyright (c) OpenMMLab. All rights reserved.
"""Sequence helpers: SLERP smoothing / resampling, cross-frame time order,
and the video metrics (PA-MPJPE, root-aligned MPJPE, acceleration error).

Metrics reuse :mod:`mmblurhand.evaluation.functional`.
"""
from typing import Dict

import numpy as np
import torch

from mmblurhand.evaluation.functional import (point_errors,
                                              procrustes_align,
                                              root_relative)
from mmblurhand.models.utils.rotations import (axis_angle_to_quaternion,
                                               quaternion_to_axis_angle)


# ----------------------------------------------------------------------------
# SLERP
def slerp(q0: np.ndarray, q1: np.ndarray, w) -> np.ndarray:
    """Spherical interpolation of unit quaternions ``(..., 4)``.

    Takes the short way (``q1`` is sign-flipped when ``q0 . q1 < 0``);
    ``w`` broadcasts to ``(...)``: 0 gives ``q0``, 1 gives ``q1``.
    """
    q0 = np.asarray(q0, dtype=np.float64)
    q1 = np.asarray(q1, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)[..., None]
    dot = (q0 * q1).sum(-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.abs(dot).clip(0.0, 1.0)
    theta = np.arccos(dot)
    sin = np.sin(theta)
    small = sin < 1e-6
    safe = np.where(small, 1.0, sin)
    a = np.where(small, 1.0 - w, np.sin((1.0 - w) * theta) / safe)
    b = np.where(small, w, np.sin(w * theta) / safe)
    out = a * q0 + b * q1
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def _to_quat(axis_angle: np.ndarray) -> np.ndarray:
    return axis_angle_to_quaternion(
        torch.as_tensor(np.asarray(axis_angle, dtype=np.float64))).numpy()


def _to_aa(quat: np.ndarray) -> np.ndarray:
    return quaternion_to_axis_angle(torch.as_tensor(quat)).numpy()


def slerp_smooth(axis_angle: np.ndarray, iterations: int = 2,
                 weight: float = 0.5, time_axis: int = 0) -> np.ndarray:
    """Smooth rotation sequences by repeated SLERP towards the neighbours.

    Each pass replaces ``q_t`` by ``slerp(q_t, m_t, weight)`` with
    ``m_t = slerp(q_{t-1}, q_{t+1}, 0.5)`` (the ends are kept), the
    rotation analogue of a ``[w/2, 1-w, w/2]`` moving average. This is the
    "per-frame + SLERP" baseline of the HMP poster's tables.

    Args:
        axis_angle (np.ndarray): ``(..., 3)`` rotations with time on
            ``time_axis``.
        iterations (int): Passes. Defaults to 2.
        weight (float): Pull towards the neighbours' midpoint. Defaults to
            0.5.
        time_axis (int): Time axis. Defaults to 0.

    Returns:
        np.ndarray: Smoothed rotations, same shape.
    """
    q = np.moveaxis(_to_quat(axis_angle), time_axis, 0)
    if q.shape[0] < 3:
        return np.asarray(axis_angle, dtype=np.float64).copy()
    for _ in range(iterations):
        mid = slerp(q[:-2], q[2:], 0.5)
        inner = slerp(q[1:-1], mid, weight)
        q = np.concatenate([q[:1], inner, q[-1:]], 0)
    return np.moveaxis(_to_aa(q), 0, time_axis)


def slerp_resample(times: np.ndarray, axis_angle: np.ndarray,
                   new_times: np.ndarray) -> np.ndarray:
    """Interpolate rotations ``(M, ..., 3)`` at sorted ``times`` (M,) to
    ``new_times`` (M',) by SLERP between the neighbours (held at the ends).
    """
    times = np.asarray(times, dtype=np.float64)
    q = _to_quat(axis_angle)
    idx = np.clip(np.searchsorted(times, new_times) - 1, 0, len(times) - 2)
    span = times[idx + 1] - times[idx]
    w = np.clip((new_times - times[idx]) / np.where(span > 0, span, 1), 0, 1)
    w = w.reshape((-1, ) + (1, ) * (q.ndim - 2))
    return _to_aa(slerp(q[idx], q[idx + 1], np.broadcast_to(
        w, q[idx].shape[:-1])))


# ----------------------------------------------------------------------------
# time order of consecutive blurry frames
def resolve_frame_orders(joints: np.ndarray) -> np.ndarray:
    """Choose each frame's time order so consecutive frames join up.

    A blurry frame does not tell the direction of its motion, so each
    frame's ``T`` predicted steps may be reversed. With consecutive
    exposures, the last step of frame ``f`` should be near the first step
    of frame ``f + 1``. Viterbi over the two orders per frame minimises
    the summed mean joint distance between these ends.

    Args:
        joints (np.ndarray): ``(F, T, J, 3)`` per-frame predictions
            (root-relative), frames in video order.

    Returns:
        np.ndarray: ``(F,)`` bool, True = keep the predicted order.
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 4:
        raise ValueError('resolve_frame_orders: joints must be (F, T, J, 3),'
                         f' got {joints.shape}.')
    num = joints.shape[0]
    # ends[f, o] = (first, last) step of frame f in order o (0 keep, 1 flip)
    first = np.stack([joints[:, 0], joints[:, -1]], 1)  # (F, 2, J, 3)
    last = np.stack([joints[:, -1], joints[:, 0]], 1)
    cost = np.zeros(2)
    back = np.zeros((num, 2), dtype=np.int64)
    for f in range(1, num):
        # trans[a, b]: frame f-1 in order a, frame f in order b
        trans = point_errors(last[f - 1][:, None], first[f][None]).mean(-1)
        total = cost[:, None] + trans
        back[f] = total.argmin(0)
        cost = total.min(0)
    orders = np.zeros(num, dtype=np.int64)
    orders[-1] = int(cost.argmin())
    for f in range(num - 1, 0, -1):
        orders[f - 1] = back[f, orders[f]]
    return orders == 0


# ----------------------------------------------------------------------------
# metrics
def sequence_errors(pred: np.ndarray, gt: np.ndarray) -> Dict[str, float]:
    """The poster's video metrics, in millimetres.

    Args:
        pred (np.ndarray): ``(..., M, J, 3)`` joints, metres (any root).
        gt (np.ndarray): ``(..., M, J, 3)`` ground truth, metres; ``M``
            consecutive, equally spaced times.

    Returns:
        dict: ``pa_mpjpe`` (Procrustes-aligned per time), ``ra_mpjpe``
        (root-aligned at the wrist) and ``ra_acc`` (root-aligned
        acceleration error, mm per frame^2 at the spacing of ``M``), each
        the mean over all (sequence, time, joint).
    """
    pred = np.asarray(pred, dtype=np.float64) * 1000.0
    gt = np.asarray(gt, dtype=np.float64) * 1000.0
    if pred.shape != gt.shape or pred.ndim < 3:
        raise ValueError('sequence_errors: pred and gt must have one shape '
                         f'(..., M, J, 3), got {pred.shape} and {gt.shape}.')
    pred_rel, gt_rel = root_relative(pred), root_relative(gt)
    out = dict(
        pa_mpjpe=float(point_errors(procrustes_align(pred, gt), gt).mean()),
        ra_mpjpe=float(point_errors(pred_rel, gt_rel).mean()))
    if pred.shape[-3] >= 3:
        acc_p = np.diff(pred_rel, n=2, axis=-3)
        acc_g = np.diff(gt_rel, n=2, axis=-3)
        out['ra_acc'] = float(point_errors(acc_p, acc_g).mean())
    else:
        out['ra_acc'] = float('nan')
    return out
