# Copyright (c) OpenMMLab. All rights reserved.
"""tools/analysis_tools/gpu_suite.sh in its CPU dry mode on tiny configs
(no GPU is needed to check the script; the GPU figures come from a real
run, docs/benchmarks.md)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'tools', 'analysis_tools', 'gpu_suite.sh')


def _env(tiny_configs, **extra):
    env = dict(os.environ)
    env.update(
        PYTHON=sys.executable,
        OMP_NUM_THREADS='1',
        BH_CONFIG=tiny_configs['blurhandnet'],
        GEN_CONFIG=tiny_configs['generator'],
        SEL_CONFIG=tiny_configs['selector'],
        **extra)
    return env


def test_dry_run_writes_every_figure(tiny_configs, tmp_path):
    out = tmp_path / 'suite'
    result = subprocess.run(['bash', SCRIPT, str(out)],
                            env=_env(tiny_configs, GPU_SUITE_DRY='1'),
                            capture_output=True,
                            text=True,
                            cwd=REPO,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ('infer_sel', 'infer_gen', 'infer_bh', 'train_bh',
                 'train_gen', 'train_sel', 'environment'):
        assert (out / f'{name}.json').is_file(), name
    sel = json.load(open(out / 'infer_sel.json'))
    assert sel['mode'] == 'side_by_side' and sel['kind'] == 'selector'
    assert list(sel['median_ms']['2']) == ['pytorch:fp32', 'pytorch:bf16']
    assert sel['throughput_img_s']['2']['pytorch:bf16'] == pytest.approx(
        2000. / sel['median_ms']['2']['pytorch:bf16'])
    train = json.load(open(out / 'train_sel.json'))
    assert train['settings']['amp'] == 'bfloat16'
    assert train['train_backbone_dtype'] == 'torch.bfloat16'
    summary = (out / 'summary.md').read_text()
    assert summary.startswith('# GPU suite: cpu')
    # 3 models x 2 batch sizes x 2 variants, then 3 training rows
    rows = [line for line in summary.splitlines() if line.startswith('| ')]
    assert len(rows) == 2 + 12 + 3
    assert '| generator + selector | pytorch:bf16 | 2 |' in summary


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a CPU machine')
def test_without_cuda_it_says_so(tiny_configs, tmp_path):
    result = subprocess.run(['bash', SCRIPT, str(tmp_path / 'x')],
                            env=_env(tiny_configs),
                            capture_output=True,
                            text=True,
                            cwd=REPO,
                            timeout=120)
    assert result.returncode != 0
    assert 'CUDA is not available here' in result.stderr
    assert not (tmp_path / 'x').exists()
