# Copyright (c) OpenMMLab. All rights reserved.
"""A checkpoint trained with another config gets a clear mismatch report
(resume and test refuse it, fine-tuning warns) and nothing is written."""
import itertools
import os
import os.path as osp

import pytest
import torch
from engine_toys import RUNTIME_CFG, toy_config_text
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner
from torch import nn

from mmblurhand.engine.checkpoint_check import (CheckpointMismatchError,
                                                check_checkpoint_matches,
                                                compare_state_dicts,
                                                config_differences,
                                                settings_report)
from mmblurhand.utils import register_all_modules

register_all_modules()
_names = (f'ckpt_check_{i}' for i in itertools.count())


def _cfg(tmp_path, work, hidden, **overrides):
    path = tmp_path / f'toy_h{hidden}.py'
    path.write_text(toy_config_text(RUNTIME_CFG, hidden=hidden, max_epochs=1))
    cfg = Config.fromfile(str(path))
    cfg.work_dir = str(tmp_path / work)
    cfg.experiment_name = next(_names)
    cfg.custom_hooks = []
    cfg.merge_from_dict(overrides)
    return cfg


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A 1-epoch run of the hidden=8 config; its final checkpoint."""
    tmp_path = tmp_path_factory.mktemp('ckpt_check')
    Runner.from_cfg(_cfg(tmp_path, 'h8', hidden=8)).train()
    return tmp_path, str(tmp_path / 'h8' / 'iter_5.pth')


def _snapshot(directory):
    return {
        name: os.stat(osp.join(directory, name)).st_mtime_ns
        for name in os.listdir(directory)
    }


def test_test_with_other_config_checkpoint_fails_clearly(trained):
    tmp_path, ckpt = trained
    before = _snapshot(osp.dirname(ckpt))
    runner = Runner.from_cfg(_cfg(tmp_path, 'test16', hidden=16,
                                  load_from=ckpt))
    with pytest.raises(CheckpointMismatchError) as info:
        runner.test()
    message = str(info.value)
    assert f'Checkpoint "{ckpt}" does not match' in message
    assert 'net.0.weight: (8, 3) vs (16, 3)' in message
    assert 'net.3.weight: (1, 8) vs (1, 16)' in message
    assert 'model.hidden: 8 -> 16' in message
    assert "['meta']['cfg']" in message
    assert _snapshot(osp.dirname(ckpt)) == before  # nothing rewritten


def test_resume_with_other_config_fails_before_touching_anything(trained):
    tmp_path, ckpt = trained
    work = osp.dirname(ckpt)
    before = _snapshot(work)
    cfg = _cfg(tmp_path, 'h8', hidden=16, resume=True)
    cfg.train_cfg.max_epochs = 2
    with pytest.raises(CheckpointMismatchError, match='--resume'):
        Runner.from_cfg(cfg).train()
    after = _snapshot(work)
    assert {k: v for k, v in after.items() if k in before} == before
    assert not [n for n in after if n.endswith('.pth') and n not in before]


def test_fine_tuning_from_other_config_warns_and_trains(trained, capsys):
    tmp_path, ckpt = trained
    runner = Runner.from_cfg(_cfg(tmp_path, 'ft16', hidden=16,
                                  load_from=ckpt))
    runner.train()
    log = open(MMLogger.get_current_instance().log_file).read()
    assert 'does not match the model' in log
    assert 'Training goes on' in log
    assert osp.isfile(tmp_path / 'ft16' / 'iter_5.pth')


def test_matching_checkpoint_passes(trained):
    tmp_path, ckpt = trained
    runner = Runner.from_cfg(_cfg(tmp_path, 'test8', hidden=8,
                                  load_from=ckpt))
    metrics = runner.test()
    assert metrics['num_samples'] == 11


def test_same_weights_other_settings_warn_and_run(trained):
    """A checkpoint whose weights fit but whose ``model`` settings differ
    (here a dropout, like the Unfolder's logit scale a setting without
    weights) is evaluated, with a warning that lists the difference."""
    tmp_path, ckpt = trained
    runner = Runner.from_cfg(
        _cfg(tmp_path, 'test8_dropout', hidden=8, load_from=ckpt,
             model=dict(dropout=0.5)))
    metrics = runner.test()
    assert metrics['num_samples'] == 11
    log = open(MMLogger.get_current_instance().log_file).read()
    assert 'fits the model, but was trained with other model settings' in log
    assert "model.dropout: '<not set>' -> 0.5" in log


def test_settings_report_leaves_out_init_only_settings():
    old = ("model = dict(type='M', neck=dict(logit_scale=1.), "
           "generator_checkpoint='a.pth', "
           "backbone=dict(init_cfg=dict(checkpoint='a')))")
    checkpoint = dict(meta=dict(cfg=old))
    new = dict(model=dict(type='M', neck=dict(logit_scale=30.),
                          generator_checkpoint='b.pth',
                          backbone=dict(init_cfg=dict(checkpoint='b'))))
    report = settings_report(checkpoint, new, source='c.pth')
    assert report.splitlines()[1:2] == ['  model.neck.logit_scale: 1.0 -> 30.0']
    assert 'checkpoint:' not in report and 'init_cfg' not in report
    assert settings_report(checkpoint, dict(model=dict(
        type='M', neck=dict(logit_scale=1.)))) == ''
    assert settings_report(dict(), new) == ''


def test_report_functions():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    state = {f'module.{k}': v.clone() for k, v in model.state_dict().items()}
    check_checkpoint_matches(model, dict(state_dict=state))  # DDP prefix ok

    state['module.0.weight'] = torch.zeros(4, 2)
    state['module.extra'] = torch.zeros(1)
    del state['module.1.running_mean']
    diff = compare_state_dicts(
        model.state_dict(), {k[7:]: v for k, v in state.items()})
    assert diff.shape_mismatch == [('0.weight', (4, 2), (3, 2))]
    assert diff.missing == ['1.running_mean']
    assert diff.unexpected == ['extra']
    with pytest.raises(CheckpointMismatchError,
                       match='x.pth(.|\n)*1 model key.*running_mean'):
        check_checkpoint_matches(model, dict(state_dict=state), 'x.pth')
    check_checkpoint_matches(
        model, dict(state_dict=state),
        ignore_keys=[r'^0\.weight$', 'running_mean', 'extra'])

    old = "model = dict(type='M', head=dict(k=16, loss=[dict(w=1)]))"
    new = dict(model=dict(type='M', head=dict(k=8, loss=[dict(w=2)]),
                          neck=None))
    assert config_differences(old, new) == [
        'model.head.k: 16 -> 8',
        'model.head.loss[0].w: 1 -> 2',
        "model.neck: '<not set>' -> None",
    ]
    assert config_differences(None, new) == []
    assert config_differences('this is not python', new) == []
