# Copyright (c) OpenMMLab. All rights reserved.
"""An mmblurhand estimator whose network runs in ONNX Runtime.

:func:`build_onnxruntime_model` turns a built PyTorch estimator into an
:class:`OnnxRuntimeEstimator`: the network (backbone, Unfolder, transformer,
MANO regressor with all meshes, and the learned selector's scorer) is
exported once per config, weights and precision into the ONNX cache
(:mod:`.onnx_cache`) and run by ONNX Runtime; the data preprocessor, the
parameter-free selectors, ranking, aggregation and the packing into data
samples stay in PyTorch and are the estimator classes' own code, so
``inference_blurhand`` and the demo get the same ``pred_instances`` as from
the PyTorch back-end.

int8 (:func:`quantize_int8`): ONNX Runtime's dynamic quantisation of the
matrix products with constant weights (``MatMul`` / ``Gemm``: the
transformer and the score decoder) with int8 weights per channel, the MANO
regressor and MANO left in float32 as in the PyTorch back-end;
convolutions stay float32 (:data:`INT8_OP_TYPES`: ONNX Runtime's dynamic
``ConvInteger`` path does not apply to these graphs, whose convolution
weights are not plain initialisers after export, see
``docs/benchmarks.md``).
"""
import io
import logging
import os
import os.path as osp
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.structures import InstanceData
from torch import Tensor, nn

from . import onnx_cache
from .onnx_export import DEFAULT_OPSET, OnnxRuntimeModel, export_onnx
from .wrapper import model_kind

#: Input of the prediction graph: the data preprocessor's output.
PREDICTION_INPUT = 'inputs'
#: Head outputs of the prediction graph (``(B, K, T, ...)`` for the
#: multi-hypothesis models, ``(B, T, ...)`` for BlurHandNet), in order.
HEAD_OUTPUTS = ('mano_pose', 'mano_shape', 'cam_params', 'cam_t', 'vertices',
                'joints_cam', 'joints_2d', 'unfolder_joints')
#: ONNX operators quantised by :func:`quantize_int8`.
INT8_OP_TYPES = ('MatMul', 'Gemm')
#: Graph scopes never quantised (the fp32 islands of
#: :mod:`.precision`: MANO regressor and MANO layer).
INT8_EXCLUDED_SCOPES = ('/regressor/', '/mano/')


def prediction_outputs(kind: str) -> Tuple[str, ...]:
    """Output names of the prediction graph of a model kind.

    Args:
        kind (str): :func:`model_kind`'s answer.

    Returns:
        tuple[str, ...]: :data:`HEAD_OUTPUTS`, plus ``logits`` ``(B, K,
        2)`` for the selection model.
    """
    return HEAD_OUTPUTS + (('logits', ) if kind == 'selector' else ())


