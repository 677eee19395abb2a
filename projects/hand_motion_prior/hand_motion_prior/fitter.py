# Copyright (c) OpenMMLab. All rights reserved.
"""Two-stage fitting of a smooth hand motion to per-frame predictions
(HMP poster section 4), batched over clips.

Observations are mmblurhand's per-frame predictions: each blurry frame gives
``T`` time steps (past ... future of its exposure), so a clip of ``F``
frames gives ``N = F * T`` time-stamped observations. They live on a grid of
``U`` distinct times (with back-to-back exposures the last step of a frame
and the first of the next share a time). Variables live on the grid:

- stage I: global rotation ``Phi_u`` (6D), translation ``tau_u`` (camera
  frame, at the wrist) and shape ``beta`` (per clip); the hand pose is each
  observation's own prediction. Loss
  ``l_o L_o + l_tr L_tr + l_beta L_beta + l_os L_os + l_ts L_ts +
  l_2d L_2D`` (+ optional ``l_3d L_3D``);
- stage II: adds the motion latent ``z``; the hand pose is the prior's
  decoder ``D(t_u, z)``, and ``L_MP = -log N(z; mu, sigma)`` with ``mu,
  sigma`` the encoder's posterior of the observed poses.

Terms (means over their elements; units chosen so that each is O(1)):
``L_o`` squared geodesic angle (rad^2) between ``Phi`` and the predicted
global rotation; ``L_tr`` squared distance (cm^2) of ``tau`` to the
translation solved from the predicted 2D and root-relative 3D joints;
``L_os`` / ``L_ts`` the same between consecutive grid times; ``L_beta``
``|beta - mean predicted beta|^2``; ``L_2D`` the confidence-weighted
Geman-McClure error of the projected joints (in units of the crop size);
``L_3D`` the confidence-weighted root-relative joint error (cm).
"""
import copy
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from mmblurhand.models.utils.camera import fit_translation
from mmblurhand.models.utils.rotations import (axis_angle_to_matrix,
                                               matrix_to_axis_angle,
                                               matrix_to_rot6d,
                                               rot6d_to_matrix)
from mmblurhand.registry import MODELS, TASK_UTILS
from .motion_vae import angle_between

DEFAULT_STAGE1 = dict(
    iters=150,
    lr=0.05,
    weights=dict(o=3.0, tr=1.0, os=1.0, ts=5.0, beta=3.0, j2d=0.05, j3d=0.0))
DEFAULT_STAGE2 = dict(
    iters=150,
    lr=0.05,
    weights=dict(o=2.0, tr=1.0, os=1.0, ts=0.0, beta=10.0, j2d=0.05,
                 j3d=0.0, mp=300.0))


def observation_grid(frame_times: np.ndarray, num_steps: int,
                     exposure: float, decimals: int = 6) -> Dict:
    """Times of every frame's ``T`` steps and the grid of distinct times.

    Args:
        frame_times (np.ndarray): ``(F,)`` middle time of each frame, s.
        num_steps (int): Steps ``T`` per frame (past ... future).
        exposure (float): Seconds from the first to the last step.
        decimals (int): Rounding used to merge equal times.

    Returns:
        dict: ``obs_times`` ``(F * T,)``, ``grid_times`` ``(U,)`` sorted,
        ``obs_index`` ``(F * T,)`` grid index of each observation.
    """
    frame_times = np.asarray(frame_times, dtype=np.float64)
    if num_steps > 1:
        offsets = (np.arange(num_steps) / (num_steps - 1) - 0.5) * exposure
    else:
        offsets = np.zeros(1)
    obs_times = (frame_times[:, None] + offsets).reshape(-1)
    grid, index = np.unique(np.round(obs_times, decimals),
                            return_inverse=True)
    return dict(obs_times=obs_times, grid_times=grid, obs_index=index)


