# Copyright (c) OpenMMLab. All rights reserved.
"""Per-frame vs SLERP smoothing vs motion prior on synthetic blurry videos.

Works on clip observations from :mod:`.observations`, stacked over ``C``
clips of one layout (same frames and steps). Two evaluations:

- ``middle``: at the middle key frame of every blurry frame (the video's
  frame rate, 7.5 fps by default), the usual per-frame protocol;
- ``dense``: at every key frame (30 fps) of the clip, including times no
  frame's prediction covers (per-frame results are interpolated by SLERP,
  the prior's decoder is continuous in time).
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from .fitter import observation_grid
from .sequence import (resolve_frame_orders, sequence_errors, slerp_resample,
                       slerp_smooth)

OBS_KEYS = ('keypoints', 'joints_cam', 'mano_pose', 'mano_shape', 'alpha',
            'view_keypoints')


def stack_observations(obs_list: Sequence[Dict[str, np.ndarray]]) -> Dict:
    """Stack clip observations into ``(C, ...)`` arrays (one layout)."""
    if not obs_list:
        raise ValueError('stack_observations: no clips given.')
    ref = obs_list[0]
    for i, obs in enumerate(obs_list):
        if obs['joints_cam'].shape != ref['joints_cam'].shape or \
                not np.allclose(obs['frame_times'], ref['frame_times']):
            raise ValueError(
                f'clip {i} has another layout (frames, steps or times) than '
                'clip 0; evaluate clips made with the same --num-frames and '
                '--frame-stride together.')
    out = {k: np.stack([np.asarray(o[k]) for o in obs_list])
           for k in ref if k not in ('exposure', )}
    out['exposure'] = float(ref['exposure'])
    return out


def recompute_confidence(obs: Dict, gamma: float) -> Dict:
    """``alpha`` from stored ``view_keypoints`` with ``gamma`` (a fraction
    of the crop size), by :func:`keypoint_confidence`."""
    from .confidence import keypoint_confidence
    if 'view_keypoints' not in obs or obs['view_keypoints'].shape[-3] < 2:
        return obs
    out = dict(obs)
    out['alpha'] = keypoint_confidence(
        obs['view_keypoints'],
        gamma * obs['box_size'][:, :, None, None]).astype(np.float32)
    return out


def resolve_orders(obs: Dict) -> Dict:
    """Flip each frame's steps into the order that joins consecutive frames
    (:func:`resolve_frame_orders`); adds ``order_kept`` ``(C, F)`` and
    ``order_correct`` ``(C, F)`` (the resolved order is the true one)."""
    out = dict(obs)
    if 'view_keypoints' not in obs:
        out['view_keypoints'] = obs['keypoints'][:, :, :, None]
    keep = np.stack([
        resolve_frame_orders(j - j[..., :1, :]) for j in obs['joints_cam']
    ])
    for key in OBS_KEYS:
        x = out[key]
        mask = keep.reshape(keep.shape + (1, ) * (x.ndim - 2))
        out[key] = np.where(mask, x, np.flip(x, 2))
    out['order_kept'] = keep
    out['order_correct'] = keep == obs['gt_order']
    return out


def fitter_inputs(obs: Dict, steps: Optional[Sequence[int]] = None) -> Dict:
    """Flatten ``(C, F, T)`` observations for :meth:`HandMotionFitter.fit`.

    Args:
        obs (dict): Stacked (order-resolved) observations.
        steps (Sequence[int], optional): Steps used (e.g. ``[T // 2]``: the
            middle only). Defaults to all.
    """
    num_clips, num_frames, num_steps = obs['joints_cam'].shape[:3]
    steps = list(range(num_steps)) if steps is None else list(steps)
    grid = observation_grid(obs['frame_times'][0], num_steps,
                            obs['exposure'])
    sel = (np.arange(num_frames)[:, None] * num_steps +
           np.asarray(steps)[None]).reshape(-1)
    obs_times = grid['obs_times'][sel]
    grid_times, obs_index = np.unique(np.round(obs_times, 6),
                                      return_inverse=True)

    def flat(x):
        x = np.asarray(x)[:, :, steps]
        return x.reshape((num_clips, -1) + x.shape[3:])

    pose = flat(obs['mano_pose'])
    return dict(
        grid_times=grid_times,
        obs_index=obs_index,
        global_orient=pose[..., :3],
        hand_pose=pose[..., 3:],
        betas=flat(obs['mano_shape']),
        joints_cam=flat(obs['joints_cam']),
        keypoints=flat(obs['keypoints']),
        alpha=flat(obs['alpha']),
        box_size=np.repeat(obs['box_size'], len(steps), axis=1),
        focal=obs['focal'],
        princpt=obs['princpt'])


@torch.no_grad()
def mano_joints(hand_model, mano_pose: np.ndarray,
                betas: np.ndarray) -> np.ndarray:
    """Root-relative joints ``(..., J, 3)`` of MANO ``(..., 48)`` poses."""
    pose = torch.as_tensor(np.asarray(mano_pose), dtype=torch.float32)
    shape = torch.as_tensor(np.asarray(betas), dtype=torch.float32)
    joints = hand_model(pose[..., :3], pose[..., 3:], shape).joints.numpy()
    return joints - joints[..., :1, :]


def _slerp_joints(hand_model, mano_pose: np.ndarray, betas: np.ndarray,
                  iterations: int, weight: float) -> np.ndarray:
    """SLERP-smoothed ``(C, F, 48)`` poses -> root-relative joints."""
    num_clips, num_frames = mano_pose.shape[:2]
    rot = mano_pose.reshape(num_clips, num_frames, -1, 3)
    smooth = slerp_smooth(rot, iterations, weight, time_axis=1)
    shape = np.broadcast_to(betas.mean(1, keepdims=True), betas.shape)
    return mano_joints(hand_model, smooth.reshape(mano_pose.shape), shape)


def _resample_joints(hand_model, times: np.ndarray, mano_pose: np.ndarray,
                     betas: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Joints at ``query`` from ``(C, M, 48)`` poses at ``times`` (SLERP)."""
    num_clips, num = mano_pose.shape[:2]
    out = np.stack([
        slerp_resample(times, p.reshape(num, -1, 3), query).reshape(
            len(query), -1) for p in mano_pose
    ])
    shape = np.broadcast_to(betas.mean(1, keepdims=True)[:, :1],
                            (num_clips, len(query), betas.shape[-1]))
    return mano_joints(hand_model, out, shape)


def evaluate_methods(obs: Dict,
                     fitter,
                     slerp_cfg: Optional[dict] = None,
                     with_prior: bool = True,
                     progress: bool = False) -> Dict[str, Dict]:
    """Run every method on stacked observations and score them.

    Methods: ``per-frame`` (the model's middle step), ``per-frame + SLERP``
    (middle steps smoothed), ``stage I`` (all steps), ``stage II (middle
    only)`` and ``stage II`` (all ``T`` steps: the blur's own motion).

    Args:
        obs (dict): From :func:`stack_observations` (orders not resolved;
            this function resolves them).
        fitter (HandMotionFitter): The fitter (with a prior for stage II).
        slerp_cfg (dict, optional): ``iterations``, ``weight`` of the SLERP
            baseline.
        with_prior (bool): Run the stage-II methods. Defaults to ``True``.
        progress (bool): Progress bars in the fitter.

    Returns:
        dict: ``middle`` and ``dense``: method -> metrics (mm), plus
        ``order_accuracy`` (fraction of frames whose step order was
        resolved to the true one) and ``fit_losses``.
    """
    slerp_cfg = {**dict(iterations=2, weight=0.5), **(slerp_cfg or {})}
    hand_model = fitter.hand_model
    obs = resolve_orders(obs)
    num_steps = obs['joints_cam'].shape[2]
    mid = num_steps // 2
    gt_mid = obs['gt_joints_cam'][:, :, mid]
    key_times = obs['key_times'][0]
    gt_dense = obs['gt_key_joints']
    middle: Dict[str, Dict] = {}
    dense: Dict[str, Dict] = {}
    losses: Dict[str, Dict] = {}

    middle['per-frame'] = sequence_errors(obs['joints_cam'][:, :, mid],
                                          gt_mid)
    middle['per-frame + SLERP'] = sequence_errors(
        _slerp_joints(hand_model, obs['mano_pose'][:, :, mid],
                      obs['mano_shape'][:, :, mid], **slerp_cfg), gt_mid)

    all_in = fitter_inputs(obs)
    mid_in = fitter_inputs(obs, [mid])
    # middle grid index of every frame in the all-steps grid
    mid_idx = np.searchsorted(all_in['grid_times'],
                              np.round(mid_in['grid_times'], 6) - 1e-9)

    # dense baselines: SLERP interpolation of the per-frame results
    dense['per-frame + SLERP interp. (middle)'] = sequence_errors(
        _resample_joints(hand_model, mid_in['grid_times'],
                         obs['mano_pose'][:, :, mid],
                         obs['mano_shape'][:, :, mid], key_times), gt_dense)
    first = np.zeros(len(all_in['grid_times']), dtype=np.int64)
    for n, u in reversed(list(enumerate(all_in['obs_index']))):
        first[u] = n
    pose_all = np.concatenate(
        [all_in['global_orient'], all_in['hand_pose']], -1)[:, first]
    dense['per-frame + SLERP interp. (all T)'] = sequence_errors(
        _resample_joints(hand_model, all_in['grid_times'], pose_all,
                         all_in['betas'], key_times), gt_dense)

    fit1 = fitter.fit(all_in, use_prior=False, progress=progress)
    middle['stage I'] = sequence_errors(fit1['joints'][:, mid_idx], gt_mid)
    losses['stage I'] = fit1['losses']
    if with_prior and fitter.prior is not None:
        fit_mid = fitter.fit(mid_in, use_prior=True, progress=progress)
        middle['stage II (middle only)'] = sequence_errors(
            fit_mid['joints'], gt_mid)
        dense['stage II (middle only)'] = sequence_errors(
            fitter.decode_at(fit_mid, mid_in['grid_times'], key_times),
            gt_dense)
        losses['stage II (middle only)'] = fit_mid['losses']
        fit2 = fitter.fit(all_in, use_prior=True, progress=progress)
        middle['stage II'] = sequence_errors(fit2['joints'][:, mid_idx],
                                             gt_mid)
        dense['stage II'] = sequence_errors(
            fitter.decode_at(fit2, all_in['grid_times'], key_times),
            gt_dense)
        losses['stage II'] = fit2['losses']
    return dict(
        middle=middle,
        dense=dense,
        order_accuracy=float(obs['order_correct'].mean()),
        fit_losses=losses,
        num_clips=int(obs['joints_cam'].shape[0]),
        num_frames=int(obs['joints_cam'].shape[1]),
        num_steps=int(num_steps))


def format_table(results: Dict[str, Dict], title: str) -> List[str]:
    """Markdown table lines of method -> PA-MPJPE, RA-MPJPE, RA-ACC."""
    lines = [f'| {title} | PA-MPJPE (mm) | RA-MPJPE (mm) | RA-ACC '
             '(mm/frame^2) |', '|---|---|---|---|']
    for name, m in results.items():
        lines.append(f'| {name} | {m["pa_mpjpe"]:.2f} | {m["ra_mpjpe"]:.2f} '
                     f'| {m["ra_acc"]:.2f} |')
    return lines
