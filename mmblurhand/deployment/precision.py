# Copyright (c) OpenMMLab. All rights reserved.
"""Reduced-precision inference of PyTorch models: bf16 and int8.

**bf16** (:func:`convert_bf16`): the weights of the matrix-product layers
(``Conv2d``, ``ConvTranspose2d``, ``Linear``, ``MultiheadAttention``) are
stored in bfloat16 **and** the forward runs under ``torch.autocast`` (bf16),
with the hand-model modules (:data:`FP32_MODULE_TYPES`: the MANO regressor
with its pose heads and camera, and the MANO layer) kept in float32:

- bf16 weights alone would also run BatchNorm, soft-argmax, LayerNorm and
  the MANO skinning in bf16 (8 significant bits: about 0.4 mm on a vertex
  10 cm from the wrist from rounding alone); autocast keeps the ops on its
  float32 list (e.g. ``grid_sample``) in float32 and lets the fp32 islands
  opt out;
- autocast alone keeps float32 weights and casts every weight to bf16 on
  each forward (157 M parameters of the paper generator: 600 MB read and
  300 MB written per call, a cost that does not shrink with the batch);
  weights stored in bf16 are used as they are (autocast's cast is a no-op)
  and take half the memory.

**int8** (:func:`convert_int8`): dynamic quantisation of the ``Linear``
layers outside the fp32 islands (int8 weights per tensor, activations
quantised per call; ``torch.ao.quantization.quantize_dynamic``, fbgemm /
oneDNN on x86). PyTorch eager has no dynamic int8 convolution; use the
ONNX Runtime back-end (:mod:`.onnxruntime_model`) for those.

The policies are applied in place to a built estimator, whose
``test_step`` / ``forward`` then run in that precision (autocast entered
and left by forward hooks, so ``inference_blurhand`` and the demo need no
change).
"""
import re
import warnings
from typing import Callable, Iterable, List, Optional, Sequence, Union

import torch
from torch import nn

#: Back-ends of :func:`mmblurhand.apis.init_model`.
BACKENDS = ('pytorch', 'onnxruntime')
#: Precisions of :func:`mmblurhand.apis.init_model`.
PRECISIONS = ('fp32', 'bf16', 'int8')
#: Module classes (by name, to avoid an import cycle) that always run in
#: float32: the MANO regressor (pose heads, 6D -> axis-angle, shape and
#: camera heads, MANO, projection) and the MANO layer itself (also reached
#: directly by ``MultiHypothesisHead.aggregate``).
FP32_MODULE_TYPES = ('ManoRegressor', 'ManoLayer')
#: Layers whose weights are stored in bf16 by :func:`convert_bf16`.
BF16_LAYER_TYPES = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear,
                    nn.MultiheadAttention)


def check_backend_precision(backend: str, precision: str,
                            device: Union[str, torch.device] = 'cpu') -> None:
    """Refuse unknown or unsupported back-end / precision pairs.

    Args:
        backend (str): One of :data:`BACKENDS`.
        precision (str): One of :data:`PRECISIONS`.
        device (str | torch.device): The target device.

    Raises:
        ValueError: Unknown values, or a pair that does not exist: ONNX
            Runtime has no bf16 kernels on CPU, and PyTorch's dynamic int8
            layers run on the CPU only.
    """
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got '
                         f'{backend!r}.')
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {PRECISIONS}, got '
                         f'{precision!r}.')
    device_type = torch.device(device).type
    if backend == 'onnxruntime' and precision == 'bf16':
        raise ValueError(
            "backend='onnxruntime' has no bf16 kernels on the CPU; use "
            "backend='pytorch' with precision='bf16', or onnxruntime with "
            "precision='fp32' or 'int8'.")
    if backend == 'pytorch' and precision == 'int8' and device_type != 'cpu':
        raise ValueError(
            "precision='int8' with backend='pytorch' runs on the CPU only "
            f"(dynamic int8 layers), got device {str(device)!r}; use "
            "precision='bf16' on GPUs.")


