# Copyright (c) OpenMMLab. All rights reserved.
"""Tiny model parts for unit tests: 64x64 inputs, a 16-channel ResNet-18."""
import copy
from typing import Dict


def tiny_model_parts(feat_channels: int = 16,
                     heatmap_dims: int = 2,
                     heatmap_depth: int = 8) -> Dict[str, dict]:
    """Configs of a data preprocessor, backbone and Unfolder that build in
    milliseconds and run 64x64 crops.

    The ResNet-18 with 16 base channels gives levels ``(32, 64, 128)`` at
    strides 8-32; the Unfolder's joint features have ``feat_channels``
    channels.

    Args:
        feat_channels (int): Joint-feature channels ``C``. Defaults to 16.
        heatmap_dims (int): 2 (generator) or 3 (BlurHandNet). Defaults to 2.
        heatmap_depth (int): Depth bins of 3D heatmaps. Defaults to 8.

    Returns:
        dict[str, dict]: ``preprocessor``, ``backbone`` and ``neck`` configs
        (fresh copies, safe to modify).
    """
    parts = dict(
        preprocessor=dict(
            type='PoseDataPreprocessor',
            mean=[0., 0., 0.],
            std=[255., 255., 255.],
            bgr_to_rgb=True),
        backbone=dict(
            type='ResNet',
            depth=18,
            stem_channels=16,
            base_channels=16,
            out_indices=(1, 2, 3)),
        neck=dict(
            type='Unfolder',
            in_channels=(32, 64, 128),
            deconv_channels=(32, 16),
            conv_channels=(32, feat_channels),
            heatmap_dims=heatmap_dims))
    if heatmap_dims == 3:
        parts['neck']['heatmap_depth'] = heatmap_depth
    return copy.deepcopy(parts)
