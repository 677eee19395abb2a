# Copyright (c) OpenMMLab. All rights reserved.
"""Overfitting check (the model fits a few images, gradients reach every
module) and the learning-curve hook."""
import json
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config

from engine_toys import tiny_blurhandnet_config_text
from mmblurhand.engine.hooks.learning_curve_hook import unfolder_2d_errors
from mmblurhand.engine.overfit import (freeze_modules, run_overfit_check,
                                       stuck_modules)
from mmblurhand.testing import get_packed_inputs


def _tiny_cfg(tmp_path, data_root, **kwargs):
    path = tmp_path / 'tiny_blurhandnet.py'
    path.write_text(tiny_blurhandnet_config_text(data_root, **kwargs))
    cfg = Config.fromfile(str(path))
    cfg.optim_wrapper.optimizer.lr = 1e-3
    return cfg


def test_blurhandnet_fits_eight_images(tmp_path, synthetic_blurhand):
    """The tiny BlurHandNet fits its 8 training images: the middle-step
    MPJPE falls from that of the initial (mean-pose) prediction to a small
    fraction of it, and no module is left without gradients."""
    cfg = _tiny_cfg(tmp_path, synthetic_blurhand, batch_size=8)
    rows = []
    result = run_overfit_check(
        cfg, num_images=8, max_iters=250, eval_interval=50,
        metric='MPJPE_middle', target=4.0, rule='less',
        progress=rows.append)
    assert result.stuck_modules == []
    assert result.reached, result.curve
    assert result.passed
    assert rows[0]['MPJPE_middle'] > 3 * result.final


@pytest.mark.parametrize('module', ['neck', 'head.ktformer',
                                    'head.regressor', 'backbone'])
def test_frozen_module_fails_the_check(tmp_path, synthetic_blurhand, module):
    """A module that gradients never reach fails the check, even when the
    metric target is met (here: a target every model meets)."""
    cfg = _tiny_cfg(tmp_path, synthetic_blurhand, batch_size=4)
    result = run_overfit_check(
        cfg, num_images=4, max_iters=2, eval_interval=2,
        metric='MPJPE_middle', target=1e9, rule='less', freeze=[module])
    assert result.reached
    assert not result.passed
    assert result.stuck_modules
    assert all(name.startswith(module) for name in result.stuck_modules)


def test_stuck_modules_and_freeze_errors():
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 2), torch.nn.Sequential(torch.nn.Linear(2, 1)))
    initial = {n: p.detach().clone() for n, p in model.named_parameters()}
    with torch.no_grad():
        model[0].weight.add_(1.)
    # depth 2: '0.weight' -> group '0.weight'; depth 1: '0', '1'
    assert stuck_modules(model, initial, depth=1) == ['1']
    with pytest.raises(KeyError, match='no submodule "head"'):
        freeze_modules(model, ['head'])


def test_unknown_model_type_needs_a_criterion(tmp_path, synthetic_blurhand):
    cfg = _tiny_cfg(tmp_path, synthetic_blurhand)
    cfg.model.type = 'SomethingElse'
    with pytest.raises(ValueError, match='no default criterion'):
        run_overfit_check(cfg, num_images=2, max_iters=1)


class _FakeBlurHandNet(torch.nn.Module):
    """extract_feat returns fixed Unfolder joints."""

    def __init__(self, joints):
        super().__init__()
        self.joints = joints

    def data_preprocessor(self, batch, training):
        return batch

    def extract_feat(self, inputs):
        return SimpleNamespace(joints=self.joints)


def test_unfolder_2d_errors_hand_computed():
    packed = get_packed_inputs(batch_size=2, invalid_ratio=0.)
    gt = torch.cat([s.gt_instance_labels.joints_2d
                    for s in packed['data_samples']]).float()[..., :2]
    batch = dict(inputs=None, data_samples=packed['data_samples'])
    # predictions = GT shifted by (0.03, 0.04): error 0.05 everywhere
    shifted = gt + torch.tensor([0.03, 0.04])
    errs = unfolder_2d_errors(_FakeBlurHandNet(shifted), [batch])
    assert errs['unfolder_2d_middle'] == pytest.approx(0.05, abs=1e-5)
    assert errs['unfolder_2d_all'] == pytest.approx(0.05, abs=1e-5)
    centre = (gt[:, 1] - 0.5).norm(dim=-1).mean().item()
    assert errs['centre_2d_middle'] == pytest.approx(centre, rel=1e-5)
    # BlurHandNet's Unfolder is order-invariant: a reversed sequence counts
    # as exact; another model type is not forgiven.
    reversed_ = gt.flip(1)
    fake = type('BlurHandNet', (_FakeBlurHandNet, ), {})(reversed_)
    assert unfolder_2d_errors(fake, [batch])['unfolder_2d_all'] == \
        pytest.approx(0., abs=1e-6)
    other = type('MHBlurHandNet', (_FakeBlurHandNet, ), {})(reversed_)
    assert unfolder_2d_errors(other, [batch])['unfolder_2d_all'] > 0.01


def test_learning_curve_hook_writes_rows(tmp_path, synthetic_blurhand):
    from mmengine.runner import Runner
    text = tiny_blurhandnet_config_text(
        synthetic_blurhand, max_epochs=2, batch_size=4, ckpt_interval=100,
        extra="custom_hooks = [dict(type='LearningCurveHook', "
        "num_train_samples=4)]")
    path = tmp_path / 'curve.py'
    path.write_text(text)
    cfg = Config.fromfile(str(path))
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    with open(osp.join(cfg.work_dir, 'learning_curve.jsonl')) as f:
        rows = [json.loads(line) for line in f]
    assert [r['epoch'] for r in rows] == [1, 2]
    for row in rows:
        for key in ('MPJPE_middle', 'train_MPJPE_middle',
                    'unfolder_2d_middle', 'train_unfolder_2d_middle',
                    'centre_2d_middle'):
            assert key in row and row[key] == row[key]  # present, not NaN