def cpu_has_bf16() -> bool:
    """Whether this CPU has native bf16 dot products (AVX512-BF16 / AMX).

    Returns:
        bool: True when ``/proc/cpuinfo`` lists ``avx512_bf16`` or
        ``amx_bf16`` (Linux x86), or on an ARM CPU with ``bf16``; False
        where this cannot be read. bf16 still runs without them
        (emulated), only slower than fp32.
    """
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith(('flags', 'Features')):
                    flags = set(line.split(':', 1)[1].split())
                    return bool(flags & {'avx512_bf16', 'amx_bf16', 'bf16'})
    except OSError:
        return False
    return False


def fp32_islands(model: nn.Module,
                 names: Sequence[str] = FP32_MODULE_TYPES) -> List[nn.Module]:
    """The outermost sub-modules of ``model`` named in ``names`` (those
    inside another island are covered by it).

    Args:
        model (nn.Module): A built estimator.
        names (Sequence[str]): Class names (e.g. ``'ManoRegressor'``) or
            module paths (e.g. ``'neck.proj'``, matching every module whose
            qualified name is or ends with ``.neck.proj``).

    Returns:
        list[nn.Module]: The islands, in ``model.named_modules()`` order.
    """
    islands, covered = [], set()
    for qualname, module in model.named_modules():
        if id(module) in covered:
            continue
        match = type(module).__name__ in names or any(
            '.' in name and (qualname == name or qualname.endswith(
                '.' + name)) for name in names)
        if match:
            islands.append(module)
            covered.update(id(m) for m in module.modules())
    return islands


def _cast_floats(value, dtype: torch.dtype, memo: Optional[dict] = None):
    """``value`` with every floating tensor (nested in tuples, lists and
    dicts) cast to ``dtype``; a tensor passed twice stays one tensor (so
    e.g. attention still sees ``query is key``)."""
    memo = {} if memo is None else memo
    if torch.is_tensor(value):
        if not value.is_floating_point() or value.dtype == dtype:
            return value
        if id(value) not in memo:
            memo[id(value)] = value.to(dtype)
        return memo[id(value)]
    if isinstance(value, tuple):
        return tuple(_cast_floats(v, dtype, memo) for v in value)
    if isinstance(value, list):
        return [_cast_floats(v, dtype, memo) for v in value]
    if isinstance(value, dict):
        return {k: _cast_floats(v, dtype, memo) for k, v in value.items()}
    return value


def _context_hooks(module: nn.Module, make_context: Callable[[], object],
                   cast_inputs: Union[torch.dtype, None] = None) -> list:
    """Enter a context before ``module``'s forward and leave it after (also
    when the forward raises); optionally cast its floating inputs.

    Returns:
        list: The hook handles (``handle.remove()`` undoes them).
    """
    stack = []

    def enter(mod, args, kwargs):
        context = make_context()
        context.__enter__()
        stack.append(context)
        if cast_inputs is not None:
            memo = {}
            return (_cast_floats(args, cast_inputs, memo),
                    _cast_floats(kwargs, cast_inputs, memo))
        return None

    def leave(mod, args, kwargs, output):
        if stack:
            stack.pop().__exit__(None, None, None)
        return None

    return [
        module.register_forward_pre_hook(enter, with_kwargs=True),
        module.register_forward_hook(leave, with_kwargs=True, always_call=True)
    ]


def autocast_forward(module: nn.Module,
                     device_type: str = 'cpu',
                     dtype: torch.dtype = torch.bfloat16) -> list:
    """Run ``module``'s forward under ``torch.autocast(device_type, dtype)``.

    Args:
        module (nn.Module): e.g. an estimator or an export wrapper.
        device_type (str): ``'cpu'`` or ``'cuda'``.
        dtype (torch.dtype): Autocast dtype. Defaults to bf16.

    Returns:
        list: Hook handles.
    """
    return _context_hooks(
        module, lambda: torch.autocast(device_type, dtype=dtype))


