# Copyright (c) OpenMMLab. All rights reserved.
"""The official conventions as settings, each against a hand-computed case
(docs/official_checkpoints.md)."""
import math

import pytest
import torch
from torch import nn

from mmblurhand.models.heads.ktformer import KTFormer
from mmblurhand.models.heads.mano_regressor import KinematicTreePoseHeads
from mmblurhand.models.necks import Unfolder, sample_point_features
from mmblurhand.models.selectors.score_decoder import (
    HypothesisScoreDecoder, official_sinusoidal_embedding_1d,
    official_sinusoidal_embedding_2d)
from mmblurhand.models.utils.soft_argmax import (normalized_to_grid,
                                                 soft_argmax)
from mmblurhand.utils.official_key_maps import MANO16_PARENTS
from mmblurhand.utils.official_weights import convert_state_dict


def test_official_soft_argmax_returns_the_cell_index_over_s():
    logits = torch.full((1, 8, 8), -1e4)
    logits[0, 5, 2] = 0.  # row (y) 5, column (x) 2
    official = soft_argmax(logits, 2, convention='official')
    assert official.tolist() == [[2 / 8, 5 / 8]]
    centre = soft_argmax(logits, 2)  # default: cell centres
    assert centre.tolist() == [[2.5 / 8, 5.5 / 8]]
    # a flat map: the mean index (S - 1) / 2 over S
    flat = soft_argmax(torch.zeros(4, 6, 8), 3, convention='official')
    assert flat.tolist() == pytest.approx([3.5 / 8, 2.5 / 6, 1.5 / 4])
    with pytest.raises(ValueError, match='coord_convention'):
        soft_argmax(logits, 2, convention='corners')


def test_official_sampling_reads_the_indexed_cell_with_align_corners():
    # u = i / S maps to grid i / (S - 1) * 2 - 1 (align_corners=True)
    u = torch.tensor([[0., 0.], [7 / 8, 3 / 4]])
    grid = normalized_to_grid(u, (8, 4), 'official')
    assert grid.flatten().tolist() == pytest.approx([-1., -1., 1., 1.])
    fmap = torch.arange(32.).view(1, 1, 4, 8)  # value = 8 y + x
    points = torch.tensor([[[2 / 8, 1 / 4], [2.5 / 8, 1 / 4],
                            [7 / 8, 3 / 4]]])
    got = sample_point_features(fmap, points, 'official')[0, :, 0]
    assert got.tolist() == pytest.approx([10., 10.5, 31.])
    # the cell-centre default reads the same cells at (i + 0.5) / S
    centres = (points * torch.tensor([8., 4.]) + 0.5) / torch.tensor([8., 4.])
    assert sample_point_features(
        fmap, centres)[0, :, 0].tolist() == pytest.approx([10., 10.5, 31.])


