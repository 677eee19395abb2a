# Copyright (c) OpenMMLab. All rights reserved.
"""The constant mean-pose baseline: the error a model must clearly beat.

    python tools/analysis_tools/mean_pose_baseline.py CONFIG [--json OUT]

Predicts, for every test image, the same root-relative joint sequence: the
mean over the training split of the GT joints (wrist-relative, in the
right-hand frame the networks predict in, per time step and joint, valid
joints only), mirrored back for left hands like a model's prediction. It
is scored with :class:`BlurHandMetric` in both averaging modes
(``per_joint``, the official BlurHandNet one, and ``pooled``, the one of
``MultiHypothesisMetric``), including its past/future order choice, so the
numbers compare directly with ``tools/test.py``'s.

The datasets and pipelines are the config's ``train_dataloader`` and
``test_dataloader`` ones (images are loaded and cropped, as in testing).
"""
import argparse
import json
import os
import os.path as osp

import numpy as np
from mmengine.config import Config, DictAction
from mmengine.structures import InstanceData
from mmengine.utils import ProgressBar

from mmblurhand.evaluation.metrics import BlurHandMetric
from mmblurhand.registry import DATASETS
from mmblurhand.utils import register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Score the constant mean-pose prediction on a test set.')
    parser.add_argument('config', help='a training config (datasets)')
    parser.add_argument('--json', help='write the metrics here')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config (as in tools/test.py)')
    return parser.parse_args(argv)


def _joints(sample) -> tuple:
    """Root-relative GT joints ``(T, J, 3)`` (m) in the network's
    right-hand frame, their validity ``(T, J)`` and the flip flag."""
    gt = sample.gt_instances
    joints = np.asarray(gt.joints_cam, dtype=np.float64)[0]
    valid = np.asarray(gt.joints_cam_valid)[0] > 0
    flip = bool(sample.metainfo.get('flip', False))
    joints = joints - joints[:, :1]
    if flip:
        joints[..., 0] *= -1
    return joints, valid, flip


def mean_joint_sequence(dataset) -> np.ndarray:
    """Per-step, per-joint mean of the valid root-relative GT joints.

    Returns:
        np.ndarray: ``(T, J, 3)`` metres; joints never valid are 0.
    """
    total = count = None
    bar = ProgressBar(len(dataset))
    for index in range(len(dataset)):
        joints, valid, _ = _joints(dataset[index]['data_samples'])
        if total is None:
            total = np.zeros_like(joints)
            count = np.zeros(valid.shape)
        total += joints * valid[..., None]
        count += valid
        bar.update()
    print()
    if total is None:
        raise ValueError('mean_pose_baseline: the training split is empty.')
    return total / np.maximum(count, 1)[..., None]


def score_constant(dataset, mean: np.ndarray) -> dict:
    """BlurHandMetric (both averaging modes) of predicting ``mean``."""
    metrics = {
        mode: BlurHandMetric(mode=mode)
        for mode in ('per_joint', 'pooled')
    }
    bar = ProgressBar(len(dataset))
    for index in range(len(dataset)):
        sample = dataset[index]['data_samples']
        _, _, flip = _joints(sample)
        pred = mean.copy()
        if flip:
            pred[..., 0] *= -1
        record = dict(
            pred_instances=InstanceData(joints_cam=pred[None]),
            gt_instances=sample.gt_instances,
            metainfo=sample.metainfo)
        for metric in metrics.values():
            metric.process(None, [record])
        bar.update()
    print()
    results = {}
    for mode, metric in metrics.items():
        values = metric.compute_metrics(metric.results)
        results[mode] = {k: float(v) for k, v in values.items()}
    return results


def main(argv=None):
    args = parse_args(argv)
    register_all_modules()
    if not osp.isfile(args.config):
        raise SystemExit(f'mean_pose_baseline: no config at {args.config}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    print('training split: mean root-relative joint sequence')
    train_set = DATASETS.build(cfg.train_dataloader.dataset)
    mean = mean_joint_sequence(train_set)
    print('test split: scoring the constant prediction')
    test_set = DATASETS.build(cfg.test_dataloader.dataset)
    results = score_constant(test_set, mean)
    for mode, values in results.items():
        keys = [k for k in values if '/' not in k and 'MPJPE' in k]
        print(f'{mode:>9}: ' + ', '.join(f'{k} {values[k]:.2f}'
                                         for k in sorted(keys)))
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(
                dict(
                    config=args.config,
                    num_train=len(train_set),
                    num_test=len(test_set),
                    metrics=results),
                f,
                indent=1)
        print(f'wrote {args.json}')
    return results


if __name__ == '__main__':
    main()
