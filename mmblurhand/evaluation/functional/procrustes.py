# Copyright (c) OpenMMLab. All rights reserved.
"""Similarity Procrustes alignment (scale, rotation, translation), batched.

Finds ``s, R, t`` minimising ``sum_i w_i |s R p_i + t - g_i|^2`` in closed
form (Umeyama, TPAMI 1991): the rotation comes from the SVD of the weighted
cross-covariance of the centred point sets, with the reflection case
corrected, and the scale is ``trace(S D) / var(p)``. Unlike the official
multi-hypothesis code, the covariance uses centred points and the scale is
estimated (the standard PA-MPJPE).
"""
from typing import Optional, Tuple

import numpy as np


def similarity_transform(pred: np.ndarray,
                         gt: np.ndarray,
                         mask: Optional[np.ndarray] = None,
                         eps: float = 1e-12
                         ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best similarity transform mapping ``pred`` onto ``gt``.

    Args:
        pred (np.ndarray): ``(..., N, 3)`` source points.
        gt (np.ndarray): ``(..., N, 3)`` target points.
        mask (np.ndarray, optional): ``(..., N)`` validity; only valid
            points are used. Defaults to all valid.
        eps (float): Guards divisions for degenerate point sets.

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: scale ``(...)``,
        rotation ``(..., 3, 3)`` and translation ``(..., 3)``. Sets with
        fewer than two distinct valid points get the identity rotation, unit
        scale and the translation between centroids.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.shape[-1] != 3:
        raise ValueError('similarity_transform: expected two (..., N, 3) '
                         f'arrays of the same shape, got {pred.shape} and '
                         f'{gt.shape}.')
    if mask is None:
        weight = np.ones(pred.shape[:-1])
    else:
        weight = np.broadcast_to(np.asarray(mask) > 0,
                                 pred.shape[:-1]).astype(np.float64)
    w = weight[..., None]  # (..., N, 1)
    total = np.maximum(weight.sum(-1), eps)[..., None]  # (..., 1)
    mu_p = (w * pred).sum(-2) / total
    mu_g = (w * gt).sum(-2) / total
    p = pred - mu_p[..., None, :]
    g = gt - mu_g[..., None, :]
    var_p = (w * p**2).sum((-2, -1)) / total[..., 0]
    # Cross-covariance K = sum_i w_i g_i p_i^T / sum_i w_i.
    cov = np.einsum('...ni,...nj->...ij', w * g, p) / total[..., None]
    u, s, vt = np.linalg.svd(cov)
    sign = np.sign(np.linalg.det(u @ vt))
    sign = np.where(sign == 0, 1., sign)
    d = np.ones(s.shape)
    d[..., -1] = sign
    rot = u @ (d[..., :, None] * vt)
    degenerate = var_p < eps
    scale = np.where(degenerate, 1., (s * d).sum(-1) / np.maximum(var_p, eps))
    rot = np.where(degenerate[..., None, None], np.eye(3), rot)
    trans = mu_g - scale[..., None] * np.einsum('...ij,...j->...i', rot, mu_p)
    return scale, rot, trans


def procrustes_align(pred: np.ndarray,
                     gt: np.ndarray,
                     mask: Optional[np.ndarray] = None) -> np.ndarray:
    """``pred`` moved onto ``gt`` by the best similarity transform.

    Args:
        pred (np.ndarray): ``(..., N, 3)``.
        gt (np.ndarray): ``(..., N, 3)``.
        mask (np.ndarray, optional): ``(..., N)`` validity used to fit the
            transform (every point is transformed).

    Returns:
        np.ndarray: ``(..., N, 3)`` aligned ``pred``.
    """
    scale, rot, trans = similarity_transform(pred, gt, mask)
    pred = np.asarray(pred, dtype=np.float64)
    return scale[..., None, None] * np.einsum(
        '...ij,...nj->...ni', rot, pred) + trans[..., None, :]
