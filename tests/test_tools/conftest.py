# Copyright (c) OpenMMLab. All rights reserved.
"""Tiny model configs (64x64 input, ResNet-18 with 16 base channels) for
the benchmark, hypothesis-scaling and ONNX export tools."""
import importlib.util
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

TINY_COMMON = '''
default_scope = 'mmblurhand'
custom_imports = dict(imports=['mmblurhand'], allow_failed_imports=False)
input_size = (64, 64)
num_steps = 3
num_joints = 21
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-4), clip_grad=dict(max_norm=1.0))
data_preprocessor = dict(
    type='PoseDataPreprocessor',
    mean=[0., 0., 0.],
    std=[255., 255., 255.],
    bgr_to_rgb=True)
backbone = dict(
    type='ResNet',
    depth=18,
    stem_channels=16,
    base_channels=16,
    out_indices=(1, 2, 3),
    init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18'))
'''

TINY_GENERATOR = TINY_COMMON + '''
neck = dict(
    type='Unfolder',
    in_channels=(32, 64, 128),
    deconv_channels=(32, 16),
    conv_channels=(32, 16),
    heatmap_dims=2)
model = dict(
    type='MHBlurHandNet',
    data_preprocessor=data_preprocessor,
    backbone=backbone,
    neck=neck,
    head=dict(
        type='MultiHypothesisHead',
        transformer=dict(
            type='MultiHypothesisTransformer',
            embed_dims=16,
            num_heads=2,
            num_layers=1,
            num_hypotheses=4),
        regressor=dict(
            type='ManoRegressor',
            in_channels=16,
            coord_dims=2,
            global_channels=128,
            camera_cfg=dict(input_size=input_size)),
        loss_diversity=dict(
            type='DiversityLoss', alpha=21. * 16, p=1, loss_weight=1.)),
    selector=dict(type='ProjectiveSelector'))
'''

TINY_SELECTOR = TINY_GENERATOR + '''
generator_model = model
model = dict(
    type='MHSelector',
    data_preprocessor=data_preprocessor,
    generator=generator_model,
    generator_checkpoint='work_dirs/does_not_exist.pth',
    backbone=backbone,
    neck=neck,
    head=dict(
        type='HypothesisScoreDecoder',
        embed_dims=16,
        num_heads=2,
        num_layers=1,
        joint_in_channels=16,
        context_in_channels=128,
        num_hypotheses=4,
        num_groups=4,
        head_hidden_dims=8),
    loss_rank=dict(type='CCRLoss', alpha=0.75, num_positive=2))
'''

TINY_BLURHANDNET = TINY_COMMON + '''
model = dict(
    type='BlurHandNet',
    data_preprocessor=data_preprocessor,
    backbone=backbone,
    neck=dict(
        type='Unfolder',
        in_channels=(32, 64, 128),
        deconv_channels=(32, 16),
        conv_channels=(32, 16),
        heatmap_depth=8),
    head=dict(
        type='BlurHandHead',
        ktformer=dict(
            type='KTFormer',
            in_channels=16,
            embed_dims=32,
            num_blocks=1,
            num_heads=2),
        regressor=dict(
            type='ManoRegressor',
            in_channels=32,
            global_channels=128,
            camera_cfg=dict(input_size=input_size))))
'''


@pytest.fixture(scope='session')
def tiny_configs(tmp_path_factory):
    """Paths of the tiny generator, selector and BlurHandNet configs.

    The backbone asks for ImageNet weights and the selector for a missing
    generator checkpoint: the tools must drop both to run offline.
    """
    root = tmp_path_factory.mktemp('tiny_configs')
    paths = {}
    for name, text in (('generator', TINY_GENERATOR),
                       ('selector', TINY_SELECTOR),
                       ('blurhandnet', TINY_BLURHANDNET)):
        path = root / f'tiny_{name}.py'
        path.write_text(text)
        paths[name] = str(path)
    return paths


def load_tool(relative_path: str):
    """Import a script under tools/ as a module."""
    path = osp.join(REPO, relative_path)
    name = osp.splitext(osp.basename(path))[0] + '_tool'
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def benchmark_tool():
    return load_tool('tools/analysis_tools/benchmark.py')


@pytest.fixture(scope='session')
def scaling_tool():
    return load_tool('tools/analysis_tools/hypothesis_scaling.py')


@pytest.fixture(scope='session')
def onnx_tool():
    return load_tool('tools/deployment/pytorch2onnx.py')


@pytest.fixture(scope='session')
def studies_tool():
    return load_tool('tools/analysis_tools/accuracy_studies.py')


@pytest.fixture(scope='session')
def speed_tool():
    return load_tool('tools/analysis_tools/speed_study.py')


@pytest.fixture(scope='session')
def mean_pose_tool():
    return load_tool('tools/analysis_tools/mean_pose_baseline.py')


@pytest.fixture(scope='session')
def projection_tool():
    return load_tool('tools/analysis_tools/projection_diagnostics.py')


@pytest.fixture(scope='session')
def tiny_dataset(tmp_path_factory):
    """A tiny synthetic BlurHand root at 96 px: 3 train and 3 test images
    (seed 5), built once per session."""
    from mmblurhand.datasets.synthesis import (SynthesisConfig,
                                               synthesize_blurhand)
    root = str(tmp_path_factory.mktemp('tiny_dataset'))
    synthesize_blurhand(
        root, 3, 3, seed=5, workers=1, cfg=SynthesisConfig(image_size=96),
        progress=False)
    return root
