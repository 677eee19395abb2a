# Copyright (c) OpenMMLab. All rights reserved.
"""Optional extra outputs of the synthetic generator: the clean background
and the blurred alpha matte of every blurry image.

Human-from-Blur-style test-time refinement (``projects/hand_from_blur``)
needs the background the hand moved over (the paper assumes it is known)
and, to evaluate or to use as an oracle matte, the blurred alpha (the mean
of the sub-frame coverages, eq. 2's alpha channel). With
``SynthesisConfig(save_background=True, save_alpha=True)`` (CLI
``--save-background --save-alpha``) they are written beside the blurry
image, at the same relative path:

- ``backgrounds/<split>/<...>.png``: 8-bit RGB background, no sensor noise;
- ``blur_alphas/<split>/<...>.png``: 16-bit grey, ``alpha * 65535``.

Both options are off by default, and then neither changes the dataset's
meta (see :func:`drop_default_extras`), so existing datasets stay valid.
"""
import os
import os.path as osp
from typing import Dict, Tuple

import cv2
import numpy as np

#: Sub-folders of the extra outputs (removed with the dataset).
EXTRA_DIRS = ('backgrounds', 'blur_alphas')
#: Option name -> sub-folder.
EXTRA_OPTIONS = dict(save_background='backgrounds', save_alpha='blur_alphas')
ALPHA_SCALE = 65535.0


def drop_default_extras(options: Dict) -> Dict:
    """Remove the extra-output options that are off from a meta dict.

    So a dataset generated without them has exactly the meta of a dataset
    generated before the options existed.
    """
    for key in EXTRA_OPTIONS:
        if not options.get(key, False):
            options.pop(key, None)
    return options


def extra_path(data_root: str, kind: str, split: str, file_name: str) -> str:
    """Path of an extra output.

    Args:
        data_root (str): Dataset root.
        kind (str): ``'background'`` or ``'alpha'``.
        split (str): ``'train'`` or ``'test'``.
        file_name (str): The blurry image's path relative to
            ``blur_images/<split>/``.
    """
    folders = dict(background='backgrounds', alpha='blur_alphas')
    if kind not in folders:
        raise ValueError(f'extra_path: kind must be "background" or '
                         f'"alpha", got {kind!r}.')
    return osp.join(data_root, folders[kind], split, file_name)


def _write(path: str, image: np.ndarray) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, image):
        raise IOError(f'Could not write image "{path}"; check that the '
                      'output folder is writable and the disk not full.')


def save_extras(cfg, out_dir: str, split: str, file_name: str,
                background: np.ndarray, alpha: np.ndarray) -> None:
    """Write the background and/or blurred alpha of one sample.

    Args:
        cfg: ``SynthesisConfig`` (reads ``save_background``,
            ``save_alpha``; missing attributes mean off).
        out_dir (str): Dataset root.
        split (str): Split.
        file_name (str): Blurry image path relative to its split folder.
        background (np.ndarray): ``(H, W, 3)`` RGB in [0, 1].
        alpha (np.ndarray): ``(N, H, W)`` sub-frame coverages in [0, 1].
    """
    if getattr(cfg, 'save_background', False):
        rgb = (np.clip(background, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        _write(extra_path(out_dir, 'background', split, file_name),
               np.ascontiguousarray(rgb[..., ::-1]))
    if getattr(cfg, 'save_alpha', False):
        mean = np.clip(np.asarray(alpha, np.float64).mean(axis=0), 0.0, 1.0)
        _write(extra_path(out_dir, 'alpha', split, file_name),
               (mean * ALPHA_SCALE + 0.5).astype(np.uint16))


def load_extras(data_root: str, split: str,
                file_name: str) -> Tuple[np.ndarray, np.ndarray]:
    """Read the background and the alpha of one blurry image.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(H, W, 3)`` uint8 BGR background
        and ``(H, W)`` float32 alpha in [0, 1].

    Raises:
        FileNotFoundError: A file is missing (names it and the options to
            generate it).
    """
    out = []
    for kind in ('background', 'alpha'):
        path = extra_path(data_root, kind, split, file_name)
        flag = cv2.IMREAD_COLOR if kind == 'background' else \
            cv2.IMREAD_UNCHANGED
        image = cv2.imread(path, flag) if osp.isfile(path) else None
        if image is None:
            raise FileNotFoundError(
                f'"{path}" is missing or unreadable; generate the dataset '
                'with tools/dataset_converters/synthesize_blurhand.py '
                '--save-background --save-alpha.')
        out.append(image)
    alpha = out[1].astype(np.float32)
    alpha /= ALPHA_SCALE if out[1].dtype == np.uint16 else 255.0
    return out[0], alpha
