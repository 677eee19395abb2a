# Copyright (c) OpenMMLab. All rights reserved.
"""MHBlurHandNet and MHSelector on fake batches (a thin ResNet-18, 64x64)."""
import copy

import numpy as np
import pytest
import torch

from mmblurhand.registry import MODELS
from mmblurhand.testing import get_packed_inputs, tiny_model_parts
from mmblurhand.utils import register_all_modules

K, C, B, T = 3, 16, 2, 3
register_all_modules()

_PARTS = tiny_model_parts(feat_channels=C)
PREPROCESSOR, BACKBONE, NECK = (_PARTS['preprocessor'], _PARTS['backbone'],
                                _PARTS['neck'])
GENERATOR = dict(
    type='MHBlurHandNet',
    data_preprocessor=PREPROCESSOR,
    backbone=BACKBONE,
    neck=NECK,
    head=dict(
        type='MultiHypothesisHead',
        transformer=dict(
            type='MultiHypothesisTransformer',
            embed_dims=C,
            num_heads=2,
            num_layers=1,
            num_hypotheses=K),
        regressor=dict(
            type='ManoRegressor',
            in_channels=C,
            coord_dims=2,
            global_channels=128,
            camera_cfg=dict(input_size=(64, 64))),
        loss_diversity=dict(type='DiversityLoss', alpha=float(21 * C))),
    test_cfg=dict(num_select=2))
SCORER = dict(
    type='HypothesisScoreDecoder',
    embed_dims=16,
    num_heads=2,
    num_layers=1,
    joint_in_channels=C,
    context_in_channels=128,
    num_hypotheses=K,
    num_groups=4,
    head_hidden_dims=8)


def build_generator(**overrides):
    cfg = copy.deepcopy(GENERATOR)
    cfg.update(overrides)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def selector_cfg(checkpoint=None, **overrides):
    cfg = dict(
        type='MHSelector',
        generator=copy.deepcopy(GENERATOR),
        generator_checkpoint=checkpoint,
        data_preprocessor=PREPROCESSOR,
        backbone=BACKBONE,
        neck=NECK,
        head=SCORER,
        loss_rank=dict(type='CCRLoss', num_positive=2),
        test_cfg=dict(num_select=2))
    cfg.update(overrides)
    return cfg


@pytest.fixture(scope='module')
def batch():
    return get_packed_inputs(B, input_size=(64, 64), left_hands=[False, True])


@pytest.fixture(scope='module')
def generator_checkpoint(tmp_path_factory):
    model = build_generator()
    # Make the generator's BN statistics recognisable.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.fill_(0.1)
    path = tmp_path_factory.mktemp('gen') / 'epoch_1.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), str(path))
    return str(path), model.state_dict()


def test_generator_loss_and_predict(batch):
    model = build_generator()
    data = model.data_preprocessor(batch, training=True)
    losses = model(**data, mode='loss')
    assert 'loss_diversity' in losses and 'loss_joint_cam' in losses
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    total.backward()
    assert model.head.transformer.hypothesis_embed.grad is not None

    model.eval()
    data = model.data_preprocessor(batch, training=False)
    with torch.no_grad():
        raw = model(**data, mode='tensor')
        samples = model(**data, mode='predict')
    pred = samples[0].pred_instances
    assert pred.hyp_joints_cam.shape == (1, K, T, 21, 3)
    assert pred.hyp_vertices.shape[:3] == (1, K, T)
    assert pred.hyp_mano_pose.shape == (1, K, T, 48)
    assert pred.hyp_scores.shape == (1, K)
    assert pred.topn_indices.shape == (1, 2)
    assert pred.joints_cam.shape == (1, T, 21, 3)
    assert pred.keypoints.shape == (1, T, 21, 2)
    assert pred.agg_joints_cam.shape == (1, T, 21, 3)
    # Top-n ordered by score; the chosen sequence is the top-1.
    scores = pred.hyp_scores[0]
    assert np.all(np.diff(scores[pred.topn_indices[0]]) <= 0)
    assert scores[pred.topn_indices[0, 0]] == scores.max()
    np.testing.assert_allclose(pred.joints_cam[0],
                               pred.hyp_joints_cam[0, pred.topn_indices[0, 0]])
    # Projective scores: minus the mean distance to the Unfolder joints.
    proj = raw['joints_2d'][0] - raw['unfolder_joints'][0, None]
    np.testing.assert_allclose(
        scores, -proj.norm(dim=-1).mean(dim=(1, 2)).numpy(), rtol=1e-5)
    # The left hand (sample 1) is mirrored back, all hypotheses included.
    left = samples[1].pred_instances
    np.testing.assert_allclose(
        left.hyp_joints_cam[0, ..., 0],
        -raw['joints_cam'][1, ..., 0].numpy(),
        atol=1e-6)
    np.testing.assert_allclose(left.hyp_vertices[0, ..., 1],
                               raw['vertices'][1, ..., 1].numpy())
    with torch.no_grad():
        agg = model.head.aggregate({
            k: v[1:]
            for k, v in raw.items()
        }, torch.as_tensor(left.topn_indices))
    np.testing.assert_allclose(
        left.agg_vertices[0, ..., 0],
        -agg['vertices'][0, ..., 0].numpy(),
        atol=1e-6)