def test_official_unfolder_equals_three_separate_decoders():
    """The grouped Unfolder with the official convention and converted
    weights equals three per-step decoders laid out as the official ones
    (deconv -> cat skip -> conv, x2; 1x1 projection; soft-argmax at cell
    indices; align_corners=True sampling at the index)."""
    torch.manual_seed(0)
    chans, joints = (8, 12, 16), 3

    def cbr(conv, ch):
        return nn.Sequential(conv, nn.BatchNorm2d(ch), nn.ReLU())

    def decoder():
        return nn.ModuleDict(
            dict(
                deconv1=cbr(
                    nn.ConvTranspose2d(16, 6, 4, 2, 1, bias=False), 6),
                skip1=cbr(nn.Conv2d(12, 12, 1), 12),
                conv1=cbr(nn.Conv2d(18, 10, 3, padding=1), 10),
                deconv2=cbr(
                    nn.ConvTranspose2d(10, 4, 4, 2, 1, bias=False), 4),
                skip2=cbr(nn.Conv2d(8, 8, 1), 8),
                conv2=cbr(nn.Conv2d(12, 5, 3, padding=1), 5),
                conv_proj=nn.Sequential(nn.Conv2d(5, joints, 1))))

    decoders = {s: decoder() for s in ('e1', 'md', 'e2')}
    state = {}
    for step, dec in decoders.items():
        for m in dec.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        dec.eval()
        for key, value in dec.state_dict().items():
            state[f'unfolder.decoder_{step}.{key}'] = value
    neck_state = {
        k[len('neck.'):]: v
        for k, v in convert_state_dict(state, 'blurhandnet').items()
    }
    neck = Unfolder(
        in_channels=chans,
        deconv_channels=(6, 4),
        conv_channels=(10, 5),
        num_joints=joints,
        heatmap_dims=2,
        coord_convention='official').eval()
    neck.load_state_dict(neck_state, strict=True)
    feats = [torch.randn(2, c, 16 // 2**i, 16 // 2**i)
             for i, c in enumerate(chans)]
    feats[2] = feats[2] * 3
    with torch.no_grad():
        out = neck(feats)
        for t, step in enumerate(('e1', 'md', 'e2')):
            d = decoders[step]
            x = d['conv1'](torch.cat([d['deconv1'](feats[2]),
                                      d['skip1'](feats[1])], 1))
            x = d['conv2'](torch.cat([d['deconv2'](x), d['skip2'](feats[0])],
                                     1))
            heat = d['conv_proj'](x)  # (B, J, 16, 16)
            size = heat.shape[-1]
            prob = heat.flatten(2).softmax(-1).view_as(heat)
            idx = torch.arange(float(size))
            xy = torch.stack([(prob.sum(2) * idx).sum(-1),
                              (prob.sum(3) * idx).sum(-1)], -1)  # index
            grid = xy / (size - 1) * 2 - 1
            sampled = nn.functional.grid_sample(
                x, grid[:, :, None], align_corners=True)[..., 0]
            assert torch.allclose(out.joints[:, t], xy / size, atol=1e-6)
            assert torch.allclose(out.joint_feats[:, t],
                                  sampled.transpose(1, 2), atol=1e-5)


def official_heads(features, weights, biases):
    """The official per-joint KTD heads (ANCESTOR_INDEX semantics)."""
    ancestors = []
    for joint, parent in enumerate(MANO16_PARENTS):
        chain, p = [], parent
        while p >= 0:
            chain.insert(0, p)
            p = MANO16_PARENTS[p]
        ancestors.append(chain)
    outs = []
    for joint, chain in enumerate(ancestors):
        x = torch.cat([features] + [outs[i] for i in chain], 1)
        outs.append(x @ weights[joint].t() + biases[joint])
    return torch.stack(outs, 1)


def test_pose_heads_without_identity_offset_are_the_official_heads():
    torch.manual_seed(0)
    feat = 7
    weights = [torch.randn(6, feat + 6 * len(c))
               for c in ([], [0], [0, 1], [0, 1, 2], [0], [0, 4], [0, 4, 5],
                         [0], [0, 7], [0, 7, 8], [0], [0, 10], [0, 10, 11],
                         [0], [0, 13], [0, 13, 14])]
    biases = [torch.randn(6) for _ in weights]
    state = {}
    for p, (w, b) in enumerate(zip(weights, biases)):
        state[f'regressor.joint_regs.{p}.weight'] = w
        state[f'regressor.joint_regs.{p}.bias'] = b
    converted = {
        k[len('head.regressor.pose_heads.'):]: v
        for k, v in convert_state_dict(state, 'blurhandnet').items()
    }
    heads = KinematicTreePoseHeads(feat, MANO16_PARENTS,
                                   identity_offset=False)
    heads.load_state_dict(converted, strict=True)
    x = torch.randn(4, feat)
    with torch.no_grad():
        assert torch.allclose(heads(x), official_heads(x, weights, biases),
                              atol=1e-5)
    # zero weights: the official heads output the bias, the default
    # (identity offset) heads the bias plus the identity's 6D vector
    for param in heads.parameters():
        nn.init.zeros_(param)
    heads.feature_heads.bias.data[:6] = torch.arange(6.)
    assert heads(x)[0, 0].tolist() == [0., 1., 2., 3., 4., 5.]
    offset = KinematicTreePoseHeads(feat, MANO16_PARENTS)
    offset.load_state_dict(heads.state_dict())
    assert offset(x)[0, 0].tolist() == [1., 1., 2., 4., 4., 5.]


def test_ktformer_official_embedding_init_is_standard_normal():
    torch.manual_seed(0)
    official = KTFormer(num_steps=3, num_joints=21, embed_init='official')
    default = KTFormer(num_steps=3, num_joints=21)
    both = torch.cat([official.temporal_embed, official.kinematic_embed])
    assert both.std().item() == pytest.approx(1., abs=0.05)
    assert both.abs().max().item() > 2.5  # not truncated at 2 std
    plain = torch.cat([default.temporal_embed, default.kinematic_embed])
    assert plain.std().item() == pytest.approx(0.02, abs=0.002)
    with pytest.raises(ValueError, match='embed_init'):
        KTFormer(embed_init='xavier')


def test_official_position_codes():
    time = official_sinusoidal_embedding_1d(3, 8)  # half 4: 10000^(-i/3)
    freqs = [10000**(-i / 3) for i in range(4)]
    assert time[2].tolist() == pytest.approx(
        [math.sin(2 * f) for f in freqs] + [math.cos(2 * f) for f in freqs],
        abs=1e-6)
    grid = official_sinusoidal_embedding_2d(2, 3, 8, 'cpu')  # (6, 8)
    # row h = 1, column w = 2 -> index 5; columns first, interleaved
    col_f = [1., 10000**(-2 / 4)]
    expected = []
    for pos in (2, 1):
        for f in col_f:
            expected += [math.sin(pos * f), math.cos(pos * f)]
    assert grid[5].tolist() == pytest.approx(expected, abs=1e-6)


def test_official_bug_layout_reads_the_transposed_hypothesis():
    torch.manual_seed(0)
    b, k, t, j, p, cj, cc = 2, 4, 3, 5, 6, 12, 20
    kwargs = dict(embed_dims=16, num_heads=2, num_layers=1, pose_dims=p,
                  joint_in_channels=cj, context_in_channels=cc,
                  num_hypotheses=k, num_time_steps=t, num_joints=j,
                  num_groups=4, head_hidden_dims=8,
                  position_codes='official')
    right = HypothesisScoreDecoder(**kwargs)
    right.init_weights()
    bug = HypothesisScoreDecoder(layout='official_bug', **kwargs)
    bug.load_state_dict(right.state_dict())
    right.eval(), bug.eval()
    poses, feats = torch.randn(b, k, t, p), torch.randn(b, t, j, cj)
    context = torch.randn(b, cc, 2, 2)
    with torch.no_grad():
        ref = bug(poses, feats, context)
        moved = poses.clone()
        moved[0, 1] += 1.  # hypothesis 1 of image 0: official row 1*B+0=2
        changed = (bug(moved, feats, context) - ref).abs().sum(-1) > 1e-6
        assert changed.nonzero().tolist() == [[0, 2]]  # slot (b=0, k=2)
        fixed = (right(moved, feats, context) -
                 right(poses, feats, context)).abs().sum(-1) > 1e-6
        assert fixed.nonzero().tolist() == [[0, 1]]
        # one image: both layouts agree
        assert torch.allclose(
            bug(poses[:1], feats[:1], context[:1]),
            right(poses[:1], feats[:1], context[:1]), atol=1e-6)
    with pytest.raises(ValueError, match='layout'):
        HypothesisScoreDecoder(layout='bk', **kwargs)
