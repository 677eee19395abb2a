# Copyright (c) OpenMMLab. All rights reserved.
"""MHEntropy's diversity metrics on top of :class:`MultiHypothesisMetric`."""
from typing import Dict, List

import numpy as np

from mmblurhand.evaluation.metrics.multi_hypothesis_metric import (
    MultiHypothesisMetric, per_joint_deviation)
from mmblurhand.registry import METRICS


def masked_deviation(deviation: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-joint deviations where ``mask``, NaN elsewhere."""
    return np.where(mask, deviation, np.nan)


@METRICS.register_module()
class MHEntropyMetric(MultiHypothesisMetric):
    """:class:`MultiHypothesisMetric` plus visible/occluded diversity.

    With ``gt_instances.joints_vis`` ``(1, T, J)`` (from
    ``ComputeJointVisibility``: 1 = visible and inside the crop) and
    ``joints_cam_valid``, the per-joint deviation over the K hypotheses
    (PJD, see :func:`per_joint_deviation`) is also averaged over

    - ``PJD-vis_{s}`` / ``PJD-occ_{s}``: valid visible / valid occluded
      joints, root-relative 3D joints (mm); the wrist (root) is left out;
    - ``PJD2d-vis_{s}`` / ``PJD2d-occ_{s}``: the same joints, projected
      hypotheses ``hyp_keypoints`` ``(1, K, T, J, 2)`` in image pixels;
    - ``RD_{s}`` = ``PJD2d-vis_{s} / PJD-occ_{s}`` (MHEntropy's relative
      diversity, pixels over mm; lower means diverse where unseen and
      consistent where seen), from the averaged values;
    - ``occluded_fraction_{s}``: share of valid non-root joints that are
      occluded.

    Samples without ``joints_vis`` get only the base keys. Accepts the
    arguments of :class:`MultiHypothesisMetric`.
    """

    def _process_sample(self, sample: dict) -> dict:
        result = super()._process_sample(sample)
        pred, gt = sample['pred_instances'], sample['gt_instances']
        if 'joints_vis' not in gt:
            return result
        root = self.root_index
        vis = self._get(gt, 'joints_vis', 'gt_instances')[0] > 0
        valid = self._get(gt, 'joints_cam_valid', 'gt_instances')[0] > 0
        non_root = np.ones(valid.shape[-1], dtype=bool)
        non_root[root] = False
        visible = valid & vis & non_root
        occluded = valid & ~vis & non_root
        joints = self._get(pred, 'hyp_joints_cam',
                           'pred_instances')[0].astype(np.float64)
        joints = joints - joints[..., root:root + 1, :]
        pjd = per_joint_deviation(joints) * 1000.
        result['PJD-vis'] = masked_deviation(pjd, visible)
        result['PJD-occ'] = masked_deviation(pjd, occluded)
        if 'hyp_keypoints' in pred:
            kpts = self._get(pred, 'hyp_keypoints',
                             'pred_instances')[0].astype(np.float64)
            pjd2d = per_joint_deviation(kpts)
            result['PJD2d-vis'] = masked_deviation(pjd2d, visible)
            result['PJD2d-occ'] = masked_deviation(pjd2d, occluded)
        # (T, J) 0/1 over the valid non-root joints, NaN elsewhere.
        result['occluded_fraction'] = np.where(valid & non_root,
                                               occluded.astype(np.float64),
                                               np.nan)
        return result

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Base metrics plus ``RD_{s}`` from the averaged deviations."""
        metrics = super().compute_metrics(results)
        for key in list(metrics):
            if key.startswith('PJD2d-vis_'):
                tail = key[len('PJD2d-vis_'):]
                occ = metrics.get(f'PJD-occ_{tail}')
                if occ:
                    metrics[f'RD_{tail}'] = metrics[key] / occ
        return metrics