class PredictionExportWrapper(nn.Module):
    """Preprocessed images -> everything ``predict`` needs, as tensors.

    Unlike :class:`HandMeshExportWrapper` (a deployable graph: raw crop in,
    meshes and scores out), this graph stops where the estimators'
    ``predict`` stops using the network: the head's outputs
    (:data:`HEAD_OUTPUTS`) and, for ``MHSelector``, the selector's logits.

    Args:
        model (nn.Module): A built BlurHandNet, MHBlurHandNet or MHSelector.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.kind = model_kind(model)

    @property
    def output_names(self) -> Tuple[str, ...]:
        return prediction_outputs(self.kind)

    def forward(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """Run the network.

        Args:
            inputs (Tensor): ``(B, 3, H, W)``, the data preprocessor's
                output.

        Returns:
            tuple[Tensor, ...]: In :attr:`output_names` order.
        """
        model = self.model
        if self.kind == 'selector':
            hyps = model.generate(inputs)
            logits, _ = model.score(inputs, hyps)
            return tuple(hyps[k] for k in HEAD_OUTPUTS) + (logits, )
        preds = model.head.forward(model.extract_feat(inputs))
        return tuple(preds[k] for k in HEAD_OUTPUTS)


def export_prediction_bytes(model: nn.Module,
                            input_size: Tuple[int, int],
                            opset: int = DEFAULT_OPSET) -> bytes:
    """Export :class:`PredictionExportWrapper` of ``model`` to bytes.

    Args:
        model (nn.Module): The estimator in eval mode, float32 weights.
        input_size (tuple[int, int]): ``(w, h)``.
        opset (int): ONNX opset.

    Returns:
        bytes: The serialised model (dynamic batch axis).
    """
    wrapper = PredictionExportWrapper(model).eval()
    buffer = io.BytesIO()
    device = next(model.parameters()).device
    if device.type != 'cpu':
        raise ValueError('export_prediction_bytes: export from a CPU model '
                         f'(got {device}).')
    export_onnx(
        wrapper,
        buffer,
        input_size,
        opset=opset,
        input_name=PREDICTION_INPUT,
        output_names=wrapper.output_names)
    return buffer.getvalue()


def quantize_int8(fp32_bytes: bytes,
                  op_types: Sequence[str] = INT8_OP_TYPES,
                  excluded_scopes: Sequence[str] = INT8_EXCLUDED_SCOPES
                  ) -> bytes:
    """ONNX Runtime dynamic int8 quantisation of an fp32 model.

    Weights int8 per output channel, activations quantised per call; only
    products with a constant weight (the linear layers) are quantised.
    Nodes whose name (the exporter writes the module path, e.g.
    ``/model/head/regressor/pose_heads/...``) contains one of
    ``excluded_scopes`` stay float32: the MANO regressor's heads and MANO's
    blend-shape and skinning products, whose int8 rounding would move the
    vertices directly.

    Args:
        fp32_bytes (bytes): The float32 model.
        op_types (Sequence[str]): Operators to quantise.
        excluded_scopes (Sequence[str]): Name parts of nodes left alone.

    Returns:
        bytes: The quantised model.
    """
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as err:
        raise ImportError("precision='int8' with backend='onnxruntime' needs "
                          'onnxruntime.quantization: `pip install '
                          'onnxruntime onnx`.') from err
    graph = onnx.load_from_string(fp32_bytes).graph
    weights = {init.name for init in graph.initializer}
    excluded = [
        node.name for node in graph.node if node.op_type in op_types and (
            any(scope in node.name for scope in excluded_scopes)
            # products of two activations (attention scores and their
            # weighted sums) are no layers: they stay float32
            or not any(name in weights for name in node.input[1:2]))
    ]
    # the quantiser first rewrites a Gemm as a MatMul named <Gemm>_MatMul
    excluded += [name + '_MatMul' for name in excluded]
    del graph
    with tempfile.TemporaryDirectory(prefix='mmblurhand_int8_') as tmp:
        src, dst = osp.join(tmp, 'fp32.onnx'), osp.join(tmp, 'int8.onnx')
        with open(src, 'wb') as f:
            f.write(fp32_bytes)
        # the quantiser logs a generic 'consider pre-processing' advice on
        # the root logger at every call
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)
        try:
            quantize_dynamic(
                src,
                dst,
                op_types_to_quantize=list(op_types),
                nodes_to_exclude=excluded,
                per_channel=True,
                weight_type=QuantType.QInt8)
        finally:
            logging.disable(previous)
        with open(dst, 'rb') as f:
            return f.read()


def _aggregate_module(regressor: nn.Module) -> nn.Module:
    """A stand-in head with ``aggregate`` (MANO of the mean top-n pose)."""
    from mmblurhand.models.heads.mh_head import MultiHypothesisHead

    class _Aggregator(nn.Module):
        aggregate = MultiHypothesisHead.aggregate

        def __init__(self, regressor):
            super().__init__()
            self.regressor = regressor

    return _Aggregator(regressor)


class OnnxRuntimeEstimator(nn.Module):
    """An estimator whose network runs in ONNX Runtime (see the module
    docstring). Built by :func:`build_onnxruntime_model`.

    It has what ``inference_blurhand`` and the demo use: ``test_step``,
    ``cfg``, ``dataset_meta``, ``mesh_faces`` and ``data_preprocessor``;
    ``inference_backend`` is ``'onnxruntime'`` and ``inference_precision``
    the precision; ``onnx_file`` is the cached graph.

    Args:
        model (nn.Module): The PyTorch estimator it was exported from; only
            its data preprocessor, MANO regressor (for ``aggregate``),
            parameter-free selector and ``test_cfg`` are kept.
        onnx_file (str): The prediction graph.
        precision (str): ``'fp32'`` or ``'int8'``.
        device (str): ``'cpu'`` (``CPUExecutionProvider``) or ``'cuda[:N]'``
            (``CUDAExecutionProvider``, with onnxruntime-gpu).
        num_threads (int, optional): Intra-op threads. Defaults to
            ``torch.get_num_threads()``.
    """

    def __init__(self,
                 model: nn.Module,
                 onnx_file: str,
                 precision: str = 'fp32',
                 device: str = 'cpu',
                 num_threads: Optional[int] = None):
        super().__init__()
        self.kind = model_kind(model)
        self.data_preprocessor = model.data_preprocessor
        head = model.generator.head if self.kind == 'selector' else model.head
        self.aggregator = _aggregate_module(head.regressor)
        self.selector = model.selector if self.kind == 'generator' else None
        self.test_cfg = dict(model.test_cfg or {})
        self.onnx_file = onnx_file
        self.inference_backend = 'onnxruntime'
        self.inference_precision = precision
        self.device_name = str(device)
        providers = ['CPUExecutionProvider']
        if str(device).startswith('cuda'):
            providers = ['CUDAExecutionProvider'] + providers
        self.runtime = OnnxRuntimeModel(
            onnx_file,
            num_threads=torch.get_num_threads()
            if num_threads is None else num_threads,
            providers=providers)
        self.output_names = tuple(self.runtime.output_names)
        expected = prediction_outputs(self.kind)
        if self.output_names != expected:
            raise ValueError(
                f'ONNX model "{onnx_file}" has outputs {self.output_names}, '
                f'expected {expected}; delete that cache entry (its folder) '
                'and run again to re-export.')

    def run_network(self, inputs: Tensor) -> Dict[str, Tensor]:
        """The graph's outputs for preprocessed images.

        Args:
            inputs (Tensor): ``(B, 3, H, W)``.

        Returns:
            dict[str, Tensor]: CPU float32 tensors by output name.
        """
        outputs = self.runtime(inputs.detach().float().cpu().numpy())
        return {k: torch.from_numpy(v) for k, v in outputs.items()}

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        """``'tensor'``: the graph's outputs (dict); ``'predict'``: data
        samples with ``pred_instances`` (see :meth:`predict`)."""
        if mode == 'tensor':
            return self.run_network(inputs)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise ValueError(f'OnnxRuntimeEstimator runs inference only: mode '
                         f'must be "tensor" or "predict", got {mode!r}.')

    def test_step(self, data: Union[dict, tuple, list]) -> list:
        """Preprocess a collated batch and predict (as ``BaseModel``)."""
        data = self.data_preprocessor(data, False)
        return self.predict(data['inputs'], data['data_samples'])

    def predict(self, inputs: Tensor, data_samples: list) -> list:
        """The estimator's ``predict`` with the network in ONNX Runtime.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` preprocessed images.
            data_samples (list[PoseDataSample]): The batch's samples.

        Returns:
            list[PoseDataSample]: Samples with ``pred_instances`` as the
            PyTorch estimator gives them.
        """
        from mmblurhand.models.estimators.blurhandnet import BlurHandNet
        from mmblurhand.models.estimators.mh_blurhandnet import (
            mirror_hypotheses, pack_hypotheses)
        preds = self.run_network(inputs)
        if self.kind == 'single':
            instances = self._pack_single(preds)
        else:
            if self.kind == 'selector':
                scores = preds.pop('logits').softmax(dim=-1)[..., 1]
            else:
                scores = self.selector(preds['joints_2d'],
                                       preds['unfolder_joints'])
            instances = pack_hypotheses(self.aggregator, preds, scores,
                                        self.test_cfg['num_select'],
                                        self.test_cfg['aggregate'])
            mirror_hypotheses(instances, data_samples)
        # the estimators' own frame mapping (it reads nothing of `self`)
        return BlurHandNet.add_pred_to_datasample(self, instances,
                                                  data_samples)

    @staticmethod
    def _pack_single(preds: Dict[str, Tensor]) -> List[InstanceData]:
        """BlurHandHead.predict's packing of one sequence per image."""
        from mmblurhand.models.heads.blurhand_head import PREDICTION_KEYS
        arrays = {key: preds[key].float().numpy() for key in PREDICTION_KEYS}
        arrays['keypoints'] = preds['joints_2d'].float().numpy()
        arrays['keypoint_scores'] = np.ones(
            arrays['keypoints'].shape[:-1], dtype=np.float32)
        return [
            InstanceData(**{k: v[i:i + 1]
                            for k, v in arrays.items()})
            for i in range(arrays['joints_cam'].shape[0])
        ]

    def extra_repr(self) -> str:
        return (f'kind={self.kind}, precision={self.inference_precision}, '
                f'onnx_file={self.onnx_file}')


