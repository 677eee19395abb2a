# Copyright (c) OpenMMLab. All rights reserved.
"""MHSelector: rank the hypotheses of a frozen MHBlurHandNet generator.

Reference: "Multi-Hypothesis 3D Hand Mesh Recovering from a Single Blurry
Image" (selection model, Sec. III-C). Shapes are batch-first:
``(B, K, T, ...)``.
"""
import os.path as osp
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.logging import print_log
from mmengine.structures import InstanceData
from mmpose.utils.typing import ConfigType, OptConfigType, SampleList
from torch import Tensor

from mmblurhand.registry import MODELS
from mmblurhand.utils.checkpoint import load_weights
from ..heads.blurhand_head import BlurHandHead
from ..losses.best_of_k import hypothesis_errors, sequence_errors
from ..losses.ccr_loss import top_n_labels
from ..necks.unfolder import UnfolderOutput
from .blurhandnet import BlurHandNet
from .mh_blurhandnet import (check_test_cfg, mirror_hypotheses,
                             pack_hypotheses)


@MODELS.register_module()
class MHSelector(BlurHandNet):
    """Selection model: score each hypothesis of a frozen generator.

    Components:

    - ``generator``: an :class:`MHBlurHandNet`, built from its config and
      loaded from ``generator_checkpoint`` in :meth:`init_weights`. It is
      frozen (no gradients, run under ``torch.no_grad``) and **kept in eval
      mode** even while the selector trains, so its BatchNorm statistics do
      not drift (the official code leaves it in train mode).
    - ``backbone`` and ``neck`` (a 2D ``Unfolder``): the selector's own, with
      the generator's architecture, initialised from the generator's
      trained weights when ``init_from_generator`` and then fine-tuned.
    - ``head``: a :class:`HypothesisScoreDecoder`; tokens made of each
      hypothesis' MANO poses and the selector's joint features
      cross-attend to the backbone's last feature map of the same image and
      give two logits per hypothesis. The score is
      ``softmax(logits)[..., 1]``.

    **Training** (``'loss'`` mode): the generator's K hypotheses are ranked
    by their error against the annotated 3D joints (``joints_cam`` where
    ``joints_cam_valid``): per time step the mean joint distance, then the
    mean over the time steps that have valid joints, i.e. one error per
    whole sequence ``(B, K)``; images without any valid joint get weight 0.
    ``loss_rank`` (:class:`CCRLoss` by default, :class:`PairwiseRankLoss`
    for the baseline) compares the logits with these errors, and
    ``loss_joint_img`` keeps the selector's Unfolder supervised with the 2D
    joints. ``hit_rate`` (overlap of the predicted and true top-n) is
    logged.

    **Inference** (``'predict'`` mode): like :class:`MHBlurHandNet`, with the
    learned scores; ``test_cfg`` takes ``num_select`` and ``aggregate``.

    Args:
        generator (dict): :class:`MHBlurHandNet` config.
        backbone (dict): The selector's backbone config (same as the
            generator's).
        neck (dict): The selector's 2D ``Unfolder`` config (same as the
            generator's).
        head (dict): :class:`HypothesisScoreDecoder` config (the scorer).
        generator_checkpoint (str, optional): Checkpoint of the trained
            generator (a Runner checkpoint of the generator config). Loaded
            in :meth:`init_weights`, i.e. before training; at test time the
            selector's own checkpoint holds the generator too. ``None``
            keeps the generator's own initialisation (tests only).
        init_from_generator (bool): Copy the generator's backbone and neck
            weights into the selector's. Defaults to True.
        loss_rank (dict): Ranking loss config taking ``(logits (B, K, 2),
            errors (B, K), weights (B,))``. Defaults to
            ``CCRLoss(alpha=0.75, num_positive=4)``.
        loss_joint_img (dict): 2D joint loss of the selector's Unfolder.
        train_cfg (dict, optional): Unused.
        test_cfg (dict, optional): ``num_select`` and ``aggregate``.
        data_preprocessor (dict, optional): Data preprocessor config; it
            also feeds the generator.
        init_cfg (dict, optional): Initialisation config.
        metainfo (dict, optional): Overrides the data samples' metainfo.
    """

    def __init__(self,
                 generator: ConfigType,
                 backbone: ConfigType,
                 neck: ConfigType,
                 head: ConfigType,
                 generator_checkpoint: Optional[str] = None,
                 init_from_generator: bool = True,
                 loss_rank: ConfigType = dict(
                     type='CCRLoss', alpha=0.75, num_positive=4),
                 loss_joint_img: ConfigType = dict(
                     type='MaskedL1Loss', loss_weight=8., step_dim=None),
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptConfigType = None,
                 metainfo: OptConfigType = None):
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg,
            metainfo=metainfo)
        self.test_cfg = check_test_cfg(self.test_cfg, type(self).__name__)
        generator = dict(generator)
        generator.pop('data_preprocessor', None)
        self.generator = MODELS.build(generator)
        if not hasattr(self.generator, 'head') or not hasattr(
                self.generator.head, 'num_hypotheses'):
            raise TypeError(
                'MHSelector: `generator` must be a multi-hypothesis model '
                "(type='MHBlurHandNet'), got "
                f'{type(self.generator).__name__}.')
        self.generator.requires_grad_(False)
        self.generator.eval()
        self.generator_checkpoint = generator_checkpoint
        self.init_from_generator = init_from_generator
        self.loss_rank = MODELS.build(loss_rank)
        self.loss_joint_img = MODELS.build(loss_joint_img)

    def train(self, mode: bool = True) -> 'MHSelector':
        """Set train/eval mode; the frozen generator always stays in eval.

        Args:
            mode (bool): Train mode for the selector's own modules.

        Returns:
            MHSelector: ``self``.
        """
        super().train(mode)
        self.generator.eval()
        return self

    def init_weights(self) -> None:
        """Initialise, load the generator and copy its backbone and neck."""
        if self.generator_checkpoint is not None:
            # The checkpoint overwrites the generator: skip its own init
            # (e.g. a pretrained backbone download).
            self.generator.is_init = True
        super().init_weights()
        if self.generator_checkpoint is None:
            print_log(
                'MHSelector: no `generator_checkpoint`; the generator keeps '
                'its initial weights (only sensible in tests).',
                logger='current')
        else:
            path = self.generator_checkpoint
            if '://' not in path and not osp.isfile(path):
                raise FileNotFoundError(
                    f'MHSelector: generator checkpoint "{path}" does not '
                    'exist. Train the generator first (tools/train.py with '
                    'its config) or point `model.generator_checkpoint` at '
                    'its checkpoint (e.g. --cfg-options '
                    'model.generator_checkpoint=PATH).')
            # weights_only=True with the allow-list; a mismatch is one
            # short report (docs/security.md)
            load_weights(
                self.generator,
                path,
                advice='Point `model.generator_checkpoint` at a checkpoint '
                'of the generator config that `model.generator` was copied '
                'from.')
        if self.init_from_generator:
            self.backbone.load_state_dict(self.generator.backbone.state_dict())
            self.neck.load_state_dict(self.generator.neck.state_dict())

    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor, UnfolderOutput]:
        """The selector's own features.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` preprocessed images.

        Returns:
            tuple: The backbone's last feature map ``(B, C_c, h, w)`` (the
            head's context) and the Unfolder's outputs.
        """
        backbone_feats = self.backbone(inputs)
        return backbone_feats[-1], self.neck(backbone_feats)

    @torch.no_grad()
    def generate(self, inputs: Tensor) -> Dict[str, Tensor]:
        """Run the frozen generator.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` preprocessed images.

        Returns:
            dict[str, Tensor]: :meth:`MultiHypothesisHead.forward` outputs,
            ``(B, K, T, ...)``, detached.
        """
        if self.generator.training:
            raise RuntimeError(
                'MHSelector: the generator must stay in eval mode; do not '
                'call `generator.train()`.')
        feats = self.generator.extract_feat(inputs)
        return self.generator.head.predict(feats)

    def score(self, inputs: Tensor,
              hypotheses: Dict[str, Tensor]) -> Tuple[Tensor, UnfolderOutput]:
        """Logits of every hypothesis.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` preprocessed images.
            hypotheses (dict[str, Tensor]): Output of :meth:`generate`.

        Returns:
            tuple: Logits ``(B, K, 2)`` and the selector's Unfolder outputs.
        """
        context, feats = self.extract_feat(inputs)
        logits = self.head(hypotheses['mano_pose'], feats.joint_feats, context)
        return logits, feats

    def _forward(self, inputs: Tensor, data_samples=None) -> Tensor:
        """``'tensor'`` mode: the logits ``(B, K, 2)``."""
        return self.score(inputs, self.generate(inputs))[0]

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Ranking and 2D joint losses of a batch.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` preprocessed images.
            data_samples (list[PoseDataSample]): Samples with
                ``gt_instance_labels``.

        Returns:
            dict[str, Tensor]: ``loss_rank``, ``loss_joint_img`` and
            ``hit_rate``.
        """
        hypotheses = self.generate(inputs)
        logits, feats = self.score(inputs, hypotheses)
        gt = BlurHandHead.gather_targets(
            data_samples,
            keys=('joints_2d', 'joints_2d_valid', 'joints_cam',
                  'joints_cam_valid'),
            device=logits.device)
        errors = self.sequence_errors(hypotheses, gt)
        losses = dict(
            loss_rank=self.loss_rank(logits, errors),
            loss_joint_img=self.loss_joint_img(feats.joints,
                                               gt['joints_2d'][..., :2],
                                               gt['joints_2d_valid']))
        losses['hit_rate'] = self._hit_rate(logits.detach(), errors)
        return losses

    @staticmethod
    def sequence_errors(hypotheses: Dict[str, Tensor],
                        gt: Dict[str, Tensor]) -> Tensor:
        """Error of every hypothesis sequence against the annotated joints.

        Args:
            hypotheses (dict[str, Tensor]): ``joints_cam`` ``(B, K, T, J,
                3)``.
            gt (dict[str, Tensor]): ``joints_cam`` ``(B, T, J, 3)`` and
                ``joints_cam_valid`` ``(B, T, J)``.

        Returns:
            Tensor: Mean joint distance (m) over valid joints, averaged over
            the time steps with valid joints, shape ``(B, K)``; NaN for
            images without any valid joint.
        """
        errors, valid = hypothesis_errors(hypotheses['joints_cam'],
                                          gt['joints_cam'],
                                          gt['joints_cam_valid'])
        return sequence_errors(errors, valid)

    def _hit_rate(self, logits: Tensor, errors: Tensor) -> Tensor:
        """Mean overlap of the predicted and the true top-n (n of the loss
        when it has ``num_positive``, else ``test_cfg.num_select``)."""
        num = min(
            getattr(self.loss_rank, 'num_positive',
                    self.test_cfg['num_select']), errors.shape[1])
        valid = torch.isfinite(errors).any(dim=1)
        truth = top_n_labels(errors, num)
        chosen = top_n_labels(-(logits[..., 1] - logits[..., 0]), num)
        overlap = (truth & chosen).sum(dim=1).float() / num
        if not valid.any():
            return overlap.new_tensor(float('nan'))
        return overlap[valid].mean()

    def predict(self, inputs: Tensor, data_samples: SampleList) -> SampleList:
        """Generate the hypotheses, score, rank and pack them.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` preprocessed images.
            data_samples (list[PoseDataSample]): Samples with the metainfo
                :meth:`BlurHandNet.add_pred_to_datasample` needs.

        Returns:
            list[PoseDataSample]: ``data_samples`` with ``pred_instances``
            (see :func:`pack_hypotheses`).
        """
        hypotheses = self.generate(inputs)
        logits, _ = self.score(inputs, hypotheses)
        scores = logits.softmax(dim=-1)[..., 1]
        instances = pack_hypotheses(self.generator.head, hypotheses, scores,
                                    self.test_cfg['num_select'],
                                    self.test_cfg['aggregate'])
        return self.add_pred_to_datasample(instances, data_samples)

    def add_pred_to_datasample(self, batch_pred_instances: List[InstanceData],
                               batch_data_samples: SampleList) -> SampleList:
        """Mirror left hands back (all hypotheses too) and map keypoints.

        Args:
            batch_pred_instances (list[InstanceData]): Packed predictions.
            batch_data_samples (list[PoseDataSample]): The batch's samples.

        Returns:
            list[PoseDataSample]: Samples with ``pred_instances`` set.
        """
        mirror_hypotheses(batch_pred_instances, batch_data_samples)
        return super().add_pred_to_datasample(batch_pred_instances,
                                              batch_data_samples)