def test_generator_aggregate_and_random_selector(batch):
    model = build_generator(
        selector=dict(type='RandomSelector', seed=0),
        test_cfg=dict(num_select=3, aggregate=True)).eval()
    with torch.no_grad():
        samples = model(
            **model.data_preprocessor(batch, training=False), mode='predict')
    pred = samples[0].pred_instances
    np.testing.assert_allclose(pred.joints_cam, pred.agg_joints_cam)
    np.testing.assert_allclose(
        pred.mano_pose[0],
        pred.hyp_mano_pose[0, pred.topn_indices[0]].mean(0),
        atol=1e-5)
    with pytest.raises(KeyError, match='num_select'):
        build_generator(test_cfg=dict(top_n=2))


def test_selector_init_freeze_and_eval_mode(batch, generator_checkpoint):
    path, gen_state = generator_checkpoint
    selector = MODELS.build(selector_cfg(path))
    selector.init_weights()
    for key, value in gen_state.items():
        assert torch.equal(selector.generator.state_dict()[key], value), key
    # Own backbone and Unfolder start from the generator's.
    for name in ('backbone', 'neck'):
        own = getattr(selector, name).state_dict()
        for key, value in getattr(selector.generator,
                                  name).state_dict().items():
            assert torch.equal(own[key], value), (name, key)
    assert not any(p.requires_grad for p in selector.generator.parameters())

    selector.train()
    assert selector.backbone.training and selector.head.training
    assert not any(m.training for m in selector.generator.modules())
    bn = selector.generator.backbone.bn1
    before = bn.running_mean.clone()
    data = selector.data_preprocessor(batch, training=True)
    losses = selector(**data, mode='loss')
    assert set(losses) == {'loss_rank', 'loss_joint_img', 'hit_rate'}
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    # Frozen generator: no gradients, BatchNorm statistics unchanged.
    assert all(p.grad is None for p in selector.generator.parameters())
    assert torch.equal(bn.running_mean, before)
    assert selector.head.pose_branch[0].weight.grad is not None
    assert selector.backbone.conv1.weight.grad is not None

    selector.eval()
    with torch.no_grad():
        samples = selector(
            **selector.data_preprocessor(batch, training=False),
            mode='predict')
    pred = samples[0].pred_instances
    assert pred.hyp_scores.shape == (1, K)
    assert ((pred.hyp_scores > 0) & (pred.hyp_scores < 1)).all()
    assert pred.topn_indices.shape == (1, 2)


def test_selector_scores_depend_on_own_image_and_hypothesis(batch):
    selector = MODELS.build(selector_cfg())
    selector.init_weights()
    selector.eval()
    data = selector.data_preprocessor(batch, training=False)
    with torch.no_grad():
        hyps = selector.generate(data['inputs'])
        ref = selector.score(data['inputs'], hyps)[0].softmax(-1)[..., 1]
        perturbed = dict(hyps)
        perturbed['mano_pose'] = hyps['mano_pose'].clone()
        perturbed['mano_pose'][1, 2] += 0.5
        out = selector.score(data['inputs'], perturbed)[0].softmax(-1)[..., 1]
    changed = (out - ref).abs() > 1e-7
    expected = torch.zeros(B, K, dtype=torch.bool)
    expected[1, 2] = True
    assert torch.equal(changed, expected)


def test_selector_missing_checkpoint_and_bad_generator(tmp_path):
    selector = MODELS.build(
        selector_cfg(str(tmp_path / 'missing' / 'epoch_30.pth')))
    with pytest.raises(FileNotFoundError, match='generator_checkpoint'):
        selector.init_weights()
    with pytest.raises(TypeError, match='MHBlurHandNet'):
        MODELS.build(
            selector_cfg(
                generator=dict(
                    type='BlurHandNet',
                    backbone=BACKBONE,
                    neck=dict(NECK, heatmap_dims=3),
                    head=dict(type='BlurHandHead'))))