def export_cached(model: nn.Module,
                  config,
                  checkpoint: Optional[str],
                  precision: str,
                  input_size: Tuple[int, int],
                  cache_dir: Optional[str] = None,
                  opset: int = DEFAULT_OPSET) -> Tuple[str, bool]:
    """The cached prediction graph of ``model``, exported if needed.

    The int8 graph is quantised from the cached fp32 graph (exported
    first when missing).

    Args:
        model (nn.Module): The float32 estimator (CPU, eval mode).
        config (Config): Its config (``cfg_options`` merged).
        checkpoint (str, optional): Its checkpoint (content-hashed); None
            hashes the state dict.
        precision (str): ``'fp32'`` or ``'int8'``.
        input_size (tuple[int, int]): ``(w, h)``.
        cache_dir (str, optional): See :mod:`.onnx_cache`.
        opset (int): ONNX opset.

    Returns:
        tuple[str, bool]: The model file, and whether anything was
        exported or quantised now.
    """
    weights = onnx_cache.weights_hash(model, checkpoint)
    info = dict(
        config=getattr(config, 'filename', None),
        checkpoint=osp.abspath(checkpoint) if checkpoint else None,
        precision=precision)
    key32, record32 = onnx_cache.cache_key(config, input_size, weights,
                                           'fp32', opset)

    def make_fp32() -> bytes:
        return export_prediction_bytes(model, input_size, opset)

    if precision == 'fp32':
        return onnx_cache.get_or_create(cache_dir, key32, record32,
                                        make_fp32, dict(info))
    key, record = onnx_cache.cache_key(
        config,
        input_size,
        weights,
        precision,
        opset,
        extra=dict(
            op_types=list(INT8_OP_TYPES),
            excluded=list(INT8_EXCLUDED_SCOPES),
            per_channel=True))
    made = []

    def make_int8() -> bytes:
        fp32_file, created = onnx_cache.get_or_create(
            cache_dir, key32, record32, make_fp32,
            dict(info, precision='fp32'))
        made.append(created)
        with open(fp32_file, 'rb') as f:
            return quantize_int8(f.read())

    path, created = onnx_cache.get_or_create(cache_dir, key, record,
                                             make_int8, info)
    return path, created or any(made)


