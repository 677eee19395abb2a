# Copyright (c) OpenMMLab. All rights reserved.
"""Command-line plumbing shared by tools/train.py and tools/test.py."""
import pytest
from mmengine.config import Config

from mmblurhand.engine.amp import enable_amp
from mmblurhand.engine.distributed import use_gloo_without_gpu
from mmblurhand.engine.visualization import enable_visualization


def test_amp_switches_wrapper_and_dtype():
    cfg = Config(dict(optim_wrapper=dict(optimizer=dict(type='Adam'))))
    enable_amp(cfg, 'float16')
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'float16'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    cfg = Config(dict(optim_wrapper=dict(optimizer=dict(type='Adam'))))
    enable_amp(cfg, 'bfloat16')
    assert cfg.optim_wrapper.loss_scale == 1.0
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapperDict')))
    with pytest.raises(ValueError, match='OptimWrapperDict'):
        enable_amp(cfg)


def test_gloo_without_gpu_only_when_distributed():
    cfg = Config(dict(launcher='none', env_cfg=dict(dist_cfg=dict(
        backend='nccl'))))
    assert use_gloo_without_gpu(cfg).env_cfg.dist_cfg.backend == 'nccl'
    cfg.launcher = 'pytorch'
    # this machine (and CI) has no GPU
    assert use_gloo_without_gpu(cfg).env_cfg.dist_cfg.backend == 'gloo'


def test_show_dir_needs_a_visualization_hook():
    cfg = Config(dict(default_hooks=dict()))
    with pytest.raises(RuntimeError, match='my_cfg.py'):
        enable_visualization(cfg, False, 'vis', 1, 0, 'my_cfg.py')
    cfg = Config(
        dict(default_hooks=dict(visualization=dict(type='X', enable=False))))
    enable_visualization(cfg, False, 'vis', 3, 0, 'my_cfg.py')
    assert cfg.default_hooks.visualization.enable
    assert cfg.default_hooks.visualization.out_dir == 'vis'
    assert cfg.default_hooks.visualization.interval == 3
