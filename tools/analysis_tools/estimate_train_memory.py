# Copyright (c) OpenMMLab. All rights reserved.
"""Estimate the GPU memory one training process of a config needs.

    python tools/analysis_tools/estimate_train_memory.py CONFIG \
        [--batch-sizes 1 2] [--per-gpu-batch 24] [--amp-dtype bfloat16] \
        [--json OUT]

Runs on any device (CPU is enough) and counts bytes, not time:

- **model states**: parameters, their gradients, the optimiser state
  (Adam/AdamW: 2 tensors per parameter, SGD with momentum: 1) and buffers;
- **activations**: the tensors autograd keeps for the backward pass of one
  training step (``torch.autograd.graph.saved_tensors_hooks``, each storage
  counted once, the model's own weights left out), measured at each
  ``--batch-sizes`` on fake
  contract-conformant batches (:mod:`mmblurhand.testing`), fitted as
  ``per_sample * batch + fixed`` and extrapolated to ``--per-gpu-batch``;
  with ``--amp-dtype`` the forward runs under autocast, as
  ``tools/train.py --amp`` does on GPUs (the half-precision weight copies
  autocast keeps are part of the activations; with a single batch size they
  are taken as the fixed part).


The printed total adds an assumed 1 GiB for the CUDA context and kernel
workspaces and 10% for allocator fragmentation: it is an *estimate*, not a
measurement on a GPU. The backward pass's transient gradient buffers are
covered by the 10%.
"""
import argparse
import json

import numpy as np
import torch
from mmengine.config import Config, DictAction

GIB = 1024**3
CUDA_CONTEXT_BYTES = 1 * GIB
FRAGMENTATION = 0.10
OPTIMIZER_STATES = {'Adam': 2, 'AdamW': 2, 'SGD': 1, 'RMSprop': 1}


def parse_args():
    parser = argparse.ArgumentParser(
        description='Estimate the GPU memory of training a config')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--batch-sizes',
        type=int,
        nargs='+',
        default=[1, 2],
        help='batch sizes to measure activations at (default: 1 2)')
    parser.add_argument(
        '--per-gpu-batch',
        type=int,
        default=None,
        help='batch size to extrapolate to (default: the config\'s '
        'train_dataloader.batch_size)')
    parser.add_argument(
        '--amp-dtype',
        choices=['float16', 'bfloat16'],
        default=None,
        help='run the forward under autocast with this dtype (CPU supports '
        'bfloat16 only)')
    parser.add_argument('--json', help='write the numbers to this file')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config')
    return parser.parse_args()