def build_onnxruntime_model(model: nn.Module,
                            config,
                            checkpoint: Optional[str],
                            precision: str = 'fp32',
                            device: str = 'cpu',
                            cache_dir: Optional[str] = None,
                            input_size: Optional[Tuple[int, int]] = None,
                            num_threads: Optional[int] = None
                            ) -> OnnxRuntimeEstimator:
    """Export (or find in the cache) and load the ONNX Runtime estimator.

    Args:
        model (nn.Module): The float32 PyTorch estimator with its weights
            (eval mode, any device: it is exported from the CPU).
        config (Config): Its config.
        checkpoint (str, optional): Its checkpoint file (cache key).
        precision (str): ``'fp32'`` or ``'int8'``.
        device (str): ``'cpu'`` or ``'cuda[:N]'``.
        cache_dir (str, optional): See :mod:`.onnx_cache`.
        input_size (tuple[int, int], optional): ``(w, h)``; the config's by
            default.
        num_threads (int, optional): ONNX Runtime intra-op threads.

    Returns:
        OnnxRuntimeEstimator: With ``cfg``, ``dataset_meta`` and
        ``mesh_faces`` copied from ``model`` and ``onnx_created`` telling
        whether this call exported.
    """
    from .builder import config_input_size
    model = model.cpu().eval()
    size = input_size or config_input_size(config)
    onnx_file, created = export_cached(model, config, checkpoint, precision,
                                       size, cache_dir)
    runtime = OnnxRuntimeEstimator(
        model, onnx_file, precision, device, num_threads=num_threads)
    for name in ('cfg', 'dataset_meta', 'mesh_faces'):
        setattr(runtime, name, getattr(model, name, None))
    runtime.onnx_created = created
    return runtime


def clear_cache_entry(onnx_file: str) -> None:
    """Delete one cache entry (its ``model.onnx`` and ``meta.json``)."""
    folder = osp.dirname(onnx_file)
    for name in (onnx_cache.MODEL_FILE, onnx_cache.META_FILE):
        path = osp.join(folder, name)
        if osp.isfile(path):
            os.remove(path)
    if osp.isdir(folder) and not os.listdir(folder):
        os.rmdir(folder)
