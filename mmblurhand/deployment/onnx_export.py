# Copyright (c) OpenMMLab. All rights reserved.
"""Export mmblurhand models to ONNX and check them with onnxruntime."""
import warnings
from typing import IO, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from .wrapper import INPUT_NAME, OUTPUT_NAMES

#: Default opset (>= 17 for LayerNormalization; grid_sample needs >= 16).
DEFAULT_OPSET = 17

#: Default agreement thresholds of onnxruntime vs PyTorch (absolute, in the
#: outputs' units: metres for vertices/joints, radians for the axis-angle
#: pose, unitless scores). fp32 kernels of both runtimes differ by
#: summation order only, so 1e-4 m = 0.1 mm is far below any error that
#: matters for hand meshes (MPJPE is reported in mm).
DEFAULT_ATOL = dict(vertices=1e-4, joints=1e-4, pose=1e-3, scores=1e-4)


def export_onnx(wrapper: nn.Module,
                out_file: Union[str, IO[bytes]],
                input_size: Tuple[int, int],
                batch_size: int = 1,
                opset: int = DEFAULT_OPSET,
                dynamic_batch: bool = True,
                input_name: str = INPUT_NAME,
                output_names: Sequence[str] = OUTPUT_NAMES):
    """Export a wrapped model with a dynamic batch axis.

    Uses the TorchScript-based exporter (``dynamo=False``), which needs no
    extra package; opset ``>= 17``.

    Args:
        wrapper (nn.Module): The model, in eval mode: a
            :class:`HandMeshExportWrapper` (default names) or any module
            mapping one ``(B, 3, H, W)`` tensor to a tuple of tensors.
        out_file (str | file-like): Output ``.onnx`` path, or a binary
            file object (e.g. ``io.BytesIO``) to write to.
        input_size (tuple[int, int]): ``(w, h)`` of the input crop.
        batch_size (int): Batch size of the example input. Defaults to 1.
        opset (int): ONNX opset. Defaults to :data:`DEFAULT_OPSET`.
        dynamic_batch (bool): Make axis 0 of every input and output
            dynamic. Defaults to True.
        input_name (str): Name of the graph input. Defaults to
            :data:`INPUT_NAME`.
        output_names (Sequence[str]): Names of the outputs, in the
            wrapper's order. Defaults to :data:`OUTPUT_NAMES`.

    Returns:
        str | file-like: ``out_file``.
    """
    if opset < 17:
        raise ValueError(f'export_onnx: opset must be >= 17, got {opset}.')
    if wrapper.training:
        raise RuntimeError('export_onnx: call `wrapper.eval()` first; '
                           'BatchNorm must use its running statistics.')
    w, h = input_size
    param = next(wrapper.parameters())
    example = torch.rand(
        batch_size, 3, h, w, device=param.device) * 255.
    dynamic_axes = None
    if dynamic_batch:
        dynamic_axes = {
            name: {
                0: 'batch'
            }
            for name in (input_name, ) + tuple(output_names)
        }
    fastpath = torch.backends.mha.get_fastpath_enabled()
    with warnings.catch_warnings():
        # The legacy exporter is deprecated in favour of torch.export
        # (needs onnxscript) and tracing warns about shape-dependent
        # Python checks, which are constant for a fixed input size.
        warnings.simplefilter('ignore')
        # nn.MultiheadAttention's fused inference kernel has no ONNX
        # symbolic; the exporter needs its decomposed form.
        torch.backends.mha.set_fastpath_enabled(False)
        try:
            with torch.no_grad():
                torch.onnx.export(
                    wrapper, (example, ),
                    out_file,
                    input_names=[input_name],
                    output_names=list(output_names),
                    opset_version=opset,
                    dynamic_axes=dynamic_axes,
                    do_constant_folding=True,
                    dynamo=False,
                    verbose=False)
        finally:
            torch.backends.mha.set_fastpath_enabled(fastpath)
    return out_file


class OnnxRuntimeModel:
    """An exported model run by onnxruntime (CPU unless told otherwise).

    Args:
        onnx_file (str): The ``.onnx`` file.
        num_threads (int, optional): Intra-op threads; ``None`` lets
            onnxruntime decide.
        providers (Sequence[str], optional): Execution providers. Defaults
            to ``('CPUExecutionProvider', )``.
        spin (bool, optional): Whether idle intra-op threads spin
            (onnxruntime's ``session.intra_op.allow_spinning``). ``None``
            keeps onnxruntime's default (spin); ``False`` suits a shared
            machine, where spinning threads steal the cores the work needs.
    """

    def __init__(self,
                 onnx_file: str,
                 num_threads: Optional[int] = None,
                 providers: Sequence[str] = ('CPUExecutionProvider', ),
                 spin: Optional[bool] = None):
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise ImportError(
                'onnxruntime is needed to run exported models: '
                '`pip install onnxruntime`.') from err
        options = ort.SessionOptions()
        if num_threads is not None:
            options.intra_op_num_threads = int(num_threads)
            options.inter_op_num_threads = 1
        if spin is not None:
            options.add_session_config_entry(
                'session.intra_op.allow_spinning', '1' if spin else '0')
        self.session = ort.InferenceSession(
            onnx_file, sess_options=options, providers=list(providers))
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]

    def __call__(self, image: np.ndarray) -> Dict[str, np.ndarray]:
        """Run a batch.

        Args:
            image (np.ndarray): float32 ``(B, 3, H, W)``.

        Returns:
            dict[str, np.ndarray]: Outputs by name (:data:`OUTPUT_NAMES`).
        """
        outputs = self.session.run(
            None, {self.input_name: np.ascontiguousarray(image, np.float32)})
        return dict(zip(self.output_names, outputs))


def compare_with_torch(wrapper: nn.Module,
                       runtime: OnnxRuntimeModel,
                       image: torch.Tensor,
                       atol: Optional[Dict[str, float]] = None
                       ) -> Dict[str, Dict[str, float]]:
    """Run both runtimes on ``image`` and compare every output.

    Args:
        wrapper (nn.Module): The PyTorch model (eval mode).
        runtime (OnnxRuntimeModel): The exported model.
        image (Tensor): float32 ``(B, 3, H, W)`` input.
        atol (dict[str, float], optional): Allowed absolute difference per
            output. Defaults to :data:`DEFAULT_ATOL`.

    Returns:
        dict: Per output ``max_abs_diff``, ``atol`` and ``ok``, plus
        ``all_ok`` (bool) under the key ``'summary'``.
    """
    atol = dict(DEFAULT_ATOL, **(atol or {}))
    with torch.no_grad():
        expected = [t.detach().cpu().numpy() for t in wrapper(image)]
    got = runtime(image.detach().cpu().numpy())
    report, all_ok = {}, True
    for name, ref in zip(OUTPUT_NAMES, expected):
        out = got[name]
        if out.shape != ref.shape:
            raise ValueError(f'compare_with_torch: output `{name}` has shape '
                             f'{out.shape} in onnxruntime but {ref.shape} in '
                             'PyTorch.')
        diff = float(np.abs(out - ref).max()) if ref.size else 0.
        ok = diff <= atol[name]
        all_ok &= ok
        report[name] = dict(max_abs_diff=diff, atol=atol[name], ok=ok)
    report['summary'] = dict(all_ok=all_ok)
    return report
