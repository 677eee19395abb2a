# Copyright (c) OpenMMLab. All rights reserved.
"""Transformer decoder that scores hypotheses against the image feature grid.

Shapes are batch-first throughout: ``B`` images, ``K`` hypotheses, ``T`` time
steps, ``J`` joints, ``C`` channels.
"""
import math

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mmpose.utils.typing import OptMultiConfig
from torch import Tensor

from mmblurhand.registry import MODELS


def sinusoidal_embedding_1d(num_positions: int, dims: int) -> Tensor:
    """Fixed sine/cosine embedding of positions ``0 .. num_positions - 1``.

    Args:
        num_positions (int): Number of positions.
        dims (int): Embedding width (even).

    Returns:
        Tensor: Shape ``(num_positions, dims)``; the first half holds sines,
        the second cosines.
    """
    half = dims // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half) / half)
    angles = torch.arange(num_positions, dtype=torch.float32)[:, None] * \
        freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def sinusoidal_embedding_2d(height: int, width: int, dims: int,
                            device: torch.device) -> Tensor:
    """Fixed 2D sine/cosine embedding of a ``height x width`` grid.

    Half of the channels encode the row, half the column (DETR style), with
    positions normalised to ``[0, 2 pi]`` so the code does not depend on
    the grid size.

    Args:
        height (int): Grid rows.
        width (int): Grid columns.
        dims (int): Embedding width (multiple of 4).
        device (torch.device): Output device.

    Returns:
        Tensor: Shape ``(height * width, dims)``, row-major.
    """
    quarter = dims // 4
    freqs = torch.exp(-math.log(10000.0) *
                      torch.arange(quarter, device=device) / quarter)
    rows = (torch.arange(height, device=device, dtype=torch.float32) +
            0.5) / height * 2 * math.pi
    cols = (torch.arange(width, device=device, dtype=torch.float32) +
            0.5) / width * 2 * math.pi
    row_angles = rows[:, None] * freqs[None, :]  # (H, C/4)
    col_angles = cols[:, None] * freqs[None, :]  # (W, C/4)
    row_code = torch.cat([row_angles.sin(), row_angles.cos()], dim=-1)
    col_code = torch.cat([col_angles.sin(), col_angles.cos()], dim=-1)
    grid = torch.cat([
        row_code[:, None, :].expand(height, width, -1),
        col_code[None, :, :].expand(height, width, -1)
    ],
                     dim=-1)
    return grid.reshape(height * width, dims)


def official_sinusoidal_embedding_1d(num_positions: int, dims: int) -> Tensor:
    """The official ScoreNet's time code (DDPM-style timestep embedding).

    Frequencies ``exp(-log(10000) i / (dims/2 - 1))`` for
    ``i = 0 .. dims/2 - 1`` (note ``- 1``, unlike
    :func:`sinusoidal_embedding_1d`); sines first, then cosines.

    Args:
        num_positions (int): Number of positions.
        dims (int): Embedding width (even, at least 4).

    Returns:
        Tensor: Shape ``(num_positions, dims)``.
    """
    half = dims // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half) / (half - 1))
    angles = torch.arange(num_positions, dtype=torch.float32)[:, None] * \
        freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def official_sinusoidal_embedding_2d(height: int, width: int, dims: int,
                                     device: torch.device) -> Tensor:
    """The official ScoreNet's 2D context code.

    Integer grid positions; the first ``dims/2`` channels encode the
    column, the rest the row, each interleaved ``sin, cos, sin, ...`` with
    frequencies ``exp(-log(10000) 2i / (dims/2))``.

    Args:
        height (int): Grid rows.
        width (int): Grid columns.
        dims (int): Embedding width (multiple of 4).
        device (torch.device): Output device.

    Returns:
        Tensor: Shape ``(height * width, dims)``, row-major.
    """
    half = dims // 2
    freqs = torch.exp(
        torch.arange(0., half, 2, device=device) * -(math.log(10000.0) / half))
    cols = torch.arange(width, device=device, dtype=torch.float32)[:, None] * \
        freqs[None, :]  # (W, half/2)
    rows = torch.arange(height, device=device, dtype=torch.float32)[:, None] * \
        freqs[None, :]  # (H, half/2)
    col_code = torch.stack([cols.sin(), cols.cos()], dim=-1).flatten(1)
    row_code = torch.stack([rows.sin(), rows.cos()], dim=-1).flatten(1)
    grid = torch.cat([
        col_code[None, :, :].expand(height, width, -1),
        row_code[:, None, :].expand(height, width, -1)
    ],
                     dim=-1)
    return grid.reshape(height * width, dims)