def solve_translation(joints_rel: np.ndarray, keypoints: np.ndarray,
                      focal: np.ndarray, princpt: np.ndarray,
                      weight: Optional[np.ndarray] = None) -> np.ndarray:
    """Camera-frame root position that projects root-relative joints onto
    2D keypoints (linear least squares, known intrinsics): mmblurhand's
    :func:`~mmblurhand.models.utils.camera.fit_translation` in float64,
    for NumPy arrays, with weights floored at 1e-3 and no depth clamp.

    Args:
        joints_rel (np.ndarray): ``(..., J, 3)`` root-relative joints, m.
        keypoints (np.ndarray): ``(..., J, 2)`` pixels.
        focal, princpt (np.ndarray): ``(..., 2)`` pixels (broadcastable).
        weight (np.ndarray, optional): ``(..., J)`` joint weights.

    Returns:
        np.ndarray: ``(..., 3)`` translation, metres.
    """
    kp = torch.as_tensor(np.asarray(keypoints, dtype=np.float64))
    w = np.ones(kp.shape[:-1]) if weight is None else np.asarray(
        weight, dtype=np.float64)
    w = np.broadcast_to(np.maximum(w, 1e-3), kp.shape[:-1])
    transl, _ = fit_translation(
        torch.as_tensor(np.asarray(joints_rel, dtype=np.float64)), kp,
        torch.as_tensor(np.asarray(focal, dtype=np.float64)),
        torch.as_tensor(np.asarray(princpt, dtype=np.float64)),
        torch.as_tensor(np.ascontiguousarray(w)), min_depth=None)
    return transl.numpy()


def gmof(residual_sq: Tensor, sigma: float) -> Tensor:
    """Geman-McClure ``sigma^2 r^2 / (sigma^2 + r^2)`` of squared
    residuals."""
    return sigma**2 * residual_sq / (sigma**2 + residual_sq)


