# Copyright (c) OpenMMLab. All rights reserved.
"""A tiny synthetic BlurHand dataset shared by the dataset tests."""
import pytest

from mmblurhand.utils import register_all_modules

register_all_modules()

from blurhand_helpers import TINY


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory):
    """Root of a tiny synthetic BlurHand dataset with sharp frames and
    masks."""
    from mmblurhand.datasets.synthesis import (SynthesisConfig,
                                               synthesize_blurhand)
    root = str(tmp_path_factory.mktemp('blurhand_synthetic'))
    cfg = SynthesisConfig(
        image_size=TINY['image_size'],
        save_sharp=True,
        interacting_prob=TINY['interacting_prob'])
    synthesize_blurhand(
        root,
        TINY['num_train'],
        TINY['num_test'],
        seed=TINY['seed'],
        workers=1,
        cfg=cfg,
        progress=False)
    return root
