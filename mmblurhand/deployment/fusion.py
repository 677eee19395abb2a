# Copyright (c) OpenMMLab. All rights reserved.
"""Fold eval-mode BatchNorm into the convolution before it (inference).

``y = gamma (conv(x) - mean) / sqrt(var + eps) + beta`` is a convolution
with weights scaled per output channel and a new bias, so the BatchNorm
pass over the activations (a full read and write of every feature map)
disappears. ONNX Runtime does this in its graph optimiser; this module
does it for the PyTorch back-end. Results change by fp32 rounding only.

Pairs that are folded (every one checked by ``tests``):

- a ``Conv2d`` / ``ConvTranspose2d`` directly followed by a ``BatchNorm2d``
  in an ``nn.Sequential`` (the Unfolder's ``conv -> BN -> ReLU`` layers,
  also grouped, and the ResNet shortcut projections);
- ``conv{k}`` followed by the norm layer named by ``norm{k}_name`` in
  MMCV/MMPose ResNet blocks and the ResNet stem, whose ``forward`` applies
  them in that order.
"""
from typing import Optional

import torch
from torch import nn

CONV_TYPES = (nn.Conv2d, nn.ConvTranspose2d)


def _foldable(conv: nn.Module, norm: Optional[nn.Module]) -> bool:
    return (isinstance(conv, CONV_TYPES) and type(norm) is nn.BatchNorm2d
            and not norm.training and norm.track_running_stats
            and norm.running_mean is not None
            and conv.weight.dtype == torch.float32
            and norm.num_features == conv.out_channels)


@torch.no_grad()
def fold_conv_bn(conv: nn.Module, norm: nn.BatchNorm2d) -> nn.Module:
    """A copy of ``conv`` computing ``norm(conv(x))`` (eval-mode norm).

    Args:
        conv (nn.Conv2d | nn.ConvTranspose2d): Any groups, with or without
            bias.
        norm (nn.BatchNorm2d): In eval mode, over ``conv``'s outputs.

    Returns:
        nn.Module: The folded convolution (same class and settings).
    """
    scale = norm.running_var.add(norm.eps).rsqrt()
    if norm.affine:
        scale = scale * norm.weight
    bias = conv.bias if conv.bias is not None else torch.zeros_like(
        norm.running_mean)
    shift = (bias - norm.running_mean) * scale
    if norm.affine:
        shift = shift + norm.bias
    fused = type(conv).__new__(type(conv))
    fused.__dict__ = conv.__dict__.copy()
    fused._parameters = dict(conv._parameters)
    fused._buffers = dict(conv._buffers)
    fused._modules = dict(conv._modules)
    weight = conv.weight
    if isinstance(conv, nn.ConvTranspose2d):
        # (in, out / groups, kh, kw): output channel g * (out / groups) + j
        groups = conv.groups
        w = weight.view(groups, weight.shape[0] // groups, weight.shape[1],
                        *weight.shape[2:])
        w = w * scale.view(groups, 1, -1, 1, 1)
        weight = w.reshape(weight.shape)
    else:
        weight = weight * scale.view(-1, 1, 1, 1)
    fused.weight = nn.Parameter(weight.contiguous(),
                                requires_grad=conv.weight.requires_grad)
    fused.bias = nn.Parameter(shift.contiguous(),
                              requires_grad=conv.weight.requires_grad)
    return fused


def fold_batchnorm(model: nn.Module) -> int:
    """Fold every eval-mode BatchNorm that directly follows a convolution
    (see the module docstring) into it, in place; the norm becomes
    ``nn.Identity``.

    Only for inference: the folded model must not be trained (the
    statistics are gone). Call it on a model in eval mode.

    Args:
        model (nn.Module): e.g. a built estimator in eval mode.

    Returns:
        int: The number of folded pairs.
    """
    count = 0
    for module in list(model.modules()):
        if isinstance(module, nn.Sequential):
            names = list(module._modules)
            for first, second in zip(names, names[1:]):
                conv, norm = module._modules[first], module._modules[second]
                if _foldable(conv, norm):
                    module._modules[first] = fold_conv_bn(conv, norm)
                    module._modules[second] = nn.Identity()
                    count += 1
        for k in (1, 2, 3):
            norm_name = getattr(module, f'norm{k}_name', None)
            conv = module._modules.get(f'conv{k}')
            if not isinstance(norm_name, str) or conv is None:
                continue
            norm = module._modules.get(norm_name)
            if _foldable(conv, norm):
                module._modules[f'conv{k}'] = fold_conv_bn(conv, norm)
                module._modules[norm_name] = nn.Identity()
                count += 1
    return count
