# Copyright (c) OpenMMLab. All rights reserved.
"""Benchmark helpers and tools on tiny configs (no timing thresholds)."""
import json
import mmap
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from torch import nn

from mmblurhand.deployment import (HandMeshExportWrapper,
                                   build_inference_model, config_input_size,
                                   stage_functions, strip_pretrained)
from mmblurhand.utils.benchmark import (count_flops, count_parameters,
                                        format_table, measure_peak_memory,
                                        percentile, summarize_times,
                                        time_function)


def test_percentile_and_summary_match_numpy():
    values = [5., 1., 4., 2., 3., 10.]
    for q in (0, 10, 50, 90, 100):
        assert percentile(values, q) == pytest.approx(np.percentile(values, q))
    stats = summarize_times(values)
    assert stats['median'] == pytest.approx(3.5)
    assert stats['p90'] == pytest.approx(7.5)
    assert stats['min'] == 1. and stats['max'] == 10. and stats['runs'] == 6
    with pytest.raises(ValueError, match='no timings'):
        summarize_times([])
    with pytest.raises(ValueError, match='q must be'):
        percentile(values, 101)


def test_time_function_counts_calls():
    calls = []
    times = time_function(lambda: calls.append(1), num_iters=4, num_warmup=3)
    assert len(times) == 4 and len(calls) == 7
    assert all(t >= 0 for t in times)
    with pytest.raises(ValueError, match='num_iters'):
        time_function(lambda: None, num_iters=0)


def _touch_fresh_pages(size):
    """Map ``size`` bytes of new anonymous memory, write them, hold 100 ms."""
    block = mmap.mmap(-1, size)
    chunk = b'\x01' * 2**20
    for _ in range(size // len(chunk)):
        block.write(chunk)
    time.sleep(0.1)
    block.close()


def test_peak_memory_sees_a_temporary_allocation():
    size = 256 * 2**20
    with measure_peak_memory('cpu') as mem:
        # fresh anonymous pages: an allocator's cache of freed, still
        # resident memory (which torch.ones may reuse) cannot hide them;
        # held 100 ms, long enough for the sampler too
        _touch_fresh_pages(size)
    assert mem.method in ('VmHWM', 'sampled')
    # the kernel's mark sees all of it; a 2-20 ms sampler sees 100 ms
    assert mem.delta_mb > 200
    assert mem.peak_mb >= mem.baseline_mb


def test_peak_memory_distrusts_a_mark_that_never_moves(monkeypatch):
    """A sandbox may report a VmHWM that ignores the reset and never rises:
    the sampler beside it still sees the block, and a mark left above the
    RSS after the reset makes the meter fall back to sampling."""
    import mmblurhand.utils.benchmark as bench
    real = bench._read_status_kb
    frozen = real('VmRSS')

    def stale(field):
        return frozen if field == 'VmHWM' else real(field)

    monkeypatch.setattr(bench, '_read_status_kb', stale)
    with measure_peak_memory('cpu') as mem:
        _touch_fresh_pages(256 * 2**20)
    assert mem.method == 'VmHWM'
    assert mem.delta_mb > 100

    high = real('VmRSS') + 100 * 1024  # kB: a stale mark 100 MiB up

    monkeypatch.setattr(
        bench, '_read_status_kb',
        lambda field: high if field == 'VmHWM' else real(field))
    with measure_peak_memory('cpu') as mem:
        pass
    assert mem.method == 'sampled'
    assert mem.delta_mb < 50


class _Attention(nn.Module):

    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v)


def test_flops_of_linear_and_attention_by_hand():
    linear = nn.Linear(8, 4)
    flops = count_flops(linear, (torch.randn(2, 8), ))
    assert flops['total'] == 2 * 8 * 4  # one FLOP per multiply-add
    q, k, v = torch.randn(1, 2, 5, 4), torch.randn(1, 2, 7, 4), torch.randn(
        1, 2, 7, 3)
    # Q K^T: 2 heads x 5 x 7 x 4; attn V: 2 x 5 x 7 x 3
    assert count_flops(_Attention(), (q, k, v))['total'] == 2 * 5 * 7 * (4 + 3)


