# Copyright (c) OpenMMLab. All rights reserved.
"""A hand motion prior: a VAE over MANO hand-pose sequences with a
continuous-time decoder (NeMF-style; HMP poster section 2).

- Encoder ``E``: a set of time-stamped poses ``{(t_i, theta_i)}`` (any
  subset of a window, e.g. the 15 Hz sub-frame predictions of blurry video
  frames) -> ``mu, log_var`` of the motion latent ``z`` (``(B, Z)``). Every
  observation is a token (per-joint 6D rotations and Fourier features of
  its time); a transformer encoder and a masked mean
  pool make the posterior.
- Decoder ``D``: ``(t, z) -> theta_t`` for any time ``t`` of the window, an
  MLP on Fourier features of ``t`` concatenated with ``z``, giving per-joint
  6D rotations (``(B, M, P, 6)``), i.e. a continuous motion field.

Training (``mode='loss'``) reconstructs the whole window from a random
subset of its frames (random stride, phase and drop-out, plus Gaussian noise
on the observed rotations, so the encoder also works on noisy per-frame
estimates): ``L = l_rot L_rot + l_pos L_pos + l_vel L_vel + l_kl L_KL``
with ``L_rot`` the squared rotation-matrix error, ``L_pos`` the joint
position error through the hand model (mm), ``L_vel`` the error of joint
velocities (mm per key frame) and ``L_KL`` the KL divergence to N(0, I).
The global orientation and translation are not modelled here: the fitter
optimises them directly (poster section 4).

Time is normalised by the window: ``t_norm = t / ((L - 1) / fps)`` in
[0, 1] for a window of ``L`` key frames at ``fps``.
"""
import math
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModel
from torch import Tensor, nn

from mmblurhand.models.utils.rotations import (axis_angle_to_matrix,
                                               matrix_to_axis_angle,
                                               matrix_to_rot6d,
                                               rot6d_to_matrix)
from mmblurhand.registry import MODELS


def fourier_features(t: Tensor, num_freqs: int) -> Tensor:
    """``(t, sin(2^k pi t), cos(2^k pi t))`` for k < num_freqs.

    Args:
        t (Tensor): ``(...)`` normalised times.
        num_freqs (int): Frequencies.

    Returns:
        Tensor: ``(..., 1 + 2 * num_freqs)``.
    """
    freqs = (2.0**torch.arange(num_freqs, dtype=t.dtype,
                               device=t.device)) * math.pi
    angles = t[..., None] * freqs
    return torch.cat([t[..., None], angles.sin(), angles.cos()], dim=-1)


