# Copyright (c) OpenMMLab. All rights reserved.
from .blurhandnet import BlurHandNet

__all__ = ['BlurHandNet']
