# Copyright (c) OpenMMLab. All rights reserved.
from typing import Dict, Optional, Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmblurhand.registry import TRANSFORMS
from .hand_geometry import fix_aspect_ratio, get_crop_matrix


@TRANSFORMS.register_module()
class BlurHandTopdownAffine(BaseTransform):
    """Crop the hand box to the network input size in one affine warp.

    The warp scales the (aspect-fixed) box to ``input_size``, rotates it by
    ``bbox_rotation`` and mirrors it about its centre when ``flip`` is set
    (see :mod:`~mmblurhand.datasets.transforms.hand_geometry` for the exact
    convention). ``input_center`` and ``input_scale`` stay in the original,
    un-mirrored image, so predictions map back with
    :func:`~mmblurhand.datasets.transforms.hand_geometry.crop_to_image_points`.
    Pixels outside the image are black (BlurHandNet's constant border).

    Required Keys:

        - img
        - bbox_center: (1, 2)
        - bbox_scale: (1, 2)
        - bbox_rotation (optional, (1,) degrees, default 0)
        - flip (optional, default ``False``)

    Modified Keys:

        - img: (input_h, input_w, 3)
        - bbox_scale: aspect ratio fixed to ``input_size``

    Added Keys:

        - input_size: ``(w, h)``
        - input_center: (2,) image pixels
        - input_scale: (2,) image pixels
        - rotation: float degrees
        - crop_matrix: (2, 3) image pixels to crop pixels

    Args:
        input_size (Sequence[int]): Network input ``(w, h)``. Defaults to
            ``(256, 256)``.
    """

    def __init__(self, input_size: Sequence[int] = (256, 256)) -> None:
        if len(input_size) != 2 or min(input_size) <= 0:
            raise ValueError('input_size must be two positive ints (w, h), '
                             f'got {input_size}.')
        self.input_size = (int(input_size[0]), int(input_size[1]))

    def transform(self, results: Dict) -> Optional[dict]:
        """Warp the image and record the crop parameters.

        Args:
            results (dict): The result dict.

        Returns:
            dict: The result dict.
        """
        w, h = self.input_size
        center = np.asarray(results['bbox_center'], np.float64).reshape(-1, 2)
        scale = fix_aspect_ratio(
            np.asarray(results['bbox_scale'], np.float64).reshape(-1, 2),
            w / h)
        if center.shape[0] != 1:
            raise ValueError('BlurHandTopdownAffine expects one box per '
                             f'sample, got bbox_center {center.shape}.')
        rotation = float(
            np.asarray(results.get('bbox_rotation', 0.0)).reshape(-1)[0])
        flip = bool(results.get('flip', False))
        matrix = get_crop_matrix(center[0], scale[0], rotation,
                                 self.input_size, flip)
        results['img'] = cv2.warpAffine(
            results['img'],
            matrix, (w, h),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0)
        results['bbox_scale'] = scale.astype(np.float32)
        results['input_size'] = self.input_size
        results['input_center'] = center[0].astype(np.float32)
        results['input_scale'] = scale[0].astype(np.float32)
        results['rotation'] = rotation
        results['crop_matrix'] = matrix.astype(np.float32)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(input_size={self.input_size})'
