# Copyright (c) OpenMMLab. All rights reserved.
"""Hand motion during the exposure as low-degree polynomials in time.

Human from Blur (§3) describes the sub-frame motion by low-degree
polynomials of the pose, the global rotation and the translation. Here time
``tau`` runs over ``[-1, 1]`` during the exposure (``-1`` the first
sub-frame, ``+1`` the last); with BlurHand's three time steps (the 1st, 3rd
and 5th of five key frames) past, middle and future sit at ``tau = -1, 0,
1``.

- finger pose (axis-angle, relative to the MANO mean pose):
  ``theta(tau) = sum_d c_d tau^d``;
- global rotation: ``R(tau) = exp(sum_d w_d tau^d) R_0`` with a fixed
  ``R_0`` (the initial middle rotation), so the optimised part stays far
  from the axis-angle singularity at pi;
- translation of the wrist (camera frame, metres):
  ``t(tau) = sum_d t_d tau^d``;
- shape: one ``beta`` for the whole exposure.

Vertices are ``R(tau) (MANO(0, theta(tau), beta) - wrist) + t(tau)``.
"""
from typing import Dict, Optional

import torch
from torch import Tensor, nn

from mmblurhand.models.utils.rotations import (axis_angle_to_matrix,
                                               matrix_to_axis_angle)


def vandermonde(tau: Tensor, degree: int) -> Tensor:
    """``(..., N, degree + 1)`` powers ``tau^0 .. tau^degree``."""
    powers = torch.arange(degree + 1, device=tau.device, dtype=tau.dtype)
    return tau[..., None]**powers


def fit_polynomial(values: Tensor, tau: Tensor, degree: int) -> Tensor:
    """Least-squares polynomial coefficients through samples.

    Minimum-norm when ``degree + 1`` exceeds the number of samples.

    Args:
        values (Tensor): ``(..., T, C)`` samples.
        tau (Tensor): ``(T,)`` their times.
        degree (int): Polynomial degree.

    Returns:
        Tensor: ``(..., degree + 1, C)`` coefficients, constant first.
    """
    if values.shape[-2] != tau.shape[0]:
        raise ValueError(f'fit_polynomial: {values.shape[-2]} samples but '
                         f'{tau.shape[0]} times.')
    basis = vandermonde(tau.to(values), degree)          # (T, D+1)
    return torch.linalg.pinv(basis) @ values


def step_times(num_steps: int, dtype=torch.float32, device=None) -> Tensor:
    """``(T,)`` times of the T evenly spaced time steps in ``[-1, 1]``."""
    if num_steps == 1:
        return torch.zeros(1, dtype=dtype, device=device)
    return torch.linspace(-1.0, 1.0, num_steps, dtype=dtype, device=device)


