# Copyright (c) OpenMMLab. All rights reserved.
"""Deployment: a tensor-only model view, ONNX export/checking, inference
back-ends (PyTorch, ONNX Runtime) and precisions (fp32, bf16, int8)."""
from .builder import (build_inference_model, config_input_size,
                      init_weights_quietly, stage_functions, strip_pretrained)
from .onnx_cache import default_cache_dir
from .onnx_export import (DEFAULT_ATOL, DEFAULT_OPSET, OnnxRuntimeModel,
                          compare_with_torch, export_onnx)
from .onnxruntime_model import (OnnxRuntimeEstimator,
                                PredictionExportWrapper,
                                build_onnxruntime_model)
from .precision import (BACKENDS, PRECISIONS, apply_precision,
                        autocast_forward, check_backend_precision,
                        convert_bf16, convert_int8)
from .wrapper import (INPUT_NAME, OUTPUT_NAMES, HandMeshExportWrapper,
                      model_kind)

__all__ = [
    'build_inference_model', 'config_input_size', 'stage_functions',
    'strip_pretrained', 'init_weights_quietly',
    'HandMeshExportWrapper', 'model_kind', 'INPUT_NAME', 'OUTPUT_NAMES',
    'export_onnx', 'OnnxRuntimeModel', 'compare_with_torch', 'DEFAULT_ATOL',
    'DEFAULT_OPSET', 'OnnxRuntimeEstimator', 'PredictionExportWrapper',
    'build_onnxruntime_model', 'default_cache_dir', 'BACKENDS', 'PRECISIONS',
    'apply_precision', 'autocast_forward', 'check_backend_precision',
    'convert_bf16', 'convert_int8'
]
