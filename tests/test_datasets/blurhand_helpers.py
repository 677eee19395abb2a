# Copyright (c) OpenMMLab. All rights reserved.
"""Shared settings of the dataset tests (imported by their conftest)."""

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
