# Copyright (c) OpenMMLab. All rights reserved.
"""Multi-hypothesis transformer: K refined copies of the T x J joint tokens.

Shapes are batch-first throughout: ``B`` images, ``K`` hypotheses, ``T`` time
steps, ``J`` joints, ``C`` channels.
"""
import math

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from torch import Tensor

from mmblurhand.registry import MODELS
from mmpose.utils.typing import OptMultiConfig

LAYOUTS = ('independent', 'joint')
HYPOTHESIS_SOURCES = ('embedding', 'noise')


class PreNormEncoderLayer(nn.Module):
    """Pre-LN transformer encoder block with a ReLU MLP.

    ``x = x + MHA(LN(x)); x = x + MLP(LN(x))``.

    Args:
        embed_dims (int): Token width ``C``.
        num_heads (int): Attention heads.
        mlp_ratio (float): Hidden width of the MLP over ``C``.
        dropout (float): Dropout on attention weights and after each
            residual branch.
    """

    def __init__(self, embed_dims: int, num_heads: int, mlp_ratio: float,
                 dropout: float) -> None:
        super().__init__()
        hidden = int(embed_dims * mlp_ratio)
        self.norm1 = nn.LayerNorm(embed_dims)
        self.attn = nn.MultiheadAttention(
            embed_dims, num_heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(embed_dims)
        self.mlp = nn.Sequential(
            nn.Linear(embed_dims, hidden), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(hidden, embed_dims))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """Refine tokens.

        Args:
            x (Tensor): Tokens, shape ``(N, L, C)``.

        Returns:
            Tensor: Tokens, shape ``(N, L, C)``.
        """
        y = self.norm1(x)
        x = x + self.drop(self.attn(y, y, y, need_weights=False)[0])
        return x + self.drop(self.mlp(self.norm2(x)))


@MODELS.register_module()
class MultiHypothesisTransformer(BaseModule):
    """Generate ``K`` hypotheses of refined joint features.

    The Unfolder gives one token per time step and joint,
    ``F_J`` of shape ``(B, T, J, C)``. Hypothesis ``k`` adds a code ``z_k``
    (shape ``(C,)``) to every token, plus a learned time embedding and a
    learned joint embedding, and a stack of pre-LN encoder blocks refines the
    tokens. There is no input projection: the token width is the Unfolder's
    feature width.

    Hypothesis codes (``hypothesis_source``):

    - ``'embedding'`` (paper): a learned set ``{z_k}``, ``K x C``
      parameters, truncated-normal init (std 0.02).
    - ``'noise'`` (the paper's ablation): ``z_k ~ N(0, 1/C)`` drawn afresh
      for every image and every forward pass (so the hypotheses of one image
      vary between calls, also at test time).

    Attention layouts (``layout``):

    - ``'independent'`` (paper): each hypothesis is its own sequence of
      ``L = T x J`` tokens; the ``B x K`` sequences run as one batch
      ``(B*K, T*J, C)``. Attention costs ``O(B K L^2 C)`` FLOPs and
      ``O(B K heads L^2)`` memory.
    - ``'joint'`` (official code): the ``K x T x J`` tokens of an image form
      one sequence ``(B, K*T*J, C)``, so hypotheses attend to each other.
      Attention costs ``O(B K^2 L^2 C)`` FLOPs and ``O(B K^2 heads L^2)``
      memory: ``K`` times the independent layout (16x at the paper setting,
      1008-token sequences instead of 63). The linear layers (QKV, output,
      MLP) cost the same ``O(B K L C^2)`` in both layouts, and the parameters
      are identical, so a checkpoint runs in either layout.

    Args:
        embed_dims (int): Token width ``C``. Defaults to ``512``.
        num_heads (int): Attention heads. Defaults to ``4``.
        num_layers (int): Encoder blocks. Defaults to ``4``.
        mlp_ratio (float): MLP hidden width over ``C``. Defaults to ``4.0``.
        dropout (float): Dropout rate. Defaults to ``0.0``.
        num_hypotheses (int): ``K``. Defaults to ``16``.
        num_time_steps (int): ``T``. Defaults to ``3``.
        num_joints (int): ``J``. Defaults to ``21``.
        layout (str): ``'independent'`` or ``'joint'``. Defaults to
            ``'independent'``.
        hypothesis_source (str): ``'embedding'`` or ``'noise'``. Defaults to
            ``'embedding'``.
        init_cfg (dict | list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 embed_dims: int = 512,
                 num_heads: int = 4,
                 num_layers: int = 4,
                 mlp_ratio: float = 4.0,
                 dropout: float = 0.0,
                 num_hypotheses: int = 16,
                 num_time_steps: int = 3,
                 num_joints: int = 21,
                 layout: str = 'independent',
                 hypothesis_source: str = 'embedding',
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if layout not in LAYOUTS:
            raise ValueError(f'MultiHypothesisTransformer: `layout` must be '
                             f'one of {LAYOUTS}, got {layout!r}.')
        if hypothesis_source not in HYPOTHESIS_SOURCES:
            raise ValueError(
                'MultiHypothesisTransformer: `hypothesis_source` must be one '
                f'of {HYPOTHESIS_SOURCES}, got {hypothesis_source!r}.')
        if num_hypotheses < 1:
            raise ValueError('MultiHypothesisTransformer: `num_hypotheses` '
                             f'must be >= 1, got {num_hypotheses}.')
        self.embed_dims = embed_dims
        self.num_hypotheses = num_hypotheses
        self.num_time_steps = num_time_steps
        self.num_joints = num_joints
        self.layout = layout
        self.hypothesis_source = hypothesis_source

        if hypothesis_source == 'embedding':
            self.hypothesis_embed = nn.Parameter(
                torch.zeros(num_hypotheses, embed_dims))
        else:
            self.register_parameter('hypothesis_embed', None)
        self.time_embed = nn.Parameter(torch.zeros(num_time_steps, embed_dims))
        self.joint_embed = nn.Parameter(torch.zeros(num_joints, embed_dims))
        self.layers = nn.ModuleList([
            PreNormEncoderLayer(embed_dims, num_heads, mlp_ratio, dropout)
            for _ in range(num_layers)
        ])

    def init_weights(self) -> None:
        """Truncated-normal (std 0.02) embeddings, Xavier MLP weights."""
        super().init_weights()
        if self.init_cfg is not None:
            return
        for param in (self.hypothesis_embed, self.time_embed,
                      self.joint_embed):
            if param is not None:
                trunc_normal_(param, std=0.02)
        for layer in self.layers:
            for module in layer.mlp:
                if isinstance(module, nn.Linear):
                    nn.init.xavier_normal_(module.weight)
                    nn.init.zeros_(module.bias)

    def hypothesis_codes(self, batch_size: int, dtype: torch.dtype,
                         device: torch.device) -> Tensor:
        """The code ``z_k`` of every hypothesis.

        Args:
            batch_size (int): ``B``.
            dtype (torch.dtype): Output dtype.
            device (torch.device): Output device.

        Returns:
            Tensor: Shape ``(1, K, C)`` for learned embeddings (shared by all
            images) or ``(B, K, C)`` for noise.
        """
        if self.hypothesis_embed is not None:
            return self.hypothesis_embed.to(dtype).unsqueeze(0)
        std = 1.0 / math.sqrt(self.embed_dims)
        return torch.randn(
            batch_size,
            self.num_hypotheses,
            self.embed_dims,
            dtype=dtype,
            device=device) * std

    def forward(self, joint_feats: Tensor) -> Tensor:
        """Refine the joint tokens into ``K`` hypotheses.

        Args:
            joint_feats (Tensor): Unfolder joint features, shape
                ``(B, T, J, C)``.

        Returns:
            Tensor: Refined features, shape ``(B, K, T, J, C)``.
        """
        expected = (self.num_time_steps, self.num_joints, self.embed_dims)
        if joint_feats.dim() != 4 or tuple(joint_feats.shape[1:]) != expected:
            raise ValueError(
                'MultiHypothesisTransformer: `joint_feats` must have shape '
                f'(B, T, J, C) = (B, {expected[0]}, {expected[1]}, '
                f'{expected[2]}), got {tuple(joint_feats.shape)}. Check '
                '`num_time_steps`, `num_joints` and `embed_dims` against the '
                'Unfolder.')
        batch = joint_feats.size(0)
        num_hyps, steps, joints, dims = (self.num_hypotheses, *expected)
        codes = self.hypothesis_codes(batch, joint_feats.dtype,
                                      joint_feats.device)
        tokens = (joint_feats.unsqueeze(1) + codes[:, :, None, None, :] +
                  self.time_embed[None, None, :, None, :] +
                  self.joint_embed[None, None, None, :, :])  # (B, K, T, J, C)
        if self.layout == 'independent':
            tokens = tokens.reshape(batch * num_hyps, steps * joints, dims)
        else:
            tokens = tokens.reshape(batch, num_hyps * steps * joints, dims)
        for layer in self.layers:
            tokens = layer(tokens)
        return tokens.reshape(batch, num_hyps, steps, joints, dims)
