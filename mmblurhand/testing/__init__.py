# Copyright (c) OpenMMLab. All rights reserved.
"""Test helpers: fake contract-conformant batches."""
from ._utils import get_packed_inputs

__all__ = ['get_packed_inputs']
