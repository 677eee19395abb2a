# Copyright (c) OpenMMLab. All rights reserved.
"""KTFormer: kinematic-temporal Transformer over the T x J joint tokens.

Reference: Oh et al., "Recovering 3D Hand Mesh Sequence from a Single Blurry
Image: A New Dataset and Temporal Unfolding", CVPR 2023, Sec. 4.2.
"""
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmblurhand.registry import MODELS


class PreNormTransformerBlock(nn.Module):
    """A pre-LayerNorm Transformer encoder block (ViT style).

    ``x + Attn(LN(x))`` then ``x + MLP(LN(x))`` with a GELU MLP of hidden
    size ``mlp_ratio * embed_dims``. Parameter layout (``qkv`` and ``proj``
    linears, biases included) matches the ViT ``Block`` the official
    KTFormer used: ``12 E^2 + 13 E`` parameters for ``mlp_ratio=4``.

    Args:
        embed_dims (int): Token size ``E``.
        num_heads (int): Attention heads; must divide ``E``.
        mlp_ratio (float): MLP hidden size over ``E``. Defaults to 4.
        qkv_bias (bool): Bias in the ``qkv`` projection. Defaults to True.
        drop_rate (float): Dropout after attention and MLP. Defaults to 0.
        attn_drop_rate (float): Dropout on attention weights. Defaults to 0.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.):
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(
                f'KTFormer: `embed_dims` ({embed_dims}) must be divisible by '
                f'`num_heads` ({num_heads}).')
        self.num_heads = num_heads
        self.attn_drop_rate = attn_drop_rate
        self.norm1 = nn.LayerNorm(embed_dims)
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.norm2 = nn.LayerNorm(embed_dims)
        hidden = int(embed_dims * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(embed_dims, hidden), nn.GELU(), nn.Dropout(drop_rate),
            nn.Linear(hidden, embed_dims))
        self.drop = nn.Dropout(drop_rate)

    def forward(self, x: Tensor) -> Tensor:
        """Args: x (Tensor): ``(N, L, E)`` tokens. Returns: ``(N, L, E)``."""
        n, length, dims = x.shape
        qkv = self.qkv(self.norm1(x)).view(n, length, 3, self.num_heads,
                                           dims // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (N, heads, L, E/h)
        attn = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop_rate if self.training else 0.)
        attn = attn.transpose(1, 2).reshape(n, length, dims)
        x = x + self.drop(self.proj(attn))
        return x + self.drop(self.mlp(self.norm2(x)))


@MODELS.register_module()
class KTFormer(BaseModule):
    """Kinematic-temporal Transformer over joint features of T time steps.

    The ``T x J`` joint features are embedded by a linear layer, a learned
    temporal embedding ``(T, E)`` and a learned kinematic (per-joint)
    embedding ``(J, E)`` are added, and ``num_blocks`` pre-LN Transformer
    blocks attend over all ``T * J`` tokens of an image. There is no final
    LayerNorm (as in the official model). With the paper setting (512 in,
    512 dims, 4 blocks, 4 heads, T=3, J=21) it has 12,884,480 parameters.

    The embeddings start from a truncated normal with std 0.02 by default;
    ``embed_init='official'`` draws them from N(0, 1) as the official code
    does (``torch.randn``, untouched by its weight init).

    Args:
        in_channels (int): Joint-feature size ``C``. Defaults to 512.
        embed_dims (int): Token size ``E`` (also the output size).
            Defaults to 512.
        num_blocks (int): Transformer blocks. Defaults to 4.
        num_heads (int): Attention heads. Defaults to 4.
        mlp_ratio (float): MLP hidden size over ``E``. Defaults to 4.
        num_steps (int): Time steps ``T``. Defaults to 3.
        num_joints (int): Joints ``J``. Defaults to 21.
        qkv_bias (bool): Bias in the ``qkv`` projections. Defaults to True.
        drop_rate (float): Dropout rate. Defaults to 0.
        attn_drop_rate (float): Attention dropout rate. Defaults to 0.
        embed_init (str): Initialisation of the temporal and kinematic
            embeddings: ``'trunc_normal'`` (default, std 0.02) or
            ``'official'`` (N(0, 1)). Only the initial values differ.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to truncated-normal (std 0.02) linears with zero bias
            and unit/zero LayerNorms.
    """

    def __init__(self,
                 in_channels: int = 512,
                 embed_dims: int = 512,
                 num_blocks: int = 4,
                 num_heads: int = 4,
                 mlp_ratio: float = 4.,
                 num_steps: int = 3,
                 num_joints: int = 21,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 embed_init: str = 'trunc_normal',
                 init_cfg=(dict(
                     type='TruncNormal', layer='Linear', std=0.02, bias=0.),
                           dict(
                               type='Constant',
                               layer='LayerNorm',
                               val=1.,
                               bias=0.))):
        super().__init__(
            init_cfg=list(init_cfg) if init_cfg is not None else None)
        self.in_channels = in_channels
        self.embed_dims = embed_dims
        self.num_steps = num_steps
        self.num_joints = num_joints
        self.patch_embed = nn.Linear(in_channels, embed_dims)
        self.temporal_embed = nn.Parameter(torch.zeros(num_steps, embed_dims))
        self.kinematic_embed = nn.Parameter(
            torch.zeros(num_joints, embed_dims))
        if embed_init not in ('trunc_normal', 'official'):
            raise ValueError("KTFormer: `embed_init` must be 'trunc_normal' "
                             f"or 'official', got {embed_init!r}.")
        self.embed_init = embed_init
        self.reset_embeddings()
        self.blocks = nn.ModuleList([
            PreNormTransformerBlock(
                embed_dims,
                num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop_rate=drop_rate,
                attn_drop_rate=attn_drop_rate) for _ in range(num_blocks)
        ])

    def reset_embeddings(self) -> None:
        """Draw the temporal and kinematic embeddings (see ``embed_init``)."""
        for param in (self.temporal_embed, self.kinematic_embed):
            if self.embed_init == 'official':
                nn.init.normal_(param, std=1.)
            else:
                nn.init.trunc_normal_(param, std=0.02)

    def forward(self, joint_feats: Tensor) -> Tensor:
        """Refine joint features with attention over time and joints.

        Args:
            joint_feats (Tensor): ``(..., T, J, C)``; every leading index
                (e.g. image, or hypothesis and image) is one independent
                token set of ``T * J`` tokens.

        Returns:
            Tensor: ``(..., T, J, E)`` refined joint features.
        """
        if joint_feats.dim() < 3 or tuple(joint_feats.shape[-3:]) != (
                self.num_steps, self.num_joints, self.in_channels):
            raise ValueError(
                'KTFormer: expected joint features (..., T, J, C) = '
                f'(..., {self.num_steps}, {self.num_joints}, '
                f'{self.in_channels}), got {tuple(joint_feats.shape)}.')
        lead = joint_feats.shape[:-3]
        x = self.patch_embed(joint_feats)
        x = x + self.temporal_embed[:, None, :] + self.kinematic_embed
        x = x.reshape(-1, self.num_steps * self.num_joints, self.embed_dims)
        for block in self.blocks:
            x = block(x)
        return x.view(*lead, self.num_steps, self.num_joints,
                      self.embed_dims)