#: Positional-code flavours of :class:`HypothesisScoreDecoder`.
POSITION_CODES = ('sinusoidal', 'official')
#: Query/context layouts of :class:`HypothesisScoreDecoder`.
SCORE_LAYOUTS = ('per_image', 'official_bug')


class PreNormDecoderLayer(nn.Module):
    """DETR-style pre-LN decoder block.

    Self-attention among the query tokens of one hypothesis, cross-attention
    from those tokens to the image tokens, then a ReLU MLP; positional codes
    are added to queries and keys, never to values.

    Args:
        embed_dims (int): Token width ``C``.
        num_heads (int): Attention heads.
        mlp_ratio (float): MLP hidden width over ``C``.
        dropout (float): Dropout rate.
    """

    def __init__(self, embed_dims: int, num_heads: int, mlp_ratio: float,
                 dropout: float) -> None:
        super().__init__()
        hidden = int(embed_dims * mlp_ratio)
        self.norm1 = nn.LayerNorm(embed_dims)
        self.self_attn = nn.MultiheadAttention(
            embed_dims, num_heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(embed_dims)
        self.cross_attn = nn.MultiheadAttention(
            embed_dims, num_heads, dropout=dropout, batch_first=True)
        self.norm3 = nn.LayerNorm(embed_dims)
        self.mlp = nn.Sequential(
            nn.Linear(embed_dims, hidden), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(hidden, embed_dims))
        self.drop = nn.Dropout(dropout)

    def forward(self, queries: Tensor, query_pos: Tensor, memory: Tensor,
                memory_pos: Tensor, num_hypotheses: int) -> Tensor:
        """Refine the hypothesis tokens.

        Args:
            queries (Tensor): Shape ``(B*K, L, C)``, row ``b*K + k``.
            query_pos (Tensor): Shape ``(B*K, L, C)`` or broadcastable.
            memory (Tensor): Image tokens, shape ``(B, M, C)``.
            memory_pos (Tensor): Shape ``(1, M, C)``.
            num_hypotheses (int): ``K``.

        Returns:
            Tensor: Shape ``(B*K, L, C)``.
        """
        y = self.norm1(queries)
        q = y + query_pos
        queries = queries + self.drop(
            self.self_attn(q, q, y, need_weights=False)[0])

        # Cross-attention has no query-query interaction, so the K x L
        # queries of image b form one sequence against image b's memory:
        # mathematically the same as K separate calls, with the keys and
        # values projected once per image.
        batch_k, length, dims = queries.shape
        batch = batch_k // num_hypotheses
        q = (self.norm2(queries) + query_pos).reshape(batch,
                                                      num_hypotheses * length,
                                                      dims)
        attended = self.cross_attn(
            q, memory + memory_pos, memory, need_weights=False)[0]
        queries = queries + self.drop(attended.reshape(batch_k, length, dims))
        return queries + self.drop(self.mlp(self.norm3(queries)))


@MODELS.register_module()
class HypothesisScoreDecoder(BaseModule):
    """Score every hypothesis of every image (ScoreNet-like layout).

    Query tokens: one per time step and joint of a hypothesis, the concat of

    - a pose branch: ``Linear(P -> J * C/2)``, GroupNorm, LeakyReLU(0.2), on
      the hypothesis' MANO pose of that time step, split into ``J`` tokens;
    - a joint branch: ``Linear(C_j -> C/2)``, GroupNorm, LeakyReLU(0.2), on
      the selector's own Unfolder joint features (shared by the ``K``
      hypotheses of an image),

    plus a fixed sinusoidal time code, a learned joint code and (optionally)
    a learned hypothesis-index code. Context tokens: a ``1 x 1`` conv
    ``C_c -> C`` + GroupNorm + LeakyReLU on the backbone's last feature map
    (``8 x 8 = 64`` tokens at 256 x 256 input), with a fixed 2D sinusoidal
    code. ``num_layers`` pre-LN decoder blocks, a final LayerNorm, a conv
    over the ``T`` time steps, and an MLP give two logits per hypothesis
    (channel 1 = "is top-n").

    Every score depends only on its own image and its own hypothesis:
    self-attention runs within one hypothesis' ``T x J`` tokens, and
    cross-attention only reaches the image's own feature grid (the official
    ScoreNet mixes hypotheses and images; see the reference notes §6.2).

    ``layout='official_bug'`` reproduces that official mix-up, for running
    official selector weights output for output only (do not train with
    it): the official generator emits poses ``(K, B, ...)`` and the
    ScoreNet reads them as ``(B, K, ...)``, and it tiles the context
    ``(k, b)`` while the queries are ``(b, k)``. Score slot ``(b, k)`` (row
    ``r = b K + k``) then sees hypothesis ``r // B`` of image ``r % B`` and
    the feature grid of image ``r % B``; only its joint features are image
    ``b``'s. With one image per batch (``B = 1``) both layouts agree.

    Args:
        embed_dims (int): Token width ``C``. Defaults to ``512``.
        num_heads (int): Attention heads. Defaults to ``4``.
        num_layers (int): Decoder blocks. Defaults to ``4``.
        mlp_ratio (float): MLP hidden width over ``C``. Defaults to ``4.0``.
        dropout (float): Dropout rate. Defaults to ``0.0``.
        pose_dims (int): ``P``, MANO pose numbers per time step. Defaults to
            ``48``.
        joint_in_channels (int): ``C_j``, width of the Unfolder joint
            features. Defaults to ``512``.
        context_in_channels (int): ``C_c``, channels of the backbone feature
            map. Defaults to ``2048``.
        num_hypotheses (int): ``K`` (size of the hypothesis-index code).
            Defaults to ``16``.
        num_time_steps (int): ``T``. Defaults to ``3``.
        num_joints (int): ``J``. Defaults to ``21``.
        num_groups (int): GroupNorm groups. Defaults to ``32``.
        head_hidden_dims (int): Hidden width of the logit MLP. Defaults to
            ``1024``.
        use_hypothesis_embed (bool): Add the learned hypothesis-index code.
            Defaults to ``True``.
        position_codes (str): Fixed time and context codes:
            ``'sinusoidal'`` (default, :func:`sinusoidal_embedding_1d` and
            the normalised :func:`sinusoidal_embedding_2d`) or
            ``'official'`` (the official ScoreNet's formulas, needed by its
            weights).
        layout (str): ``'per_image'`` (default, correct) or
            ``'official_bug'`` (see above).
        init_cfg (dict | list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 embed_dims: int = 512,
                 num_heads: int = 4,
                 num_layers: int = 4,
                 mlp_ratio: float = 4.0,
                 dropout: float = 0.0,
                 pose_dims: int = 48,
                 joint_in_channels: int = 512,
                 context_in_channels: int = 2048,
                 num_hypotheses: int = 16,
                 num_time_steps: int = 3,
                 num_joints: int = 21,
                 num_groups: int = 32,
                 head_hidden_dims: int = 1024,
                 use_hypothesis_embed: bool = True,
                 position_codes: str = 'sinusoidal',
                 layout: str = 'per_image',
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if position_codes not in POSITION_CODES:
            raise ValueError('HypothesisScoreDecoder: `position_codes` must '
                             f'be one of {POSITION_CODES}, got '
                             f'{position_codes!r}.')
        if layout not in SCORE_LAYOUTS:
            raise ValueError('HypothesisScoreDecoder: `layout` must be one '
                             f'of {SCORE_LAYOUTS}, got {layout!r}.')
        self.position_codes = position_codes
        self.layout = layout
        if embed_dims % 4 != 0 or (embed_dims // 2) % num_groups != 0:
            raise ValueError(
                'HypothesisScoreDecoder: `embed_dims` must be a multiple of '
                f'4 and `embed_dims / 2` a multiple of `num_groups`; got '
                f'embed_dims={embed_dims}, num_groups={num_groups}.')
        half = embed_dims // 2
        self.embed_dims = embed_dims
        self.pose_dims = pose_dims
        self.joint_in_channels = joint_in_channels
        self.context_in_channels = context_in_channels
        self.num_hypotheses = num_hypotheses
        self.num_time_steps = num_time_steps
        self.num_joints = num_joints

        self.pose_branch = nn.Sequential(
            nn.Linear(pose_dims, num_joints * half),
            nn.GroupNorm(num_groups, num_joints * half),
            nn.LeakyReLU(0.2, inplace=True), nn.Dropout(dropout))
        self.joint_branch = nn.Sequential(
            nn.Linear(joint_in_channels, half), nn.GroupNorm(num_groups, half),
            nn.LeakyReLU(0.2, inplace=True), nn.Dropout(dropout))
        self.context_proj = nn.Sequential(
            nn.Conv2d(context_in_channels, embed_dims, kernel_size=1),
            nn.GroupNorm(num_groups, embed_dims),
            nn.LeakyReLU(0.2, inplace=True), nn.Dropout(dropout))

        time_code = (
            official_sinusoidal_embedding_1d if position_codes == 'official'
            else sinusoidal_embedding_1d)
        self.register_buffer(
            'time_embed',
            time_code(num_time_steps, embed_dims),
            persistent=False)
        self.joint_embed = nn.Parameter(torch.zeros(num_joints, embed_dims))
        if use_hypothesis_embed:
            self.hypothesis_embed = nn.Parameter(
                torch.zeros(num_hypotheses, embed_dims))
        else:
            self.register_parameter('hypothesis_embed', None)

        self.layers = nn.ModuleList([
            PreNormDecoderLayer(embed_dims, num_heads, mlp_ratio, dropout)
            for _ in range(num_layers)
        ])
        self.last_norm = nn.LayerNorm(embed_dims)
        self.time_conv = nn.Conv2d(
            embed_dims, embed_dims, kernel_size=(num_time_steps, 1))
        self.score_mlp = nn.Sequential(
            nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Flatten(1),
            nn.Linear(num_joints * embed_dims, head_hidden_dims),
            nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(head_hidden_dims, 2))

    def init_weights(self) -> None:
        """Xavier weights for projections, truncated-normal codes."""
        super().init_weights()
        if self.init_cfg is not None:
            return
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)) and not isinstance(
                    module, nn.modules.linear.NonDynamicallyQuantizableLinear):
                nn.init.xavier_normal_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        trunc_normal_(self.joint_embed, std=0.02)
        if self.hypothesis_embed is not None:
            trunc_normal_(self.hypothesis_embed, std=0.02)

    def _check_inputs(self, poses: Tensor, joint_feats: Tensor,
                      context: Tensor) -> None:
        batch = poses.size(0)
        if poses.dim() != 4 or poses.shape[2:] != (self.num_time_steps,
                                                   self.pose_dims):
            raise ValueError(
                'HypothesisScoreDecoder: `poses` must have shape (B, K, T, P)'
                f' = (B, K, {self.num_time_steps}, {self.pose_dims}), got '
                f'{tuple(poses.shape)}.')
        if self.hypothesis_embed is not None and \
                poses.size(1) != self.num_hypotheses:
            raise ValueError(
                f'HypothesisScoreDecoder was built for K='
                f'{self.num_hypotheses} hypotheses (`num_hypotheses`), got '
                f'{poses.size(1)}; match the generator or set '
                '`use_hypothesis_embed=False`.')
        expected = (batch, self.num_time_steps, self.num_joints,
                    self.joint_in_channels)
        if tuple(joint_feats.shape) != expected:
            raise ValueError(
                'HypothesisScoreDecoder: `joint_feats` must have shape '
                f'(B, T, J, C_j) = {expected}, got '
                f'{tuple(joint_feats.shape)}.')
        if context.dim() != 4 or context.shape[:2] != (
                batch, self.context_in_channels):
            raise ValueError(
                'HypothesisScoreDecoder: `context` must have shape '
                f'(B, C_c, H, W) with B={batch}, C_c='
                f'{self.context_in_channels}, got {tuple(context.shape)}.')

    def forward(self, poses: Tensor, joint_feats: Tensor,
                context: Tensor) -> Tensor:
        """Score the hypotheses.

        Args:
            poses (Tensor): Hypothesis MANO poses, shape ``(B, K, T, P)``.
            joint_feats (Tensor): Joint features from the selector's
                Unfolder, shape ``(B, T, J, C_j)``.
            context (Tensor): Backbone feature map, shape
                ``(B, C_c, H, W)``.

        Returns:
            Tensor: Logits, shape ``(B, K, 2)``; the score of a hypothesis is
            ``softmax(logits, -1)[..., 1]``.
        """
        self._check_inputs(poses, joint_feats, context)
        batch, num_hyps, steps, _ = poses.shape
        if self.layout == 'official_bug':
            # slot (b, k) = row b K + k reads flat row b K + k of the
            # official (K, B) pose tensor: hypothesis r // B of image r % B
            poses = poses.transpose(0, 1).reshape(batch, num_hyps, steps, -1)
        joints, dims, half = self.num_joints, self.embed_dims, \
            self.embed_dims // 2

        pose_tokens = self.pose_branch(poses.reshape(-1, self.pose_dims))
        pose_tokens = pose_tokens.view(batch, num_hyps, steps, joints, half)
        joint_tokens = self.joint_branch(
            joint_feats.reshape(-1, self.joint_in_channels)).view(
                batch, 1, steps, joints, half)
        tokens = torch.cat(
            [joint_tokens.expand(-1, num_hyps, -1, -1, -1), pose_tokens],
            dim=-1).reshape(batch * num_hyps, steps * joints, dims)

        query_pos = (self.time_embed.to(tokens.dtype)[:, None, :] +
                     self.joint_embed[None, :, :]).reshape(
                         1, steps * joints, dims)
        if self.hypothesis_embed is not None:
            query_pos = (query_pos.unsqueeze(1) +
                         self.hypothesis_embed[None, :, None, :]).expand(
                             batch, -1, -1,
                             -1).reshape(batch * num_hyps, steps * joints,
                                         dims)

        memory = self.context_proj(context)  # (B, C, H, W)
        height, width = memory.shape[-2:]
        memory = memory.flatten(2).transpose(1, 2)  # (B, H*W, C)
        context_code = (
            official_sinusoidal_embedding_2d
            if self.position_codes == 'official' else sinusoidal_embedding_2d)
        memory_pos = context_code(height, width, dims,
                                  memory.device).to(memory.dtype)[None]
        group = num_hyps
        if self.layout == 'official_bug':
            # row r = b K + k cross-attends to the grid of image r % B
            memory = memory.repeat(num_hyps, 1, 1)
            group = 1

        for layer in self.layers:
            tokens = layer(tokens, query_pos, memory, memory_pos, group)
        tokens = self.last_norm(tokens)
        tokens = tokens.view(batch * num_hyps, steps, joints,
                             dims).permute(0, 3, 1, 2)  # (B*K, C, T, J)
        logits = self.score_mlp(self.time_conv(tokens))
        return logits.view(batch, num_hyps, 2)
