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


@pytest.fixture(scope='module')
def tiny_root(tmp_path_factory):
    from mmblurhand.datasets.synthesis import (SynthesisConfig,
                                               synthesize_blurhand)
    root = str(tmp_path_factory.mktemp('mean_pose'))
    synthesize_blurhand(
        root, 3, 2, seed=5, workers=1, cfg=SynthesisConfig(image_size=96),
        progress=False)
    return root


def _tool():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'mean_pose_baseline',
        osp.join(REPO, 'tools/analysis_tools/mean_pose_baseline.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dataset(root, split):
    register_all_modules()
    cfg = Config.fromfile(CONFIG)
    dataset = cfg.test_dataloader.dataset
    dataset.data_root = root + '/'
    dataset.split = split
    return DATASETS.build(dataset)


def test_constant_prediction_scores_hand_computed_errors(tiny_root):
    tool = _tool()
    dataset = _dataset(tiny_root, 'test')
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


def test_cli_writes_both_modes(tiny_root, tmp_path):
    tool = _tool()
    out = tmp_path / 'baseline.json'
    results = tool.main([
        CONFIG, '--json',
        str(out), '--cfg-options',
        f'train_dataloader.dataset.data_root={tiny_root}/',
        f'test_dataloader.dataset.data_root={tiny_root}/'
    ])
    saved = json.loads(out.read_text())
    assert saved['num_train'] == 3 and saved['num_test'] == 2
    assert set(saved['metrics']) == {'per_joint', 'pooled'}
    for mode in ('per_joint', 'pooled'):
        value = saved['metrics'][mode]['MPJPE_middle']
        assert np.isfinite(value) and value > 0
        assert value == pytest.approx(results[mode]['MPJPE_middle'])


def test_missing_config_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match='no config at'):
        _tool().main([str(tmp_path / 'nope.py')])
