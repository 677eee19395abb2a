# Copyright (c) OpenMMLab. All rights reserved.
"""NaNGuardHook stops training at the first non-finite loss and keeps the
last good checkpoint."""
import itertools
import math
import os.path as osp

import pytest
import torch
from engine_toys import RUNTIME_CFG, toy_config_text
from mmengine.config import Config
from mmengine.runner import Runner

from mmblurhand.engine.hooks import NaNGuardHook, NonFiniteLossError
from mmblurhand.utils import load_from_local, register_all_modules

register_all_modules()
_names = (f'nan_guard_{i}' for i in itertools.count())


def _runner(tmp_path, nan_at):
    path = tmp_path / 'toy_cfg.py'
    path.write_text(toy_config_text(RUNTIME_CFG, ckpt_interval=1))
    cfg = Config.fromfile(str(path))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = next(_names)
    cfg.custom_hooks = []
    # no shuffling: sample `nan_at` is in batch nan_at // 4 of epoch 1
    cfg.train_dataloader.sampler.shuffle = False
    cfg.train_dataloader.dataset.nan_at = nan_at
    cfg.default_hooks.checkpoint.max_keep_ckpts = 2
    return Runner.from_cfg(cfg)


def test_nan_loss_stops_training_and_keeps_last_good_checkpoint(tmp_path):
    runner = _runner(tmp_path, nan_at=13)  # batch 4 -> iteration 4
    assert any(isinstance(h, NaNGuardHook) for h in runner.hooks)
    with pytest.raises(NonFiniteLossError) as info:
        runner.train()
    message = str(info.value)
    work = tmp_path / 'work'
    assert 'iteration 4 (epoch 1, batch 4)' in message
    assert 'loss=nan' in message and 'loss_mse=nan' in message
    assert f'Last good checkpoint: {work / "iter_3.pth"}' in message
    assert '--resume' in message

    # nothing of the NaN iteration was written; the last checkpoint is good
    assert not osp.exists(work / 'iter_4.pth')
    with open(work / 'last_checkpoint') as f:
        assert f.read() == str(work / 'iter_3.pth')
    ckpt = load_from_local(str(work / 'iter_3.pth'))
    assert ckpt['meta']['iter'] == 3
    assert all(torch.isfinite(v).all() for v in ckpt['state_dict'].values())
    # and the in-memory model really is corrupted (the guard is needed)
    assert not all(
        torch.isfinite(p).all() for p in runner.model.parameters())


def test_nan_before_first_checkpoint_says_so(tmp_path):
    runner = _runner(tmp_path, nan_at=0)
    with pytest.raises(NonFiniteLossError,
                       match='Last good checkpoint: none written yet'):
        runner.train()
    assert not osp.exists(tmp_path / 'work' / 'last_checkpoint')


class _Runner:
    """Just what the hook reads from a runner."""
    iter, epoch, work_dir = 9, 1, '/nonexistent'

    class message_hub:  # noqa: N801

        @staticmethod
        def get_info(key):
            return 'work/iter_8.pth'


def test_hook_checks_only_loss_terms_and_names_images():
    hook = NaNGuardHook()
    finite = dict(loss=torch.tensor(1.), loss_a=torch.tensor(0.5),
                  mpjpe=torch.tensor(float('nan')))  # not a loss: ignored
    hook.after_train_iter(_Runner, 0, None, finite)

    class _Sample:
        metainfo = dict(img_path='img/0001.png')

    bad = dict(loss=torch.tensor(math.inf), loss_a=torch.tensor(math.inf),
               loss_b=torch.tensor(0.1))
    with pytest.raises(NonFiniteLossError) as info:
        hook.after_train_iter(_Runner, 2,
                              dict(data_samples=[_Sample()]), bad)
    message = str(info.value)
    assert 'iteration 10 (epoch 2, batch 3): loss=inf, loss_a=inf.' in message
    assert 'loss_b' not in message
    assert "['img/0001.png']" in message
    assert 'work/iter_8.pth' in message

    with pytest.raises(KeyError, match='loss_x'):
        NaNGuardHook(keys=['loss_x']).after_train_iter(
            _Runner, 0, None, finite)
    with pytest.raises(ValueError, match='interval'):
        NaNGuardHook(interval=0)
