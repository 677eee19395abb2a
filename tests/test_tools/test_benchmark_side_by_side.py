# Copyright (c) OpenMMLab. All rights reserved.
"""benchmark.py's side-by-side mode: back-ends, precisions and an official
network (a tiny stand-in with the official interface, imported from an
external folder at run time by tools/analysis_tools/official_runner.py)."""
import json
import sys

import pytest

from mmblurhand.utils.benchmark import OfficialRunner, interleave

FAKE_GENERATOR = '''
import torch
from torch import nn


class BaseModel(nn.Module):
    """Stand-in with the official generator's constructor and forward."""

    def __init__(self, opt, weight_init=True):
        super().__init__()
        self.k = opt['task_parameters']['num_k']
        self.conv = nn.Conv2d(3, 4, 3)
        self.head = nn.Linear(4, self.k * 48)
        print('official code prints to stdout while building')

    def forward(self, inputs, targets, meta_info, mode):
        assert mode == 'test' and targets is None and meta_info is None
        feat = self.conv(inputs['img']).mean((2, 3))
        return {'pose': self.head(feat).view(-1, self.k, 48)}
'''

FAKE_SELECTOR = '''
from torch import nn


class SelectionModel(nn.Module):

    def __init__(self, opt, weight_init=True):
        super().__init__()
        self.score = nn.Linear(48, 2)

    def forward(self, inputs, targets, meta_info, mode):
        assert inputs['img'].dim() == 4 and inputs['pose'].shape[-1] == 48
        return {'score': self.score(inputs['pose'])}
'''

FAKE_BLURHANDNET = '''
import torch
from torch import nn


class BlurHandNet(nn.Module):
    """Stand-in with the modules the runner calls."""

    def __init__(self, opt, weight_init=True):
        super().__init__()
        self.backbone_conv = nn.Conv2d(3, 2, 3)

    def backbone(self, img):
        feat = self.backbone_conv(img)
        return feat, [feat]

    def unfolder(self, feat, pyramid):
        joints = feat.mean((2, 3))[:, None].expand(-1, 21, -1)
        return (feat, ) * 3 + (joints, ) * 3

    def ktformer(self, *feats):
        return feats

    def regressor(self, feat, *rest):
        batch = feat.shape[0]
        return ((torch.zeros(batch, 10), ) * 3 + (torch.zeros(batch, 48), ) * 3
                + (torch.zeros(batch, 3), ) * 3)

    def get_camera_trans(self, cam):
        return cam

    def get_coord(self, root_pose, hand_pose, shape, cam_trans):
        return cam_trans, root_pose, hand_pose
'''

#: parameters of the stand-ins (K = 4): conv 3*4*9+4, linear 4*192+192;
#: selector 48*2+2; BlurHandNet conv 3*2*9+2
FAKE_PARAMS = dict(
    mh_gen=3 * 4 * 9 + 4 + 4 * 192 + 192,
    mh_sel=3 * 4 * 9 + 4 + 4 * 192 + 192 + 48 * 2 + 2,
    bh=3 * 2 * 9 + 2)


@pytest.fixture(scope='module')
def fake_official(tmp_path_factory):
    """An official-layout checkout (src/models, options) of stand-ins."""
    root = tmp_path_factory.mktemp('official_checkout')
    models = root / 'src' / 'models'
    models.mkdir(parents=True)
    (models / '__init__.py').write_text('')
    (models / 'generation_model.py').write_text(FAKE_GENERATOR)
    (models / 'selection_model.py').write_text(FAKE_SELECTOR)
    (models / 'blurhandnet.py').write_text(FAKE_BLURHANDNET)
    for sub, name in (('train', 'baseline_rm.yml'),
                      ('test', 'pretrained_BlurHandNet_BH.yml')):
        (root / 'options' / sub).mkdir(parents=True)
        (root / 'options' / sub / name).write_text(
            'task_parameters:\n  num_k: 4\n')
    return str(root)


