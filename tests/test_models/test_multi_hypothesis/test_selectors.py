# Copyright (c) OpenMMLab. All rights reserved.
"""Score decoder (perturbation test) and the baseline selectors."""
import pytest
import torch

from mmblurhand.models.selectors.baseline_selectors import (ProjectiveSelector,
                                                            RandomSelector)
from mmblurhand.models.selectors.score_decoder import (HypothesisScoreDecoder,
                                                       sinusoidal_embedding_2d)

B, K, T, J, P, CJ, CC = 3, 4, 2, 5, 6, 12, 20


def build_decoder(**kwargs):
    cfg = dict(
        embed_dims=16,
        num_heads=2,
        num_layers=2,
        pose_dims=P,
        joint_in_channels=CJ,
        context_in_channels=CC,
        num_hypotheses=K,
        num_time_steps=T,
        num_joints=J,
        num_groups=4,
        head_hidden_dims=8)
    cfg.update(kwargs)
    torch.manual_seed(0)
    decoder = HypothesisScoreDecoder(**cfg)
    decoder.init_weights()
    return decoder.eval()


def inputs():
    torch.manual_seed(1)
    return (torch.randn(B, K, T, P), torch.randn(B, T, J,
                                                 CJ), torch.randn(B, CC, 3, 4))


def changed_scores(decoder, before, after):
    with torch.no_grad():
        ref = decoder(*before).softmax(-1)[..., 1]
        out = decoder(*after).softmax(-1)[..., 1]
    return (out - ref).abs() > 1e-7  # (B, K)


def test_shapes():
    decoder = build_decoder()
    logits = decoder(*inputs())
    assert logits.shape == (B, K, 2)
    assert torch.isfinite(logits).all()


def test_perturbing_one_hypothesis_changes_only_its_score():
    decoder = build_decoder()
    poses, feats, context = inputs()
    for b, k in [(0, 0), (1, 2), (2, 3)]:
        perturbed = poses.clone()
        perturbed[b, k] += torch.randn(T, P)
        changed = changed_scores(decoder, (poses, feats, context),
                                 (perturbed, feats, context))
        expected = torch.zeros(B, K, dtype=torch.bool)
        expected[b, k] = True
        assert torch.equal(changed, expected), (b, k, changed)


def test_perturbing_one_image_changes_only_its_scores():
    decoder = build_decoder()
    poses, feats, context = inputs()
    expected = torch.zeros(B, K, dtype=torch.bool)
    expected[1] = True
    perturbed = context.clone()
    perturbed[1] += torch.randn(CC, 3, 4)
    assert torch.equal(
        changed_scores(decoder, (poses, feats, context),
                       (poses, feats, perturbed)), expected)
    perturbed = feats.clone()
    perturbed[1] += torch.randn(T, J, CJ)
    assert torch.equal(
        changed_scores(decoder, (poses, feats, context),
                       (poses, perturbed, context)), expected)


def test_without_hypothesis_embed_is_permutation_equivariant():
    decoder = build_decoder(use_hypothesis_embed=False)
    poses, feats, context = inputs()
    perm = torch.tensor([2, 0, 3, 1])
    with torch.no_grad():
        ref = decoder(poses, feats, context)
        out = decoder(poses[:, perm], feats, context)
    assert torch.allclose(out, ref[:, perm], atol=1e-5)


def test_bad_inputs():
    decoder = build_decoder()
    poses, feats, context = inputs()
    with pytest.raises(ValueError, match='poses'):
        decoder(poses[..., :-1], feats, context)
    with pytest.raises(ValueError, match='num_hypotheses'):
        decoder(poses[:, :2], feats, context)
    with pytest.raises(ValueError, match='joint_feats'):
        decoder(poses, feats[:2], context)
    with pytest.raises(ValueError, match='context'):
        decoder(poses, feats, context[:, :-1])
    with pytest.raises(ValueError, match='num_groups'):
        HypothesisScoreDecoder(embed_dims=16, num_groups=3)


def test_sinusoidal_grid_codes_are_distinct():
    codes = sinusoidal_embedding_2d(3, 4, 16, torch.device('cpu'))
    assert codes.shape == (12, 16)
    dists = torch.cdist(codes, codes) + torch.eye(12)
    assert dists.min() > 1e-3


def test_paper_size():
    # ScoreNet of the official selector: 30,092,290 parameters.
    decoder = HypothesisScoreDecoder()
    assert sum(p.numel() for p in decoder.parameters()) == 30_092_290


def test_projective_selector_prefers_consistent_hypothesis():
    joints_2d = torch.rand(2, T, J, 2)
    hyps = joints_2d.unsqueeze(1) + torch.tensor([0.3, 0.01, 0.1, 0.2]).view(
        1, K, 1, 1, 1)
    scores = ProjectiveSelector()(hyps, joints_2d)
    assert scores.shape == (2, K)
    assert scores.argmax(1).tolist() == [1, 1]
    assert scores[0].argsort(descending=True).tolist() == [1, 2, 3, 0]
    with pytest.raises(ValueError, match='hyp_joints_2d'):
        ProjectiveSelector()(hyps[:, :, :1], joints_2d)


def test_random_selector_is_seeded():
    hyps, joints_2d = torch.rand(2, K, T, J, 2), torch.rand(2, T, J, 2)
    first = RandomSelector(seed=3)(hyps, joints_2d)
    second = RandomSelector(seed=3)(hyps, joints_2d)
    assert first.shape == (2, K)
    assert torch.equal(first, second)
    selector = RandomSelector(seed=3)
    selector(hyps, joints_2d)
    assert not torch.equal(selector(hyps, joints_2d), first)
