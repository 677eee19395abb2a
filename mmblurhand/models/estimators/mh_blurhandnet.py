# Copyright (c) OpenMMLab. All rights reserved.
"""MHBlurHandNet: K hypotheses of a hand-mesh sequence from a blurry image.

Reference: "Multi-Hypothesis 3D Hand Mesh Recovering from a Single Blurry
Image" (generation model). Shapes are batch-first: ``(B, K, T, ...)``.
"""
from typing import Dict, List

import numpy as np
import torch
from mmengine.structures import InstanceData
from mmpose.utils.typing import ConfigType, OptConfigType, SampleList
from torch import Tensor

from mmblurhand.registry import MODELS
from .blurhandnet import BlurHandNet

#: Multi-hypothesis predictions whose x is negated to mirror a left hand
#: back (``joints_cam`` / ``vertices`` are handled by BlurHandNet).
HYPOTHESIS_MIRRORED_KEYS = ('hyp_joints_cam', 'hyp_vertices', 'agg_joints_cam',
                            'agg_vertices')
#: Regressor outputs of the chosen sequence copied into ``pred_instances``.
CHOSEN_KEYS = ('joints_cam', 'vertices', 'mano_pose', 'mano_shape', 'cam_t')
TEST_CFG_KEYS = ('num_select', 'aggregate')


def check_test_cfg(test_cfg: dict, owner: str) -> dict:
    """Validate the multi-hypothesis ``test_cfg`` and fill its defaults.

    Args:
        test_cfg (dict): ``num_select`` (n, default 4) and ``aggregate``
            (default False).
        owner (str): The estimator, for error messages.

    Returns:
        dict: The completed config.
    """
    unknown = set(test_cfg) - set(TEST_CFG_KEYS)
    if unknown:
        raise KeyError(f'{owner}: unknown test_cfg keys {sorted(unknown)}; '
                       f'expected some of {TEST_CFG_KEYS}.')
    cfg = dict(num_select=4, aggregate=False)
    cfg.update(test_cfg)
    if int(cfg['num_select']) < 1:
        raise ValueError(f'{owner}: test_cfg.num_select must be >= 1, got '
                         f'{cfg["num_select"]}.')
    return cfg


def pack_hypotheses(head, preds: Dict[str, Tensor], scores: Tensor,
                    num_select: int, aggregate: bool) -> List[InstanceData]:
    """Rank the hypotheses and pack them as ``pred_instances``.

    Args:
        head (MultiHypothesisHead): The head that produced ``preds`` (used
            to run MANO on the aggregate pose).
        preds (dict[str, Tensor]): :meth:`MultiHypothesisHead.forward`
            outputs, ``(B, K, T, ...)``.
        scores (Tensor): Selector scores, shape ``(B, K)``, higher is
            better.
        num_select (int): ``n`` of the top-n (clipped to K).
        aggregate (bool): Whether the chosen sequence (``joints_cam``,
            ``vertices``, ``mano_*``, ``cam_t``, ``keypoints``) is the mesh
            of the mean pose of the top-n (True) or the top-1 hypothesis.

    Returns:
        list[InstanceData]: One per image, numpy, network frame (right
        hand; keypoints in normalised crop coordinates): the chosen sequence
        ``joints_cam`` ``(1, T, J, 3)``, ``vertices`` ``(1, T, V, 3)``,
        ``mano_pose`` ``(1, T, 48)``, ``mano_shape`` ``(1, T, 10)``,
        ``cam_t`` ``(1, T, 3)``, ``keypoints`` ``(1, T, J, 2)``,
        ``keypoint_scores`` ``(1, T, J)``; all hypotheses ``hyp_joints_cam``
        ``(1, K, T, J, 3)``, ``hyp_keypoints`` ``(1, K, T, J, 2)`` (each
        hypothesis projected with the shared camera, normalised crop
        coordinates), ``hyp_vertices`` ``(1, K, T, V, 3)``,
        ``hyp_mano_pose`` ``(1, K, T, 48)``, ``hyp_scores`` ``(1, K)``;
        ``topn_indices`` ``(1, n)`` (best first); and the aggregate
        ``agg_joints_cam`` / ``agg_vertices``.
    """
    batch, num_hyps = scores.shape
    if preds['joints_cam'].shape[:2] != (batch, num_hyps):
        raise ValueError(
            f'pack_hypotheses: scores of shape {tuple(scores.shape)} do not '
            'match hypotheses of shape '
            f'{tuple(preds["joints_cam"].shape)} (B, K, T, J, 3).')
    order = torch.argsort(scores, dim=1, descending=True, stable=True)
    topn = order[:, :min(int(num_select), num_hyps)]
    agg = head.aggregate(preds, topn)
    if aggregate:
        chosen = agg
    else:
        rows = torch.arange(batch, device=scores.device)
        chosen = {
            key: preds[key][rows, order[:, 0]]
            for key in CHOSEN_KEYS + ('joints_2d', )
        }
    arrays = {key: chosen[key] for key in CHOSEN_KEYS}
    arrays.update(
        keypoints=chosen['joints_2d'],
        hyp_joints_cam=preds['joints_cam'],
        hyp_keypoints=preds['joints_2d'],
        hyp_vertices=preds['vertices'],
        hyp_mano_pose=preds['mano_pose'],
        hyp_scores=scores,
        agg_joints_cam=agg['joints_cam'],
        agg_vertices=agg['vertices'])
    arrays = {
        key: value.detach().float().cpu().numpy()
        for key, value in arrays.items()
    }
    arrays['topn_indices'] = topn.cpu().numpy()
    arrays['keypoint_scores'] = np.ones(
        arrays['keypoints'].shape[:-1], dtype=np.float32)
    return [
        InstanceData(**{
            k: v[i:i + 1]
            for k, v in arrays.items()
        }) for i in range(batch)
    ]


