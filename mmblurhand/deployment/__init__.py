# Copyright (c) OpenMMLab. All rights reserved.
"""Deployment: a tensor-only model view and ONNX export/checking."""
from .builder import (build_inference_model, config_input_size,
                      init_weights_quietly, stage_functions, strip_pretrained)
from .onnx_export import (DEFAULT_ATOL, DEFAULT_OPSET, OnnxRuntimeModel,
                          compare_with_torch, export_onnx)
from .wrapper import (INPUT_NAME, OUTPUT_NAMES, HandMeshExportWrapper,
                      model_kind)

__all__ = [
    'build_inference_model', 'config_input_size', 'stage_functions',
    'strip_pretrained', 'init_weights_quietly',
    'HandMeshExportWrapper', 'model_kind', 'INPUT_NAME', 'OUTPUT_NAMES',
    'export_onnx', 'OnnxRuntimeModel', 'compare_with_torch', 'DEFAULT_ATOL',
    'DEFAULT_OPSET'
]
