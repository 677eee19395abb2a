# Copyright (c) OpenMMLab. All rights reserved.
"""Resume after a fault: ``tools/train.py`` on the synthetic BlurHandNet
config, SIGKILLed mid-epoch and resumed with ``--resume``, finishes with the
same iteration count, weights, optimiser/scheduler state and validation
metrics as an uninterrupted run with the same seed."""
import json
import os
import os.path as osp
import signal
import subprocess
import sys

import torch
from engine_toys import (KILL_ENV, REPO_ROOT, last_val_metrics, tool_env,
                         tiny_blurhandnet_config_text)

from mmblurhand.utils import load_from_local

TRAIN = osp.join(REPO_ROOT, 'tools', 'train.py')


def _start(config, work_dir, *args, **env):
    """Start ``tools/train.py`` in a subprocess."""
    return subprocess.Popen(
        [sys.executable, TRAIN, config, '--work-dir',
         str(work_dir), *args],
        env=tool_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True)


def _finish(proc, returncode=0):
    """Wait for ``proc``; check its exit code; return its output."""
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == returncode, out[-4000:]
    return out


def _metrics(work_dir):
    record = last_val_metrics(str(work_dir), key='MPJPE_middle')
    return {
        k: v
        for k, v in record.items() if k.startswith(('MPJPE', 'PA-MPJPE',
                                                    'MPVPE', 'order'))
    }


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(
        tmp_path, synthetic_blurhand):
    # 8 samples, batch 2: 4 iterations per epoch, 2 epochs; a checkpoint
    # every 2 iterations; validation after each epoch
    config = tmp_path / 'tiny_blurhandnet.py'
    config.write_text(tiny_blurhandnet_config_text(synthetic_blurhand))
    ref_dir, run_dir = tmp_path / 'uninterrupted', tmp_path / 'faulty'

    # the uninterrupted run and the run that is SIGKILLed at the start of
    # iteration 7 (epoch 2, batch 3; the last checkpoint is iter_6) run
    # side by side
    reference = _start(str(config), ref_dir)
    killed = _start(str(config), run_dir, **{KILL_ENV: 7})
    _finish(killed, returncode=-signal.SIGKILL)
    assert not osp.exists(run_dir / 'iter_8.pth')
    with open(run_dir / 'last_checkpoint') as f:
        assert f.read() == str(run_dir / 'iter_6.pth')

    log = _finish(_start(str(config), run_dir, '--resume'))
    _finish(reference)
    assert 'resumed epoch: 1, iter: 6' in log
    assert 'Resuming epoch 2 at batch 3 of 4 (iteration 7)' in log
    with open(run_dir / 'rank_0.json') as f:
        assert json.load(f)['iters'] == [7, 8]  # no iteration twice

    ref = load_from_local(str(ref_dir / 'iter_8.pth'))
    out = load_from_local(str(run_dir / 'iter_8.pth'))
    assert out['meta']['iter'] == ref['meta']['iter'] == 8
    for key, value in ref['state_dict'].items():
        assert torch.equal(out['state_dict'][key], value), key
    ref_adam, out_adam = ref['optimizer']['state'], out['optimizer']['state']
    assert ref_adam.keys() == out_adam.keys()
    for key in ref_adam:
        assert torch.equal(out_adam[key]['exp_avg_sq'],
                           ref_adam[key]['exp_avg_sq'])
    assert out['param_schedulers'] == ref['param_schedulers']

    ref_metrics, out_metrics = _metrics(ref_dir), _metrics(run_dir)
    assert len(ref_metrics) > 5 and out_metrics == ref_metrics
    assert not [n for n in os.listdir(run_dir) if n.endswith('.tmp')]
