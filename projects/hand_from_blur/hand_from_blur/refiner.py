# Copyright (c) OpenMMLab. All rights reserved.
"""Test-time refinement of a hand motion against a blurry image.

Human from Blur (§3.1, §3.3): optimise the polynomial motion so that the
reblurred image (eq. 2) explains the input. Loss terms (per image, summed
over the batch so every image is optimised independently):

- ``image``: MSE between the input crop and the reblurred image over the
  known background (eq. 3);
- ``matting``: ``1 - IoU`` of the reblurred alpha and a given alpha matte
  (eq. 4; here the generator's saved alpha, an oracle matte, where the
  paper estimates one with Background-Matting-V2);
- ``joints_2d``: order-invariant L1 distance between the motion's joints at
  the T step times, projected, and the Unfolder's 2D joints (normalised crop
  units);
- ``pose_prior``: squared norm of the finger pose relative to the mean pose
  (a Gaussian prior; the procedural hand has no trained pose prior);
- ``polynomial``: ``|C|_1 + |C|_F`` of the non-constant coefficients
  (eq. 8), against extreme motions;
- ``shape``: ``|beta|^2`` when the shape is optimised (eq. 7).
"""
import copy
from typing import Dict, Optional, Sequence

import torch
from torch import Tensor, nn

from mmblurhand.registry import MODELS
from .camera import fit_translation, fit_translation_scaled
from .image_formation import BlurImageFormation
from .losses import (gaussian_pose_prior, image_loss, joint_2d_loss,
                     matting_loss, polynomial_regulariser)
from .motion import PolynomialMotion, step_times

DEFAULT_WEIGHTS = dict(
    image=10.0,
    matting=1.0,
    joints_2d=1.0,
    pose_prior=0.01,
    polynomial=1e-3,
    shape=1e-3)
DEFAULT_LRS = dict(pose=0.01, rot=0.01, transl=0.001, betas=0.01)


def init_translations(joints_rel: Tensor,
                      joints_2d: Tensor,
                      focal: Tensor,
                      princpt: Tensor,
                      weights: Optional[Tensor] = None,
                      method: str = 'scaled',
                      box_side: Optional[Tensor] = None) -> Dict[str, Tensor]:
    """Wrist translations of root-relative sequences from 2D joints.

    Each sequence is fitted to the 2D joints in their order and reversed
    (the blur does not tell the direction of time); the order with the
    smaller reprojection error is kept.

    Args:
        joints_rel (Tensor): ``(B, ..., T, J, 3)`` root-relative, m.
        joints_2d (Tensor): ``(B, T, J, 2)`` pixels.
        focal, princpt (Tensor): ``(B, 2)`` pixels.
        weights (Tensor, optional): ``(B, T, J)``.
        method (str): ``'scaled'`` (:func:`~.camera.fit_translation_scaled`,
            robust to inexact joints, default) or ``'perspective'``
            (:func:`~.camera.fit_translation`, exact for exact joints).
        box_side (Tensor, optional): ``(B,)`` tight hand-box side, pixels,
            for ``'scaled'``: depth from the box, not the 2D joints.

    Returns:
        dict[str, Tensor]: ``transl (B, ..., T, 3)``, ``error (B, ...)``
        (mean reprojection error, pixels) and bool ``reversed (B, ...)``.
    """
    fits = dict(scaled=fit_translation_scaled, perspective=fit_translation)
    if method not in fits:
        raise ValueError(f'init_translations: method must be one of '
                         f'{sorted(fits)}, got {method!r}.')
    batch = joints_2d.shape[0]
    ones = (1, ) * (joints_rel.dim() - 4)
    steps = joints_rel.shape[:-2]                       # (B, ..., T)

    def lift(x, tail):
        return x.reshape(batch, *ones, *x.shape[1:]).expand(*steps, *tail)

    f = lift(focal[:, None], (2, ))
    p = lift(princpt[:, None], (2, ))
    extra = {}
    if box_side is not None and method == 'scaled':
        extra['box_side'] = box_side.reshape(batch, *ones, 1).expand(*steps)
    results = []
    for flip in (False, True):
        uv = joints_2d.flip(1) if flip else joints_2d
        w = None
        if weights is not None:
            w = lift(weights.flip(1) if flip else weights,
                     (weights.shape[-1], ))
        results.append(
            fits[method](joints_rel, lift(uv, uv.shape[-2:]), f, p, w,
                         **extra))
    err_fwd = results[0][1].mean(-1)
    err_rev = results[1][1].mean(-1)
    rev = err_rev < err_fwd
    transl = torch.where(rev[..., None, None], results[1][0], results[0][0])
    return dict(
        transl=transl, error=torch.minimum(err_fwd, err_rev), reversed=rev)


