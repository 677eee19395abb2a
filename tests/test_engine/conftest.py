# Copyright (c) OpenMMLab. All rights reserved.
"""Fixtures shared by the engine tests."""
import pytest


@pytest.fixture(scope='session')
def synthetic_blurhand(tmp_path_factory):
    """A tiny synthetic BlurHand dataset (8 train, 5 test one-hand images,
    96x96) written by the project's generator; its root (ends with '/')."""
    from mmblurhand.datasets.synthesis import (SynthesisConfig,
                                               synthesize_blurhand)
    root = tmp_path_factory.mktemp('synthetic_blurhand')
    synthesize_blurhand(
        str(root),
        num_train=8,
        num_test=5,
        seed=0,
        workers=1,
        cfg=SynthesisConfig(
            image_size=96, interacting_prob=0., subframes_per_interval=2),
        progress=False)
    return str(root) + '/'


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Train the tiny models with one thread (as the tools/ subprocesses of
    these tests do, OMP_NUM_THREADS=1): faster for tiny tensors, and no
    spinning threads fighting over the 2 CPU cores."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
