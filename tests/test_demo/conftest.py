# Copyright (c) OpenMMLab. All rights reserved.
"""A tiny random multi-hypothesis checkpoint for the demo CLI tests."""
import os.path as osp

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CONFIG = osp.join(REPO, 'tests/test_apis/data/tiny_blurhandnet.py')
TINY_MH_CONFIG = osp.join(REPO, 'tests/test_apis/data/tiny_mh_blurhandnet.py')


@pytest.fixture(scope='session')
def demo_checkpoint(tmp_path_factory):
    """(config, checkpoint) of a tiny random MHBlurHandNet (K = 4)."""
    from mmblurhand.apis import init_model
    torch.manual_seed(0)
    model = init_model(TINY_MH_CONFIG)
    path = str(tmp_path_factory.mktemp('demo_ckpt') / 'tiny_mh.pth')
    torch.save(dict(meta=dict(), state_dict=model.state_dict()), path)
    return TINY_MH_CONFIG, path
