# Copyright (c) OpenMMLab. All rights reserved.
import logging
import os.path as osp
from typing import Optional

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log

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
        on_corrupt (str): What to do with an image file that cannot be
            decoded or is truncated (a JPEG without its end marker decodes
            with a grey bottom): ``'error'`` (default) raises naming the
            file; ``'skip'`` logs a warning with the number of images
            skipped so far by this process and returns ``None``, so that
            MMEngine's ``BaseDataset`` uses another random sample (training
            only: evaluation datasets refuse ``None``).

    Raises:
        FileNotFoundError: The image file does not exist.
        IOError: The file exists but is corrupt or truncated (with
            ``on_corrupt='error'``).
    """

    def __init__(self,
                 to_float32: bool = False,
                 on_corrupt: str = 'error') -> None:
        if on_corrupt not in ('error', 'skip'):
            raise ValueError('on_corrupt must be "error" or "skip", got '
                             f'"{on_corrupt}".')
        self.to_float32 = to_float32
        self.on_corrupt = on_corrupt
        self.num_corrupt = 0

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
            img = _decode_complete_image(path)
            if img is None:
                return self._corrupt(path)
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def _corrupt(self, path: str) -> None:
        """Skip (counted warning) or refuse a corrupt image file."""
        if self.on_corrupt == 'error':
            raise IOError(
                f'Image "{path}" exists but is corrupt or truncated; replace '
                "it, or set `on_corrupt='skip'` in LoadBlurHandImage of the "
                'training pipeline to skip such samples.')
        self.num_corrupt += 1
        print_log(
            f'Skipped corrupt or truncated image "{path}" '
            f'({self.num_corrupt} corrupt image(s) skipped so far in this '
            'process); another sample is used instead.',
            logger='current',
            level=logging.WARNING)
        return None

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(to_float32={self.to_float32}, '
                f'on_corrupt={self.on_corrupt!r})')


def _decode_complete_image(path: str) -> Optional[np.ndarray]:
    """Decode an image file as BGR; ``None`` when it is corrupt or a
    truncated JPEG (OpenCV fills the missing rows of those with grey)."""
    data = np.fromfile(path, dtype=np.uint8)
    if data.size >= 2 and data[0] == 0xFF and data[1] == 0xD8:
        # 0xFF 0xD9 occurs in JPEG data only as the end-of-image marker
        tail = data[-1024:].tobytes()
        if b'\xff\xd9' not in tail:
            return None
    if data.size == 0:
        return None
    return cv2.imdecode(data, cv2.IMREAD_COLOR)
