# Copyright (c) OpenMMLab. All rights reserved.
"""Unfolder: T temporal decoders that unfold one blurry image into T hands.

Reference: Oh et al., "Recovering 3D Hand Mesh Sequence from a Single Blurry
Image: A New Dataset and Temporal Unfolding", CVPR 2023, Sec. 4.1.
"""
import math
from dataclasses import dataclass
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmblurhand.registry import MODELS
from ..utils.soft_argmax import (check_coord_convention, normalized_to_grid,
                                 soft_argmax)


@dataclass
class UnfolderOutput:
    """What :class:`Unfolder` returns (B images, T steps, J joints).

    Attributes:
        joint_feats (Tensor): ``(B, T, J, C)`` decoder features sampled at
            each step's soft-argmax joints.
        joints (Tensor): ``(B, T, J, 2 | 3)`` soft-argmax joints, normalised
            crop coordinates ``x, y`` (and normalised depth ``z`` when
            ``heatmap_dims == 3``), see ``docs/data_contract.md``.
        heatmaps (Tensor): ``(B, T, J, D, H, W)`` (3D) or ``(B, T, J, H, W)``
            (2D) heatmap logits.
        feature_maps (Tensor): ``(B, T, C, H, W)`` per-step decoder features.
        global_feat (Tensor): ``(B, Cb)`` globally average-pooled deepest
            backbone feature (C5).
    """
    joint_feats: Tensor
    joints: Tensor
    heatmaps: Tensor
    feature_maps: Tensor
    global_feat: Tensor


def sample_point_features(feature_maps: Tensor,
                          points: Tensor,
                          convention: str = 'cell_centre') -> Tensor:
    """Bilinearly sample feature maps at normalised points.

    Args:
        feature_maps (Tensor): ``(N, C, H, W)``.
        points (Tensor): ``(N, P, 2)`` normalised ``x, y`` in ``[0, 1]``.
            Points outside the map read zeros.
        convention (str): Coordinate convention of :mod:`..utils.soft_argmax`:
            ``'cell_centre'`` (default, ``align_corners=False``) or
            ``'official'`` (cell index ``u W``, ``align_corners=True``).

    Returns:
        Tensor: ``(N, P, C)``.
    """
    height, width = feature_maps.shape[-2:]
    grid = normalized_to_grid(points, (width, height),
                              convention).unsqueeze(2)  # (N, P, 1, 2)
    sampled = F.grid_sample(
        feature_maps,
        grid,
        mode='bilinear',
        align_corners=convention == 'official')
    return sampled.squeeze(-1).transpose(1, 2)


#: Values of :class:`Unfolder`'s ``conv_init``.
CONV_INITS = ('init_cfg', 'xavier_normal')


