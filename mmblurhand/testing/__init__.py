# Copyright (c) OpenMMLab. All rights reserved.
"""Test helpers: fake contract-conformant batches and tiny model parts."""
from ._models import tiny_model_parts
from ._utils import get_packed_inputs

__all__ = ['get_packed_inputs', 'tiny_model_parts']
