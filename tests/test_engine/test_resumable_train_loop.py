# Copyright (c) OpenMMLab. All rights reserved.
"""ResumableEpochBasedTrainLoop in-process on a toy model: replaying data
with workers, the MMEngine control, refused resumes, seeds. The SIGKILL
resume through tools/train.py on the synthetic config is in
test_fault_tolerance.py."""
import itertools
import os.path as osp

import numpy as np
import pytest
import torch
from engine_toys import RUNTIME_CFG, toy_config_text
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop, Runner

from mmblurhand.engine.resumable_train_loop import (
    ResumableEpochBasedTrainLoop, seed_all_generators, select_train_loop)
from mmblurhand.registry import HOOKS
from mmblurhand.utils import load_from_local, register_all_modules

register_all_modules()
_names = (f'resume_loop_{i}' for i in itertools.count())


class _Crash(Exception):
    pass


@HOOKS.register_module(force=True)
class _CrashAtIterHook(Hook):
    """Raise in the middle of iteration ``at`` (after its batch loaded)."""
    priority = 'HIGHEST'

    def __init__(self, at):
        self.at = at

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.at:
            raise _Crash(f'crash at {self.at}')


def _cfg(tmp_path, work_dir, num_workers=0, **overrides):
    path = tmp_path / 'toy_cfg.py'
    path.write_text(toy_config_text(RUNTIME_CFG))
    cfg = Config.fromfile(str(path))
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = next(_names)
    cfg.custom_hooks = []
    cfg.train_dataloader.num_workers = num_workers
    cfg.default_hooks.logger.interval = 50
    cfg.merge_from_dict(overrides)
    select_train_loop(cfg)  # as tools/train.py does
    return cfg


def _final_state(work_dir):
    ckpt = load_from_local(osp.join(work_dir, 'iter_15.pth'))
    return ckpt['meta']['iter'], ckpt['meta']['epoch'], ckpt['state_dict']


def _train(cfg):
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def _assert_same_state(a, b):
    assert a[0] == b[0] and a[1] == b[1]
    for key in a[2]:
        assert torch.equal(a[2][key], b[2][key]), key


def test_resume_with_workers_replays_data_exactly(tmp_path):
    """With data workers the default (auto) replays the trained batches,
    which keeps the workers' augmentation streams (MMEngine reseeds workers
    at every epoch start)."""
    ref = _cfg(tmp_path, tmp_path / 'ref', num_workers=1)
    _train(ref)
    crashed = _cfg(tmp_path, tmp_path / 'run', num_workers=1)
    crashed.custom_hooks = [dict(type='_CrashAtIterHook', at=9)]
    with pytest.raises(_Crash):
        _train(crashed)
    resumed = _train(
        _cfg(tmp_path, tmp_path / 'run', num_workers=1, resume=True))
    assert isinstance(resumed.train_loop, ResumableEpochBasedTrainLoop)
    assert resumed.iter == 15
    _assert_same_state(
        _final_state(tmp_path / 'run'), _final_state(tmp_path / 'ref'))


def test_mmengine_loop_alone_does_not_resume_exactly(tmp_path):
    """The control: MMEngine's EpochBasedTrainLoop restarts the interrupted
    epoch, so the resumed run trains more iterations on other batches."""
    def plain(work_dir, **kw):
        cfg = _cfg(tmp_path, work_dir, **kw)
        cfg.train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=1)
        return cfg

    crashed = plain(tmp_path / 'run')
    crashed.custom_hooks = [dict(type='_CrashAtIterHook', at=8)]
    with pytest.raises(_Crash):
        _train(crashed)
    resumed = _train(plain(tmp_path / 'run', resume=True))
    assert type(resumed.train_loop) is EpochBasedTrainLoop
    assert resumed.iter == 15 + 1  # epoch 2 ran again from its 1st batch


def test_changed_epoch_length_refused_mid_epoch_allowed_at_epoch_end(
        tmp_path):
    crashed = _cfg(tmp_path, tmp_path / 'run')
    crashed.custom_hooks = [dict(type='_CrashAtIterHook', at=11)]
    with pytest.raises(_Crash):
        _train(crashed)  # iter_8 (epoch 2, batch 3) and iter_10 (its end)
    mid_epoch = _cfg(tmp_path, tmp_path / 'run', resume=True,
                     load_from=str(tmp_path / 'run' / 'iter_8.pth'),
                     train_dataloader=dict(batch_size=5))
    with pytest.raises(RuntimeError, match=r'5 iterations per epoch.*has 4'):
        _train(mid_epoch)
    # at the end of epoch 2: its validation, then epoch 3 of 4 iterations
    resumed = _train(
        _cfg(tmp_path, tmp_path / 'run', resume=True,
             train_dataloader=dict(batch_size=5)))
    assert resumed.iter == 10 + 4 and resumed.epoch == 3


def test_sampler_seed_is_restored_when_the_config_has_no_seed(tmp_path):
    ref = _cfg(tmp_path, tmp_path / 'run')
    ref.randomness = dict(seed=None)
    ref.custom_hooks = [dict(type='_CrashAtIterHook', at=8)]
    with pytest.raises(_Crash):
        _train(ref)
    ckpt = load_from_local(str(tmp_path / 'run' / 'iter_6.pth'))
    hub = ckpt['message_hub']['runtime_info']
    resumed_cfg = _cfg(tmp_path, tmp_path / 'run', resume=True)
    resumed_cfg.randomness = dict(seed=None)
    runner = Runner.from_cfg(resumed_cfg)
    runner.train()
    assert runner.train_dataloader.sampler.seed == hub['train_sampler_seed']
    assert runner.seed == ckpt['meta']['seed']


def test_seed_all_generators_depends_on_seed_and_step_only():
    seed_all_generators(7, 3)
    a = (np.random.rand(), torch.rand(1).item())
    np.random.rand(5), torch.rand(5)  # unrelated draws in between
    seed_all_generators(7, 3)
    assert (np.random.rand(), torch.rand(1).item()) == a
    seed_all_generators(7, 4)
    assert (np.random.rand(), torch.rand(1).item()) != a


@pytest.mark.parametrize('train_cfg, expected', [
    (dict(by_epoch=True, max_epochs=2),
     dict(type='ResumableEpochBasedTrainLoop', max_epochs=2)),
    (dict(by_epoch=False, max_iters=9), dict(by_epoch=False, max_iters=9)),
    (dict(type='EpochBasedTrainLoop', by_epoch=True, max_epochs=2),
     dict(type='EpochBasedTrainLoop', max_epochs=2)),
])
def test_select_train_loop(train_cfg, expected):
    cfg = Config(dict(train_cfg=train_cfg))
    select_train_loop(cfg)
    assert cfg.train_cfg == expected