def keep_fp32(module: nn.Module, device_type: str = 'cpu') -> list:
    """Run ``module`` in float32 inside an autocast region: autocast is
    switched off for its forward and its floating inputs are cast to
    float32.

    Args:
        module (nn.Module): An fp32 island.
        device_type (str): ``'cpu'`` or ``'cuda'``.

    Returns:
        list: Hook handles.
    """
    return _context_hooks(
        module,
        lambda: torch.autocast(device_type, enabled=False),
        cast_inputs=torch.float32)


def native_bf16_attention(module: nn.MultiheadAttention,
                          device_type: str = 'cpu') -> list:
    """Run a bf16 ``nn.MultiheadAttention`` in bf16 with autocast off.

    Under autocast PyTorch skips attention's fused inference kernel and
    projects the ``(L, B, C)`` transposed inputs of a ``batch_first``
    module with ``F.linear``, which for ``B > 1`` becomes a batched product
    against the weight expanded ``L`` times: a copy of ``L x C x 3C``
    values per call (1.6 GB per layer for the paper generator's 1008
    tokens, 7 s of a 17.8 s batch-8 forward of the selection model). With
    the inputs cast to bf16 and autocast off, the fused kernel runs.

    Returns:
        list: Hook handles.
    """
    return _context_hooks(
        module,
        lambda: torch.autocast(device_type, enabled=False),
        cast_inputs=torch.bfloat16)


def _covered_ids(modules: Iterable[nn.Module]) -> set:
    return {id(m) for island in modules for m in island.modules()}


def convert_bf16(model: nn.Module,
                 device: Union[str, torch.device] = 'cpu',
                 fp32_types: Sequence[str] = FP32_MODULE_TYPES,
                 autocast: bool = True,
                 cast_weights: bool = True) -> nn.Module:
    """bf16 inference in place: bf16 weights + autocast, fp32 islands.

    See the module docstring for why both. Parameters of other layers
    (BatchNorm, LayerNorm, embeddings) stay float32; autocast and type
    promotion take care of the mixed inputs.

    Args:
        model (nn.Module): A built estimator in eval mode.
        device (str | torch.device): Where it runs (autocast device type).
        fp32_types (Sequence[str]): Class names of the modules kept in
            float32. Defaults to :data:`FP32_MODULE_TYPES`.
        autocast (bool): Register the autocast hooks on ``model``'s
            forward. Set False when another module (e.g. an export
            wrapper, see :func:`autocast_forward`) is the entry point.
        cast_weights (bool): Store the layers' weights in bf16 (default).
            False leaves them float32 (autocast then casts them on every
            call; only to measure that alternative).

    Returns:
        nn.Module: ``model`` with ``inference_precision = 'bf16'``.
    """
    device_type = torch.device(device).type
    islands = fp32_islands(model, fp32_types)
    skip = _covered_ids(islands)
    for module in model.modules():
        if cast_weights and id(module) not in skip and isinstance(
                module, BF16_LAYER_TYPES):
            module.to(torch.bfloat16)
    handles = []
    for island in islands:
        handles += keep_fp32(island, device_type)
    if cast_weights:
        for module in model.modules():
            if id(module) not in skip and isinstance(
                    module, nn.MultiheadAttention):
                handles += native_bf16_attention(module, device_type)
    if autocast:
        handles += autocast_forward(model, device_type, torch.bfloat16)
    model._precision_hooks = handles
    model.inference_precision = 'bf16'
    return model


