# Copyright (c) OpenMMLab. All rights reserved.
"""A conditional normalising flow over T-step MANO poses (MHEntropy).

References: Kolotouros et al., "Probabilistic Modeling for Human Mesh
Recovery" (ProHMR, ICCV 2021) for the conditional flow trained by maximum
likelihood; Chen, Yang and Yao, "MHEntropy: Entropy Meets Multiple
Hypotheses for Pose and Shape Recovery" (ICCV 2023) for the distributional
objective ``KL(p_phi(theta | I) || p_d(theta | I))`` = reconstruction +
prior - entropy. Shapes are batch-first: ``B`` images, ``K`` samples
(hypotheses), ``T`` steps, ``J`` joints.
"""
import math
from typing import Dict, Optional, Tuple

import torch
from mmpose.models.heads.base_head import BaseHead
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList
from torch import Tensor, nn

from mmblurhand.models.heads.blurhand_head import TARGET_KEYS, BlurHandHead
from mmblurhand.models.heads.mh_head import MultiHypothesisHead
from mmblurhand.models.necks.unfolder import UnfolderOutput
from mmblurhand.models.utils.rotations import (axis_angle_to_matrix,
                                               matrix_to_axis_angle,
                                               matrix_to_rot6d,
                                               rot6d_to_matrix)
from mmblurhand.registry import MODELS

POSE_REPRS = ('axis_angle', 'rot6d')
#: Weighted loss terms of :class:`FlowHypothesisHead` (see its docstring).
LOSS_TERMS = ('nll', 'mode_joint_cam', 'mode_joint_proj', 'rec_2d', 'rec_3d',
              'prior', 'entropy', 'orth')
#: Terms that need samples drawn from the flow.
SAMPLE_TERMS = ('rec_2d', 'rec_3d', 'prior', 'entropy', 'orth')
VISIBILITY_KEY = 'joints_vis'


def import_zuko():
    """Import the flow library with an actionable error."""
    try:
        import zuko
    except ImportError as err:  # pragma: no cover - depends on the env
        raise ImportError(
            'projects/mhentropy needs the `zuko` normalising-flow library: '
            '`pip install zuko==1.6.0` (pinned in requirements/optional.txt).'
        ) from err
    return zuko


def laplace_energy(pred: Tensor, target: Tensor, weight: Tensor,
                   scale: float) -> Tensor:
    """Negative Laplace log-likelihood (without the constant) of points.

    Args:
        pred (Tensor): ``(B, K, T, J, D)`` predicted points.
        target (Tensor): ``(B, T, J, D)`` targets.
        weight (Tensor): ``(B, T, J)`` per-point weights (0 = no evidence,
            i.e. a uniform likelihood).
        scale (float): Laplace scale ``b`` (units of the points).

    Returns:
        Tensor: ``(B, K)`` energies ``sum w |pred - target|_1 / b``.
    """
    diff = (pred - target.unsqueeze(1)).abs().sum(-1)  # (B, K, T, J)
    return (diff * weight.unsqueeze(1)).sum(dim=(2, 3)) / scale


