# Copyright (c) OpenMMLab. All rights reserved.
"""Per-joint 2D confidence from N augmented views (HMP poster section 3).

A detector without per-joint scores is run on the original view and on
``N`` augmented views of the image; the augmented detections are mapped back
to the original image and their spread about the original detection gives
the confidence of each joint::

    sigma_j^2 = 1/N sum_n |P_n,j - P_0,j|^2,  sigma_j = min(sigma_j, gamma),
    alpha_j = 1 - sigma_j / gamma

``alpha`` is 1 for a joint every view agrees on and 0 when the views
scatter by ``gamma`` or more.
"""
from typing import Dict, Optional, Sequence

import cv2
import numpy as np

from mmblurhand.registry import TASK_UTILS


def keypoint_confidence(points: np.ndarray,
                        gamma,
                        return_sigma: bool = False):
    """The poster's confidence of each joint from N + 1 detections.

    Args:
        points (np.ndarray): ``(..., N + 1, J, D)`` detections in one
            coordinate frame (e.g. original image pixels); index 0 along the
            view axis is the original view ``P_0``, 1..N the augmented views
            mapped back.
        gamma (float | np.ndarray): Clipping scale ``gamma`` in the unit of
            ``points``, broadcastable to ``(..., J)``; must be > 0.
        return_sigma (bool): Also return ``sigma`` (clipped). Defaults to
            ``False``.

    Returns:
        np.ndarray | tuple: ``alpha`` ``(..., J)`` in [0, 1] (and ``sigma``
        ``(..., J)``).
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim < 3 or points.shape[-3] < 2:
        raise ValueError(
            'keypoint_confidence: points must be (..., N + 1, J, D) with the '
            f'original view first and N >= 1 augmented views, got shape '
            f'{points.shape}.')
    gamma = np.asarray(gamma, dtype=np.float64)
    if (gamma <= 0).any():
        raise ValueError(f'keypoint_confidence: gamma must be > 0, got '
                         f'{gamma}.')
    diff = points[..., 1:, :, :] - points[..., :1, :, :]
    sigma = np.sqrt((diff**2).sum(-1).mean(-2))
    sigma = np.minimum(sigma, gamma)
    alpha = 1.0 - sigma / gamma
    return (alpha, sigma) if return_sigma else alpha


def _similarity(center: np.ndarray, angle_deg: float, scale: float,
                shift: np.ndarray) -> np.ndarray:
    """2x3 map: rotate/scale about ``center`` and shift (pixels)."""
    mat = cv2.getRotationMatrix2D((float(center[0]), float(center[1])),
                                  float(angle_deg), float(scale))
    mat[:, 2] += shift
    return mat


def invert_affine(mat: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine map."""
    full = np.vstack([mat, [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def apply_affine(mat: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 map to ``(..., 2)`` points."""
    return points @ mat[:, :2].T + mat[:, 2]


@TASK_UTILS.register_module()
class AugmentedViewConfidence:
    """Run an mmblurhand model on N augmented views of a blurry frame.

    Each view warps the image by a random similarity about the hand box's
    centre (rotation, scale, shift), runs
    :func:`mmblurhand.apis.inference_blurhand` with the same box, and maps
    the predicted keypoints back by the inverse warp. Views whose predicted
    time order is reversed relative to the original view (the model cannot
    tell the direction of a blur) are flipped back before comparing.

    Args:
        num_views (int): Augmented views ``N``. Defaults to 4.
        max_rotation (float): Largest rotation, degrees. Defaults to 15.
        scale_range (Sequence[float]): Scale range. Defaults to
            ``(0.9, 1.1)``.
        max_shift (float): Largest shift as a fraction of the box size.
            Defaults to 0.05.
        gamma (float): ``gamma`` as a fraction of the box size (the poster's
            formula then runs in pixels with ``gamma * box_size``). Defaults
            to 0.1.
        seed (int): Seed of the view draws. Defaults to 0.
    """

    def __init__(self,
                 num_views: int = 4,
                 max_rotation: float = 15.0,
                 scale_range: Sequence[float] = (0.9, 1.1),
                 max_shift: float = 0.05,
                 gamma: float = 0.1,
                 seed: int = 0):
        if num_views < 1:
            raise ValueError('AugmentedViewConfidence: num_views must be >= '
                             f'1, got {num_views}.')
        self.num_views = int(num_views)
        self.max_rotation = float(max_rotation)
        self.scale_range = tuple(scale_range)
        self.max_shift = float(max_shift)
        self.gamma = float(gamma)
        self.seed = int(seed)

    def view_transforms(self, box: np.ndarray,
                        rng: np.random.Generator) -> np.ndarray:
        """``(N, 2, 3)`` image warps of the augmented views."""
        center = (box[:2] + box[2:]) / 2
        size = float(max(box[2] - box[0], box[3] - box[1]))
        mats = [
            _similarity(center, rng.uniform(-1, 1) * self.max_rotation,
                        rng.uniform(*self.scale_range),
                        rng.uniform(-1, 1, 2) * self.max_shift * size)
            for _ in range(self.num_views)
        ]
        return np.stack(mats)

    def __call__(self, model, image: np.ndarray, box: np.ndarray,
                 hand_type: str = 'right',
                 rng: Optional[np.random.Generator] = None) -> Dict:
        """Predict one frame with its views and the per-joint confidence.

        Args:
            model: From :func:`mmblurhand.apis.init_model`.
            image (np.ndarray): ``(H, W, 3)`` uint8 BGR frame.
            box (np.ndarray): ``(4,)`` crop box ``x1, y1, x2, y2`` (used as
                is, ``bbox_padding=1``).
            hand_type (str): ``'right'`` or ``'left'``.
            rng (np.random.Generator, optional): View draws; a generator
                from ``seed`` when ``None``.

        Returns:
            dict: ``pred`` (the original view's ``pred_instances``),
            ``view_keypoints`` ``(N + 1, T, J, 2)`` (pixels, original
            image), ``alpha`` ``(T, J)``, ``sigma`` ``(T, J)`` pixels.
        """
        from mmblurhand.apis import inference_blurhand
        from mmblurhand.evaluation.functional import (apply_temporal_order,
                                                      choose_temporal_order)
        rng = rng if rng is not None else np.random.default_rng(self.seed)
        box = np.asarray(box, dtype=np.float64)
        height, width = image.shape[:2]
        base = inference_blurhand(
            model, image, box, hand_types=hand_type,
            bbox_padding=1.0)[0].pred_instances
        views = [np.asarray(base.keypoints[0], dtype=np.float64)]
        for mat in self.view_transforms(box, rng):
            warped = cv2.warpAffine(
                image, mat, (width, height), flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REFLECT101)
            kps = inference_blurhand(
                model, warped, box, hand_types=hand_type,
                bbox_padding=1.0)[0].pred_instances.keypoints[0]
            views.append(apply_affine(invert_affine(mat),
                                      np.asarray(kps, dtype=np.float64)))
        views = np.stack(views)  # (N + 1, T, J, 2)
        # align each view's time order to the original view's
        ref = np.broadcast_to(views[:1], views.shape)
        pad = np.concatenate([views, np.zeros(views.shape[:-1] + (1, ))],
                             -1)
        ref_pad = np.concatenate([ref, np.zeros(ref.shape[:-1] + (1, ))], -1)
        keep = choose_temporal_order(pad, ref_pad,
                                     np.ones(views.shape[:-1]))
        views = apply_temporal_order(views, keep, time_axis=1)
        size = float(max(box[2] - box[0], box[3] - box[1]))
        # (N + 1, T, J, 2) -> (T, N + 1, J, 2)
        alpha, sigma = keypoint_confidence(
            views.transpose(1, 0, 2, 3), self.gamma * size, return_sigma=True)
        return dict(
            pred=base, view_keypoints=views, alpha=alpha, sigma=sigma)
