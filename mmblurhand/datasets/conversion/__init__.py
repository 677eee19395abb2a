# Copyright (c) OpenMMLab. All rights reserved.
"""Build BlurHand-format blurry data from sharp videos.

- :mod:`.flow_interpolation`: optical-flow frame interpolation (OpenCV DIS
  or Farneback, flow projection, bidirectional warping) and averaging;
- :mod:`.interhand`: InterHand2.6M (30 fps) -> BlurHand conversion (CLI:
  ``tools/dataset_converters/interhand_to_blurhand.py``).
"""
from .flow_interpolation import (FLOW_METHODS, FramePairInterpolator,
                                 average_frames, blur_from_frames,
                                 estimate_flow, interpolate_frames,
                                 project_flow, warp_backward)
from .interhand import (CONVERSION_VERSION, SKIP_REASONS, ConversionConfig,
                        build_blurhand_annotations, compare_with_reference,
                        convert_interhand_to_blurhand, find_windows,
                        format_conversion_summary, load_interhand_annotations)

__all__ = [
    'FLOW_METHODS', 'FramePairInterpolator', 'average_frames',
    'blur_from_frames', 'estimate_flow', 'interpolate_frames',
    'project_flow', 'warp_backward', 'CONVERSION_VERSION', 'SKIP_REASONS',
    'ConversionConfig', 'build_blurhand_annotations', 'compare_with_reference',
    'convert_interhand_to_blurhand', 'find_windows',
    'format_conversion_summary', 'load_interhand_annotations'
]