@pytest.mark.parametrize('which', ['mh_gen', 'mh_sel', 'bh'])
def test_official_runner_builds_and_times_from_an_external_path(
        fake_official, which):
    runner = OfficialRunner(fake_official, which, threads=1,
                            input_size=(16, 16))
    try:
        info = runner.info()
        assert info['model'] == which and info['threads'] == 1
        assert info['params'] == FAKE_PARAMS[which]
        times = runner.run(3, repeat=2)
        assert len(times) == 2 and all(t > 0 for t in times)
        assert len(runner.run(1, clock='process')) == 1
        with pytest.raises(RuntimeError, match='unknown clock'):
            runner.run(1, clock='gpu')
    finally:
        runner.close()
    assert runner.process.poll() == 0
    # nothing of the official code was imported here
    assert 'models.generation_model' not in sys.modules


def test_official_runner_errors_name_the_problem(fake_official, tmp_path):
    with pytest.raises(FileNotFoundError, match='is not a folder'):
        OfficialRunner(str(tmp_path / 'missing'), 'mh_gen')
    with pytest.raises(RuntimeError, match='no models/ package'):
        OfficialRunner(str(tmp_path), 'mh_gen')
    broken = tmp_path / 'broken'
    (broken / 'src' / 'models').mkdir(parents=True)
    (broken / 'src' / 'models' / 'generation_model.py').write_text(
        'import a_module_that_does_not_exist\n')
    (broken / 'options' / 'train').mkdir(parents=True)
    (broken / 'options' / 'train' / 'baseline_rm.yml').write_text(
        'task_parameters: {}\n')
    with pytest.raises(RuntimeError, match='a_module_that_does_not_exist'):
        OfficialRunner(str(broken), 'mh_gen')


def test_process_clock_counts_cpu_work_not_waiting():
    import time

    from mmblurhand.utils.benchmark import time_function
    wall = time_function(lambda: time.sleep(0.05), 1, 0)[0]
    cpu = time_function(lambda: time.sleep(0.05), 1, 0, clock='process')[0]
    assert wall >= 50 and cpu < 20
    busy = time_function(lambda: sum(range(2_000_000)), 1, 0,
                         clock='process')[0]
    assert busy > cpu
    with pytest.raises(ValueError, match='clock must be one of'):
        time_function(lambda: None, 1, 0, clock='gpu')


def test_interleave_runs_round_robin():
    order = []
    stats = interleave(
        dict(a=lambda: order.append('a'), b=lambda: order.append('b')),
        num_iters=3,
        num_warmup=1,
        timers=dict(c=lambda: order.append('c') or 7.0))
    assert order == ['a', 'b', 'c'] * 4
    assert stats['c']['median'] == 7.0 and stats['a']['runs'] == 3
    assert list(stats) == ['a', 'b', 'c']


def test_side_by_side_report(benchmark_tool, tiny_configs, fake_official,
                             tmp_path, capsys):
    out = tmp_path / 'side.json'
    report = benchmark_tool.main([
        tiny_configs['generator'], '--variants', 'pytorch:fp32',
        'pytorch:bf16', 'onnxruntime:fp32', '--official-src', fake_official,
        '--rounds', '2', '--num-warmup', '1', '--batch-size', '2',
        '--threads', '1', '--clock', 'process', '--cache-dir',
        str(tmp_path / 'cache'), '--json',
        str(out)
    ])
    assert json.load(open(out))['mode'] == 'side_by_side'
    assert report['settings']['clock'] == 'process'
    assert report['kind'] == 'generator'
    assert report['official']['model'] == 'mh_gen'
    assert report['official']['params'] == FAKE_PARAMS['mh_gen']
    names = ['pytorch:fp32', 'pytorch:bf16', 'onnxruntime:fp32', 'official']
    for batch in ('1', '2'):
        medians = report['median_ms'][batch]
        assert list(medians) == names
        assert report['timings'][batch]['official']['runs'] == 2
        for name in names:
            assert report['speedup_vs_official'][batch][name] == \
                pytest.approx(medians['official'] / medians[name])
            assert report['speedup_vs_pytorch_fp32'][batch][name] == \
                pytest.approx(medians['pytorch:fp32'] / medians[name])
    diffs = report['max_vertex_diff_mm']
    assert diffs['pytorch:fp32'] == 0
    assert diffs['onnxruntime:fp32'] < 1e-2
    assert 'official' not in diffs
    table = capsys.readouterr().out
    assert 'x official' in table and 'onnxruntime:fp32' in table


