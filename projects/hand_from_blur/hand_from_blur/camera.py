# Copyright (c) OpenMMLab. All rights reserved.
"""Cameras of the network crop, and wrist translations from 2D joints.

The exact perspective fit, :func:`fit_translation`, lives in
:mod:`mmblurhand.models.utils.camera` (the hand-motion-prior project uses
it too); :func:`fit_translation_scaled` is this project's robust variant.
"""
from typing import Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from mmblurhand.models.utils.camera import (  # noqa: F401
    fit_translation, reprojection_error)


def crop_intrinsics(focal: np.ndarray, princpt: np.ndarray,
                    crop_matrix: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The image camera seen through an axis-aligned crop warp.

    A crop ``u_c = a u + b`` (``a < 0`` when the crop mirrors a left hand)
    of a camera ``u = f X / Z + p`` is the camera ``u_c = |a| f X' / Z +
    (a p + b)`` of the mirrored world ``X' = sign(a) X``, i.e. of the right
    hand the network predicts. So focal ``|a| f`` and principal point
    ``a p + b`` describe the crop for the predicted (right) hand.

    Args:
        focal (np.ndarray): ``(2,)`` image focal lengths, pixels.
        princpt (np.ndarray): ``(2,)`` image principal point, pixels.
        crop_matrix (np.ndarray): ``(2, 3)`` image-to-crop affine.

    Returns:
        tuple[np.ndarray, np.ndarray]: crop ``focal (2,)`` and ``princpt
        (2,)``, pixels.

    Raises:
        ValueError: The crop is rotated (not axis-aligned).
    """
    matrix = np.asarray(crop_matrix, dtype=np.float64).reshape(2, 3)
    off = abs(matrix[0, 1]) + abs(matrix[1, 0])
    if off > 1e-6 * (abs(matrix[0, 0]) + abs(matrix[1, 1])):
        raise ValueError('crop_intrinsics: the crop is rotated (matrix '
                         f'{matrix.tolist()}); use a test pipeline without '
                         'rotation augmentation.')
    scale = np.diag(matrix[:, :2])
    focal = np.abs(scale) * np.asarray(focal, dtype=np.float64).reshape(2)
    princpt = scale * np.asarray(princpt, np.float64).reshape(2) + matrix[:, 2]
    return focal, princpt


def fit_translation_scaled(joints_rel: Tensor,
                           uv: Tensor,
                           focal: Tensor,
                           princpt: Tensor,
                           weights: Tensor = None,
                           depth_range: Tuple[float, float] = (0.05, 20.0),
                           box_side: Optional[Tensor] = None
                           ) -> Tuple[Tensor, Tensor]:
    """Robust translation from 2D joints: depth from the 2D/3D spread.

    The exact fit (:func:`fit_translation`) trusts the perspective
    foreshortening of the joints; with inexact 3D and 2D joints (a network's
    guesses) its depth is often absurd (metres away, or clamped at the
    camera). Here the depth of the joints' centroid is the one at which the
    3D spread (``x``, ``y``) projects to the 2D spread; ``x`` and ``y`` then
    follow in closed form with that depth. Exact for a fronto-parallel
    hand, close otherwise.

    With ``box_side`` the depth comes from the hand box instead: the side
    of the square crop box's tight joint box (pixels) is matched by the
    larger of the joints' ``x`` and ``y`` extents. This ignores the 2D
    joints' spread, which a weak network often shrinks towards the centre.

    Args:
        joints_rel (Tensor): ``(..., J, 3)`` root-relative joints, m.
        uv (Tensor): ``(..., J, 2)`` 2D joints, pixels.
        focal (Tensor): ``(..., 2)`` pixels.
        princpt (Tensor): ``(..., 2)`` pixels.
        weights (Tensor, optional): ``(..., J)`` joint weights.
        depth_range (Tuple[float, float]): Clamp of the depth, m.
        box_side (Tensor, optional): ``(...)`` side of the tight hand box,
            pixels.

    Returns:
        tuple[Tensor, Tensor]: ``(..., 3)`` translation (m) and ``(...)``
        mean reprojection error (pixels).
    """
    if weights is None:
        weights = torch.ones_like(joints_rel[..., 0])
    w = weights[..., None]
    total = w.sum(-2).clamp(min=1e-9)                       # (..., 1)
    centre_3d = (joints_rel * w).sum(-2) / total             # (..., 3)
    centre_2d = (uv * w).sum(-2) / total                     # (..., 2)
    spread_3d = (((joints_rel[..., :2] - centre_3d[..., None, :2])**2).sum(
        -1) * weights).sum(-1) / total[..., 0]
    spread_2d = (((uv - centre_2d[..., None, :]) /
                  focal[..., None, :])**2).sum(-1)
    spread_2d = (spread_2d * weights).sum(-1) / total[..., 0]
    if box_side is None:
        depth = (spread_3d / spread_2d.clamp(min=1e-12)).sqrt()
    else:
        extent = (joints_rel[..., :2].amax(-2) -
                  joints_rel[..., :2].amin(-2)).amax(-1)
        depth = focal.mean(-1) * extent / box_side.clamp(min=1e-6)
    depth = depth.clamp(*depth_range)                         # centroid z
    t_z = depth - centre_3d[..., 2]
    # x, y: least squares with t_z fixed (decoupled, closed form)
    ray = (uv - princpt[..., None, :]) / focal[..., None, :]
    z = joints_rel[..., 2] + t_z[..., None]
    t_xy = ((ray * z[..., None] - joints_rel[..., :2]) * w).sum(-2) / total
    transl = torch.cat([t_xy, t_z[..., None]], dim=-1)
    return transl, reprojection_error(joints_rel, transl, uv, focal, princpt,
                                      weights)
