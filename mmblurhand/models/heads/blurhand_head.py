# Copyright (c) OpenMMLab. All rights reserved.
"""BlurHandNet head: KTFormer + kinematic-tree MANO regressor + losses."""
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.structures import InstanceData
from mmpose.models.heads.base_head import BaseHead
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList
from torch import Tensor, nn

from mmblurhand.registry import MODELS
from ..losses.temporal_order_invariant_loss import apply_temporal_order
from ..necks.unfolder import UnfolderOutput
from ..utils.camera import VirtualCamera

#: ``gt_instance_labels`` keys the losses read (``docs/data_contract.md``).
TARGET_KEYS = ('joints_2d', 'joints_2d_valid', 'joints_cam',
               'joints_cam_valid', 'mano_joints_cam', 'mano_joints_valid',
               'mano_pose', 'mano_shape', 'mano_valid')

#: Values of :class:`BlurHandHead`'s ``mano_joints_mask``.
MANO_JOINTS_MASKS = ('truncation', 'fit')

#: Regressor outputs copied into ``pred_instances`` by :meth:`predict`.
PREDICTION_KEYS = ('joints_cam', 'vertices', 'mano_pose', 'mano_shape',
                   'cam_t')


@MODELS.register_module()
class BlurHandHead(BaseHead):
    """KTFormer and MANO regressor on the Unfolder's outputs, with losses.

    Input: the :class:`~mmblurhand.models.necks.UnfolderOutput` of the neck.
    The KTFormer refines the ``T x J`` joint features; the regressor turns
    them (with the Unfolder's detached joint coordinates and the pooled
    backbone feature) into MANO parameters, meshes and projected joints for
    every time step.

    **Losses** (all masked L1, see :class:`MaskedL1Loss` for the
    normalisation; default weights are the official ones, converted to
    normalised 2D units: heatmap 0.25 x 32 = 8, projection 0.0625 x 32 = 2):

    - ``loss_joint_img`` (8): :class:`TemporalOrderInvariantLoss` on the
      Unfolder joints vs ``joints_2d`` (x, y and normalised depth for 3D
      heatmaps, x, y for 2D), masked by ``joints_2d_valid``. It picks, per
      sample, the time order (kept or reversed) with the smaller loss;
    - **Unfolder-driven ordering**: that per-sample order is applied to every
      regressor output before the other losses, so all end-frame losses use
      the order chosen by the Unfolder;
    - ``loss_joint_proj`` (2): projected MANO joints vs ``joints_2d[..., :2]``
      (``joints_2d_valid``);
    - ``loss_joint_cam`` (10): MANO joints vs ``joints_cam``
      (``joints_cam_valid``), root-relative metres;
    - ``loss_mano_joint_cam`` (10): MANO joints vs ``mano_joints_cam``
      (``mano_joints_valid``);
    - ``loss_mano_pose`` (1) / ``loss_mano_shape`` (1): parameters vs
      ``mano_pose`` / ``mano_shape`` (``mano_valid``);
    - ``loss_camera_depth`` (off unless configured; not in the paper): the
      camera depth ``t_z / k`` vs the depth the targets imply
      (:meth:`VirtualCamera.depth_from_targets`, also ``/ k``). Without it a
      weak model shrinks its projections under the L1 projection loss by
      pushing ``t_z`` to its bound ``k`` (``configs/blurhandnet/README.md``).

    ``order_kept`` (the fraction of samples whose predicted order was kept)
    is logged too.

    Args:
        ktformer (dict): Config of the joint-token transformer
            (:class:`KTFormer`).
        regressor (dict): Config of the MANO regressor
            (:class:`ManoRegressor`).
        loss_joint_img (dict): Order-invariant Unfolder joint loss.
        loss_joint_proj (dict): Projected joint loss.
        loss_joint_cam (dict): 3D joint loss (annotated joints).
        loss_mano_joint_cam (dict): 3D joint loss (MANO-fit joints).
        loss_mano_pose (dict): MANO pose loss.
        loss_mano_shape (dict): MANO shape loss.
        loss_camera_depth (dict, optional): Camera depth loss, e.g.
            ``dict(type='MaskedL1Loss', loss_weight=1.)``; ``None`` (the
            default, as the paper) disables it.
        loss_heatmap (dict, optional): Direct supervision of the Unfolder's
            heatmaps (not in the paper), e.g. ``dict(type='HeatmapKLLoss',
            sigma=1.)``, in the Unfolder-driven time order; ``None`` (the
            default, as the paper) disables it.
        mano_joints_mask (str): Validity of ``loss_mano_joint_cam``:
            ``'truncation'`` (default): ``mano_joints_valid``, a fit exists
            and the joint lies inside the crop; ``'fit'``: every joint of a
            time step with a MANO fit (``mano_valid``), truncated ones
            included, as the official BlurHandNet.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 ktformer: ConfigType = dict(type='KTFormer'),
                 regressor: ConfigType = dict(type='ManoRegressor'),
                 loss_joint_img: ConfigType = dict(
                     type='TemporalOrderInvariantLoss', loss_weight=8.),
                 loss_joint_proj: ConfigType = dict(
                     type='MaskedL1Loss', loss_weight=2.),
                 loss_joint_cam: ConfigType = dict(
                     type='MaskedL1Loss', loss_weight=10.),
                 loss_mano_joint_cam: ConfigType = dict(
                     type='MaskedL1Loss', loss_weight=10.),
                 loss_mano_pose: ConfigType = dict(
                     type='MaskedL1Loss', loss_weight=1.),
                 loss_mano_shape: ConfigType = dict(
                     type='MaskedL1Loss', loss_weight=1.),
                 loss_camera_depth: OptConfigType = None,
                 loss_heatmap: OptConfigType = None,
                 mano_joints_mask: str = 'truncation',
                 init_cfg: OptConfigType = None):
        super().__init__(init_cfg=init_cfg)
        if mano_joints_mask not in MANO_JOINTS_MASKS:
            raise ValueError(
                'BlurHandHead: `mano_joints_mask` must be one of '
                f'{MANO_JOINTS_MASKS}, got {mano_joints_mask!r}.')
        self.mano_joints_mask = mano_joints_mask
        self.ktformer = MODELS.build(ktformer)
        self.regressor = MODELS.build(regressor)
        self.loss_joint_img = MODELS.build(loss_joint_img)
        self.loss_joint_proj = MODELS.build(loss_joint_proj)
        self.loss_joint_cam = MODELS.build(loss_joint_cam)
        self.loss_mano_joint_cam = MODELS.build(loss_mano_joint_cam)
        self.loss_mano_pose = MODELS.build(loss_mano_pose)
        self.loss_mano_shape = MODELS.build(loss_mano_shape)
        self.loss_camera_depth = None if loss_camera_depth is None else \
            MODELS.build(loss_camera_depth)
        self.loss_heatmap = None if loss_heatmap is None else \
            MODELS.build(loss_heatmap)
        # Kept for MMPose's BaseHead API; this head decodes nothing.
        self.decoder = None

    def forward(self, feats: UnfolderOutput) -> Dict[str, Tensor]:
        """Regress the T-step MANO sequence.

        Args:
            feats (UnfolderOutput): The Unfolder's outputs (B images).

        Returns:
            dict[str, Tensor]: ``unfolder_joints`` ``(B, T, J, D_c)``
            (normalised), ``joint_feats`` ``(B, T, J, E)`` (refined), and
            the :class:`ManoRegressorOutput` fields: ``mano_pose``
            ``(B, T, 48)``, ``mano_shape`` ``(B, T, 10)``, ``cam_params`` and
            ``cam_t`` ``(B, T, 3)``, ``vertices`` ``(B, T, V, 3)`` and
            ``joints_cam`` ``(B, T, J, 3)`` (root-relative, m), ``joints_2d``
            ``(B, T, J, 2)`` (normalised crop coordinates).
        """
        if not isinstance(feats, UnfolderOutput):
            raise TypeError(
                'BlurHandHead expects the UnfolderOutput of an Unfolder '
                f'neck, got {type(feats).__name__}. Set `neck=dict('
                "type='Unfolder', ...)` in the model config.")
        joint_feats = self.ktformer(feats.joint_feats)
        outputs = self.regressor(joint_feats, feats.joints,
                                 feats.global_feat).to_dict()
        outputs['unfolder_joints'] = feats.joints
        outputs['unfolder_heatmaps'] = feats.heatmaps
        outputs['joint_feats'] = joint_feats
        return outputs

    @staticmethod
    def gather_targets(batch_data_samples: OptSampleList,
                       keys=TARGET_KEYS,
                       device: Optional[torch.device] = None
                       ) -> Dict[str, Tensor]:
        """Stack per-sample ``gt_instance_labels`` into batch tensors.

        Args:
            batch_data_samples (list[PoseDataSample]): B samples, each with
                ``(1, T, ...)`` labels.
            keys (Sequence[str]): Label keys to gather.
            device (torch.device, optional): Target device.

        Returns:
            dict[str, Tensor]: ``(B, T, ...)`` float tensors.
        """
        if not batch_data_samples:
            raise ValueError('BlurHandHead: no data samples to take the '
                             'training targets from.')
        targets = {}
        for key in keys:
            values = []
            for sample in batch_data_samples:
                labels = sample.gt_instance_labels
                if key not in labels:
                    raise KeyError(
                        f'BlurHandHead: `gt_instance_labels.{key}` is '
                        'missing; the training pipeline must produce every '
                        f'target of docs/data_contract.md ({TARGET_KEYS}).')
                values.append(torch.as_tensor(labels.get(key)))
            targets[key] = torch.cat(values).to(
                device=device, dtype=torch.float32)
        return targets

    def loss(self,
             feats: UnfolderOutput,
             batch_data_samples: OptSampleList,
             train_cfg: OptConfigType = {}) -> dict:
        """Compute the BlurHandNet losses.

        Args:
            feats (UnfolderOutput): The Unfolder's outputs.
            batch_data_samples (list[PoseDataSample]): Samples with
                ``gt_instance_labels`` (see ``docs/data_contract.md``).
            train_cfg (dict): Unused.

        Returns:
            dict[str, Tensor]: The weighted losses (``loss_*``) and
            ``order_kept``.
        """
        preds = self.forward(feats)
        gt = self.gather_targets(
            batch_data_samples, device=preds['joints_cam'].device)
        hm_joints = preds['unfolder_joints']
        coord_dims = hm_joints.shape[-1]
        loss_img, in_order = self.loss_joint_img(
            hm_joints,
            gt['joints_2d'][..., :coord_dims],
            gt['joints_2d_valid'],
            return_order=True)

        def ordered(key: str) -> Tensor:
            return apply_temporal_order(preds[key], in_order)

        joints_cam = ordered('joints_cam')
        losses = dict(
            loss_joint_img=loss_img,
            loss_joint_proj=self.loss_joint_proj(
                ordered('joints_2d'), gt['joints_2d'][..., :2],
                gt['joints_2d_valid']),
            loss_joint_cam=self.loss_joint_cam(joints_cam, gt['joints_cam'],
                                               gt['joints_cam_valid']),
            loss_mano_joint_cam=self.loss_mano_joint_cam(
                joints_cam, gt['mano_joints_cam'],
                self.mano_joints_weight(gt)),
            loss_mano_pose=self.loss_mano_pose(
                ordered('mano_pose'), gt['mano_pose'], gt['mano_valid']),
            loss_mano_shape=self.loss_mano_shape(
                ordered('mano_shape'), gt['mano_shape'], gt['mano_valid']),
            order_kept=in_order.float().mean())
        if self.loss_camera_depth is not None:
            losses['loss_camera_depth'] = self.camera_depth_loss(
                self.loss_camera_depth, self.regressor.camera,
                ordered('cam_t'), gt)
        if self.loss_heatmap is not None:
            losses['loss_heatmap'] = self.loss_heatmap(
                ordered('unfolder_heatmaps'), gt['joints_2d'],
                gt['joints_2d_valid'])
        return losses

    def mano_joints_weight(self, gt: Dict[str, Tensor]) -> Tensor:
        """``(B, T, J)`` validity of the MANO-fit joint targets, see
        ``mano_joints_mask``."""
        if self.mano_joints_mask == 'truncation':
            return gt['mano_joints_valid']
        return gt['mano_valid'].unsqueeze(-1).expand_as(
            gt['mano_joints_valid'])

    @staticmethod
    def camera_depth_loss(loss_module: nn.Module, camera: VirtualCamera,
                          cam_t: Tensor, gt: Dict[str, Tensor]) -> Tensor:
        """``loss_module`` on the predicted vs the target-implied depth.

        Args:
            loss_module (nn.Module): A masked loss ``(pred, target,
                weight)``, e.g. :class:`MaskedL1Loss`.
            camera (VirtualCamera): The regressor's camera.
            cam_t (Tensor): ``(B, T, 3)`` predicted translation (m).
            gt (dict[str, Tensor]): :meth:`gather_targets` output.

        Returns:
            Tensor: The loss, on depths divided by ``camera.max_depth``.
        """
        valid = (gt['joints_2d_valid'] > 0) & (gt['joints_cam_valid'] > 0)
        depth, usable = camera.depth_from_targets(
            gt['joints_cam'], gt['joints_2d'][..., :2], valid)
        scale = 1.0 / camera.max_depth
        return loss_module(cam_t[..., 2:] * scale, depth[..., None] * scale,
                           usable)

    def predict(self,
                feats: UnfolderOutput,
                batch_data_samples: OptSampleList,
                test_cfg: ConfigType = {}) -> List[InstanceData]:
        """Predict the T-step MANO sequence of every instance.

        Args:
            feats (UnfolderOutput): The Unfolder's outputs.
            batch_data_samples (list[PoseDataSample]): The batch's samples.
            test_cfg (dict): Unused.

        Returns:
            list[InstanceData]: One per sample, numpy arrays in the
            network's (right-hand, crop) frame: ``joints_cam``
            ``(1, T, J, 3)``, ``vertices`` ``(1, T, V, 3)``, ``mano_pose``
            ``(1, T, 48)``, ``mano_shape`` ``(1, T, 10)``, ``cam_t``
            ``(1, T, 3)``, ``keypoints`` ``(1, T, J, 2)`` (projected joints,
            normalised crop coordinates; the estimator maps them to image
            pixels) and ``keypoint_scores`` ``(1, T, J)`` (ones).
        """
        preds = self.forward(feats)
        arrays = {
            key: preds[key].detach().float().cpu().numpy()
            for key in PREDICTION_KEYS
        }
        arrays['keypoints'] = preds['joints_2d'].detach().float().cpu(
        ).numpy()
        arrays['keypoint_scores'] = np.ones(
            arrays['keypoints'].shape[:-1], dtype=np.float32)
        return [
            InstanceData(**{k: v[i:i + 1]
                            for k, v in arrays.items()})
            for i in range(arrays['joints_cam'].shape[0])
        ]
