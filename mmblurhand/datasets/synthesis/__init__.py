# Copyright (c) OpenMMLab. All rights reserved.
"""Synthetic BlurHand: motion sampling, rendering, blur and the file layout.

The command-line entry point is
``tools/dataset_converters/synthesize_blurhand.py``.
"""
from .backgrounds import random_background, value_noise
from .blur import average_blur, blur_rate, composite_frame, quantise
from .generator import (SYNTHESIS_VERSION, SynthesisConfig,
                        blur_rate_histogram, format_summary,
                        hand_model_digest, sample_rng, synthesize_blurhand,
                        synthesize_sample)
from .layout import build_annotations, sample_names, write_annotations
from .motion import (HandArticulation, sample_articulation,
                     sample_hand_motion, sample_speeds, subframe_times)
from .scene import sample_camera, sample_lighting, sample_skin_colour

__all__ = [
    'random_background', 'value_noise', 'average_blur', 'blur_rate',
    'composite_frame', 'quantise', 'SYNTHESIS_VERSION', 'SynthesisConfig',
    'blur_rate_histogram', 'format_summary', 'hand_model_digest',
    'sample_rng', 'synthesize_blurhand', 'synthesize_sample',
    'build_annotations', 'sample_names', 'write_annotations',
    'HandArticulation', 'sample_articulation', 'sample_hand_motion',
    'sample_speeds', 'subframe_times', 'sample_camera', 'sample_lighting',
    'sample_skin_colour'
]