@MODELS.register_module()
class BlurMotionRefiner(nn.Module):
    """Optimise polynomial hand motions to explain blurry images.

    Args:
        formation (dict): :class:`BlurImageFormation` config.
        degree (int): Polynomial degree. Defaults to 2.
        num_iters (int): Adam iterations. Defaults to 40.
        lrs (dict): Learning rates of ``pose``, ``rot``, ``transl`` (m) and
            ``betas``. Defaults to :data:`DEFAULT_LRS`.
        loss_weights (dict): Weights of the terms (see the module
            docstring); missing keys take :data:`DEFAULT_WEIGHTS`, 0
            switches a term off.
        optimise_shape (bool): Optimise ``beta`` too. Defaults to False.
        pose_prior_std (Sequence[float], optional): ``(P,)`` per-parameter
            std of the Gaussian pose prior; isotropic when ``None``.
        init_method (str): How wrist translations are fitted to the 2D
            joints (:func:`init_translations`). Defaults to ``'scaled'``.
        box_padding (float, optional): The crop is the tight hand box
            scaled by this (BlurHand: 1.2 x 1.25 = 1.5); when set, the
            initial depth comes from the box (side ``image_size /
            box_padding``) instead of the 2D joints' spread. Defaults to
            ``None``.
    """

    def __init__(self,
                 formation: dict = dict(type='BlurImageFormation'),
                 degree: int = 2,
                 num_iters: int = 40,
                 lrs: Optional[dict] = None,
                 loss_weights: Optional[dict] = None,
                 optimise_shape: bool = False,
                 pose_prior_std: Optional[Sequence[float]] = None,
                 init_method: str = 'scaled',
                 box_padding: Optional[float] = None):
        super().__init__()
        self.init_method = init_method
        self.box_padding = box_padding
        self.formation = MODELS.build(formation) if isinstance(
            formation, dict) else formation
        if not isinstance(self.formation, BlurImageFormation):
            raise TypeError('BlurMotionRefiner: `formation` must build a '
                            'BlurImageFormation.')
        self.degree = int(degree)
        self.num_iters = int(num_iters)
        self.lrs = dict(DEFAULT_LRS, **(lrs or {}))
        unknown = set(loss_weights or {}) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise KeyError(f'BlurMotionRefiner: unknown loss weights '
                           f'{sorted(unknown)}; known: '
                           f'{sorted(DEFAULT_WEIGHTS)}.')
        self.loss_weights = dict(DEFAULT_WEIGHTS, **(loss_weights or {}))
        self.optimise_shape = optimise_shape
        if pose_prior_std is not None:
            self.register_buffer(
                'pose_prior_std',
                torch.as_tensor(pose_prior_std, dtype=torch.float32),
                persistent=False)
        else:
            self.pose_prior_std = None

    # ------------------------------------------------------------ init --
    def init_motion(self,
                    mano_pose: Tensor,
                    betas: Tensor,
                    joints_rel: Tensor,
                    obs: Dict[str, Tensor]) -> PolynomialMotion:
        """Polynomial motion through a hypothesis sequence.

        The wrist translation of every step is fitted to ``obs['joints_2d']``
        (:func:`init_translations`).

        Args:
            mano_pose (Tensor): ``(B, ..., T, 48)`` (right-hand frame).
            betas (Tensor): ``(B, ..., B_s)``.
            joints_rel (Tensor): ``(B, ..., T, J, 3)`` root-relative joints
                of the sequence, m.
            obs (dict): Observations (see :meth:`losses`).

        Returns:
            PolynomialMotion: Leading dims ``(B, ...)``.
        """
        size = obs['joints_2d'].new_tensor(obs['image_size'])
        box_side = None
        if self.box_padding is not None:
            box_side = size.max().expand(obs['joints_2d'].shape[0]) / \
                self.box_padding
        fit = init_translations(joints_rel, obs['joints_2d'] * size,
                                obs['focal'], obs['princpt'],
                                obs.get('joints_2d_weight'),
                                self.init_method, box_side)
        return PolynomialMotion.from_samples(
            mano_pose,
            fit['transl'],
            betas,
            degree=self.degree,
            optimise_shape=self.optimise_shape)

    # ---------------------------------------------------------- losses --
    def losses(self, motion: PolynomialMotion,
               obs: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Every loss term, per image.

        Args:
            motion (PolynomialMotion): Leading dims ``(B, ...)``.
            obs (dict): ``image`` and ``background`` ``(B, 3, H, W)`` RGB in
                [0, 1], ``focal`` and ``princpt`` ``(B, 2)`` crop pixels,
                ``image_size`` ``(W, H)``; optional ``alpha`` ``(B, H, W)``
                (matte), ``joints_2d`` ``(B, T, J, 2)`` normalised crop
                coordinates with ``joints_2d_weight`` ``(B, T, J)``,
                ``valid`` ``(B, H, W)`` (pixels inside the image).

        Returns:
            dict[str, Tensor]: Unweighted terms ``(B, ...)``, ``loss`` (the
            weighted sum) and the reblurred ``render_alpha`` ``(B, ..., H,
            W)`` / ``render_image`` ``(B, ..., 3, H, W)``.
        """
        extra = motion.pose_coeffs.dim() - 3

        def lift(x):
            return None if x is None else x.reshape(
                x.shape[0], *(1, ) * extra, *x.shape[1:])

        focal, princpt = lift(obs['focal']), lift(obs['princpt'])
        w = self.loss_weights
        render = self.formation(motion, focal, princpt, obs['image_size'],
                                lift(obs['background']), lift(obs['image']))
        terms = {}
        if w['image'] > 0:
            terms['image'] = image_loss(render['image'], lift(obs['image']),
                                        lift(obs.get('valid')))
        if w['matting'] > 0 and obs.get('alpha') is not None:
            terms['matting'] = matting_loss(render['alpha'],
                                            lift(obs['alpha']))
        if w['joints_2d'] > 0 and obs.get('joints_2d') is not None:
            num_steps = obs['joints_2d'].shape[1]
            tau = step_times(num_steps, focal.dtype, focal.device)
            posed = self.formation.pose(motion, tau)
            size = focal.new_tensor(obs['image_size'])
            pts = posed['joints']
            uv = pts[..., :2] / pts[..., 2:].clamp(min=1e-4) * focal[
                ..., None, None, :] + princpt[..., None, None, :]
            terms['joints_2d'] = joint_2d_loss(
                uv / size, lift(obs['joints_2d']),
                lift(obs.get('joints_2d_weight')))
        if w['pose_prior'] > 0:
            tau = torch.linspace(-1, 1, self.formation.num_subframes,
                                 dtype=focal.dtype, device=focal.device)
            terms['pose_prior'] = gaussian_pose_prior(
                motion(tau)['hand_pose'], std=self.pose_prior_std)
        if w['polynomial'] > 0 and motion.degree > 0:
            terms['polynomial'] = polynomial_regulariser(motion.coefficients())
        if w['shape'] > 0 and self.optimise_shape:
            terms['shape'] = motion.betas.pow(2).sum(-1)
        loss = sum(w[k] * v for k, v in terms.items())
        return dict(terms, loss=loss, render_alpha=render['alpha'],
                    render_image=render.get('image'))

    # -------------------------------------------------------- optimise --
    def refine(self,
               motion: PolynomialMotion,
               obs: Dict[str, Tensor],
               num_iters: Optional[int] = None,
               progress: bool = False) -> Dict[str, object]:
        """Run Adam on a copy of ``motion``.

        Args:
            motion (PolynomialMotion): Initial motion (not modified).
            obs (dict): See :meth:`losses`.
            num_iters (int, optional): Overrides ``self.num_iters``.
            progress (bool): Show a progress bar. Defaults to False.

        Returns:
            dict: ``motion`` (the refined copy), ``history`` (list of the
            mean loss per iteration, first entry before any step),
            ``initial`` and ``final`` per-image losses ``(B, ...)``.
        """
        motion = copy.deepcopy(motion)
        groups = [
            dict(params=[motion.pose_coeffs], lr=self.lrs['pose']),
            dict(params=[motion.rot_coeffs], lr=self.lrs['rot']),
            dict(params=[motion.transl_coeffs], lr=self.lrs['transl']),
        ]
        if self.optimise_shape:
            groups.append(dict(params=[motion.betas], lr=self.lrs['betas']))
        optimiser = torch.optim.Adam(groups)
        num_iters = self.num_iters if num_iters is None else num_iters
        history = []
        initial = None
        iterator = range(num_iters)
        if progress:
            from tqdm import tqdm
            iterator = tqdm(iterator, desc='refine', leave=False)
        for _ in iterator:
            optimiser.zero_grad()
            loss = self.losses(motion, obs)['loss']
            if initial is None:
                initial = loss.detach()
            history.append(float(loss.detach().mean()))
            loss.sum().backward()
            optimiser.step()
        with torch.no_grad():
            final = self.losses(motion, obs)['loss'].detach()
        history.append(float(final.mean()))
        if initial is None:
            initial = final
        return dict(motion=motion, history=history, initial=initial,
                    final=final)
