# Copyright (c) OpenMMLab. All rights reserved.
from .formatting import BLURHAND_META_KEYS, PackBlurHandInputs
from .generate_targets import GenerateBlurHandTargets
from .hand_augmentation import (BlurHandColorJitter,
                                BlurHandRandomScaleRotate, MirrorLeftHand)
from .loading import LoadBlurHandImage
from .topdown_affine import BlurHandTopdownAffine

__all__ = [
    'BLURHAND_META_KEYS', 'PackBlurHandInputs', 'GenerateBlurHandTargets',
    'BlurHandColorJitter', 'BlurHandRandomScaleRotate', 'MirrorLeftHand',
    'LoadBlurHandImage', 'BlurHandTopdownAffine'
]
