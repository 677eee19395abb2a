# Copyright (c) OpenMMLab. All rights reserved.
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import InstanceData

from mmblurhand.registry import TRANSFORMS

#: Default metainfo keys (``docs/data_contract.md``).
BLURHAND_META_KEYS = ('id', 'img_id', 'img_path', 'ori_shape', 'img_shape',
                      'input_size', 'input_center', 'input_scale', 'flip',
                      'flip_indices', 'rotation', 'hand_type', 'blur_rate',
                      'focal', 'princpt')


@TRANSFORMS.register_module()
class PackBlurHandInputs(BaseTransform):
    """Pack a BlurHand sample into ``inputs`` and a ``PoseDataSample``.

    ``inputs`` is the (3, H, W) uint8 BGR crop, as MMPose's
    ``PackPoseInputs`` gives. ``gt_instance_labels`` receives the training
    targets as tensors, ``gt_instances`` the evaluation ground truth as
    numpy arrays (both with a leading instance dimension of 1), and the
    metainfo the ``meta_keys`` present in ``results``.

    Required Keys:

        - img
        - the keys of ``label_mapping_table`` and ``instance_mapping_table``
          (missing ones are skipped)

    Added Keys:

        - inputs: torch.Tensor (3, H, W)
        - data_samples: ``PoseDataSample``

    Args:
        meta_keys (Sequence[str]): Keys copied into the metainfo. Defaults to
            :data:`BLURHAND_META_KEYS`.
    """

    #: results key -> ``gt_instance_labels`` key (torch tensors)
    label_mapping_table = {
        'joints_2d': 'joints_2d',
        'joints_2d_valid': 'joints_2d_valid',
        'joints_cam': 'joints_cam',
        'joints_cam_valid': 'joints_cam_valid',
        'mano_joints_cam': 'mano_joints_cam',
        'mano_joints_valid': 'mano_joints_valid',
        'mano_pose': 'mano_pose',
        'mano_shape': 'mano_shape',
        'mano_valid': 'mano_valid',
    }
    #: results key -> ``gt_instances`` key (numpy arrays)
    instance_mapping_table = {
        'gt_joints_cam': 'joints_cam',
        'gt_joints_cam_valid': 'joints_cam_valid',
        'gt_mesh_cam': 'mesh_cam',
        'gt_mesh_valid': 'mesh_valid',
        'bbox': 'bboxes',
        'gt_blur_rate': 'blur_rate',
        'is_left': 'is_left',
    }

    def __init__(self,
                 meta_keys: Sequence[str] = BLURHAND_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: Dict) -> Optional[dict]:
        """Pack the sample.

        Args:
            results (dict): The result dict.

        Returns:
            dict: ``dict(inputs=..., data_samples=...)``.
        """
        from mmpose.structures import PoseDataSample

        img = results['img']
        if img.ndim != 3:
            raise ValueError('PackBlurHandInputs expects an (H, W, C) image, '
                             f'got shape {img.shape}.')
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0,
                                                                     1)))

        gt_instances = InstanceData()
        for key, packed in self.instance_mapping_table.items():
            if key in results:
                gt_instances.set_field(np.asarray(results[key]), packed)
        gt_instance_labels = InstanceData()
        for key, packed in self.label_mapping_table.items():
            if key in results:
                gt_instance_labels.set_field(
                    np.asarray(results[key], dtype=np.float32), packed)

        data_sample = PoseDataSample()
        data_sample.gt_instances = gt_instances
        data_sample.gt_instance_labels = gt_instance_labels.to_tensor()
        data_sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