@TASK_UTILS.register_module()
class HandMotionFitter:
    """Fit smooth MANO motions to per-frame predictions of blurry videos.

    Args:
        prior (dict | HandMotionVAE, optional): The motion prior (a config
            built with ``MODELS`` or a module). ``None`` runs stage I only.
        prior_checkpoint (str, optional): Weights of the prior.
        mano_cfg (dict): ``ManoLayer`` arguments. Defaults to the procedural
            hand.
        stage1 (dict): ``iters``, ``lr``, ``weights`` of stage I.
        stage2 (dict): ``iters``, ``lr``, ``weights`` of stage II (``mp``
            is the prior's weight).
        rho_sigma (float): Geman-McClure scale of ``L_2D`` in crop sizes.
            Defaults to 0.1.
        device (str): Defaults to ``'cpu'``.
    """

    def __init__(self,
                 prior=None,
                 prior_checkpoint: Optional[str] = None,
                 mano_cfg: Optional[dict] = None,
                 stage1: Optional[dict] = None,
                 stage2: Optional[dict] = None,
                 rho_sigma: float = 0.1,
                 device: str = 'cpu'):
        from mmblurhand.models.mano import ManoLayer
        self.device = torch.device(device)
        self.hand_model = ManoLayer(
            **(mano_cfg or dict(model_path=None))).to(self.device)
        if isinstance(prior, dict):
            prior = MODELS.build(copy.deepcopy(prior))
        if prior is not None and prior_checkpoint is not None:
            from mmengine.runner import load_checkpoint
            load_checkpoint(prior, prior_checkpoint, map_location='cpu',
                            logger='silent')
        self.prior = prior.to(self.device).eval() if prior is not None \
            else None
        if self.prior is not None:
            for p in self.prior.parameters():
                p.requires_grad_(False)
        self.stage1 = self._stage(DEFAULT_STAGE1, stage1)
        self.stage2 = self._stage(DEFAULT_STAGE2, stage2)
        self.rho_sigma = float(rho_sigma)

    @staticmethod
    def _stage(default: dict, override: Optional[dict]) -> dict:
        stage = copy.deepcopy(default)
        override = copy.deepcopy(override or {})
        stage['weights'].update(override.pop('weights', {}))
        stage.update(override)
        return stage

    # ------------------------------------------------------------------
    def _tensor(self, x, dtype=torch.float32) -> Tensor:
        return torch.as_tensor(np.asarray(x), dtype=dtype, device=self.device)

    def _joints(self, rot6d: Tensor, hand_pose: Tensor,
                betas: Tensor) -> Tensor:
        """Root-relative joints ``(B, N, J, 3)`` m."""
        orient = matrix_to_axis_angle(rot6d_to_matrix(rot6d))
        joints = self.hand_model(orient, hand_pose, betas).joints
        return joints - joints[..., :1, :]

    def fit(self, obs: Dict[str, np.ndarray],
            use_prior: bool = True,
            prior_mask: Optional[np.ndarray] = None,
            progress: bool = False) -> Dict[str, np.ndarray]:
        """Fit every clip of a batch.

        Args:
            obs (dict): Batched over ``B`` clips, ``N`` observations on
                ``U`` grid times:

                - ``grid_times`` ``(U,)`` seconds from the clip start (must
                  fit in the prior's window);
                - ``obs_index`` ``(N,)`` grid index of each observation;
                - ``global_orient`` ``(B, N, 3)``, ``hand_pose``
                  ``(B, N, 3P)``, ``betas`` ``(B, N, 10)``: predicted MANO
                  (camera frame, right hand);
                - ``joints_cam`` ``(B, N, J, 3)`` predicted root-relative
                  joints, m;
                - ``keypoints`` ``(B, N, J, 2)`` pixels, ``alpha``
                  ``(B, N, J)`` confidences, ``box_size`` ``(B, N)``
                  pixels;
                - ``focal``, ``princpt`` ``(B, 2)`` intrinsics, pixels.
            use_prior (bool): Run stage II (needs a prior). Defaults to
                ``True``.
            prior_mask (np.ndarray, optional): ``(N,)`` bool: observations
                the encoder sees (all by default).
            progress (bool): Show a progress bar.

        Returns:
            dict: On the grid: ``global_orient`` ``(B, U, 3)``,
            ``hand_pose`` ``(B, U, 3P)``, ``transl`` ``(B, U, 3)`` m,
            ``betas`` ``(B, 10)``, ``joints`` ``(B, U, J, 3)`` root-relative
            m; ``z`` ``(B, Z)`` (stage II) and ``losses`` (final values).
        """
        for key in ('grid_times', 'obs_index', 'global_orient', 'hand_pose',
                    'betas', 'joints_cam', 'keypoints', 'alpha', 'box_size',
                    'focal', 'princpt'):
            if key not in obs:
                raise KeyError(f'HandMotionFitter.fit: observations lack '
                               f'`{key}` (see the docstring).')
        if use_prior and self.prior is None:
            raise ValueError('HandMotionFitter: stage II needs a prior; '
                             'pass `prior=` or use_prior=False.')
        grid_times = np.asarray(obs['grid_times'], dtype=np.float64)
        if use_prior and grid_times[-1] - grid_times[0] > \
                self.prior.duration + 1e-6:
            raise ValueError(
                f'HandMotionFitter: the clip spans '
                f'{grid_times[-1] - grid_times[0]:.3f} s, longer than the '
                f'prior window ({self.prior.duration:.3f} s); split it into '
                'windows or train a prior with a longer `window`.')
        index = torch.as_tensor(np.asarray(obs['obs_index']),
                                device=self.device, dtype=torch.long)
        num_grid = len(grid_times)
        pose_hat = self._tensor(obs['hand_pose'])
        batch, num_obs = pose_hat.shape[:2]
        orient_hat = axis_angle_to_matrix(self._tensor(obs['global_orient']))
        beta_hat = self._tensor(obs['betas']).mean(1)
        joints_hat = self._tensor(obs['joints_cam'])
        joints_hat = joints_hat - joints_hat[..., :1, :]
        kp = self._tensor(obs['keypoints'])
        alpha = self._tensor(obs['alpha'])
        box = self._tensor(obs['box_size'])[..., None]
        focal = self._tensor(obs['focal'])[:, None, None]
        princpt = self._tensor(obs['princpt'])[:, None, None]
        tau_hat = self._tensor(
            solve_translation(
                np.asarray(obs['joints_cam']) -
                np.asarray(obs['joints_cam'])[..., :1, :], obs['keypoints'],
                np.asarray(obs['focal'])[:, None],
                np.asarray(obs['princpt'])[:, None], obs['alpha']))

        # initial grid values: the first observation at each grid time
        first = np.zeros(num_grid, dtype=np.int64)
        for n, u in reversed(list(enumerate(np.asarray(obs['obs_index'])))):
            first[u] = n
        first_t = torch.as_tensor(first, device=self.device)
        rot6d = matrix_to_rot6d(orient_hat[:, first_t]).clone()
        tau = (tau_hat[:, first_t] * 10.0).clone()  # decimetres
        betas = beta_hat.clone()
        times_norm = None
        z = None
        mu = log_var = None
        if use_prior:
            times_norm = self._tensor(
                (grid_times - grid_times[0]) / self.prior.duration)[None]
            obs_times = times_norm[0, index][None].expand(batch, -1)
            mask = torch.ones(batch, num_obs, dtype=torch.bool,
                              device=self.device)
            if prior_mask is not None:
                mask &= torch.as_tensor(np.asarray(prior_mask),
                                        device=self.device)[None]
            with torch.no_grad():
                mu, log_var = self.prior.encode(pose_hat, obs_times, mask)
            z = mu.clone()

        def losses(weights, stage2):
            orient = rot6d_to_matrix(rot6d)
            if stage2:
                pose_grid = self.prior.decode_pose(
                    z, times_norm.expand(batch, -1))
                pose = pose_grid[:, index]
            else:
                pose = pose_hat
            joints = self._joints(rot6d[:, index], pose,
                                  betas[:, None].expand(-1, num_obs, -1))
            t_obs = tau[:, index] / 10.0
            cam = joints + t_obs[:, :, None]
            proj = cam[..., :2] / cam[..., 2:].clamp(min=1e-3) * focal + \
                princpt
            res_sq = ((proj - kp) / box[..., None]).pow(2).sum(-1)
            out = dict(
                o=angle_between(orient[:, index], orient_hat).pow(2).mean(),
                tr=((t_obs - tau_hat) * 100.0).pow(2).sum(-1).mean(),
                os=angle_between(orient[:, 1:], orient[:, :-1]).pow(2).mean(),
                ts=((tau[:, 1:] - tau[:, :-1]) * 10.0).pow(2).sum(-1).mean(),
                beta=(betas - beta_hat).pow(2).sum(-1).mean(),
                j2d=(alpha * gmof(res_sq, self.rho_sigma)).sum(-1).mean() /
                self.rho_sigma**2,
                j3d=(alpha * ((joints - joints_hat) * 100.0).norm(
                    dim=-1)).mean())
            if stage2:
                out['mp'] = self.prior.kl_to_posterior(z, mu,
                                                       log_var).mean() / \
                    z.shape[-1]
            total = sum(weights.get(k, 0.0) * v for k, v in out.items())
            return total, out

        stages = [(self.stage1, False)]
        if use_prior:
            stages.append((self.stage2, True))
        final = {}
        for stage, stage2 in stages:
            params = [rot6d, tau, betas] + ([z] if stage2 else [])
            for p in params:
                p.requires_grad_(True)
            optim = torch.optim.Adam(params, lr=stage['lr'])
            steps = range(int(stage['iters']))
            if progress:
                from tqdm import tqdm
                steps = tqdm(steps, desc='stage ' + ('II' if stage2 else 'I'),
                             leave=False)
            for _ in steps:
                optim.zero_grad()
                total, parts = losses(stage['weights'], stage2)
                total.backward()
                optim.step()
            final = {k: float(v.detach()) for k, v in parts.items()}
            final['total'] = float(total.detach())

        with torch.no_grad():
            if use_prior:
                pose = self.prior.decode_pose(z, times_norm.expand(batch, -1))
            else:
                # stage I keeps the per-frame poses: average duplicates
                pose = torch.zeros(batch, num_grid, pose_hat.shape[-1],
                                   device=self.device)
                count = torch.zeros(num_grid, device=self.device)
                pose.index_add_(1, index, pose_hat)
                count.index_add_(0, index, torch.ones_like(index,
                                                           dtype=pose.dtype))
                pose = pose / count[None, :, None]
            joints = self._joints(rot6d, pose,
                                  betas[:, None].expand(-1, num_grid, -1))
            out = dict(
                global_orient=matrix_to_axis_angle(
                    rot6d_to_matrix(rot6d)).cpu().numpy(),
                hand_pose=pose.cpu().numpy(),
                transl=(tau / 10.0).cpu().numpy(),
                betas=betas.cpu().numpy(),
                joints=joints.cpu().numpy(),
                losses=final)
            if z is not None:
                out['z'] = z.cpu().numpy()
        return out

    @torch.no_grad()
    def decode_at(self, fit: Dict[str, np.ndarray], grid_times: np.ndarray,
                  query_times: Sequence[float]) -> np.ndarray:
        """Root-relative joints ``(B, M, J, 3)`` of a stage-II fit at any
        times of the clip (hand pose from the continuous decoder, global
        rotation by SLERP between grid times)."""
        from .sequence import slerp_resample
        if 'z' not in fit:
            raise ValueError('decode_at needs a stage-II fit (with `z`).')
        grid_times = np.asarray(grid_times, dtype=np.float64)
        query = np.asarray(query_times, dtype=np.float64)
        z = self._tensor(fit['z'])
        t = self._tensor((query - grid_times[0]) / self.prior.duration)
        pose = self.prior.decode_pose(z, t[None].expand(z.shape[0], -1))
        orient = np.stack([
            slerp_resample(grid_times, g, query) for g in fit['global_orient']
        ])
        betas = self._tensor(fit['betas'])[:, None].expand(-1, len(query), -1)
        joints = self.hand_model(self._tensor(orient), pose, betas).joints
        return (joints - joints[..., :1, :]).cpu().numpy()
