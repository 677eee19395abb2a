# Copyright (c) OpenMMLab. All rights reserved.
"""What the refinement sees of one sample: image, background and matte
cropped like the network input, and the crop's camera.

Every image is warped with the network crop's own affine matrix
(:func:`~mmblurhand.datasets.transforms.hand_geometry.get_crop_matrix`,
mirrored for left hands) at ``render_size`` pixels, so the predicted
right-hand meshes, the 2D joints (normalised crop coordinates) and the
pictures all live in one frame.
"""
import os.path as osp
from typing import Dict, List, Sequence

import cv2
import numpy as np
import torch

from mmblurhand.datasets.synthesis.save_extras import load_extras
from mmblurhand.datasets.transforms.hand_geometry import get_crop_matrix
from .camera import crop_intrinsics


def relative_image_path(img_path: str, data_root: str, split: str) -> str:
    """The blurry image's path relative to ``blur_images/<split>/``."""
    base = osp.join(data_root, 'blur_images', split)
    rel = osp.relpath(img_path, base)
    if rel.startswith('..'):
        raise ValueError(f'image "{img_path}" is not under "{base}"; pass '
                         'the data root the samples were loaded from.')
    return rel


def crop_observation(image_bgr: np.ndarray,
                     background_bgr: np.ndarray,
                     alpha: np.ndarray,
                     metainfo: dict,
                     render_size: int) -> Dict[str, np.ndarray]:
    """Crop one sample's pictures and camera to the network crop.

    Args:
        image_bgr (np.ndarray): ``(H, W, 3)`` uint8 blurry image.
        background_bgr (np.ndarray): ``(H, W, 3)`` uint8 background.
        alpha (np.ndarray): ``(H, W)`` float blurred alpha in [0, 1].
        metainfo (dict): ``input_center``, ``input_scale``, ``rotation``,
            ``flip``, ``focal``, ``princpt`` (image pixels).
        render_size (int): Side of the square crop, pixels.

    Returns:
        dict[str, np.ndarray]: ``image`` and ``background`` ``(3, S, S)``
        RGB float32 in [0, 1], ``alpha`` and ``valid`` (1 inside the image)
        ``(S, S)``, ``focal`` and ``princpt`` ``(2,)`` crop pixels.
    """
    size = (int(render_size), int(render_size))
    matrix = get_crop_matrix(metainfo['input_center'],
                             metainfo['input_scale'],
                             float(metainfo.get('rotation', 0.0)), size,
                             bool(metainfo.get('flip', False)))

    def warp(x, interp=cv2.INTER_LINEAR):
        return cv2.warpAffine(
            x, matrix, size, flags=interp, borderMode=cv2.BORDER_CONSTANT,
            borderValue=0)

    def rgb(x):
        return np.ascontiguousarray(
            warp(x)[..., ::-1].transpose(2, 0, 1)).astype(np.float32) / 255.

    focal, princpt = crop_intrinsics(metainfo['focal'], metainfo['princpt'],
                                     matrix)
    valid = warp(np.ones(image_bgr.shape[:2], np.float32))
    return dict(
        image=rgb(image_bgr),
        background=rgb(background_bgr),
        alpha=warp(alpha.astype(np.float32)),
        valid=(valid > 0.5).astype(np.float32),
        focal=focal.astype(np.float32),
        princpt=princpt.astype(np.float32))


def load_observations(data_samples: Sequence, data_root: str, split: str,
                      render_size: int) -> List[Dict[str, np.ndarray]]:
    """:func:`crop_observation` of packed samples (reads the files).

    Args:
        data_samples (Sequence[PoseDataSample]): With the BlurHand metainfo.
        data_root (str): Dataset root (with ``backgrounds/`` and
            ``blur_alphas/``).
        split (str): Split of the samples.
        render_size (int): Crop side, pixels.
    """
    out = []
    for sample in data_samples:
        meta = sample.metainfo
        image = cv2.imread(meta['img_path'], cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f'cannot read "{meta["img_path"]}".')
        background, alpha = load_extras(
            data_root, split,
            relative_image_path(meta['img_path'], data_root, split))
        out.append(
            crop_observation(image, background, alpha, meta, render_size))
    return out


def stack_observations(observations: Sequence[Dict[str, np.ndarray]],
                       render_size: int,
                       device='cpu') -> Dict[str, object]:
    """Batch :func:`crop_observation` outputs into tensors (``(B, ...)``),
    with ``image_size = (S, S)``."""
    batch = {
        key: torch.as_tensor(np.stack([o[key] for o in observations]),
                             device=device)
        for key in observations[0]
    }
    batch['image_size'] = (int(render_size), int(render_size))
    return batch
