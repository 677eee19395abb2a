# Copyright (c) OpenMMLab. All rights reserved.
"""A tiny synthetic BlurHand dataset shared by the dataset tests."""
import pytest

from mmblurhand.utils import register_all_modules

register_all_modules()

#: 6 train + 3 test images at 128 px; seed 3 gives 2 right, 2 left and 2
#: interacting training images (checked in test_synthesis.py).
TINY = dict(num_train=6, num_test=3, seed=3, image_size=128,
            interacting_prob=0.3)


def tiny_pipeline(input_size=(64, 64), augment=False, **target_kwargs):
    """The BlurHand pipeline at a small input size."""
    pipeline = [dict(type='LoadBlurHandImage'), dict(type='MirrorLeftHand')]
    if augment:
        pipeline.append(dict(type='BlurHandRandomScaleRotate'))
    pipeline.append(dict(type='BlurHandTopdownAffine', input_size=input_size))
    if augment:
        pipeline.append(dict(type='BlurHandColorJitter'))
    pipeline += [
        dict(type='GenerateBlurHandTargets', **target_kwargs),
        dict(type='PackBlurHandInputs')
    ]
    return pipeline


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
