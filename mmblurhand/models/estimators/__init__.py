# Copyright (c) OpenMMLab. All rights reserved.
from .blurhandnet import BlurHandNet
from .mh_blurhandnet import MHBlurHandNet
from .mh_selector import MHSelector

__all__ = ['BlurHandNet', 'MHBlurHandNet', 'MHSelector']
