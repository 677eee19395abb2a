# Copyright (c) OpenMMLab. All rights reserved.
from . import transforms  # noqa: F401
from .blurhand_dataset import BlurHandDataset

__all__ = ['BlurHandDataset']
