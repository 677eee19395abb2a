# Copyright (c) OpenMMLab. All rights reserved.
"""Hand motion prior for blurry videos (HMP poster): a continuous-time
motion VAE, augmented-view keypoint confidence and two-stage fitting on top
of mmblurhand's per-frame predictions. Importing this package registers its
modules in mmblurhand's registries (scope ``mmblurhand``)."""
from .confidence import AugmentedViewConfidence, keypoint_confidence
from .corpus import HandMotionCorpus
from .fitter import HandMotionFitter, observation_grid, solve_translation
from .motion_vae import HandMotionVAE, fourier_features
from .sequence import (resolve_frame_orders, sequence_errors, slerp,
                       slerp_resample, slerp_smooth)

__all__ = [
    'AugmentedViewConfidence', 'keypoint_confidence', 'HandMotionCorpus',
    'HandMotionFitter', 'observation_grid', 'solve_translation',
    'HandMotionVAE', 'fourier_features', 'resolve_frame_orders',
    'sequence_errors', 'slerp', 'slerp_resample', 'slerp_smooth'
]
