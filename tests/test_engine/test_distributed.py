# Copyright (c) OpenMMLab. All rights reserved.
"""tools/dist_train.sh and tools/dist_test.sh with 2 CPU processes (gloo) on
synthetic BlurHand data: both ranks train on their half of every epoch,
rank 0 alone writes each checkpoint, and evaluation sharded over 2 ranks
gives the metrics of 1-rank evaluation of the same checkpoint."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from engine_toys import (REPO_ROOT, free_port, tiny_blurhandnet_config_text,
                         tool_env)
from mmengine.config import Config
from mmengine.runner import Runner

from mmblurhand.utils import load_from_local, register_all_modules

register_all_modules()

TOOLS = osp.join(REPO_ROOT, 'tools')


def _start(cmd, cwd):
    """Start ``cmd`` in ``cwd`` (MMEngine gathers distributed evaluation
    results through ``./.dist_test/``)."""
    return subprocess.Popen(
        cmd,
        cwd=str(cwd),
        env=tool_env(PYTHON=sys.executable, PORT=free_port()),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True)


def _finish(proc):
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-4000:]
    return out


@pytest.fixture(scope='module')
def dist_run(tmp_path_factory, synthetic_blurhand):
    """2 processes x batch 2 on 8 samples: 2 iterations per epoch, 2 epochs,
    a checkpoint every 2 iterations. Returns (config, work dir, log)."""
    tmp_path = tmp_path_factory.mktemp('dist')
    config = tmp_path / 'tiny_blurhandnet.py'
    config.write_text(
        tiny_blurhandnet_config_text(
            synthetic_blurhand,
            extra="sync_bn = 'torch'\n"
            "default_hooks['checkpoint']['save_best'] = None"))
    work_dir = tmp_path / 'work'
    log = _finish(
        _start([
            'bash',
            osp.join(TOOLS, 'dist_train.sh'),
            str(config), '2', '--work-dir',
            str(work_dir)
        ], tmp_path))
    return config, work_dir, log


def test_both_ranks_train_and_rank0_alone_writes_checkpoints(dist_run):
    config, work_dir, log = dist_run
    assert 'nccl -> gloo' in log
    ranks = []
    for rank in (0, 1):
        with open(work_dir / f'rank_{rank}.json') as f:
            ranks.append(json.load(f))
    # both ranks ran every iteration
    assert ranks[0]['iters'] == ranks[1]['iters'] == [1, 2, 3, 4]
    # ... each on its own half of every epoch; together they cover the data
    for epoch in range(2):
        halves = [set(r['indices'][epoch * 4:(epoch + 1) * 4]) for r in ranks]
        assert len(halves[0]) == len(halves[1]) == 4
        assert not halves[0] & halves[1]
        assert len(halves[0] | halves[1]) == 8
    # each checkpoint is written once, by rank 0
    assert ranks[0]['saves'] == 2 and ranks[1]['saves'] == 0
    assert sorted(n for n in os.listdir(work_dir) if n.endswith('.pth')) == [
        'iter_2.pth', 'iter_4.pth'
    ]
    ckpt = load_from_local(str(work_dir / 'iter_4.pth'))
    assert ckpt['meta']['iter'] == 4
    # torch's SyncBatchNorm needs GPUs: the CPU run says it ignores sync_bn
    assert "sync_bn='torch' ignored: SyncBatchNorm needs GPUs" in log
    assert not [n for n in os.listdir(work_dir) if n.endswith('.tmp')]


def test_two_rank_evaluation_equals_one_rank(dist_run, tmp_path):
    config, work_dir, _ = dist_run
    ckpt = str(work_dir / 'iter_4.pth')
    two = tmp_path / 'two.json'
    dist_test = _start([
        'bash',
        osp.join(TOOLS, 'dist_test.sh'),
        str(config), ckpt, '2', '--work-dir',
        str(tmp_path / 'w2'), '--out',
        str(two)
    ], tmp_path)
    # meanwhile, 1 process (in this one, as tools/test.py builds it)
    cfg = Config.fromfile(str(config))
    cfg.load_from = ckpt
    cfg.work_dir = str(tmp_path / 'w1')
    metrics_1 = Runner.from_cfg(cfg).test()
    log = _finish(dist_test)
    assert 'nccl -> gloo' in log
    with open(two) as f:
        metrics_2 = json.load(f)
    counts = [v for k, v in metrics_2.items() if k.startswith('num_samples')]
    assert sum(counts) == 5  # every test image counted once
    assert metrics_1.keys() == metrics_2.keys()
    assert 'MPJPE_middle' in metrics_1
    for key, value in metrics_1.items():
        assert metrics_2[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
