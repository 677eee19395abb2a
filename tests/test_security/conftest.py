# Copyright (c) OpenMMLab. All rights reserved.
"""Fixtures of the safe-loading tests: runner checkpoints of the three model
kinds (tiny, trained for one epoch on a tiny synthetic dataset)."""
import os.path as osp

import pytest
import torch
from security_helpers import REPO, tiny_config


@pytest.fixture(autouse=True)
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory):
    """3 training and 2 test images (128 px) in the BlurHand layout."""
    from mmblurhand.datasets.synthesis import (SynthesisConfig,
                                               synthesize_blurhand)
    root = str(tmp_path_factory.mktemp('security_synthetic'))
    synthesize_blurhand(
        root,
        num_train=3,
        num_test=2,
        seed=1,
        workers=1,
        cfg=SynthesisConfig(image_size=128, interacting_prob=0.),
        progress=False)
    return root


@pytest.fixture(scope='session')
def runner_checkpoints(synthetic_root, tmp_path_factory):
    """``kind -> (config file, epoch_1.pth)`` for a BlurHandNet, a
    multi-hypothesis generator and a selector on that generator, each
    trained for one epoch (2 iterations) by MMEngine's Runner."""
    from mmengine.runner import Runner

    from mmblurhand.engine.resumable_train_loop import select_train_loop
    from mmblurhand.utils import register_all_modules
    register_all_modules()
    tmp = tmp_path_factory.mktemp('runner_checkpoints')
    out = {}
    for kind in ('blurhandnet', 'generator', 'selector'):
        overrides = {}
        if kind == 'selector':
            overrides['model.generator_checkpoint'] = out['generator'][1]
        config = tmp / f'{kind}.py'
        cfg = tiny_config(kind, synthetic_root, tmp / kind, config,
                          **overrides)
        select_train_loop(cfg)  # as tools/train.py does
        Runner.from_cfg(cfg).train()
        out[kind] = (str(config), str(tmp / kind / 'epoch_1.pth'))
    return out


@pytest.fixture(scope='session')
def demo_checkpoint(tmp_path_factory):
    """(config, checkpoint) of a tiny random MHBlurHandNet (K = 4), saved
    with a plain-typed ``meta``."""
    from mmblurhand.apis import init_model
    config = osp.join(REPO, 'tests/test_apis/data/tiny_mh_blurhandnet.py')
    torch.manual_seed(0)
    model = init_model(config)
    path = str(tmp_path_factory.mktemp('demo_ckpt') / 'tiny_mh.pth')
    torch.save(dict(meta=dict(), state_dict=model.state_dict()), path)
    return config, path
