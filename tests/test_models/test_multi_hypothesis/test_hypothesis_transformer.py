# Copyright (c) OpenMMLab. All rights reserved.
"""MultiHypothesisTransformer: shapes, layouts, hypothesis sources."""
import pytest
import torch

from mmblurhand.models.heads.hypothesis_transformer import \
    MultiHypothesisTransformer

B, K, T, J, C = 2, 3, 2, 4, 16


def build(**kwargs):
    cfg = dict(
        embed_dims=C,
        num_heads=2,
        num_layers=2,
        num_hypotheses=K,
        num_time_steps=T,
        num_joints=J)
    cfg.update(kwargs)
    torch.manual_seed(0)
    model = MultiHypothesisTransformer(**cfg)
    model.init_weights()
    return model.eval()


@pytest.mark.parametrize('layout', ['independent', 'joint'])
def test_shapes(layout):
    model = build(layout=layout)
    out = model(torch.randn(B, T, J, C))
    assert out.shape == (B, K, T, J, C)
    # Every hypothesis differs (the codes differ).
    assert not torch.allclose(out[:, 0], out[:, 1])


def test_independent_layout_isolates_hypotheses():
    model = build(layout='independent')
    feats = torch.randn(B, T, J, C)
    with torch.no_grad():
        ref = model(feats)
        model.hypothesis_embed[1] += torch.randn(C)
        out = model(feats)
    changed = (out - ref).abs().flatten(2).amax(-1) > 1e-6  # (B, K)
    assert changed[:, 1].all()
    assert not changed[:, [0, 2]].any()


def test_joint_layout_mixes_hypotheses():
    model = build(layout='joint')
    feats = torch.randn(B, T, J, C)
    with torch.no_grad():
        ref = model(feats)
        model.hypothesis_embed[1] += torch.randn(C)
        out = model(feats)
    changed = (out - ref).abs().flatten(2).amax(-1) > 1e-6
    assert changed.all()


def test_layouts_agree_for_one_hypothesis_and_images_are_independent():
    independent = build(layout='independent', num_hypotheses=1)
    joint = build(layout='joint', num_hypotheses=1)
    joint.load_state_dict(independent.state_dict())
    feats = torch.randn(B, T, J, C)
    with torch.no_grad():
        assert torch.allclose(independent(feats), joint(feats), atol=1e-6)
        ref = joint(feats)
        feats[1] += 1.0
        out = joint(feats)
    assert torch.allclose(out[0], ref[0], atol=1e-6)
    assert not torch.allclose(out[1], ref[1])


def test_noise_source():
    model = build(hypothesis_source='noise', embed_dims=256, num_heads=2)
    assert model.hypothesis_embed is None
    codes = model.hypothesis_codes(64, torch.float32, torch.device('cpu'))
    assert codes.shape == (64, K, 256)
    # Variance 1/E.
    assert codes.var().item() == pytest.approx(1 / 256, rel=0.1)
    feats = torch.randn(B, T, J, 256)
    with torch.no_grad():
        first, second = model(feats), model(feats)
    assert first.shape == (B, K, T, J, 256)
    assert not torch.allclose(first, second)


def test_gradients_reach_embeddings_and_input():
    model = build().train()
    feats = torch.randn(B, T, J, C, requires_grad=True)
    model(feats).square().mean().backward()
    assert feats.grad.abs().sum() > 0
    for name in ('hypothesis_embed', 'time_embed', 'joint_embed'):
        assert getattr(model, name).grad.abs().sum() > 0, name


def test_bad_config_and_input():
    with pytest.raises(ValueError, match='layout'):
        MultiHypothesisTransformer(layout='shared')
    with pytest.raises(ValueError, match='hypothesis_source'):
        MultiHypothesisTransformer(hypothesis_source='vae')
    model = build()
    with pytest.raises(ValueError, match=r'\(B, T, J, C\)'):
        model(torch.randn(B, T + 1, J, C))


def test_paper_size():
    model = MultiHypothesisTransformer()
    # 4 blocks x 3,152,384 + (K + T + J) x 512 embeddings.
    assert sum(p.numel() for p in model.parameters()) == 12_630_016