def test_side_by_side_refuses_bad_variants(benchmark_tool, tiny_configs):
    with pytest.raises(ValueError, match='not BACKEND:PRECISION'):
        benchmark_tool.main([tiny_configs['generator'], '--variants', 'bf16'])
    with pytest.raises(ValueError, match='no bf16 kernels'):
        benchmark_tool.main(
            [tiny_configs['generator'], '--variants', 'onnxruntime:bf16'])


def test_amp_train_step_on_cpu(benchmark_tool, tiny_configs):
    report = benchmark_tool.main([
        tiny_configs['blurhandnet'], '--batch-size', '2', '--num-iters', '1',
        '--num-warmup', '0', '--skip-flops', '--amp', '--threads', '1'
    ])
    assert report['train_step_ms']['runs'] == 1
    # MMEngine's AmpOptimWrapper is GPU-only: on the CPU the step runs
    # under bf16 autocast with the config's wrapper
    assert report['train_optim_wrapper'] == 'OptimWrapper'
    assert report['train_backbone_dtype'] == 'torch.bfloat16'
    assert report['settings']['amp'] == 'bfloat16'
    plain = benchmark_tool.main([
        tiny_configs['blurhandnet'], '--batch-size', '2', '--num-iters', '1',
        '--num-warmup', '0', '--skip-flops', '--threads', '1'
    ])
    assert plain['train_backbone_dtype'] == 'torch.float32'


def test_speed_study_bf16_experiment(speed_tool, tiny_configs, tmp_path):
    report = speed_tool.main([
        tiny_configs['generator'], '--experiments', 'bf16', '--num-iters',
        '1', '--num-warmup', '0', '--threads', '1', '--json',
        str(tmp_path / 'bf16.json')
    ])
    result = report['experiments']['bf16']
    assert list(result['timings']) == [
        'fp32', 'bf16', 'autocast_fp32_weights', 'bf16_fp32_transformers',
        'bf16_channels_last'
    ]
    diffs = result['max_vertex_diff_mm']
    assert diffs['fp32'] == 0
    # every bf16 variant really computes in bf16 (it moves the meshes)
    assert all(diffs[name] > 0 for name in diffs if name != 'fp32')


def test_precision_accuracy_tool(tiny_dataset, tmp_path):
    import importlib.util
    import os.path as osp
    path = osp.join(
        osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
        'tools', 'analysis_tools', 'precision_accuracy.py')
    spec = importlib.util.spec_from_file_location('precision_accuracy', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    config = osp.join(osp.dirname(path), '..', '..', 'tests', 'test_apis',
                      'data', 'tiny_mh_blurhandnet.py')
    report = tool.main([
        config, '--data-root', tiny_dataset,
        '--num-images', '2', '--variants', 'onnxruntime:fp32',
        'pytorch:bf16', '--cache-dir',
        str(tmp_path / 'cache'), '--json',
        str(tmp_path / 'acc.json')
    ])
    assert report['weights'] == 'random (seed 0)'
    assert report['num_images'] == 2
    ort, bf16 = (report['variants'][k]
                 for k in ('onnxruntime:fp32', 'pytorch:bf16'))
    assert ort['vertex_max'] < 1e-2  # mm: fp32 summation order only
    assert bf16['vertex_max'] > bf16['vertex_mean'] > 0
    assert bf16['vertex_p99'] <= bf16['vertex_max']
    assert ort['top1_agreement'] == 1.0