@MODELS.register_module()
class FlowHypothesisHead(BaseHead):
    """Any number of hypotheses from a conditional normalising flow.

    **Model.** The flow models ``p_phi(theta | I)`` over the whole T-step
    MANO pose ``theta`` (``D = T x 16 x 3`` axis-angle numbers, or
    ``T x 16 x 6`` for the 6D representation, stored as offsets from the
    identity), conditioned on a context vector computed from the 2D
    Unfolder's outputs: every joint token (feature ``(C,)`` and its
    root-relative 2D position) is projected to ``token_dims``, the ``T x J``
    tokens are flattened together with the pooled backbone feature and an
    MLP gives ``context_dims`` numbers. The flow is ``zuko``'s neural spline
    flow with coupling transforms (``passes=2``), so density evaluation and
    sampling both cost one network pass per transform. Shape and camera come
    from the :class:`ManoRegressor`'s heads on the pooled feature (shared by
    all hypotheses, as in the embedding generator); its MANO layer and
    camera give meshes, joints and projections. The regressor's pose heads
    are unused (they exist so that a generator checkpoint loads into
    ``regressor`` unchanged).

    **Sampling.** :meth:`sample` draws any ``K``: ``z ~ N(0, I)`` mapped
    through the inverse flow, with the exact ``log p_phi`` of every sample.
    With ``include_mode`` the first hypothesis uses ``z = 0`` (ProHMR's
    "mode"), so ``K = 1`` is the deterministic prediction.

    **Losses** (``loss_weights``; a term with weight 0 is skipped; all
    likelihood terms are in nats divided by ``D``):

    - ``nll``: ``-log p_phi(theta_gt | I)`` of the annotated MANO pose
      (ProHMR's supervised likelihood), over images whose T steps all have a
      MANO fit;
    - ``mode_joint_cam`` / ``mode_joint_proj``: L1 of the mode's 3D joints
      (m) and projected joints (normalised) to the annotations (ProHMR);
    - the MHEntropy KL, from ``num_train_samples`` reparameterised samples
      per image: ``rec_2d``, the Laplace energy (scale ``rec_2d_scale``,
      normalised crop units) of the projected joints against the 2D
      annotations, weighted by ``joints_2d_valid`` and, with
      ``use_visibility``, by the self-occlusion visibility ``joints_vis``
      (occluded joints get ``occluded_weight``, 0 = uniform likelihood, so
      only the entropy and the prior act on them); ``rec_3d``, the same on
      3D joints (scale ``rec_3d_scale``, m; 3D-supervised variant);
      ``prior``, ``-log p(theta)`` under ``prior`` (per step); ``entropy``,
      ``+log p_phi(theta | I)`` (minimising it maximises the entropy);
    - ``orth`` (6D only): squared distance of the sampled 6D vectors to
      their Gram-Schmidt projection (keeps samples near rotations).

    With ``order_invariant`` the reconstruction terms treat the time order
    as unknown: ``-log(0.5 exp(-E_fwd) + 0.5 exp(-E_rev))`` over the given
    and reversed annotation order, as a blurry image does not tell past
    from future.

    ``loss_joint_img`` supervises the Unfolder (skip it when the neck is
    frozen) and ``loss_mano_shape`` the shape head.

    Args:
        regressor (dict): :class:`ManoRegressor` config (``coord_dims=2``).
        num_hypotheses (int): Default ``K`` at test time. Defaults to 16.
        num_train_samples (int): Samples per image for the sample-based
            losses. Defaults to 8.
        pose_repr (str): ``'axis_angle'`` or ``'rot6d'``.
        pose_scale (float): Divisor of the pose numbers fed to the flow (the
            spline domain is [-5, 5]). Defaults to 1.
        token_dims (int): Per-joint context width. Defaults to 16.
        context_dims (int): Context width. Defaults to 128.
        context_hidden (int): Hidden width of the context MLP.
        flow_cfg (dict): Keyword arguments of ``zuko.flows.NSF`` (besides
            ``features`` and ``context``). Defaults to 4 coupling transforms
            with 8 bins and hidden layers ``(256, 256)``.
        coord_scale (float): Multiplier of the normalised root-relative
            joint coordinates in the context. Defaults to 8.
        include_mode (bool): Hypothesis 0 is ``z = 0``. Defaults to True.
        loss_weights (dict): Weights of :data:`LOSS_TERMS`.
        rec_2d_scale (float): Laplace scale of ``rec_2d`` (normalised crop
            units). Defaults to 0.02.
        rec_3d_scale (float): Laplace scale of ``rec_3d`` (m). Defaults to
            0.01.
        use_visibility (bool): Weight ``rec_2d`` by ``joints_vis`` (needs
            the ``ComputeJointVisibility`` transform). Defaults to False.
        occluded_weight (float): Weight of self-occluded joints in
            ``rec_2d``. Defaults to 0.
        order_invariant (bool): See above. Defaults to False.
        prior (dict, optional): Pose prior config (``GaussianPosePrior``);
            needed when ``loss_weights['prior'] > 0``.
        loss_joint_img (dict, optional): Unfolder 2D joint loss.
        loss_mano_shape (dict, optional): Shape loss.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 regressor: ConfigType = dict(
                     type='ManoRegressor', coord_dims=2),
                 num_hypotheses: int = 16,
                 num_train_samples: int = 8,
                 pose_repr: str = 'axis_angle',
                 pose_scale: float = 1.0,
                 token_dims: int = 16,
                 context_dims: int = 128,
                 context_hidden: int = 256,
                 flow_cfg: dict = dict(
                     transforms=4, bins=8, hidden_features=(256, 256)),
                 coord_scale: float = 8.0,
                 include_mode: bool = True,
                 loss_weights: dict = dict(nll=1.0),
                 rec_2d_scale: float = 0.02,
                 rec_3d_scale: float = 0.01,
                 use_visibility: bool = False,
                 occluded_weight: float = 0.0,
                 order_invariant: bool = False,
                 prior: OptConfigType = None,
                 loss_joint_img: OptConfigType = None,
                 loss_mano_shape: OptConfigType = None,
                 init_cfg: OptConfigType = None):
        super().__init__(init_cfg=init_cfg)
        zuko = import_zuko()
        if pose_repr not in POSE_REPRS:
            raise ValueError(f'FlowHypothesisHead: `pose_repr` must be one of '
                             f'{POSE_REPRS}, got {pose_repr!r}.')
        unknown = set(loss_weights) - set(LOSS_TERMS)
        if unknown:
            raise KeyError(f'FlowHypothesisHead: unknown loss_weights keys '
                           f'{sorted(unknown)}; expected some of '
                           f'{LOSS_TERMS}.')
        if num_hypotheses < 1 or num_train_samples < 1:
            raise ValueError(
                'FlowHypothesisHead: `num_hypotheses` and `num_train_samples`'
                f' must be >= 1, got {num_hypotheses}, {num_train_samples}.')
        self.regressor = MODELS.build(regressor)
        if self.regressor.coord_dims != 2:
            raise ValueError(
                'FlowHypothesisHead: the regressor must take 2D joints '
                f'(`coord_dims=2`), got {self.regressor.coord_dims}; use a 2D '
                'Unfolder (`heatmap_dims=2`).')
        self.loss_weights = {k: float(loss_weights.get(k, 0.)) for k in
                             LOSS_TERMS}
        if pose_repr != 'rot6d' and self.loss_weights['orth'] > 0:
            raise ValueError('FlowHypothesisHead: the `orth` loss needs '
                             "pose_repr='rot6d'.")
        self._num_hypotheses = int(num_hypotheses)
        self.num_train_samples = int(num_train_samples)
        self.pose_repr = pose_repr
        self.pose_scale = float(pose_scale)
        self.coord_scale = float(coord_scale)
        self.include_mode = include_mode
        self.rec_2d_scale = float(rec_2d_scale)
        self.rec_3d_scale = float(rec_3d_scale)
        self.use_visibility = use_visibility
        self.occluded_weight = float(occluded_weight)
        self.order_invariant = order_invariant

        reg = self.regressor
        self.num_steps, self.num_joints = reg.num_steps, reg.num_joints
        self.num_rot = len(reg.mano.parents)  # MANO joints with a rotation
        rot_dims = 3 if pose_repr == 'axis_angle' else 6
        self.pose_dims = self.num_steps * self.num_rot * rot_dims
        self.token_proj = nn.Sequential(
            nn.Linear(reg.in_channels + 2, token_dims), nn.ReLU(inplace=True))
        self.context_mlp = nn.Sequential(
            nn.Linear(self.num_steps * self.num_joints * token_dims +
                      reg.global_channels, context_hidden),
            nn.ReLU(inplace=True), nn.Linear(context_hidden, context_dims))
        flow_cfg = dict(flow_cfg)
        flow_cfg.setdefault('passes', 2)
        flow_cfg.setdefault('randperm', True)
        self.flow = zuko.flows.NSF(
            features=self.pose_dims, context=context_dims, **flow_cfg)
        self.register_buffer(
            'identity_rot6d', matrix_to_rot6d(torch.eye(3)), persistent=False)
        if self.loss_weights['prior'] > 0 and prior is None:
            raise ValueError('FlowHypothesisHead: loss_weights.prior > 0 '
                             "needs a `prior` (e.g. dict(type="
                             "'GaussianPosePrior')).")
        self.prior = MODELS.build(prior) if prior is not None else None
        self.loss_joint_img = (
            MODELS.build(loss_joint_img) if loss_joint_img else None)
        self.loss_mano_shape = (
            MODELS.build(loss_mano_shape) if loss_mano_shape else None)
        self.decoder = None

    # ------------------------------------------------------------ K --
    @property
    def num_hypotheses(self) -> int:
        """int: The default ``K`` of :meth:`predict` (settable)."""
        return self._num_hypotheses

    @num_hypotheses.setter
    def num_hypotheses(self, value: int) -> None:
        if int(value) < 1:
            raise ValueError('FlowHypothesisHead: num_hypotheses must be >= '
                             f'1, got {value}.')
        self._num_hypotheses = int(value)

    # ------------------------------------------------- representation --
    def encode_pose(self, pose: Tensor) -> Tensor:
        """Axis-angle T-step poses to flow variables.

        Args:
            pose (Tensor): ``(..., T, 3P)`` axis-angle (rad).

        Returns:
            Tensor: ``(..., D)``.
        """
        lead = pose.shape[:-2]
        if self.pose_repr == 'axis_angle':
            x = pose
        else:
            rot = axis_angle_to_matrix(pose.reshape(*pose.shape[:-1], -1, 3))
            x = matrix_to_rot6d(rot) - self.identity_rot6d
        return x.reshape(*lead, -1) / self.pose_scale

    def decode_pose(self, x: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """Flow variables to axis-angle poses.

        Args:
            x (Tensor): ``(..., D)``.

        Returns:
            tuple: ``(..., T, 3P)`` axis-angle poses and, for the 6D
            representation, the raw 6D vectors ``(..., T, P, 6)`` (else
            None).
        """
        x = x * self.pose_scale
        lead = x.shape[:-1]
        if self.pose_repr == 'axis_angle':
            return x.reshape(*lead, self.num_steps, -1), None
        raw = x.reshape(*lead, self.num_steps, self.num_rot, 6) + \
            self.identity_rot6d
        pose = matrix_to_axis_angle(rot6d_to_matrix(raw))
        return pose.reshape(*lead, self.num_steps, -1), raw

    # --------------------------------------------------------- context --
    def _check_feats(self, feats: UnfolderOutput) -> None:
        if not isinstance(feats, UnfolderOutput):
            raise TypeError(
                'FlowHypothesisHead expects the UnfolderOutput of an '
                f'Unfolder neck, got {type(feats).__name__}.')
        if feats.joints.shape[-1] != 2:
            raise ValueError(
                'FlowHypothesisHead needs 2D Unfolder joints (B, T, J, 2), '
                f'got {tuple(feats.joints.shape)}; set the neck\'s '
                '`heatmap_dims=2`.')

    def encode_context(self, feats: UnfolderOutput) -> Tensor:
        """The flow's condition from the Unfolder outputs.

        Args:
            feats (UnfolderOutput): joint features ``(B, T, J, C)``, joints
                ``(B, T, J, 2)`` (normalised) and pooled feature ``(B, Cg)``.

        Returns:
            Tensor: ``(B, context_dims)``.
        """
        self._check_feats(feats)
        expected = (self.num_steps, self.num_joints,
                    self.regressor.in_channels)
        if tuple(feats.joint_feats.shape[1:]) != expected:
            raise ValueError(
                'FlowHypothesisHead: joint features must be (B, T, J, C) = '
                f'(B, {expected[0]}, {expected[1]}, {expected[2]}), got '
                f'{tuple(feats.joint_feats.shape)}.')
        joints = feats.joints.detach()
        joints = (joints - joints[..., :1, :]) * self.coord_scale
        tokens = self.token_proj(torch.cat([feats.joint_feats, joints], -1))
        flat = torch.cat([tokens.flatten(1), feats.global_feat], dim=-1)
        return self.context_mlp(flat)

    # -------------------------------------------------------- sampling --
    def log_prob(self, x: Tensor, context: Tensor) -> Tensor:
        """``log p_phi(x | c)`` of flow variables.

        Args:
            x (Tensor): ``(B, ..., D)``.
            context (Tensor): ``(B, context_dims)``.

        Returns:
            Tensor: ``(B, ...)`` log densities (nats).
        """
        extra = x.dim() - 2
        c = context.view(context.shape[0], *([1] * extra), -1).expand(
            *x.shape[:-1], -1)
        return self.flow(c).log_prob(x)

    def sample(self,
               context: Tensor,
               num_samples: int,
               include_mode: Optional[bool] = None,
               noise: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """Draw ``K`` flow samples per image with their log densities.

        Reparameterised: gradients flow into the flow and the context.

        Args:
            context (Tensor): ``(B, context_dims)``.
            num_samples (int): ``K``.
            include_mode (bool, optional): Sample 0 is ``z = 0``. Defaults
                to the head's ``include_mode``.
            noise (Tensor, optional): ``(B, K, D)`` base samples ``z`` to
                use instead of fresh ones.

        Returns:
            tuple[Tensor, Tensor]: ``x`` ``(B, K, D)`` and
            ``log p_phi(x | c)`` ``(B, K)``.
        """
        if include_mode is None:
            include_mode = self.include_mode
        batch = context.shape[0]
        c = context.unsqueeze(1).expand(batch, num_samples, -1)
        dist = self.flow(c)
        if noise is None:
            noise = dist.base.rsample()
        elif tuple(noise.shape) != (batch, num_samples, self.pose_dims):
            raise ValueError(
                'FlowHypothesisHead.sample: `noise` must be (B, K, D) = '
                f'({batch}, {num_samples}, {self.pose_dims}), got '
                f'{tuple(noise.shape)}.')
        if include_mode:
            keep = torch.ones_like(noise[..., :1])
            keep[:, :1] = 0.
            noise = noise * keep
        x, ladj = dist.transform.inv.call_and_ladj(noise)
        return x, dist.base.log_prob(noise) - ladj

    def hypotheses(self, feats: UnfolderOutput,
                   x: Tensor) -> Dict[str, Tensor]:
        """MANO meshes of flow samples.

        Args:
            feats (UnfolderOutput): Unfolder outputs (``B`` images).
            x (Tensor): ``(B, K, D)`` flow variables.

        Returns:
            dict[str, Tensor]: :class:`ManoRegressorOutput` fields, each
            ``(B, K, T, ...)``, plus ``rot6d`` (6D representation) and
            ``unfolder_joints`` ``(B, T, J, 2)``.
        """
        pose, raw = self.decode_pose(x)
        shape, cam = self.regressor.regress_shape_camera(feats.global_feat)
        out = self.regressor.mano_forward(pose, shape.unsqueeze(1),
                                          cam.unsqueeze(1)).to_dict()
        out['unfolder_joints'] = feats.joints
        if raw is not None:
            out['rot6d'] = raw
        return out

    def forward(self,
                feats: UnfolderOutput,
                num_samples: Optional[int] = None) -> Dict[str, Tensor]:
        """Sample ``K`` hypotheses of T-step MANO sequences.

        Args:
            feats (UnfolderOutput): Outputs of a 2D Unfolder.
            num_samples (int, optional): ``K``; defaults to
                :attr:`num_hypotheses`.

        Returns:
            dict[str, Tensor]: Like ``MultiHypothesisHead.forward``:
            ``mano_pose`` ``(B, K, T, 48)``, ``mano_shape``, ``cam_params``,
            ``cam_t``, ``vertices`` ``(B, K, T, V, 3)``, ``joints_cam``
            ``(B, K, T, J, 3)`` (root-relative, m), ``joints_2d``
            ``(B, K, T, J, 2)`` (normalised), ``unfolder_joints``
            ``(B, T, J, 2)``, plus ``log_prob`` ``(B, K)``.
        """
        num = self.num_hypotheses if num_samples is None else int(num_samples)
        context = self.encode_context(feats)
        x, log_prob = self.sample(context, num)
        out = self.hypotheses(feats, x)
        out['log_prob'] = log_prob
        return out

    def predict(self,
                feats: UnfolderOutput,
                batch_data_samples: OptSampleList = None,
                test_cfg: OptConfigType = {}) -> Dict[str, Tensor]:
        """All ``K`` hypotheses, detached (selection is the estimator's).

        Args:
            feats (UnfolderOutput): The Unfolder's outputs.
            batch_data_samples (list, optional): Unused.
            test_cfg (dict): ``num_hypotheses`` overrides ``K``.

        Returns:
            dict[str, Tensor]: See :meth:`forward`.
        """
        num = (test_cfg or {}).get('num_hypotheses')
        with torch.no_grad():
            out = self.forward(feats, num)
        return {k: v.detach() for k, v in out.items()}

    def aggregate(self, preds: Dict[str, Tensor],
                  indices: Tensor) -> Dict[str, Tensor]:
        """The mesh of the mean axis-angle pose of selected hypotheses.

        Args:
            preds (dict[str, Tensor]): Output of :meth:`forward`.
            indices (Tensor): ``(B, n)`` selected hypotheses.

        Returns:
            dict[str, Tensor]: Regressor outputs, each ``(B, T, ...)``.
        """
        poses = preds['mano_pose']
        index = indices[:, :, None, None].expand(-1, -1, *poses.shape[2:])
        mean_pose = poses.gather(1, index).mean(dim=1)
        return self.regressor.mano_forward(
            mean_pose, preds['mano_shape'][:, 0],
            preds['cam_params'][:, 0]).to_dict()

    # ------------------------------------------------------------ loss --
    def loss(self,
             feats: UnfolderOutput,
             batch_data_samples: OptSampleList,
             train_cfg: OptConfigType = {}) -> dict:
        """Compute the configured losses (see the class docstring).

        Args:
            feats (UnfolderOutput): The Unfolder's outputs.
            batch_data_samples (list[PoseDataSample]): Samples with
                ``gt_instance_labels`` (and ``joints_vis`` with
                ``use_visibility``).
            train_cfg (dict): Unused.

        Returns:
            dict[str, Tensor]: ``loss_*`` terms and logged values
            (``mpjpe_oracle``/``mpjpe_mean`` in mm over the samples,
            ``entropy`` in nats per dimension).
        """
        self._check_feats(feats)
        keys = TARGET_KEYS
        if self.use_visibility:
            labels = batch_data_samples[0].gt_instance_labels
            if VISIBILITY_KEY not in labels:
                raise KeyError(
                    'FlowHypothesisHead: `use_visibility=True` needs '
                    f'`gt_instance_labels.{VISIBILITY_KEY}`; add '
                    "dict(type='ComputeJointVisibility') after "
                    'GenerateBlurHandTargets and pack with '
                    'PackBlurHandInputsWithVisibility.')
            keys = keys + (VISIBILITY_KEY, )
        device = feats.joints.device
        gt = BlurHandHead.gather_targets(batch_data_samples, keys, device)
        w = self.loss_weights
        dims = float(self.pose_dims)
        context = self.encode_context(feats)
        losses = {}
        if self.loss_joint_img is not None:
            losses['loss_joint_img'] = self.loss_joint_img(
                feats.joints, gt['joints_2d'][..., :2], gt['joints_2d_valid'])
        if self.loss_mano_shape is not None:
            shape, _ = self.regressor.regress_shape_camera(feats.global_feat)
            losses['loss_mano_shape'] = self.loss_mano_shape(
                shape, gt['mano_shape'], gt['mano_valid'])

        if w['nll'] > 0:
            valid = (gt['mano_valid'] > 0).all(dim=1).to(context.dtype)
            x_gt = self.encode_pose(gt['mano_pose'])
            nll = -self.log_prob(x_gt, context) / dims  # (B,)
            losses['loss_nll'] = w['nll'] * (nll * valid).sum() / \
                valid.sum().clamp(min=1.)

        if w['mode_joint_cam'] > 0 or w['mode_joint_proj'] > 0:
            x0, _ = self.sample(context, 1, include_mode=True)
            mode = self.hypotheses(feats, x0)
            losses.update(self._mode_losses(mode, gt))

        if any(w[k] > 0 for k in SAMPLE_TERMS):
            x, log_q = self.sample(
                context, self.num_train_samples, include_mode=False)
            hyps = self.hypotheses(feats, x)
            losses.update(self._kl_losses(hyps, log_q, gt))
            losses.update(
                MultiHypothesisHead._log_errors(hyps['joints_cam'], gt))
            losses['entropy'] = (-log_q.detach() / dims).mean()
        return losses

    def _mode_losses(self, mode: Dict[str, Tensor],
                     gt: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """ProHMR's L1 joint losses on the mode (``z = 0``)."""
        w = self.loss_weights
        losses = {}

        def masked_l1(pred, target, valid):
            err = (pred - target).abs().sum(-1)
            return (err * valid).sum() / (valid.sum().clamp(min=1.) *
                                          pred.shape[-1])

        if w['mode_joint_cam'] > 0:
            losses['loss_mode_joint_cam'] = w['mode_joint_cam'] * masked_l1(
                mode['joints_cam'][:, 0], gt['joints_cam'],
                gt['joints_cam_valid'])
        if w['mode_joint_proj'] > 0:
            losses['loss_mode_joint_proj'] = w['mode_joint_proj'] * \
                masked_l1(mode['joints_2d'][:, 0], gt['joints_2d'][..., :2],
                          gt['joints_2d_valid'])
        return losses

    def _reconstruction(self, pred: Tensor, target: Tensor, weight: Tensor,
                        scale: float) -> Tensor:
        """Laplace energy ``(B, K)``, time-order invariant if configured."""
        energy = laplace_energy(pred, target, weight, scale)
        if not self.order_invariant or self.num_steps < 2:
            return energy
        rev = laplace_energy(pred, target.flip(1), weight.flip(1), scale)
        return -torch.logsumexp(torch.stack([-energy, -rev]), 0) + math.log(2)

    def _kl_losses(self, hyps: Dict[str, Tensor], log_q: Tensor,
                   gt: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """MHEntropy's KL terms from samples (each averaged over B, K)."""
        w = self.loss_weights
        dims = float(self.pose_dims)
        losses = {}
        if w['rec_2d'] > 0:
            weight = gt['joints_2d_valid']
            if self.use_visibility:
                vis = gt[VISIBILITY_KEY]
                weight = weight * (vis + (1. - vis) * self.occluded_weight)
            rec = self._reconstruction(hyps['joints_2d'],
                                       gt['joints_2d'][..., :2], weight,
                                       self.rec_2d_scale)
            losses['loss_rec_2d'] = w['rec_2d'] * (rec / dims).mean()
        if w['rec_3d'] > 0:
            rec = self._reconstruction(hyps['joints_cam'], gt['joints_cam'],
                                       gt['joints_cam_valid'],
                                       self.rec_3d_scale)
            losses['loss_rec_3d'] = w['rec_3d'] * (rec / dims).mean()
        if w['prior'] > 0:
            log_prior = self.prior.log_prob(hyps['mano_pose']).sum(-1)
            losses['loss_prior'] = w['prior'] * (-log_prior / dims).mean()
        if w['entropy'] > 0:
            losses['loss_entropy'] = w['entropy'] * (log_q / dims).mean()
        if w['orth'] > 0:
            raw = hyps['rot6d']
            proj = matrix_to_rot6d(rot6d_to_matrix(raw))
            losses['loss_orth'] = w['orth'] * ((raw - proj)**2).sum(-1).mean()
        return losses

    def extra_repr(self) -> str:
        return (f'num_hypotheses={self.num_hypotheses}, pose_repr='
                f'{self.pose_repr}, pose_dims={self.pose_dims}')