def test_format_table_aligns_columns():
    table = format_table([('a', 1.25), ('long name', float('nan'))],
                         ('metric', 'value'))
    lines = table.splitlines()
    assert len({len(line) for line in lines}) == 1
    assert '1.2' in lines[2] and 'n/a' in lines[3]


def test_strip_pretrained_and_input_size(tiny_configs):
    cfg = Config.fromfile(tiny_configs['selector'])
    model = strip_pretrained(cfg.model.to_dict())
    assert model['generator_checkpoint'] is None
    assert model['backbone']['init_cfg'] is None
    assert model['generator']['backbone']['init_cfg'] is None
    assert config_input_size(cfg) == (64, 64)
    cfg.pop('input_size')
    assert config_input_size(cfg) == (64, 64)  # from the camera config
    with pytest.raises(KeyError, match='input-size'):
        config_input_size(Config(dict(model=dict(type='X', head=dict()))))


def test_stages_compose_to_the_forward(tiny_configs):
    model = build_inference_model(tiny_configs['generator'])
    wrapper = HandMeshExportWrapper(model).eval()
    image = torch.rand(2, 3, 64, 64) * 255.
    stages = stage_functions(model, wrapper.preprocess(image))
    assert list(stages) == [
        'backbone', 'unfolder', 'transformer', 'regressor', 'mano', 'selector'
    ]
    with torch.inference_mode():
        vertices, joints, pose, scores = wrapper(image)
        mano = stages['mano']()
        assert torch.allclose(mano.vertices, vertices, atol=1e-6)
        assert torch.allclose(mano.mano_pose, pose, atol=1e-6)
        assert torch.allclose(stages['selector'](), scores, atol=1e-6)


def test_benchmark_tool_report(tiny_configs, benchmark_tool, tmp_path,
                               capsys):
    out = tmp_path / 'bench.json'
    report = benchmark_tool.main([
        tiny_configs['generator'], '--batch-size', '2', '--num-iters', '2',
        '--num-warmup', '1', '--profile', '--json',
        str(out)
    ])
    saved = json.loads(out.read_text())
    for key in benchmark_tool.REQUIRED_KEYS:
        assert key in saved, key
    model = build_inference_model(tiny_configs['generator'])
    assert saved['params'] == count_parameters(model)
    assert saved['flops'] > 0
    assert saved['flops_by_module']['backbone'] > 0
    assert set(saved['latency_ms']) == {'1', '2'}
    for batch, stats in saved['latency_ms'].items():
        assert stats['p90'] >= stats['median'] > 0
        assert saved['throughput_img_s'][batch] == pytest.approx(
            int(batch) * 1000. / stats['median'])
    assert saved['train_step_ms']['median'] > 0
    assert set(saved['peak_mem_mb']) == {
        'inference_bs1', 'inference_bs2', 'train_bs2'
    }
    assert all(v > 0 for v in saved['peak_mem_mb'].values())
    assert set(saved['stage_ms']) == {
        'backbone', 'unfolder', 'transformer', 'regressor', 'mano', 'selector'
    }
    assert report['environment']['torch_threads'] >= 1
    table = capsys.readouterr().out
    assert 'latency bs1 median (ms)' in table
    assert 'train step bs2 median (ms)' in table


def test_benchmark_tool_on_selector_and_blurhandnet(tiny_configs,
                                                    benchmark_tool):
    for name in ('selector', 'blurhandnet'):
        report = benchmark_tool.main([
            tiny_configs[name], '--batch-size', '2', '--num-iters', '1',
            '--num-warmup', '0', '--skip-flops'
        ])
        assert report['train_step_ms']['median'] > 0, name
        assert report['flops'] is None
        if name == 'selector':
            # the frozen generator's parameters are not trained
            assert report['params_trainable'] < report['params']


