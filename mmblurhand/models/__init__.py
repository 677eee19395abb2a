# Copyright (c) OpenMMLab. All rights reserved.
"""Models: hand model, backbone glue, necks, heads, losses, estimators.

Importing this package registers every model component under the
``mmblurhand`` scope. MMPose's ``ResNet`` is used as the backbone and needs no
wrapper.
"""
from . import (data_preprocessors, estimators, heads, losses, mano, necks,
               selectors, utils)  # noqa: F401

__all__ = [
    'data_preprocessors', 'estimators', 'heads', 'losses', 'mano', 'necks',
    'selectors', 'utils'
]