class PolynomialMotion(nn.Module):
    """The polynomial motion of a batch of hands (see the module docstring).

    Build it with :meth:`from_samples`. Parameters (leading dims ``...``):
    ``pose_coeffs (..., D+1, P)``, ``rot_coeffs (..., D+1, 3)``,
    ``transl_coeffs (..., D+1, 3)``, ``betas (..., B_s)``; buffer
    ``base_rot (..., 3, 3)``.

    Args:
        pose_coeffs, rot_coeffs, transl_coeffs, betas, base_rot (Tensor):
            Initial values.
        optimise_shape (bool): Make ``betas`` a parameter. Defaults to
            False.
    """

    def __init__(self,
                 pose_coeffs: Tensor,
                 rot_coeffs: Tensor,
                 transl_coeffs: Tensor,
                 betas: Tensor,
                 base_rot: Tensor,
                 optimise_shape: bool = False):
        super().__init__()
        self.pose_coeffs = nn.Parameter(pose_coeffs.detach().clone())
        self.rot_coeffs = nn.Parameter(rot_coeffs.detach().clone())
        self.transl_coeffs = nn.Parameter(transl_coeffs.detach().clone())
        betas = betas.detach().clone()
        if optimise_shape:
            self.betas = nn.Parameter(betas)
        else:
            self.register_buffer('betas', betas)
        self.register_buffer('base_rot', base_rot.detach().clone())

    @property
    def degree(self) -> int:
        return self.pose_coeffs.shape[-2] - 1

    @classmethod
    def from_samples(cls,
                     mano_pose: Tensor,
                     transl: Tensor,
                     betas: Tensor,
                     degree: int = 2,
                     tau: Optional[Tensor] = None,
                     optimise_shape: bool = False) -> 'PolynomialMotion':
        """Fit the polynomials through a sequence of T MANO states.

        Args:
            mano_pose (Tensor): ``(..., T, 3 + P)`` axis-angle pose, global
                orient first (camera frame).
            transl (Tensor): ``(..., T, 3)`` wrist positions, camera frame,
                metres.
            betas (Tensor): ``(..., B_s)``.
            degree (int): Polynomial degree. Defaults to 2 (exact through
                T = 3 steps).
            tau (Tensor, optional): ``(T,)`` times; evenly spaced in
                ``[-1, 1]`` by default.
            optimise_shape (bool): See the class.

        Returns:
            PolynomialMotion: Reproduces the samples when ``degree >= T-1``.
        """
        num_steps = mano_pose.shape[-2]
        if transl.shape[-2] != num_steps:
            raise ValueError('PolynomialMotion.from_samples: mano_pose has '
                             f'{num_steps} steps but transl '
                             f'{transl.shape[-2]}.')
        if tau is None:
            tau = step_times(num_steps, mano_pose.dtype, mano_pose.device)
        middle = int(tau.abs().argmin())
        rots = axis_angle_to_matrix(mano_pose[..., :3])        # (..., T, 3, 3)
        base = rots[..., middle, :, :]
        delta = matrix_to_axis_angle(rots @ base.unsqueeze(-3).transpose(
            -1, -2))
        return cls(
            fit_polynomial(mano_pose[..., 3:], tau, degree),
            fit_polynomial(delta, tau, degree),
            fit_polynomial(transl, tau, degree),
            betas,
            base,
            optimise_shape=optimise_shape)

    def forward(self, tau: Tensor) -> Dict[str, Tensor]:
        """The state at times ``tau``.

        Args:
            tau (Tensor): ``(N,)`` times in ``[-1, 1]``.

        Returns:
            dict[str, Tensor]: ``hand_pose (..., N, P)``, ``rotation
            (..., N, 3, 3)``, ``transl (..., N, 3)``, ``betas (..., B_s)``.
        """
        basis = vandermonde(tau.to(self.pose_coeffs), self.degree)  # (N, D+1)
        rotation = axis_angle_to_matrix(basis @ self.rot_coeffs)
        return dict(
            hand_pose=basis @ self.pose_coeffs,
            rotation=rotation @ self.base_rot.unsqueeze(-3),
            transl=basis @ self.transl_coeffs,
            betas=self.betas)

    def mano_pose(self, tau: Tensor) -> Tensor:
        """``(..., N, 3 + P)`` axis-angle MANO pose (global orient first)."""
        state = self(tau)
        return torch.cat(
            [matrix_to_axis_angle(state['rotation']), state['hand_pose']],
            dim=-1)

    def coefficients(self, include_constant: bool = False) -> Tensor:
        """``(..., D', P + 6)`` coefficients (for regularisation)."""
        start = 0 if include_constant else 1
        return torch.cat([
            self.pose_coeffs[..., start:, :], self.rot_coeffs[..., start:, :],
            self.transl_coeffs[..., start:, :]
        ],
                         dim=-1)


def pose_hand(mano_layer: nn.Module, hand_pose: Tensor, betas: Tensor,
              rotation: Tensor, transl: Tensor,
              root_index: int = 0) -> Dict[str, Tensor]:
    """Camera-frame vertices and joints of posed hands.

    ``X = R (MANO(0, hand_pose, betas) - wrist) + transl``.

    Args:
        mano_layer (nn.Module): A :class:`~mmblurhand.models.mano.ManoLayer`.
        hand_pose (Tensor): ``(..., N, P)``.
        betas (Tensor): ``(..., B_s)`` (shared over N).
        rotation (Tensor): ``(..., N, 3, 3)``.
        transl (Tensor): ``(..., N, 3)`` wrist position, metres.
        root_index (int): Wrist joint index. Defaults to 0.

    Returns:
        dict[str, Tensor]: ``vertices (..., N, V, 3)``, ``joints (..., N, J,
        3)`` (camera frame, m) and root-relative ``joints_rel``,
        ``vertices_rel``.
    """
    out = mano_layer(
        hand_pose.new_zeros(*hand_pose.shape[:-1], 3), hand_pose,
        betas.unsqueeze(-2))
    root = out.joints[..., root_index:root_index + 1, :]
    rot_t = rotation.transpose(-1, -2)
    verts_rel = (out.vertices - root) @ rot_t
    joints_rel = (out.joints - root) @ rot_t
    offset = transl.unsqueeze(-2)
    return dict(
        vertices=verts_rel + offset,
        joints=joints_rel + offset,
        vertices_rel=verts_rel,
        joints_rel=joints_rel)
