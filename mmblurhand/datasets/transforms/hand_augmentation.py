# Copyright (c) OpenMMLab. All rights reserved.
"""Train-time augmentation and left-hand mirroring for BlurHand crops.

The geometric transforms here only decide the parameters (``bbox_scale``,
``bbox_rotation``, ``flip``); :class:`BlurHandTopdownAffine` applies them to
the image in one warp and :class:`GenerateBlurHandTargets` applies the same
values to 2D joints, 3D joints and MANO poses, so every quantity stays
consistent.
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mmblurhand.registry import TRANSFORMS


@TRANSFORMS.register_module()
class BlurHandRandomScaleRotate(BaseTransform):
    """Random crop scale and in-plane rotation (BlurHandNet's augmentation).

    ``scale = 1 + scale_factor * clip(N(0, 1), -1, 1)`` multiplies the crop
    box (values > 1 zoom out); with probability ``rotate_prob``,
    ``rotation = rotate_factor * clip(N(0, 1), -2, 2)`` degrees, else 0.

    Required Keys:

        - bbox_scale

    Modified Keys:

        - bbox_scale

    Added Keys:

        - bbox_rotation: (1,) degrees

    Args:
        scale_factor (float): Scale spread. Defaults to 0.25.
        rotate_factor (float): Rotation spread in degrees. Defaults to 30.
        rotate_prob (float): Probability of rotating. Defaults to 0.6.
        scale_clip (float): Clip of the scale's normal sample. Defaults to 1.
        rotate_clip (float): Clip of the rotation's normal sample. Defaults
            to 2.
    """

    def __init__(self,
                 scale_factor: float = 0.25,
                 rotate_factor: float = 30.0,
                 rotate_prob: float = 0.6,
                 scale_clip: float = 1.0,
                 rotate_clip: float = 2.0) -> None:
        if not 0 <= rotate_prob <= 1:
            raise ValueError(f'rotate_prob must be in [0, 1], got '
                             f'{rotate_prob}.')
        self.scale_factor = scale_factor
        self.rotate_factor = rotate_factor
        self.rotate_prob = rotate_prob
        self.scale_clip = scale_clip
        self.rotate_clip = rotate_clip

    @cache_randomness
    def _sample(self) -> Tuple[float, float]:
        scale = 1.0 + self.scale_factor * np.clip(np.random.randn(),
                                                  -self.scale_clip,
                                                  self.scale_clip)
        rotation = 0.0
        if np.random.rand() < self.rotate_prob:
            rotation = self.rotate_factor * np.clip(
                np.random.randn(), -self.rotate_clip, self.rotate_clip)
        return float(scale), float(rotation)

    def transform(self, results: Dict) -> Optional[dict]:
        """Sample and store the scale and rotation.

        Args:
            results (dict): The result dict.

        Returns:
            dict: The result dict.
        """
        scale, rotation = self._sample()
        results['bbox_scale'] = np.asarray(
            results['bbox_scale'], dtype=np.float32) * scale
        num = results['bbox_scale'].shape[0]
        results['bbox_rotation'] = np.full((num, ),
                                           rotation,
                                           dtype=np.float32)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale_factor='
                f'{self.scale_factor}, rotate_factor={self.rotate_factor}, '
                f'rotate_prob={self.rotate_prob})')


@TRANSFORMS.register_module()
class MirrorLeftHand(BaseTransform):
    """Mark left hands to be mirrored into right hands.

    BlurHandNet regresses right-hand MANO only, so every left hand is
    mirrored (train and test) and no random flip is used. This transform sets
    the flag; :class:`BlurHandTopdownAffine` mirrors the crop about its
    centre and :class:`GenerateBlurHandTargets` mirrors joints and MANO
    poses. Predictions are mirrored back with
    :func:`~mmblurhand.datasets.transforms.hand_geometry.restore_points_3d`.

    Required Keys:

        - hand_type (``'right'`` or ``'left'``)

    Added Keys:

        - flip (bool)
        - flip_direction (``'horizontal'`` or ``None``)

    Args:
        mirror_hand_type (str): The hand type to mirror. Defaults to
            ``'left'``.
    """

    def __init__(self, mirror_hand_type: str = 'left') -> None:
        if mirror_hand_type not in ('left', 'right'):
            raise ValueError('mirror_hand_type must be "left" or "right", '
                             f'got {mirror_hand_type!r}.')
        self.mirror_hand_type = mirror_hand_type

    def transform(self, results: Dict) -> Optional[dict]:
        """Set ``flip`` from ``hand_type``.

        Args:
            results (dict): The result dict.

        Returns:
            dict: The result dict.
        """
        hand_type = results['hand_type']
        if hand_type not in ('left', 'right'):
            raise ValueError(f'hand_type must be "left" or "right", got '
                             f'{hand_type!r} (sample {results.get("id")}).')
        flip = hand_type == self.mirror_hand_type
        results['flip'] = flip
        results['flip_direction'] = 'horizontal' if flip else None
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(mirror_hand_type='
                f'{self.mirror_hand_type!r})')


@TRANSFORMS.register_module()
class BlurHandColorJitter(BaseTransform):
    """Multiply every colour channel by its own ``U(low, high)`` factor.

    Required Keys:

        - img

    Modified Keys:

        - img (same dtype; uint8 images are clipped to [0, 255])

    Args:
        scale_range (Sequence[float]): ``(low, high)``. Defaults to
            ``(0.8, 1.2)``.
    """

    def __init__(self, scale_range: Sequence[float] = (0.8, 1.2)) -> None:
        low, high = scale_range
        if not 0 <= low <= high:
            raise ValueError('scale_range must satisfy 0 <= low <= high, got '
                             f'{scale_range}.')
        self.scale_range = (float(low), float(high))

    @cache_randomness
    def _sample(self, num_channels: int) -> np.ndarray:
        return np.random.uniform(*self.scale_range, size=num_channels)

    def transform(self, results: Dict) -> Optional[dict]:
        """Scale the colour channels.

        Args:
            results (dict): The result dict.

        Returns:
            dict: The result dict.
        """
        img = results['img']
        factors = self._sample(img.shape[-1]).astype(np.float32)
        out = img.astype(np.float32) * factors
        if img.dtype == np.uint8:
            out = np.clip(out + 0.5, 0, 255)
        results['img'] = out.astype(img.dtype)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(scale_range={self.scale_range})'