def per_step_xavier_std(conv: nn.Module, num_steps: int) -> float:
    """Xavier-normal std (gain 1) of one step's slice of an Unfolder layer.

    Every Unfolder convolution stacks the T decoders along its output
    channels; it reads either a backbone feature shared by all steps
    (``groups=1``) or the steps' own features (``groups=T``). One decoder's
    layer therefore has ``C_in = in_channels / groups`` inputs and
    ``C_out = out_channels / T`` outputs, and Xavier's
    ``fan_in + fan_out`` is ``(C_in + C_out) k_h k_w`` for convolutions and
    transposed convolutions alike.

    Args:
        conv (nn.Conv2d | nn.ConvTranspose2d): A step-stacked layer.
        num_steps (int): ``T``.

    Returns:
        float: ``sqrt(2 / ((C_in + C_out) k_h k_w))``.
    """
    if conv.out_channels % num_steps:
        raise ValueError(
            f'per_step_xavier_std: {conv} has {conv.out_channels} output '
            f'channels, not a multiple of the {num_steps} steps.')
    fan_sum = (conv.in_channels // conv.groups +
               conv.out_channels // num_steps) * math.prod(conv.kernel_size)
    return math.sqrt(2.0 / fan_sum)


class _GroupedBNReLU(nn.Sequential):
    """``conv -> BatchNorm -> ReLU``; ``conv`` may be grouped over steps."""

    def __init__(self, conv: nn.Module, out_channels: int):
        super().__init__(conv, nn.BatchNorm2d(out_channels),
                         nn.ReLU(inplace=True))


@MODELS.register_module()
class Unfolder(BaseModule):
    """T separate U-Net style decoders, one per time step, with skips.

    Each decoder upsamples the deepest backbone feature (C5) with transposed
    convolutions, concatenates a 1x1-convolved shallower backbone feature
    after each upsampling (skip), and ends in a per-step feature map
    ``F_t`` and a heatmap per joint: 3D (``J x D x H x W``, BlurHandNet) or
    2D (``J x H x W``, the multi-hypothesis generator). A soft-argmax turns
    the heatmaps into normalised joints and ``F_t`` is sampled at each
    joint's ``x, y``.

    The T decoders share no weights. They are run together without a loop
    over time steps: layers that read a backbone feature (shared by all
    steps) are ordinary convolutions with ``T x`` output channels, and
    layers that read a step's own features are convolutions with
    ``groups=T``. This is exactly T independent decoders (same parameters
    and the same function, BatchNorm statistics per step included), laid
    out step-major along the channel axis.

    Per decoder, with the defaults (ResNet-50 ``out_indices=(1, 2, 3)``,
    256x256 input): ConvT 4x4/2 2048->512, skip 1x1 1024->1024, conv 3x3
    1536->1024, ConvT 4x4/2 1024->256, skip 1x1 512->512, conv 3x3
    768->512 (= ``F_t``, 512x32x32), 1x1 projection 512->J*D. Every layer
    but the projection is followed by BatchNorm and ReLU; transposed
    convolutions have no bias. 40,332,448 parameters per 3D decoder, as in
    the official implementation.

    Args:
        in_channels (Sequence[int]): Channels of the backbone outputs it
            uses, shallow to deep (e.g. ``(512, 1024, 2048)``). The last is
            the decoder input, the others feed the skips from deep to
            shallow. The backbone may return more (shallower) levels; the
            last ``len(in_channels)`` are used.
        deconv_channels (Sequence[int]): Output channels of each
            transposed convolution, one per upsampling stage
            (``len(in_channels) - 1`` stages). Defaults to ``(512, 256)``.
        conv_channels (Sequence[int]): Output channels of the 3x3
            convolution after each skip concatenation; the last is the
            joint-feature size ``C``. Defaults to ``(1024, 512)``.
        num_steps (int): Number of time steps ``T`` (decoders). Defaults
            to 3.
        num_joints (int): Number of joints ``J``. Defaults to 21.
        heatmap_dims (int): 3 for 3D heatmaps and ``x, y, z`` joints, 2 for
            2D heatmaps and ``x, y`` joints. Defaults to 3.
        heatmap_depth (int): Depth bins ``D`` of 3D heatmaps (unused with
            ``heatmap_dims=2``). Defaults to 32.
        logit_scale (float): Multiplies the heatmap logits before the
            soft-argmax's softmax. 1 (default) is the official model. With
            the official N(0, 0.001) init the heatmaps start flat (every
            joint at the crop centre) and an optimiser step moves a logit
            by about ``lr x feature``; a larger scale moves it that many
            times faster, which short runs need (the synthetic configs use
            30; ``configs/blurhandnet/README.md``).
        coord_convention (str): Soft-argmax and feature-sampling convention
            (:mod:`..utils.soft_argmax`): ``'cell_centre'`` (default,
            ``(i + 0.5) / S`` and ``align_corners=False``) or ``'official'``
            (the official code: expected cell index ``i`` over ``S`` and
            ``align_corners=True`` sampling at the index; needed to run
            official weights, used by the paper configs).
        conv_init (str): Initialisation of the (transposed) convolutions:
            ``'init_cfg'`` (default) leaves them to ``init_cfg`` (the
            official BlurHandNet N(0, 0.001)); ``'xavier_normal'`` is the
            official multi-hypothesis init: Xavier-normal weights with the
            fan-in and fan-out of one per-step decoder, i.e. std
            ``sqrt(2 / ((C_in + C_out) k^2))`` with ``C_in``/``C_out`` the
            channels of one decoder's layer (MMEngine's ``XavierInit`` would
            use the fans of the T grouped decoders together), zero biases.
            BatchNorm still follows ``init_cfg``.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to the official N(0, 0.001) for (transposed)
            convolutions and 1/0 for BatchNorm.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (512, 1024, 2048),
                 deconv_channels: Sequence[int] = (512, 256),
                 conv_channels: Sequence[int] = (1024, 512),
                 num_steps: int = 3,
                 num_joints: int = 21,
                 heatmap_dims: int = 3,
                 heatmap_depth: int = 32,
                 logit_scale: float = 1.0,
                 coord_convention: str = 'cell_centre',
                 conv_init: str = 'init_cfg',
                 init_cfg=(dict(
                     type='Normal',
                     layer=['Conv2d', 'ConvTranspose2d'],
                     std=0.001),
                           dict(type='Constant', layer='BatchNorm2d',
                                val=1))):
        super().__init__(
            init_cfg=list(init_cfg) if init_cfg is not None else None)
        if not logit_scale > 0:
            raise ValueError('Unfolder: `logit_scale` must be positive, got '
                             f'{logit_scale}.')
        self.logit_scale = float(logit_scale)
        self.coord_convention = check_coord_convention(
            coord_convention, 'Unfolder')
        if conv_init not in CONV_INITS:
            raise ValueError(f'Unfolder: `conv_init` must be one of '
                             f'{CONV_INITS}, got {conv_init!r}.')
        self.conv_init = conv_init
        num_stages = len(in_channels) - 1
        if num_stages < 1:
            raise ValueError('Unfolder: `in_channels` needs at least two '
                             f'backbone levels, got {in_channels}.')
        if len(deconv_channels) != num_stages or len(
                conv_channels) != num_stages:
            raise ValueError(
                f'Unfolder: {len(in_channels)} backbone levels give '
                f'{num_stages} upsampling stages, so `deconv_channels` and '
                f'`conv_channels` need {num_stages} values each; got '
                f'{deconv_channels} and {conv_channels}.')
        if heatmap_dims not in (2, 3):
            raise ValueError('Unfolder: `heatmap_dims` must be 2 or 3, got '
                             f'{heatmap_dims}.')
        if num_steps < 1 or num_joints < 1:
            raise ValueError('Unfolder: `num_steps` and `num_joints` must be '
                             f'positive, got {num_steps}, {num_joints}.')
        self.in_channels = tuple(in_channels)
        self.num_steps = num_steps
        self.num_joints = num_joints
        self.heatmap_dims = heatmap_dims
        self.heatmap_depth = heatmap_depth
        self.out_channels = conv_channels[-1]

        steps = num_steps
        self.deconvs = nn.ModuleList()
        self.skips = nn.ModuleList()
        self.convs = nn.ModuleList()
        prev = in_channels[-1]
        for stage in range(num_stages):
            skip_ch = in_channels[-2 - stage]
            up_ch = deconv_channels[stage]
            # The first deconvolution reads C5, shared by all steps.
            groups = 1 if stage == 0 else steps
            in_ch = prev if stage == 0 else prev * steps
            self.deconvs.append(
                _GroupedBNReLU(
                    nn.ConvTranspose2d(
                        in_ch,
                        up_ch * steps,
                        kernel_size=4,
                        stride=2,
                        padding=1,
                        groups=groups,
                        bias=False), up_ch * steps))
            self.skips.append(
                _GroupedBNReLU(
                    nn.Conv2d(skip_ch, skip_ch * steps, kernel_size=1),
                    skip_ch * steps))
            self.convs.append(
                _GroupedBNReLU(
                    nn.Conv2d((up_ch + skip_ch) * steps,
                              conv_channels[stage] * steps,
                              kernel_size=3,
                              padding=1,
                              groups=steps), conv_channels[stage] * steps))
            prev = conv_channels[stage]
        if heatmap_dims == 3 and heatmap_depth < 1:
            raise ValueError('Unfolder: `heatmap_depth` must be positive, '
                             f'got {heatmap_depth}.')
        self._proj_per_joint = heatmap_depth if heatmap_dims == 3 else 1
        self.proj = nn.Conv2d(
            prev * steps,
            num_joints * self._proj_per_joint * steps,
            kernel_size=1,
            groups=steps)

    def init_weights(self) -> None:
        """``init_cfg``, then the per-decoder Xavier init of the
        (transposed) convolutions when ``conv_init='xavier_normal'``."""
        first_time = not self._is_init
        super().init_weights()
        if self.conv_init != 'xavier_normal' or not first_time:
            return
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                std = per_step_xavier_std(module, self.num_steps)
                nn.init.normal_(module.weight, std=std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def _check_inputs(self, feats: Sequence[Tensor]) -> Tuple[Tensor]:
        if isinstance(feats, Tensor):
            feats = (feats, )
        if len(feats) < len(self.in_channels):
            raise ValueError(
                f'Unfolder: expected at least {len(self.in_channels)} '
                f'backbone levels with channels {self.in_channels}, got '
                f'{len(feats)}. Set the backbone `out_indices` to return '
                'them (e.g. ResNet `out_indices=(1, 2, 3)`).')
        feats = tuple(feats[-len(self.in_channels):])
        got = tuple(f.shape[1] for f in feats)
        if got != self.in_channels:
            raise ValueError(
                f'Unfolder: backbone channels {got} do not match '
                f'`in_channels={self.in_channels}`.')
        return feats

    def forward(self, feats: Sequence[Tensor]) -> UnfolderOutput:
        """Unfold backbone features into T per-step joints and features.

        Args:
            feats (Sequence[Tensor]): Backbone outputs, shallow to deep, each
                ``(B, C_l, H_l, W_l)``; each level halves the previous
                resolution.

        Returns:
            UnfolderOutput: See the class attributes.
        """
        feats = self._check_inputs(feats)
        c5 = feats[-1]
        batch, steps = c5.shape[0], self.num_steps
        x = c5
        for stage, (deconv, skip, conv) in enumerate(
                zip(self.deconvs, self.skips, self.convs)):
            up = deconv(x)
            skip_feat = skip(feats[-2 - stage])
            if up.shape[-2:] != skip_feat.shape[-2:]:
                raise ValueError(
                    f'Unfolder: upsampled stage {stage} has size '
                    f'{tuple(up.shape[-2:])} but the skip feature has '
                    f'{tuple(skip_feat.shape[-2:])}; backbone levels must '
                    'halve the resolution one after another.')
            h, w = up.shape[-2:]
            # Concatenate per step: (B, T, C_up + C_skip, H, W).
            x = torch.cat([
                up.view(batch, steps, -1, h, w),
                skip_feat.view(batch, steps, -1, h, w)
            ],
                          dim=2).flatten(1, 2)
            x = conv(x)
        h, w = x.shape[-2:]
        feature_maps = x.view(batch, steps, self.out_channels, h, w)
        logits = self.proj(x)
        if self.logit_scale != 1.0:
            logits = logits * self.logit_scale
        if self.heatmap_dims == 3:
            heatmaps = logits.view(batch, steps, self.num_joints,
                                   self.heatmap_depth, h, w)
        else:
            heatmaps = logits.view(batch, steps, self.num_joints, h, w)
        joints = soft_argmax(heatmaps, self.heatmap_dims,
                             self.coord_convention)
        joint_feats = sample_point_features(
            feature_maps.flatten(0, 1), joints[..., :2].flatten(0, 1),
            self.coord_convention).view(batch, steps, self.num_joints, -1)
        global_feat = c5.mean(dim=(2, 3))
        return UnfolderOutput(
            joint_feats=joint_feats,
            joints=joints,
            heatmaps=heatmaps,
            feature_maps=feature_maps,
            global_feat=global_feat)