def mirror_hypotheses(batch_pred_instances: List[InstanceData],
                      batch_data_samples: SampleList) -> None:
    """Negate x of the multi-hypothesis 3D outputs of mirrored hands.

    Args:
        batch_pred_instances (list[InstanceData]): Packed predictions,
            modified in place.
        batch_data_samples (list[PoseDataSample]): Samples whose
            ``metainfo['flip']`` marks mirrored (left) hands.
    """
    for pred, sample in zip(batch_pred_instances, batch_data_samples):
        if not bool(sample.metainfo.get('flip', False)):
            continue
        for key in HYPOTHESIS_MIRRORED_KEYS:
            if key in pred:
                value = pred.get(key).copy()
                value[..., 0] *= -1
                pred.set_field(value, key)


@MODELS.register_module()
class MHBlurHandNet(BlurHandNet):
    """Multi-hypothesis generation model.

    ``backbone`` (e.g. MMPose's ``ResNet`` with ``out_indices=(1, 2, 3)``),
    a 2D ``Unfolder`` neck (``heatmap_dims=2``) and a
    :class:`MultiHypothesisHead` (hypothesis transformer, shared MANO
    regressor, best-of-K losses). At test time a parameter-free
    ``selector`` ranks the K hypotheses (the learned selector is the
    separate :class:`MHSelector`): :class:`ProjectiveSelector` (agreement of
    each hypothesis' projected joints with the Unfolder's 2D joints) or
    :class:`RandomSelector`.

    Modes: ``'loss'`` returns the head's losses; ``'predict'`` returns the
    data samples with ``pred_instances`` holding all K hypotheses, their
    scores, the top-n and the chosen sequence (see :func:`pack_hypotheses`),
    left hands mirrored back; ``'tensor'`` returns the head's output dict.

    Args:
        backbone (dict): Backbone config.
        neck (dict): 2D ``Unfolder`` config.
        head (dict): :class:`MultiHypothesisHead` config.
        selector (dict): Baseline selector config. Defaults to
            ``dict(type='ProjectiveSelector')``.
        train_cfg (dict, optional): Passed to the head's ``loss``.
        test_cfg (dict, optional): ``num_select`` (n of the top-n, default
            4) and ``aggregate`` (whether the chosen sequence is the mesh of
            the mean top-n pose instead of the top-1; default False).
        data_preprocessor (dict, optional): Data preprocessor config.
        init_cfg (dict, optional): Initialisation config.
        metainfo (dict, optional): Overrides the data samples' metainfo.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: ConfigType,
                 head: ConfigType,
                 selector: ConfigType = dict(type='ProjectiveSelector'),
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
        self.selector = MODELS.build(selector)

    def predict(self, inputs: Tensor, data_samples: SampleList) -> SampleList:
        """Generate, rank and pack the hypotheses of a batch.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` preprocessed images.
            data_samples (list[PoseDataSample]): Samples with metainfo
                ``input_center``, ``input_scale``, ``input_size`` and
                optionally ``flip`` and ``rotation``.

        Returns:
            list[PoseDataSample]: ``data_samples`` with ``pred_instances``.
        """
        feats = self.extract_feat(inputs)
        preds = self.head.predict(feats, data_samples, test_cfg=self.test_cfg)
        scores = self.selector(preds['joints_2d'], preds['unfolder_joints'])
        instances = pack_hypotheses(self.head, preds, scores,
                                    self.test_cfg['num_select'],
                                    self.test_cfg['aggregate'])
        return self.add_pred_to_datasample(instances, data_samples)

    def add_pred_to_datasample(self, batch_pred_instances: List[InstanceData],
                               batch_data_samples: SampleList) -> SampleList:
        """Mirror left hands back (all hypotheses too) and map keypoints.

        See :meth:`BlurHandNet.add_pred_to_datasample`; the
        ``hyp_joints_cam``, ``hyp_vertices``, ``agg_joints_cam`` and
        ``agg_vertices`` of mirrored hands are mirrored back as well.

        Args:
            batch_pred_instances (list[InstanceData]): Packed predictions.
            batch_data_samples (list[PoseDataSample]): The batch's samples.

        Returns:
            list[PoseDataSample]: Samples with ``pred_instances`` set.
        """
        mirror_hypotheses(batch_pred_instances, batch_data_samples)
        return super().add_pred_to_datasample(batch_pred_instances,
                                              batch_data_samples)
