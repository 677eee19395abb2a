# Copyright (c) OpenMMLab. All rights reserved.
from .unfolder import Unfolder, UnfolderOutput, sample_point_features

__all__ = ['Unfolder', 'UnfolderOutput', 'sample_point_features']
