# Copyright (c) OpenMMLab. All rights reserved.
"""tools/dist_train.sh and tools/dist_test.sh with 2 CPU processes (gloo):
both ranks train on their half of the data, rank 0 alone writes
checkpoints, and 2-rank evaluation equals 1-rank evaluation."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from engine_toys import REPO_ROOT, RUNTIME_CFG, free_port, tool_env
from engine_toys import toy_config_text

from mmblurhand.utils import load_from_local

TOOLS = osp.join(REPO_ROOT, 'tools')


def _run(cmd, **env):
    proc = subprocess.run(
        cmd,
        env=tool_env(PYTHON=sys.executable, PORT=free_port(), **env),
        capture_output=True,
        text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc


@pytest.fixture(scope='module')
def dist_run(tmp_path_factory):
    """A 2-process training run of the toy config (2 epochs x 3 iterations
    of 2 samples per rank) and its work dir."""
    tmp_path = tmp_path_factory.mktemp('dist')
    config = tmp_path / 'toy_cfg.py'
    config.write_text(
        toy_config_text(
            RUNTIME_CFG, max_epochs=2, num_samples=12, batch_size=2,
            ckpt_interval=3))
    work_dir = tmp_path / 'work'
    proc = _run([
        'bash',
        osp.join(TOOLS, 'dist_train.sh'),
        str(config), '2', '--work-dir',
        str(work_dir)
    ])
    return config, work_dir, proc.stdout + proc.stderr


def test_both_ranks_train_and_rank0_alone_writes_checkpoints(dist_run):
    config, work_dir, log = dist_run
    assert 'nccl -> gloo' in log
    ranks = []
    for rank in (0, 1):
        with open(work_dir / f'rank_{rank}.json') as f:
            ranks.append(json.load(f))
    # both ranks ran every iteration (12 samples / (2 ranks x 2) = 3/epoch)
    assert ranks[0]['iters'] == ranks[1]['iters'] == list(range(1, 7))
    # ... on disjoint halves of every epoch that together cover the data
    for epoch in range(2):
        part = [r['indices'][epoch * 6:(epoch + 1) * 6] for r in ranks]
        assert not set(part[0]) & set(part[1])
        assert sorted(part[0] + part[1]) == list(range(12))
    # checkpoints are saved by rank 0 only, each file once
    assert ranks[0]['saves'] > 0 and ranks[1]['saves'] == 0
    assert sorted(n for n in os.listdir(work_dir) if n.endswith('.pth')) == [
        'iter_3.pth', 'iter_6.pth'
    ]
    ckpt = load_from_local(str(work_dir / 'iter_6.pth'))
    assert ckpt['meta']['iter'] == 6
    assert not [n for n in os.listdir(work_dir) if n.endswith('.tmp')]


def test_two_rank_evaluation_equals_one_rank(dist_run, tmp_path):
    config, work_dir, _ = dist_run
    ckpt = str(work_dir / 'iter_6.pth')
    one, two = tmp_path / 'one.json', tmp_path / 'two.json'
    _run([
        sys.executable,
        osp.join(TOOLS, 'test.py'),
        str(config), ckpt, '--work-dir',
        str(tmp_path / 'w1'), '--out',
        str(one)
    ])
    proc = _run([
        'bash',
        osp.join(TOOLS, 'dist_test.sh'),
        str(config), ckpt, '2', '--work-dir',
        str(tmp_path / 'w2'), '--out',
        str(two)
    ])
    assert 'nccl -> gloo' in proc.stdout + proc.stderr
    with open(one) as f:
        metrics_1 = json.load(f)
    with open(two) as f:
        metrics_2 = json.load(f)
    # 11 samples: rank 0 gets 6, rank 1 gets 5 + 1 padded copy, dropped
    assert metrics_1['num_samples'] == metrics_2['num_samples'] == 11
    assert metrics_2['num_unique'] == 11
    assert metrics_2['mse'] == pytest.approx(metrics_1['mse'], rel=1e-6)
