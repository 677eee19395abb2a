# Copyright (c) OpenMMLab. All rights reserved.
from .blurhand_head import BlurHandHead
from .hypothesis_transformer import MultiHypothesisTransformer
from .ktformer import KTFormer, PreNormTransformerBlock
from .mano_regressor import (KinematicTreePoseHeads, ManoRegressor,
                             ManoRegressorOutput)
from .mh_head import MultiHypothesisHead

__all__ = [
    'BlurHandHead', 'KTFormer', 'PreNormTransformerBlock',
    'KinematicTreePoseHeads', 'ManoRegressor', 'ManoRegressorOutput',
    'MultiHypothesisTransformer', 'MultiHypothesisHead'
]
