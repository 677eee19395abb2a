# Copyright (c) OpenMMLab. All rights reserved.
import os.path as osp
from typing import Optional

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmblurhand.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadBlurHandImage(BaseTransform):
    """Load a BlurHand image (BGR, uint8) from ``img_path``.

    An image already in ``results['img']`` is kept (e.g. for the demo).

    Required Keys:

        - img_path (unless ``img`` is given)

    Modified Keys:

        - img (when given and ``to_float32``)

    Added Keys:

        - img: (H, W, 3) BGR image
        - img_shape: (H, W)
        - ori_shape: (H, W)

    Args:
        to_float32 (bool): Return a float32 image instead of uint8.
            Defaults to ``False``.

    Raises:
        FileNotFoundError: The image file does not exist.
        IOError: The file exists but OpenCV cannot decode it.
    """

    def __init__(self, to_float32: bool = False) -> None:
        self.to_float32 = to_float32

    def transform(self, results: dict) -> Optional[dict]:
        """Load the image.

        Args:
            results (dict): The result dict.

        Returns:
            dict: The result dict with the image.
        """
        if 'img' in results:
            img = results['img']
            if not isinstance(img, np.ndarray) or img.ndim != 3:
                raise TypeError('results["img"] must be an (H, W, 3) numpy '
                                f'image, got {type(img)}.')
            results.setdefault('img_path', None)
        else:
            path = results['img_path']
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'Image "{path}" does not exist. Restore the file, or '
                    'build BlurHandDataset with `skip_missing=True` to skip '
                    'samples whose image is missing.')
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            if img is None:
                raise IOError(f'Image "{path}" exists but could not be '
                              'decoded; the file is corrupt, replace it.')
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(to_float32={self.to_float32})'