def convert_int8(model: nn.Module,
                 fp32_types: Sequence[str] = FP32_MODULE_TYPES
                 ) -> nn.Module:
    """Dynamic int8 ``Linear`` layers outside the fp32 islands, in place
    (weights per output channel, activations per tensor and call).

    Uses ``torch.ao.quantization.quantize_dynamic`` (deprecated upstream in
    favour of ``torchao``, still shipped with torch 2.13; its deprecation
    warnings are silenced here). ``nn.MultiheadAttention``'s projections
    are not plain ``Linear`` layers and stay float32, as do convolutions.

    Args:
        model (nn.Module): A built estimator on the CPU, eval mode.
        fp32_types (Sequence[str]): Class names of modules left alone.

    Returns:
        nn.Module: ``model`` with ``inference_precision = 'int8'``.

    Raises:
        RuntimeError: This torch has no ``torch.ao.quantization``.
    """
    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError as err:  # pragma: no cover - future torch
        raise RuntimeError(
            "precision='int8' with backend='pytorch' needs "
            'torch.ao.quantization.quantize_dynamic, which this torch '
            f'({torch.__version__}) lacks; use backend=\'onnxruntime\'.'
        ) from err
    skip = _covered_ids(fp32_islands(model, fp32_types))
    names = [
        name for name, module in model.named_modules()
        if type(module) is nn.Linear and id(module) not in skip
    ]
    if names:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                'ignore', message='.*torch.ao.quantization is deprecated.*')
            warnings.filterwarnings(
                'ignore', message='.*quantize_per_(tensor|channel).*')
            warnings.simplefilter('ignore', DeprecationWarning)
            from torch.ao.quantization import per_channel_dynamic_qconfig
            quantize_dynamic(
                model, {name: per_channel_dynamic_qconfig
                        for name in names},
                dtype=torch.qint8,
                inplace=True)
    model.inference_precision = 'int8'
    model.int8_layers = names
    return model


def apply_precision(model: nn.Module,
                    precision: str,
                    device: Union[str, torch.device] = 'cpu',
                    autocast: bool = True,
                    fold_bn: Union[bool, None] = None) -> nn.Module:
    """Set a built PyTorch estimator's inference precision in place.

    Args:
        model (nn.Module): The estimator, on ``device``, in eval mode.
        precision (str): ``'fp32'`` (nothing changes), ``'bf16'``
            (:func:`convert_bf16`) or ``'int8'`` (:func:`convert_int8`).
        device (str | torch.device): Where it runs.
        autocast (bool): See :func:`convert_bf16`.
        fold_bn (bool, optional): Fold the BatchNorm layers into the
            convolutions before them first
            (:func:`~mmblurhand.deployment.fusion.fold_batchnorm`;
            inference only: the model can no longer be trained or give a
            training state dict). ``None`` (default): for ``'bf16'`` and
            ``'int8'``, whose models are inference-only anyway, not for
            ``'fp32'``.

    Returns:
        nn.Module: ``model``, with ``inference_precision`` and
        ``folded_batchnorms`` (the number folded) set.
    """
    check_backend_precision('pytorch', precision, device)
    if fold_bn is None:
        fold_bn = precision != 'fp32'
    model.folded_batchnorms = 0
    if fold_bn:
        from .fusion import fold_batchnorm
        if model.training:
            raise RuntimeError('apply_precision(fold_bn=True): call '
                               '`model.eval()` first; folding uses the '
                               'BatchNorm running statistics.')
        model.folded_batchnorms = fold_batchnorm(model)
    if precision == 'bf16':
        if torch.device(device).type == 'cpu' and not cpu_has_bf16():
            warnings.warn(
                "precision='bf16': this CPU has no native bf16 (no "
                'avx512_bf16 / amx_bf16 flag); it runs emulated, slower '
                "than 'fp32'.",
                stacklevel=2)
        return convert_bf16(model, device, autocast=autocast)
    if precision == 'int8':
        return convert_int8(model)
    model.inference_precision = 'fp32'
    return model


def precision_summary(model: nn.Module) -> dict:
    """Count the parameters per dtype (quantised layers as ``int8``).

    Args:
        model (nn.Module): A converted estimator.

    Returns:
        dict[str, int]: dtype name -> number of weights.
    """
    counts = {}
    for param in model.parameters():
        key = re.sub(r'^torch\.', '', str(param.dtype))
        counts[key] = counts.get(key, 0) + param.numel()
    int8 = 0
    for module in model.modules():
        if type(module).__name__ == 'Linear' and type(module).__module__ \
                .startswith('torch.ao.nn.quantized'):
            int8 += module.in_features * module.out_features
    if int8:
        counts['int8'] = int8
    return counts
