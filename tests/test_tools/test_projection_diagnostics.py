# Copyright (c) OpenMMLab. All rights reserved.
"""tools/analysis_tools/projection_diagnostics.py on a tiny dataset, for
BlurHandNet and the multi-hypothesis generator."""
import json
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmblurhand.registry import MODELS
from mmblurhand.utils import register_all_modules

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = {
    'blurhandnet': 'configs/blurhandnet/'
    'blurhandnet_r18_1xb16-10e_blurhand-synthetic-128x128.py',
    'generator': 'configs/mh_blurhandnet/'
    'mh-gen_r18_1xb16-10e_blurhand-synthetic-128x128.py',
}


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_report_on_an_untrained_model(name, tiny_dataset, projection_tool,
                                     tmp_path):
    """An untrained model's camera sits at k / 2 (sigmoid(0)); the report
    has every figure, finite and in range, and the JSON matches it."""
    register_all_modules()
    config = osp.join(REPO, CONFIGS[name])
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(config).model)
    with torch.no_grad():  # a zero camera output: t_z = k / 2 exactly
        model.head.regressor.camera_head.weight.zero_()
        model.head.regressor.camera_head.bias.zero_()
    checkpoint = tmp_path / 'model.pth'
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    out = tmp_path / 'report.json'
    report = projection_tool.main([
        config,
        str(checkpoint), '--num-samples', '2', '--json',
        str(out), '--cfg-options',
        f'test_dataloader.dataset.data_root={tiny_dataset}/'
    ])
    assert json.loads(out.read_text()) == report
    k = report['depth_upper_bound']
    assert k == pytest.approx(5000 * 0.4 / 128)
    for stat in ('mean', 'min', 'max'):
        assert report['depth_pred'][stat] == pytest.approx(k / 2, rel=1e-5)
        assert 0 < report['depth_target'][stat] <= k
    assert report['num_samples'] == 2  # one batch of 2 hands
    for key in ('extent_ratio', 'unfolder_2d_error', 'constant_2d_error'):
        assert math.isfinite(report[key]) and report[key] > 0


def test_missing_checkpoint_is_a_clear_error(projection_tool, tmp_path):
    config = osp.join(REPO, CONFIGS['blurhandnet'])
    with pytest.raises(SystemExit, match='no file at'):
        projection_tool.main([config, str(tmp_path / 'nope.pth')])