@MODELS.register_module()
class HandMotionVAE(BaseModel):
    """Motion VAE with a continuous-time decoder over MANO hand poses.

    Args:
        window (int): Key frames ``L`` of a training window. Defaults to 49.
        fps (float): Key-frame rate. Defaults to 30.
        latent_dim (int): ``Z``. Defaults to 32.
        embed_dims (int): Encoder width. Defaults to 128.
        num_layers (int): Encoder transformer layers. Defaults to 2.
        num_heads (int): Attention heads. Defaults to 4.
        num_freqs (int): Fourier frequencies of time. Defaults to 6.
        decoder_dims (int): Decoder MLP width. Defaults to 256.
        decoder_layers (int): Hidden layers of the decoder. Defaults to 3.
        obs_strides (Sequence[int]): Observation strides drawn in training.
            Defaults to ``(1, 2, 4)``.
        obs_drop (float): Drop-out probability of an observation in
            training. Defaults to 0.1.
        input_noise (float): Std of the Gaussian noise (rad, per axis-angle
            component) added to observed poses in training. Defaults to 0.05.
        loss_weights (dict): ``rot``, ``pos``, ``vel``, ``kl``.
        pos_frames (int): Key frames per window whose joints enter
            ``L_pos`` / ``L_vel`` (a random run; bounds the hand-model cost).
            Defaults to 16.
        mano_cfg (dict): ``ManoLayer`` arguments. Defaults to the procedural
            hand.
        data_preprocessor (dict, optional): MMEngine data preprocessor.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 window: int = 49,
                 fps: float = 30.0,
                 latent_dim: int = 32,
                 embed_dims: int = 128,
                 num_layers: int = 2,
                 num_heads: int = 4,
                 num_freqs: int = 6,
                 decoder_dims: int = 256,
                 decoder_layers: int = 3,
                 obs_strides: Sequence[int] = (1, 2, 4),
                 obs_drop: float = 0.1,
                 input_noise: float = 0.05,
                 loss_weights: Optional[Dict[str, float]] = None,
                 pos_frames: int = 16,
                 mano_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        from mmblurhand.models.mano import ManoLayer
        if window < 2:
            raise ValueError(f'HandMotionVAE: window must be >= 2 key frames,'
                             f' got {window}.')
        self.window = int(window)
        self.fps = float(fps)
        self.latent_dim = int(latent_dim)
        self.num_freqs = int(num_freqs)
        self.obs_strides = tuple(int(s) for s in obs_strides)
        self.obs_drop = float(obs_drop)
        self.input_noise = float(input_noise)
        self.pos_frames = int(pos_frames)
        self.loss_weights = dict(rot=1.0, pos=0.01, vel=0.05, kl=1e-3)
        self.loss_weights.update(loss_weights or {})
        self.hand_model = ManoLayer(**(mano_cfg or dict(model_path=None)))
        self.num_pose_joints = self.hand_model.num_pose // 3
        time_dims = 1 + 2 * self.num_freqs
        token_dims = self.num_pose_joints * 6 + time_dims
        self.token_embed = nn.Linear(token_dims, embed_dims)
        layer = nn.TransformerEncoderLayer(
            embed_dims,
            num_heads,
            dim_feedforward=2 * embed_dims,
            dropout=0.0,
            batch_first=True)
        self.encoder = nn.TransformerEncoder(
            layer, num_layers, enable_nested_tensor=False)
        self.to_posterior = nn.Linear(embed_dims, 2 * self.latent_dim)
        dims = [self.latent_dim + time_dims] + [decoder_dims] * decoder_layers
        mlp = []
        for d_in, d_out in zip(dims[:-1], dims[1:]):
            mlp += [nn.Linear(d_in, d_out), nn.SiLU()]
        mlp.append(nn.Linear(dims[-1], self.num_pose_joints * 6))
        self.decoder = nn.Sequential(*mlp)

    @property
    def duration(self) -> float:
        """Seconds covered by the window (``(L - 1) / fps``)."""
        return (self.window - 1) / self.fps

    # ------------------------------------------------------------------
    # hand model helpers
    def pose_joints(self, hand_pose: Tensor) -> Tensor:
        """Root-relative joints of hand poses with identity global orient.

        Args:
            hand_pose (Tensor): ``(..., 3P)`` MANO hand pose (relative to
                the mean pose).

        Returns:
            Tensor: ``(..., J, 3)`` joints, metres, wrist at the origin.
        """
        lead = hand_pose.shape[:-1]
        zeros = hand_pose.new_zeros(lead + (3, ))
        betas = hand_pose.new_zeros(lead + (self.hand_model.num_betas, ))
        joints = self.hand_model(zeros, hand_pose, betas).joints
        return joints - joints[..., :1, :]

    # ------------------------------------------------------------------
    def encode(self, hand_pose: Tensor, times: Tensor,
               mask: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """Posterior of the motion latent from observed poses.

        Args:
            hand_pose (Tensor): ``(B, N, 3P)`` observed MANO hand poses.
            times (Tensor): ``(B, N)`` their times, normalised to [0, 1].
            mask (Tensor, optional): ``(B, N)`` bool, True = observed.

        Returns:
            tuple[Tensor, Tensor]: ``mu`` and ``log_var``, ``(B, Z)``.
        """
        if hand_pose.dim() != 3 or hand_pose.shape[-1] != \
                3 * self.num_pose_joints:
            raise ValueError(
                'HandMotionVAE.encode: hand_pose must be (B, N, '
                f'{3 * self.num_pose_joints}), got {tuple(hand_pose.shape)}.')
        batch, num = hand_pose.shape[:2]
        if mask is None:
            mask = torch.ones(batch, num, dtype=torch.bool,
                              device=hand_pose.device)
        rot = axis_angle_to_matrix(
            hand_pose.reshape(batch, num, self.num_pose_joints, 3))
        tokens = torch.cat([
            matrix_to_rot6d(rot).flatten(2),
            fourier_features(times, self.num_freqs)
        ], -1)
        feats = self.encoder(
            self.token_embed(tokens), src_key_padding_mask=~mask)
        weight = mask.to(feats.dtype)[..., None]
        pooled = (feats * weight).sum(1) / weight.sum(1).clamp(min=1.0)
        mu, log_var = self.to_posterior(pooled).chunk(2, dim=-1)
        return mu, log_var.clamp(-10.0, 5.0)

    def decode(self, z: Tensor, times: Tensor) -> Tensor:
        """Rotation matrices of the hand joints at any times.

        Args:
            z (Tensor): ``(B, Z)`` motion latents.
            times (Tensor): ``(B, M)`` normalised times.

        Returns:
            Tensor: ``(B, M, P, 3, 3)`` joint rotations (absolute local
            rotations of the MANO convention relative to the mean pose).
        """
        num = times.shape[1]
        inp = torch.cat([
            z[:, None].expand(-1, num, -1),
            fourier_features(times, self.num_freqs)
        ], -1)
        out = self.decoder(inp).reshape(z.shape[0], num,
                                        self.num_pose_joints, 6)
        return rot6d_to_matrix(out)

    def decode_pose(self, z: Tensor, times: Tensor) -> Tensor:
        """MANO hand poses ``(B, M, 3P)`` (axis-angle) at ``times``."""
        rot = self.decode(z, times)
        return matrix_to_axis_angle(rot).flatten(2)

    def normalise_time(self, seconds: Tensor) -> Tensor:
        """Seconds from the window start to normalised time."""
        return seconds / self.duration

    # ------------------------------------------------------------------
    def _observation_mask(self, batch: int, num: int,
                          device) -> Tensor:
        """Random training observation pattern ``(B, L)`` bool."""
        strides = torch.tensor(self.obs_strides, device=device)
        stride = strides[torch.randint(len(strides), (batch, ), device=device)]
        phase = (torch.rand(batch, device=device) * stride).long()
        index = torch.arange(num, device=device)
        mask = ((index[None] - phase[:, None]) % stride[:, None]) == 0
        mask &= torch.rand(batch, num, device=device) >= self.obs_drop
        # keep at least one observation per sequence
        first = torch.zeros_like(mask)
        first[torch.arange(batch), phase] = True
        return mask | (first & ~mask.any(1, keepdim=True))

    def loss(self, hand_pose: Tensor) -> Dict[str, Tensor]:
        """Training losses on a batch of windows ``(B, L, 3P)``."""
        batch, num = hand_pose.shape[:2]
        if num != self.window:
            raise ValueError(
                f'HandMotionVAE.loss: windows of {self.window} key frames '
                f'expected (config `window`), got {num}.')
        device = hand_pose.device
        times = (torch.arange(num, device=device, dtype=hand_pose.dtype) /
                 (num - 1)).expand(batch, -1)
        mask = self._observation_mask(batch, num, device)
        noisy = hand_pose + self.input_noise * torch.randn_like(hand_pose)
        mu, log_var = self.encode(noisy, times, mask)
        z = mu + torch.randn_like(mu) * (0.5 * log_var).exp()
        rot = self.decode(z, times)
        gt_rot = axis_angle_to_matrix(
            hand_pose.reshape(batch, num, self.num_pose_joints, 3))
        losses = dict()
        w = self.loss_weights
        losses['loss_rot'] = w['rot'] * ((rot - gt_rot)**2).sum(
            (-2, -1)).mean()
        # joints over a random run of frames (hand model cost)
        run = min(self.pos_frames, num)
        start = int(torch.randint(num - run + 1, (1, )))
        pred_pose = matrix_to_axis_angle(rot[:, start:start + run]).flatten(2)
        pred_j = self.pose_joints(pred_pose) * 1000.0
        gt_j = self.pose_joints(hand_pose[:, start:start + run]) * 1000.0
        losses['loss_pos'] = w['pos'] * (pred_j - gt_j).norm(dim=-1).mean()
        losses['loss_vel'] = w['vel'] * (
            pred_j.diff(dim=1) - gt_j.diff(dim=1)).norm(dim=-1).mean()
        kl = -0.5 * (1 + log_var - mu**2 - log_var.exp()).sum(-1).mean()
        losses['loss_kl'] = w['kl'] * kl
        return losses

    def forward(self,
                inputs: Tensor,
                data_samples=None,
                mode: str = 'tensor'):
        """MMEngine entry point.

        Args:
            inputs (Tensor): ``(B, L, 3P)`` MANO hand-pose windows.
            data_samples: Unused.
            mode (str): ``'loss'`` (training losses), ``'tensor'`` or
                ``'predict'`` (reconstruction ``(B, L, 3P)`` from all
                frames, with the posterior mean).
        """
        if mode == 'loss':
            return self.loss(inputs)
        if mode in ('tensor', 'predict'):
            batch, num = inputs.shape[:2]
            times = (torch.arange(num, dtype=inputs.dtype,
                                  device=inputs.device) /
                     (self.window - 1)).expand(batch, -1)
            mu, _ = self.encode(inputs, times)
            return self.decode_pose(mu, times)
        raise ValueError(f'HandMotionVAE: unknown mode {mode!r}; use '
                         "'loss', 'tensor' or 'predict'.")

    @staticmethod
    def kl_to_posterior(z: Tensor, mu: Tensor, log_var: Tensor) -> Tensor:
        """``-log N(z; mu, sigma)`` up to a constant, summed over ``Z``.

        Args:
            z, mu, log_var (Tensor): ``(B, Z)``.

        Returns:
            Tensor: ``(B,)``.
        """
        return 0.5 * (((z - mu)**2) / log_var.exp() + log_var).sum(-1)


def angle_between(rot_a: Tensor, rot_b: Tensor) -> Tensor:
    """Geodesic angle (rad) between rotation matrices ``(..., 3, 3)``."""
    cos = ((rot_a.transpose(-1, -2) @ rot_b).diagonal(dim1=-2, dim2=-1).sum(-1)
           - 1.0) / 2.0
    return torch.acos(cos.clamp(-1.0 + 1e-6, 1.0 - 1e-6))


__all__ = ['HandMotionVAE', 'fourier_features', 'angle_between']