def test_hypothesis_scaling_tool(tiny_configs, scaling_tool, tmp_path):
    out = tmp_path / 'scaling.json'
    report = scaling_tool.main([
        tiny_configs['generator'], '--ks', '1', '3', '--num-iters', '1',
        '--num-warmup', '0', '--flops', '--json',
        str(out)
    ])
    assert json.loads(out.read_text())['settings']['ks'] == [1, 3]
    rows = {(r['layout'], r['num_hypotheses']): r for r in report['results']}
    assert set(rows) == {('independent', 1), ('independent', 3), ('joint', 1),
                         ('joint', 3)}
    for (layout, k), row in rows.items():
        assert row['latency_ms']['median'] > 0
        assert set(row['stage_ms']) == {
            'transformer', 'regressor', 'mano', 'selector'
        }
        if k == 1:
            assert row['ratio_to_k1'] == pytest.approx(1.)
    # one hypothesis: both layouts are the same computation; with K = 3
    # the joint layout attends over 3x longer sequences (more FLOPs)
    assert rows[('joint', 1)]['flops'] == rows[('independent', 1)]['flops']
    assert rows[('joint', 3)]['flops'] > rows[('independent', 3)]['flops']
    assert rows[('independent', 3)]['flops'] > rows[('independent',
                                                     1)]['flops']
    assert 'goal' not in report  # K = 16 was not measured


def test_hypothesis_scaling_rejects_single_hypothesis_models(
        tiny_configs, scaling_tool):
    with pytest.raises(ValueError, match='MHBlurHandNet'):
        scaling_tool.main([tiny_configs['blurhandnet'], '--ks', '1'])


def test_skinning_prototype_matches_mano_layer(speed_tool):
    from mmblurhand.models.mano import ManoLayer
    mano = ManoLayer()
    torch.manual_seed(0)
    groups, k = 3, 4
    pose = torch.randn(groups * k, 48) * 0.5
    shape = torch.randn(groups, 10)
    rows = shape[:, None].expand(groups, k, 10).reshape(-1, 10)
    ref = mano(pose[:, :3], pose[:, 3:], rows)
    for betas, shared in ((rows, 0), (shape, k)):
        verts, joints = speed_tool.skinning_3x4_lbs(
            mano, pose[:, :3], pose[:, 3:], betas, shared_shape_dims=shared)
        assert torch.allclose(verts, ref.vertices, atol=1e-6)
        assert torch.allclose(joints, ref.joints, atol=1e-6)


def test_study_tables_read_the_metric_keys(studies_tool):
    steps = ('past', 'middle', 'future')

    def mh(offset):
        metrics = {}
        for s in steps:
            metrics[f'MPJPE_oracle-step_{s}'] = 10. + offset
            metrics[f'MPJPE_oracle-seq_{s}'] = 11. + offset
            for n in (1, 2, 3, 4):
                metrics[f'MPJPE_top{n}_{s}'] = 20. - n + offset
        metrics.update({
            'PJD_middle': 3.,
            'hit_rate': 0.5,
            'MPJPE_top1_middle/blur_0-0.2': 7.5,
            'num_samples/blur_0-0.2': 12.
        })
        return dict(metrics=metrics, timing=dict(commands=['cmd']))

    results = {f'k{k}': mh(k) for k in (1, 4, 16, 32)}
    results['sel_ccr'] = mh(0.25)
    results['blurhandnet'] = dict(
        metrics={f'MPJPE_{s}': 30. for s in steps}, timing={})
    text = studies_tool.tables(results)
    assert '| 32 | 42.00 | 42.00 | 42.00 | 43.00 | 3.00 | `cmd` |' in text
    assert '| projective | 35.00 | 34.00 | 33.00 | 32.00 | 0.50 |' in text
    assert '| BlurHandNet | 30.00 | 30.00 / 30.00 |  |' in text
    assert '0-0.2 (12 imgs)' in text and '7.50' in text
    assert 'pair-wise' not in text  # rows only for finished steps
