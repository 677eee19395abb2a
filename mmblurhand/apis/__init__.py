# Copyright (c) OpenMMLab. All rights reserved.
from .export import result_to_dict, save_mesh
from .hand_detector import MediaPipeHandDetector
from .inference import (CheckpointMismatchError, build_inference_pipeline,
                        inference_blurhand, init_model, load_image)

__all__ = [
    'init_model', 'inference_blurhand', 'build_inference_pipeline',
    'load_image', 'CheckpointMismatchError', 'MediaPipeHandDetector',
    'result_to_dict', 'save_mesh'
]
