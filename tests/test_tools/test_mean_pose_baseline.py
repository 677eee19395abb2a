# Copyright (c) OpenMMLab. All rights reserved.
"""The constant mean-pose baseline tool on a tiny synthetic dataset."""
import json
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from mmblurhand.registry import DATASETS
from mmblurhand.utils import register_all_modules

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(
    REPO, 'configs/blurhandnet/'
    'blurhandnet_r18_1xb16-10e_blurhand-synthetic-128x128.py')


def _dataset(root, split):
    register_all_modules()
    cfg = Config.fromfile(CONFIG)
    dataset = cfg.test_dataloader.dataset
    dataset.data_root = root + '/'
    dataset.split = split
    return DATASETS.build(dataset)


def test_constant_prediction_scores_hand_computed_errors(
        tiny_dataset, mean_pose_tool):
    tool = mean_pose_tool
    dataset = _dataset(tiny_dataset, 'test')
    sample = dataset[0]['data_samples']
    joints, valid, flip = tool._joints(sample)
    one = [dataset[0]]  # a one-sample "dataset"
    # predicting the sample's own joints: zero error in both modes
    results = tool.score_constant(one, joints)
    for mode in ('per_joint', 'pooled'):
        assert results[mode]['MPJPE_middle'] == pytest.approx(0, abs=1e-6)
    # moving every finger joint (not the wrist) by 1 cm along z: each
    # step's MPJPE is 10 mm x (valid finger joints) / (valid joints)
    shifted = joints.copy()
    shifted[:, 1:, 2] += 0.01
    results = tool.score_constant(one, shifted)
    middle = valid[1]
    expected = 10.0 * middle[1:].sum() / middle.sum()
    assert results['pooled']['MPJPE_middle'] == pytest.approx(
        expected, rel=1e-6)


def test_cli_writes_both_modes(tiny_dataset, mean_pose_tool, tmp_path):
    tool = mean_pose_tool
    out = tmp_path / 'baseline.json'
    results = tool.main([
        CONFIG, '--json',
        str(out), '--cfg-options',
        f'train_dataloader.dataset.data_root={tiny_dataset}/',
        f'test_dataloader.dataset.data_root={tiny_dataset}/'
    ])
    saved = json.loads(out.read_text())
    assert saved['num_train'] == len(_dataset(tiny_dataset, 'train'))
    assert saved['num_test'] == len(_dataset(tiny_dataset, 'test'))
    assert set(saved['metrics']) == {'per_joint', 'pooled'}
    for mode in ('per_joint', 'pooled'):
        value = saved['metrics'][mode]['MPJPE_middle']
        assert np.isfinite(value) and value > 0
        assert value == pytest.approx(results[mode]['MPJPE_middle'])


def test_missing_config_is_a_clear_error(mean_pose_tool, tmp_path):
    with pytest.raises(SystemExit, match='no config at'):
        mean_pose_tool.main([str(tmp_path / 'nope.py')])
