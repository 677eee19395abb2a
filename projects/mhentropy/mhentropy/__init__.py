# Copyright (c) OpenMMLab. All rights reserved.
"""MHEntropy for mmblurhand: flow-based hypotheses with an entropy term.

Importing the package registers its modules under the ``mmblurhand`` scope
(configs load it with ``custom_imports``).
"""
from .estimator import MHEntropyNet
from .flow_head import FlowHypothesisHead, laplace_energy
from .metric import MHEntropyMetric
from .pose_prior import GaussianPosePrior
from .visibility import (ComputeJointVisibility,
                         PackBlurHandInputsWithVisibility, front_depth,
                         joint_visibility)

__all__ = [
    'ComputeJointVisibility', 'FlowHypothesisHead', 'GaussianPosePrior',
    'MHEntropyMetric', 'MHEntropyNet', 'PackBlurHandInputsWithVisibility',
    'front_depth', 'joint_visibility', 'laplace_energy'
]
