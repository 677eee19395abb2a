# Copyright (c) OpenMMLab. All rights reserved.
"""Fit the Gaussian finger-pose prior of GaussianPosePrior on training poses.

Reads the annotated MANO poses of a BlurHand-layout training split (every
time step with a MANO fit; left hands mirrored into right hands as the
training pipeline does), keeps the finger part (``pose[first:]``, the
global orientation is left out) and writes ``mean`` and ``cov`` to an
``.npz``.

Example (repository root)::

    PYTHONPATH=. python projects/mhentropy/tools/fit_pose_prior.py \
        projects/mhentropy/configs/mhentropy-flow_r18s_ent-2d_study-synthetic-64x64.py \
        --out work_dirs/mhentropy/pose_prior_blurhand-synthetic.npz
"""
import argparse
import os
import os.path as osp

import numpy as np
from mmengine.config import Config


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config whose train dataset is used')
    parser.add_argument('--out', required=True, help='output .npz')
    parser.add_argument(
        '--first',
        type=int,
        default=3,
        help='first pose dim under the prior (3 skips the global orient)')
    return parser.parse_args()


def collect_poses(dataset, first: int) -> np.ndarray:
    """Finger poses ``(N, 48 - first)`` of every step with a MANO fit."""
    from mmblurhand.datasets.transforms.hand_geometry import \
        mirror_axis_angle
    poses = []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        pose = np.asarray(info['ann_mano_pose'], np.float64)  # (T, 48)
        valid = np.asarray(info['ann_mano_valid']) > 0
        if info['hand_type'] == 'left':
            pose = mirror_axis_angle(pose)
        poses.append(pose[valid, first:])
    if not poses or not sum(len(p) for p in poses):
        raise RuntimeError('fit_pose_prior: the dataset has no MANO fits.')
    return np.concatenate(poses)


def main():
    args = parse_args()
    from mmengine.registry import init_default_scope

    from mmblurhand.registry import DATASETS
    from mmblurhand.utils import register_all_modules
    register_all_modules()
    init_default_scope('mmblurhand')
    cfg = Config.fromfile(args.config)
    dataset_cfg = dict(cfg.train_dataloader.dataset)
    dataset_cfg['pipeline'] = []
    dataset = DATASETS.build(dataset_cfg)
    poses = collect_poses(dataset, args.first)
    mean = poses.mean(0)
    cov = np.cov(poses, rowvar=False)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    np.savez(args.out, mean=mean, cov=cov, num_poses=len(poses))
    print(f'fit_pose_prior: {len(poses)} poses from {len(dataset)} hands; '
          f'mean |pose| {np.abs(mean).mean():.3f} rad, mean std '
          f'{np.sqrt(np.diag(cov)).mean():.3f} rad -> {args.out}')


if __name__ == '__main__':
    main()
