# Copyright (c) OpenMMLab. All rights reserved.
"""Resume after a fault: ``tools/train.py`` SIGKILLed mid-epoch and resumed
with ``--resume`` finishes like an uninterrupted run with the same seed."""
import os
import os.path as osp
import signal
import subprocess
import sys

import torch
from engine_toys import (KILL_ENV, REPO_ROOT, RUNTIME_CFG, last_val_metrics,
                         tool_env, toy_config_text)

from mmblurhand.utils import load_from_local

TRAIN = osp.join(REPO_ROOT, 'tools', 'train.py')


def _train(config, work_dir, *args, **env):
    return subprocess.run(
        [sys.executable, TRAIN, config, '--work-dir',
         str(work_dir), *args],
        env=tool_env(**env),
        capture_output=True,
        text=True,
        timeout=300)


def _check(proc):
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path):
    config = tmp_path / 'toy_cfg.py'
    # 3 epochs x 5 iterations, checkpoint every 2 iterations, val per epoch;
    # a child config written the MMPose way (by_epoch=True)
    config.write_text(
        toy_config_text(RUNTIME_CFG) +
        'train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=1)\n')
    ref_dir, run_dir = tmp_path / 'uninterrupted', tmp_path / 'faulty'

    _check(_train(str(config), ref_dir))

    # killed at the start of iteration 8 (epoch 2, batch 3)
    killed = _train(str(config), run_dir, **{KILL_ENV: 8})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert sorted(n for n in os.listdir(run_dir) if n.endswith('.pth')) == [
        'iter_4.pth', 'iter_6.pth'
    ]
    with open(run_dir / 'last_checkpoint') as f:
        assert f.read() == str(run_dir / 'iter_6.pth')

    resumed = _train(str(config), run_dir, '--resume')
    _check(resumed)
    log = resumed.stdout + resumed.stderr
    assert 'resumed epoch: 1, iter: 6' in log
    assert 'Resuming epoch 2 at batch 2 of 5 (iteration 7)' in log

    # the resumed process trained exactly iterations 7..15
    with open(run_dir / 'rank_0.json') as f:
        assert __import__('json').load(f)['iters'] == list(range(7, 16))

    ref = load_from_local(str(ref_dir / 'iter_15.pth'))
    out = load_from_local(str(run_dir / 'iter_15.pth'))
    assert out['meta']['iter'] == ref['meta']['iter'] == 15
    # an iteration checkpoint's epoch counts completed epochs
    assert out['meta']['epoch'] == ref['meta']['epoch'] == 2
    for key, value in ref['state_dict'].items():
        assert torch.equal(out['state_dict'][key], value), key
    for key, value in ref['optimizer']['state'].items():
        assert torch.equal(out['optimizer']['state'][key]['exp_avg'],
                           value['exp_avg'])
    assert out['param_schedulers'] == ref['param_schedulers']

    ref_metrics, out_metrics = last_val_metrics(ref_dir), last_val_metrics(
        run_dir)
    assert ref_metrics['step'] == out_metrics['step'] == 3
    assert out_metrics['mse'] == ref_metrics['mse']