class SavedTensorMeter:
    """Bytes of the distinct storages autograd saves for backward, except
    the model's own parameters and buffers (counted as model states).

    Args:
        model (nn.Module): The model whose weights are left out.
    """

    def __init__(self, model: torch.nn.Module):
        self.storages = {}
        self.weights = {
            t.untyped_storage().data_ptr()
            for t in list(model.parameters()) + list(model.buffers())
        }

    def pack(self, tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in self.weights:
            self.storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    @property
    def nbytes(self) -> int:
        return sum(self.storages.values())


def activation_bytes(model, cfg, batch_size: int, amp_dtype) -> int:
    """Activation bytes kept for backward by one training forward."""
    from mmblurhand.testing import get_packed_inputs
    size = _input_size(cfg)
    head = cfg.model.get('head', {})
    data = get_packed_inputs(
        batch_size=batch_size,
        num_steps=head.get('num_steps', 3) if isinstance(head, dict) else 3,
        input_size=size,
        img_shape=(size[1] + 16, size[0] + 16))
    model.train()
    model.zero_grad(set_to_none=True)
    meter = SavedTensorMeter(model)
    device_type = next(model.parameters()).device.type
    autocast = torch.autocast(
        device_type,
        dtype=getattr(torch, amp_dtype or 'bfloat16'),
        enabled=amp_dtype is not None)
    with torch.autograd.graph.saved_tensors_hooks(meter.pack, lambda t: t):
        with autocast:
            batch = model.data_preprocessor(data, True)
            losses = model(**batch, mode='loss')
            loss, _ = model.parse_losses(losses)
    loss.backward()
    model.zero_grad(set_to_none=True)
    return meter.nbytes


def cast_weight_bytes(model: torch.nn.Module, itemsize: int = 2) -> int:
    """Bytes of the half-precision copies autocast makes of the trainable
    weights of convolutions and linear layers (kept for backward)."""
    layers = (torch.nn.modules.conv._ConvNd, torch.nn.Linear)
    return sum(
        p.numel() * itemsize for m in model.modules()
        if isinstance(m, layers) for p in m.parameters(recurse=False)
        if p.requires_grad)


def _input_size(cfg):
    for transform in cfg.train_dataloader.dataset.pipeline:
        if 'input_size' in transform:
            return tuple(transform['input_size'])
    raise KeyError('no `input_size` in the training pipeline of the config')


def main():
    args = parse_args()
    from mmblurhand.registry import MODELS
    from mmblurhand.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)  # random init: no weight download
    params = [p for p in model.parameters() if p.requires_grad]
    num_params = sum(p.numel() for p in params)
    param_bytes = sum(p.numel() * p.element_size()
                      for p in model.parameters())
    grad_bytes = sum(p.numel() * p.element_size() for p in params)
    optim_type = cfg.optim_wrapper.optimizer.type
    optim_bytes = OPTIMIZER_STATES.get(optim_type, 2) * grad_bytes
    buffer_bytes = sum(b.numel() * b.element_size() for b in model.buffers())

    measured = {
        b: activation_bytes(model, cfg, b, args.amp_dtype)
        for b in args.batch_sizes
    }
    sizes = np.array(sorted(measured), dtype=np.float64)
    values = np.array([measured[int(b)] for b in sizes], dtype=np.float64)
    if len(sizes) > 1:
        per_sample, fixed = np.polyfit(sizes, values, 1)
    else:
        # one batch size: the batch-independent part is the low-precision
        # weight copies autocast keeps (none in fp32)
        fixed = cast_weight_bytes(model) if args.amp_dtype else 0.
        per_sample = (values[0] - fixed) / sizes[0]
    target = args.per_gpu_batch or cfg.train_dataloader.batch_size
    activations = per_sample * target + fixed
    states = param_bytes + grad_bytes + optim_bytes + buffer_bytes
    # (under autocast, the low-precision weight copies are saved tensors:
    # part of the activations)
    total = (states + activations) * (1 + FRAGMENTATION) + \
        CUDA_CONTEXT_BYTES

    report = dict(
        config=args.config,
        trainable_params=num_params,
        optimizer=optim_type,
        amp_dtype=args.amp_dtype,
        param_gib=param_bytes / GIB,
        grad_gib=grad_bytes / GIB,
        optimizer_state_gib=optim_bytes / GIB,
        buffer_gib=buffer_bytes / GIB,
        activation_gib_measured={b: v / GIB
                                 for b, v in measured.items()},
        activation_gib_per_sample=per_sample / GIB,
        per_gpu_batch=target,
        activation_gib_at_batch=activations / GIB,
        estimated_total_gib=total / GIB)
    print(f'{args.config}  (estimated, not measured on a GPU)')
    print(f'  trainable parameters      {num_params / 1e6:10.2f} M')
    print(f'  params+grads+{optim_type} states {states / GIB:8.2f} GiB')
    for b, v in measured.items():
        print(f'  activations at batch {b:<4d} {v / GIB:10.3f} GiB')
    print(f'  activations per sample    {per_sample / GIB:10.3f} GiB')
    print(f'  activations at batch {target:<4d} {activations / GIB:10.2f} GiB')
    print(f'  total per GPU (+1 GiB CUDA, +10%) {total / GIB:6.1f} GiB')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == '__main__':
    main()
