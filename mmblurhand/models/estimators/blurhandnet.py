# Copyright (c) OpenMMLab. All rights reserved.
"""BlurHandNet: a 3D hand mesh sequence from one motion-blurred image.

Reference: Oh et al., "Recovering 3D Hand Mesh Sequence from a Single Blurry
Image: A New Dataset and Temporal Unfolding", CVPR 2023.
"""
from typing import List

import numpy as np
from mmengine.structures import InstanceData
from mmpose.models.pose_estimators.base import BasePoseEstimator
from mmpose.utils.typing import SampleList
from torch import Tensor

from mmblurhand.datasets.transforms.hand_geometry import crop_to_image_points
from mmblurhand.registry import MODELS

#: 3D predictions whose x is negated to mirror a left hand back.
MIRRORED_KEYS = ('joints_cam', 'vertices')


@MODELS.register_module()
class BlurHandNet(BasePoseEstimator):
    """BlurHandNet: backbone, Unfolder neck and :class:`BlurHandHead`.

    ``backbone`` (e.g. MMPose's ``ResNet`` with ``out_indices=(1, 2, 3)``)
    gives the multi-scale features, the ``Unfolder`` neck unfolds them into
    T per-step joints and joint features, and the head regresses a MANO
    mesh per step (see :class:`BlurHandHead` for the losses).

    Modes: ``'loss'`` returns the head's losses, ``'predict'`` returns the
    data samples with ``pred_instances`` filled (see
    :meth:`add_pred_to_datasample`), ``'tensor'`` returns the head's raw
    output dict.

    Args:
        backbone (dict): Backbone config.
        neck (dict): ``Unfolder`` config.
        head (dict): ``BlurHandHead`` config.
        train_cfg (dict, optional): Passed to the head's ``loss``.
        test_cfg (dict, optional): Passed to the head's ``predict``.
        data_preprocessor (dict, optional): Defaults to MMPose's
            ``PoseDataPreprocessor`` (set ``mean=[0, 0, 0]``,
            ``std=[255, 255, 255]``, ``bgr_to_rgb=True`` for the official
            [0, 1] RGB input).
        init_cfg (dict, optional): Initialisation config.
        metainfo (dict, optional): Overrides the data samples' metainfo.
    """

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Losses of a batch.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` preprocessed images.
            data_samples (list[PoseDataSample]): Samples with
                ``gt_instance_labels``.

        Returns:
            dict[str, Tensor]: The head's losses.
        """
        feats = self.extract_feat(inputs)
        return self.head.loss(feats, data_samples, train_cfg=self.train_cfg)

    def predict(self, inputs: Tensor, data_samples: SampleList) -> SampleList:
        """Predict the hand-mesh sequences of a batch.

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
        return self.add_pred_to_datasample(preds, data_samples)

    def add_pred_to_datasample(self, batch_pred_instances: List[InstanceData],
                               batch_data_samples: SampleList) -> SampleList:
        """Move predictions to the original hand and image frame.

        Per ``docs/data_contract.md``: for mirrored (left) hands,
        ``metainfo['flip']``, the x of the root-relative ``joints_cam`` and
        ``vertices`` is negated (MANO parameters and ``cam_t`` stay in the
        right-hand frame the network predicts in); ``keypoints`` go from
        normalised crop coordinates to original image pixels through the
        crop's ``input_center``, ``input_scale``, ``input_size``,
        ``rotation`` and ``flip``. ``bboxes`` are copied from
        ``gt_instances`` when present.

        Args:
            batch_pred_instances (list[InstanceData]): The head's output.
            batch_data_samples (list[PoseDataSample]): The batch's samples.

        Returns:
            list[PoseDataSample]: Samples with ``pred_instances`` set.
        """
        if len(batch_pred_instances) != len(batch_data_samples):
            raise ValueError(
                f'BlurHandNet: {len(batch_pred_instances)} predictions for '
                f'{len(batch_data_samples)} data samples.')
        for pred, sample in zip(batch_pred_instances, batch_data_samples):
            meta = sample.metainfo
            flip = bool(meta.get('flip', False))
            if flip:
                for key in MIRRORED_KEYS:
                    value = pred.get(key).copy()
                    value[..., 0] *= -1
                    pred.set_field(value, key)
            missing = [
                k for k in ('input_center', 'input_scale', 'input_size')
                if k not in meta
            ]
            if missing:
                raise KeyError(
                    f'BlurHandNet.predict: metainfo lacks {missing}; pack '
                    'them with PackBlurHandInputs(meta_keys=...) to map '
                    'keypoints back to the image.')
            # keypoints (and every hypothesis' ``hyp_keypoints`` of a
            # multi-hypothesis model): normalised crop -> image pixels
            for key in ('keypoints', 'hyp_keypoints'):
                if key not in pred:
                    continue
                pred.set_field(
                    crop_to_image_points(
                        pred.get(key),
                        meta['input_center'],
                        meta['input_scale'],
                        meta['input_size'],
                        rotation=float(
                            np.asarray(meta.get('rotation',
                                                0.)).reshape(-1)[0]),
                        flip=flip,
                        normalised=True).astype(np.float32), key)
            if 'gt_instances' in sample and 'bboxes' in sample.gt_instances:
                pred.bboxes = sample.gt_instances.bboxes
            sample.pred_instances = pred
        return batch_data_samples
