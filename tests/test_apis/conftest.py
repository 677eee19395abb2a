# Copyright (c) OpenMMLab. All rights reserved.
"""Tiny randomly initialised models and their checkpoints (no training)."""
import os.path as osp

import pytest
import torch

DATA = osp.join(osp.dirname(osp.abspath(__file__)), 'data')
TINY_CONFIG = osp.join(DATA, 'tiny_blurhandnet.py')
TINY_MH_CONFIG = osp.join(DATA, 'tiny_mh_blurhandnet.py')


def save_tiny_checkpoint(config: str, path: str, seed: int = 0) -> str:
    """Build ``config``'s model with random weights and save it like a
    Runner checkpoint."""
    from mmblurhand.apis import init_model
    torch.manual_seed(seed)
    model = init_model(config)
    torch.save(
        dict(meta=dict(dataset_meta=dict(dataset_name='tiny')),
             state_dict=model.state_dict()), path)
    return path


@pytest.fixture(scope='session')
def tiny_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp('tiny') / 'tiny_blurhandnet.pth'
    return TINY_CONFIG, save_tiny_checkpoint(TINY_CONFIG, str(path))


@pytest.fixture(scope='session')
def tiny_mh_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp('tiny_mh') / 'tiny_mh_blurhandnet.pth'
    return TINY_MH_CONFIG, save_tiny_checkpoint(TINY_MH_CONFIG, str(path))
