# Copyright (c) OpenMMLab. All rights reserved.
"""Pure-numpy, batched evaluation functions for hand-mesh sequences."""
from .keypoint_errors import (AGGREGATION_MODES, aggregate_errors,
                              masked_mean, point_errors, root_relative)
from .procrustes import procrustes_align, similarity_transform
from .temporal_order import apply_temporal_order, choose_temporal_order

__all__ = [
    'AGGREGATION_MODES', 'aggregate_errors', 'masked_mean', 'point_errors',
    'root_relative', 'procrustes_align', 'similarity_transform',
    'apply_temporal_order', 'choose_temporal_order'
]
