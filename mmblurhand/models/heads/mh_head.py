# Copyright (c) OpenMMLab. All rights reserved.
"""Multi-hypothesis head: K refined token sets -> K MANO sequences + losses.

Reference: "Multi-Hypothesis 3D Hand Mesh Recovering from a Single Blurry
Image" (generation model, Sec. III-B). Shapes are batch-first throughout:
``B`` images, ``K`` hypotheses, ``T`` time steps, ``J`` joints.
"""
from typing import Dict

import torch
from mmpose.models.heads.base_head import BaseHead
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList
from torch import Tensor

from mmblurhand.registry import MODELS, TASK_UTILS
from ..losses.best_of_k import gather_hypotheses, hypothesis_errors
from ..necks.unfolder import UnfolderOutput
from .blurhand_head import BlurHandHead


#: Values of :class:`MultiHypothesisHead`'s ``assign_to``.
ASSIGN_TARGETS = ('joints_and_mano', 'joints')


@MODELS.register_module()
class MultiHypothesisHead(BaseHead):
    """Hypothesis transformer and MANO regressor, with best-of-K losses.

    Input: the :class:`~mmblurhand.models.necks.UnfolderOutput` of a 2D
    Unfolder (``heatmap_dims=2``): joint features ``(B, T, J, C)``, 2D joints
    ``(B, T, J, 2)`` and the pooled backbone feature ``(B, Cg)``. The
    hypothesis transformer (:class:`MultiHypothesisTransformer`) makes ``K``
    refined copies ``(B, K, T, J, C)``; the regressor (:class:`ManoRegressor`
    with ``coord_dims=2``, pose heads shared over K and T) turns each into a
    per-step MANO pose. Shape and camera come from the pooled feature and
    are shared by the K hypotheses, so hypotheses differ only in pose.

    **Losses** (masked L1 unless noted; defaults are the official weights in
    normalised 2D units, each term averaged over all valid elements of all
    time steps, ``step_dim=None``, like the official multi-hypothesis
    ``.mean()``, where BlurHandNet summed one term per frame):

    - ``loss_joint_img`` (8): the Unfolder's 2D joints vs ``joints_2d``
      (auxiliary heatmap loss, eq. 5; fixed time order, not
      multi-hypothesis);
    - best of K (eqs. 2-4): the :class:`BestOfKAssigner` picks for every
      image (``mode='sequence'``, default) or every image and time step
      (``'time_step'``, official code) the hypothesis whose joints are
      closest to the ground truth (``assign_to``: annotated and MANO-fit
      joints, or annotated joints only, each where valid);
      ``loss_joint_cam`` (10), ``loss_mano_joint_cam`` (10),
      ``loss_joint_proj`` (2) and ``loss_mano_pose`` (1) are applied to that
      hypothesis only, so the others receive no gradient from them;
    - ``loss_mano_shape`` (1): the shared shape (outside the min, eq. 4);
    - ``loss_diversity`` (1): :class:`DiversityLoss` on the refined features
      with the best hypothesis detached (eq. 6);
    - ``loss_camera_depth`` (off unless configured; not in the paper): the
      shared camera depth vs the depth the targets imply (see
      :class:`BlurHandHead`).

    ``mpjpe_oracle`` and ``mpjpe_mean`` (mm; annotated joints; best of K per
    image and time step, and the mean over K) are logged, not optimised.

    Args:
        transformer (dict): :class:`MultiHypothesisTransformer` config.
        regressor (dict): :class:`ManoRegressor` config (``coord_dims=2``).
        assigner (dict): :class:`BestOfKAssigner` config.
        loss_joint_img (dict): Unfolder 2D joint loss.
        loss_joint_proj (dict): Projected joint loss.
        loss_joint_cam (dict): 3D joint loss (annotated joints).
        loss_mano_joint_cam (dict): 3D joint loss (MANO-fit joints).
        loss_mano_pose (dict): MANO pose loss.
        loss_mano_shape (dict): MANO shape loss.
        loss_diversity (dict, optional): Diversity loss; ``None`` disables
            it.
        loss_camera_depth (dict, optional): Camera depth loss, e.g.
            ``dict(type='MaskedL1Loss', loss_weight=1., step_dim=None)``;
            ``None`` (the default, as the paper) disables it.
        loss_heatmap (dict, optional): Direct supervision of the Unfolder's
            2D heatmaps (not in the paper), e.g. ``dict(type='HeatmapKLLoss',
            sigma=1.)``; ``None`` (the default, as the paper) disables it.
        assign_to (str): The ground truth of the best-of-K assignment:
            ``'joints_and_mano'`` (default): the annotated and the MANO-fit
            joints, each where valid; ``'joints'``: the annotated joints
            only (the official code).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(
            self,
            transformer: ConfigType = dict(type='MultiHypothesisTransformer'),
            regressor: ConfigType = dict(type='ManoRegressor', coord_dims=2),
            assigner: ConfigType = dict(
                type='BestOfKAssigner', mode='sequence'),
            loss_joint_img: ConfigType = dict(
                type='MaskedL1Loss', loss_weight=8., step_dim=None),
            loss_joint_proj: ConfigType = dict(
                type='MaskedL1Loss', loss_weight=2., step_dim=None),
            loss_joint_cam: ConfigType = dict(
                type='MaskedL1Loss', loss_weight=10., step_dim=None),
            loss_mano_joint_cam: ConfigType = dict(
                type='MaskedL1Loss', loss_weight=10., step_dim=None),
            loss_mano_pose: ConfigType = dict(
                type='MaskedL1Loss', loss_weight=1., step_dim=None),
            loss_mano_shape: ConfigType = dict(
                type='MaskedL1Loss', loss_weight=1., step_dim=None),
            loss_diversity: OptConfigType = dict(
                type='DiversityLoss', alpha=10752., p=1, loss_weight=1.),
            loss_camera_depth: OptConfigType = None,
            loss_heatmap: OptConfigType = None,
            assign_to: str = 'joints_and_mano',
            init_cfg: OptConfigType = None):
        super().__init__(init_cfg=init_cfg)
        if assign_to not in ASSIGN_TARGETS:
            raise ValueError(
                'MultiHypothesisHead: `assign_to` must be one of '
                f'{ASSIGN_TARGETS}, got {assign_to!r}.')
        self.assign_to = assign_to
        self.transformer = MODELS.build(transformer)
        self.regressor = MODELS.build(regressor)
        if self.regressor.coord_dims != 2:
            raise ValueError(
                'MultiHypothesisHead: the regressor must take 2D joints '
                f'(`coord_dims=2`), got coord_dims={self.regressor.coord_dims}'
                '. Use a 2D Unfolder (`heatmap_dims=2`).')
        self.assigner = TASK_UTILS.build(assigner)
        self.loss_joint_img = MODELS.build(loss_joint_img)
        self.loss_joint_proj = MODELS.build(loss_joint_proj)
        self.loss_joint_cam = MODELS.build(loss_joint_cam)
        self.loss_mano_joint_cam = MODELS.build(loss_mano_joint_cam)
        self.loss_mano_pose = MODELS.build(loss_mano_pose)
        self.loss_mano_shape = MODELS.build(loss_mano_shape)
        self.loss_diversity = (
            MODELS.build(loss_diversity)
            if loss_diversity is not None else None)
        self.loss_camera_depth = (
            MODELS.build(loss_camera_depth)
            if loss_camera_depth is not None else None)
        self.loss_heatmap = (
            MODELS.build(loss_heatmap) if loss_heatmap is not None else None)
        # Kept for MMPose's BaseHead API; this head decodes nothing.
        self.decoder = None

    @property
    def num_hypotheses(self) -> int:
        """int: ``K``."""
        return self.transformer.num_hypotheses

    def forward(self, feats: UnfolderOutput) -> Dict[str, Tensor]:
        """Generate K hypotheses of T-step MANO sequences.

        Args:
            feats (UnfolderOutput): Outputs of a 2D Unfolder (B images).

        Returns:
            dict[str, Tensor]: ``unfolder_joints`` ``(B, T, J, 2)``
            (normalised), ``joint_feats`` ``(B, K, T, J, C)`` (refined), and
            the :class:`ManoRegressorOutput` fields, each ``(B, K, T, ...)``:
            ``mano_pose`` ``(.., 48)``, ``mano_shape`` ``(.., 10)`` and
            ``cam_params`` / ``cam_t`` ``(.., 3)`` (identical over K),
            ``vertices`` ``(.., V, 3)`` and ``joints_cam`` ``(.., J, 3)``
            (root-relative, m), ``joints_2d`` ``(.., J, 2)`` (normalised
            crop coordinates).
        """
        if not isinstance(feats, UnfolderOutput):
            raise TypeError(
                'MultiHypothesisHead expects the UnfolderOutput of an '
                f'Unfolder neck, got {type(feats).__name__}. Set `neck=dict('
                "type='Unfolder', heatmap_dims=2, ...)` in the model config.")
        if feats.joints.shape[-1] != 2:
            raise ValueError(
                'MultiHypothesisHead needs 2D Unfolder joints (B, T, J, 2), '
                f'got {tuple(feats.joints.shape)}; set the neck\'s '
                '`heatmap_dims=2`.')
        joint_feats = self.transformer(feats.joint_feats)
        outputs = self.regressor(joint_feats, feats.joints.unsqueeze(1),
                                 feats.global_feat).to_dict()
        outputs['unfolder_joints'] = feats.joints
        outputs['unfolder_heatmaps'] = feats.heatmaps
        outputs['joint_feats'] = joint_feats
        return outputs

    def loss(self,
             feats: UnfolderOutput,
             batch_data_samples: OptSampleList,
             train_cfg: OptConfigType = {}) -> dict:
        """Compute the generation losses (see the class docstring).

        Args:
            feats (UnfolderOutput): The Unfolder's outputs.
            batch_data_samples (list[PoseDataSample]): Samples with
                ``gt_instance_labels`` (``docs/data_contract.md``).
            train_cfg (dict): Unused.

        Returns:
            dict[str, Tensor]: Weighted ``loss_*`` terms, ``mpjpe_oracle``
            and ``mpjpe_mean``.
        """
        return self.loss_by_feat(self.forward(feats), batch_data_samples)

    def loss_by_feat(self, preds: Dict[str, Tensor],
                     batch_data_samples: OptSampleList) -> dict:
        """Losses of already computed hypotheses (see :meth:`forward`).

        Args:
            preds (dict[str, Tensor]): Output of :meth:`forward`.
            batch_data_samples (list[PoseDataSample]): The batch's samples.

        Returns:
            dict[str, Tensor]: See :meth:`loss`.
        """
        gt = BlurHandHead.gather_targets(
            batch_data_samples, device=preds['joints_cam'].device)
        joints = preds['joints_cam']  # (B, K, T, J, 3)
        indices = self.assign(joints, gt)

        def best(key: str) -> Tensor:
            return gather_hypotheses(preds[key], indices)

        best_joints = best('joints_cam')
        losses = dict(
            loss_joint_img=self.loss_joint_img(preds['unfolder_joints'],
                                               gt['joints_2d'][..., :2],
                                               gt['joints_2d_valid']),
            loss_joint_proj=self.loss_joint_proj(
                best('joints_2d'), gt['joints_2d'][..., :2],
                gt['joints_2d_valid']),
            loss_joint_cam=self.loss_joint_cam(best_joints, gt['joints_cam'],
                                               gt['joints_cam_valid']),
            loss_mano_joint_cam=self.loss_mano_joint_cam(
                best_joints, gt['mano_joints_cam'], gt['mano_joints_valid']),
            loss_mano_pose=self.loss_mano_pose(
                best('mano_pose'), gt['mano_pose'], gt['mano_valid']),
            loss_mano_shape=self.loss_mano_shape(preds['mano_shape'][:, 0],
                                                 gt['mano_shape'],
                                                 gt['mano_valid']))
        if self.loss_diversity is not None:
            losses['loss_diversity'] = self.loss_diversity(
                preds['joint_feats'], indices)
        if self.loss_camera_depth is not None:
            # the camera is shared by the K hypotheses: take the first
            losses['loss_camera_depth'] = BlurHandHead.camera_depth_loss(
                self.loss_camera_depth, self.regressor.camera,
                preds['cam_t'][:, 0], gt)
        if self.loss_heatmap is not None:
            losses['loss_heatmap'] = self.loss_heatmap(
                preds['unfolder_heatmaps'], gt['joints_2d'][..., :2],
                gt['joints_2d_valid'])
        losses.update(self._log_errors(joints, gt))
        return losses

    def assign(self, joints: Tensor, gt: Dict[str, Tensor]) -> Tensor:
        """The best hypothesis: closest by mean joint distance to the
        ground truth that ``assign_to`` names, each joint where valid.

        Args:
            joints (Tensor): ``(B, K, T, J, 3)`` predicted joints (m).
            gt (dict[str, Tensor]): :meth:`BlurHandHead.gather_targets`.

        Returns:
            Tensor: Long indices, ``(B, T)`` (with ``mode='sequence'`` the
            same hypothesis at every step).
        """
        if self.assign_to == 'joints':
            indices, _ = self.assigner.assign(joints, gt['joints_cam'],
                                              gt['joints_cam_valid'])
            return indices
        indices, _ = self.assigner.assign(
            torch.cat([joints, joints], dim=3),
            torch.cat([gt['joints_cam'], gt['mano_joints_cam']], dim=2),
            torch.cat([gt['joints_cam_valid'], gt['mano_joints_valid']],
                      dim=2))
        return indices

    @staticmethod
    @torch.no_grad()
    def _log_errors(joints: Tensor, gt: Dict[str, Tensor]) -> dict:
        """Oracle and mean MPJPE (mm) over the valid image-steps."""
        errors, valid = hypothesis_errors(joints.detach(), gt['joints_cam'],
                                          gt['joints_cam_valid'])
        weights = valid.to(errors.dtype)
        count = weights.sum().clamp(min=1.0)
        oracle = (errors.min(dim=1).values * weights).sum() / count
        mean = (errors.mean(dim=1) * weights).sum() / count
        return dict(mpjpe_oracle=oracle * 1000., mpjpe_mean=mean * 1000.)

    def predict(self,
                feats: UnfolderOutput,
                batch_data_samples: OptSampleList = None,
                test_cfg: OptConfigType = {}) -> Dict[str, Tensor]:
        """All K hypotheses (selection happens in the estimator).

        Args:
            feats (UnfolderOutput): The Unfolder's outputs.
            batch_data_samples (list[PoseDataSample], optional): Unused.
            test_cfg (dict): Unused.

        Returns:
            dict[str, Tensor]: The output of :meth:`forward`, detached.
        """
        return {k: v.detach() for k, v in self.forward(feats).items()}

    def aggregate(self, preds: Dict[str, Tensor],
                  indices: Tensor) -> Dict[str, Tensor]:
        """The mesh of the mean pose of the selected hypotheses.

        The paper's "aggregate" ("simple average pooling" of the selected
        hypotheses): the axis-angle MANO poses of hypotheses ``indices`` are
        averaged per image and time step, and MANO is run with the shared
        shape and camera.

        Args:
            preds (dict[str, Tensor]): Output of :meth:`forward`.
            indices (Tensor): Long, shape ``(B, n)``: selected hypotheses.

        Returns:
            dict[str, Tensor]: :class:`ManoRegressorOutput` fields, each
            ``(B, T, ...)``.
        """
        poses = preds['mano_pose']  # (B, K, T, P)
        index = indices[:, :, None, None].expand(-1, -1, *poses.shape[2:])
        mean_pose = poses.gather(1, index).mean(dim=1)
        return self.regressor.mano_forward(mean_pose, preds['mano_shape'][:,
                                                                          0],
                                           preds['cam_params'][:,
                                                               0]).to_dict()

    def extra_repr(self) -> str:
        return f'num_hypotheses={self.num_hypotheses}'
