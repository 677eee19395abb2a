# Copyright (c) OpenMMLab. All rights reserved.
"""Soft-argmax, virtual camera, Unfolder, KTFormer and MANO regressor."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmblurhand.models.heads import (KinematicTreePoseHeads, KTFormer,
                                     ManoRegressor)
from mmblurhand.models.necks import Unfolder, sample_point_features
from mmblurhand.models.utils import VirtualCamera, soft_argmax
from mmblurhand.models.utils.rotations import rot6d_to_matrix

SMALL_UNFOLDER = dict(
    in_channels=(16, 32, 64),
    deconv_channels=(24, 12),
    conv_channels=(20, 10),
    num_joints=5)


def _backbone_feats(batch=2, size=2):
    return [
        torch.randn(batch, 16, size * 4, size * 4),
        torch.randn(batch, 32, size * 2, size * 2),
        torch.randn(batch, 64, size, size)
    ]


def num_params(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_soft_argmax_cell_centre_convention():
    # A peaked 3D heatmap (D=4, H=8, W=8) at cell (d=1, y=2, x=5).
    logits = torch.full((2, 4, 8, 8), -1e4)
    logits[0, 1, 2, 5] = 0.
    logits[1] = 0.  # uniform -> the centre of the crop
    xyz = soft_argmax(logits, 3)
    np.testing.assert_allclose(xyz[0], [5.5 / 8, 2.5 / 8, 1.5 / 4], atol=1e-6)
    np.testing.assert_allclose(xyz[1], [0.5, 0.5, 0.5], atol=1e-6)
    xy = soft_argmax(logits[0, 1], 2)
    np.testing.assert_allclose(xy, [5.5 / 8, 2.5 / 8], atol=1e-6)
    with pytest.raises(ValueError, match='num_spatial_dims'):
        soft_argmax(logits, 4)


def test_point_sampling_matches_soft_argmax_convention():
    # A feature map whose channel 0 is the cell's x centre and channel 1
    # its y centre reads back the sampled point exactly (bilinear inside).
    h, w = 6, 8
    xs = (torch.arange(w) + 0.5) / w
    ys = (torch.arange(h) + 0.5) / h
    fmap = torch.stack([xs.expand(h, w), ys[:, None].expand(h, w)])[None]
    points = torch.tensor([[[0.3, 0.6], [5.5 / 8, 2.5 / 6]]])
    out = sample_point_features(fmap, points)
    np.testing.assert_allclose(out[0], points[0], atol=1e-6)


def test_virtual_camera():
    cam = VirtualCamera(input_size=(256, 256))
    assert cam.max_depth == pytest.approx(7.8125)
    t = cam.translation(torch.tensor([[0.1, -0.2, 0.]]))
    np.testing.assert_allclose(t, [[0.1, -0.2, 7.8125 / 2]], atol=1e-6)
    # a point on the optical axis projects to the principal point (centre)
    uv = cam.project(torch.tensor([[[-0.1, 0.2, 0.]]]), t)
    np.testing.assert_allclose(uv, [[[0.5, 0.5]]], atol=1e-6)
    uv_px = cam.project(
        torch.tensor([[[0.01, 0., 0.]]]), t, normalize=False)
    expected = 0.11 / (7.8125 / 2 + 1e-4) * 5000 + 128
    assert uv_px[0, 0, 0].item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match='input_size'):
        VirtualCamera(input_size=(0, 256))


def test_depth_from_targets_inverts_the_projection():
    """Flat hands (exact perspective) projected at 5, 9 and 12 m by a
    non-square camera give those depths back; too few joints, or 2D joints
    mirrored against the 3D ones (negative slope), are flagged unusable;
    depths beyond ``k`` are capped at ``k``."""
    cam = VirtualCamera(input_size=(128, 96))
    gen = torch.Generator().manual_seed(0)
    joints = torch.rand(5, 21, 3, generator=gen) * 0.2 - 0.1
    joints[..., 2] = 0.0
    trans = torch.tensor([[0.02, -0.01, 5.], [0., 0., 9.], [0.1, 0.05, 12.],
                          [0., 0., 7.], [0., 0., 40.]])
    joints_2d = cam.project(joints, trans)
    valid = torch.ones(5, 21, dtype=torch.bool)
    valid[3, 2:] = False  # two joints left: no fit
    mirrored = joints_2d.clone()
    mirrored[1] = 1.0 - joints_2d[1]
    depth, usable = cam.depth_from_targets(joints, joints_2d, valid)
    torch.testing.assert_close(depth[:3], trans[:3, 2], rtol=1e-5, atol=0)
    assert usable.tolist() == [True, True, True, False, True]
    assert depth[4] == pytest.approx(cam.max_depth)  # 40 m > k = 18.04 m
    _, usable = cam.depth_from_targets(joints, mirrored, valid)
    assert not usable[1]
    # weak perspective: a real (not flat) hand 8 m away is off by < 1 %
    deep = torch.rand(1, 21, 3, generator=gen) * 0.2 - 0.1
    depth, _ = cam.depth_from_targets(
        deep, cam.project(deep, torch.tensor([[0., 0., 8.]])),
        torch.ones(1, 21, dtype=torch.bool))
    assert abs(float(depth[0]) - 8.0) < 0.08
    with pytest.raises(ValueError, match='joints_cam'):
        cam.depth_from_targets(joints[..., :2], joints_2d, valid)


@pytest.mark.parametrize('heatmap_dims', [3, 2])
def test_unfolder_shapes(heatmap_dims):
    neck = Unfolder(
        **SMALL_UNFOLDER, heatmap_dims=heatmap_dims, heatmap_depth=6,
        num_steps=4)
    out = neck(_backbone_feats())
    assert out.joint_feats.shape == (2, 4, 5, 10)
    assert out.joints.shape == (2, 4, 5, heatmap_dims)
    assert out.feature_maps.shape == (2, 4, 10, 8, 8)
    assert out.global_feat.shape == (2, 64)
    if heatmap_dims == 3:
        assert out.heatmaps.shape == (2, 4, 5, 6, 8, 8)
    else:
        assert out.heatmaps.shape == (2, 4, 5, 8, 8)
    assert ((out.joints >= 0) & (out.joints <= 1)).all()
    # joint features are the step's feature map sampled at its joints
    expected = sample_point_features(out.feature_maps[:, 1],
                                     out.joints[:, 1, :, :2])
    torch.testing.assert_close(out.joint_feats[:, 1], expected)


def test_unfolder_decoders_are_independent():
    torch.manual_seed(0)
    neck = Unfolder(**SMALL_UNFOLDER, heatmap_depth=4).eval()
    feats = _backbone_feats()
    before = neck(feats)
    # Perturb every weight slice that belongs to step 1 only. Steps are laid
    # out step-major along the output channels: dim 0 of conv / BN weights
    # and of grouped transposed convs (grouped along their input dim 0),
    # dim 1 of the ungrouped transposed conv reading the shared C5.
    with torch.no_grad():
        for module in neck.modules():
            if not isinstance(module, (torch.nn.Conv2d, torch.nn.BatchNorm2d,
                                       torch.nn.ConvTranspose2d)):
                continue
            ungrouped_deconv = isinstance(
                module, torch.nn.ConvTranspose2d) and module.groups == 1
            dim = 1 if ungrouped_deconv else 0
            size = module.weight.shape[dim] // 3
            module.weight.narrow(dim, size, size).mul_(3.)
    after = neck(feats)
    for step, changed in ((0, False), (1, True), (2, False)):
        same = torch.allclose(before.heatmaps[:, step],
                              after.heatmaps[:, step])
        assert same != changed, step


@pytest.mark.parametrize('heatmap_dims', [3, 2])
def test_unfolder_logit_scale_sharpens_the_same_heatmaps(heatmap_dims):
    """``logit_scale`` multiplies the logits and nothing else: the same
    weights give scaled heatmaps, joints = soft-argmax of those, and a
    larger logit gradient (the point of the knob)."""
    feats = _backbone_feats()
    torch.manual_seed(0)
    plain = Unfolder(**SMALL_UNFOLDER, heatmap_dims=heatmap_dims,
                     heatmap_depth=4).eval()
    scaled = Unfolder(**SMALL_UNFOLDER, heatmap_dims=heatmap_dims,
                      heatmap_depth=4, logit_scale=30.).eval()
    scaled.load_state_dict(plain.state_dict())
    a, b = plain(feats), scaled(feats)
    torch.testing.assert_close(b.heatmaps, 30. * a.heatmaps)
    torch.testing.assert_close(b.joints,
                               soft_argmax(30. * a.heatmaps, heatmap_dims))
    assert not torch.allclose(a.joints, b.joints)
    grads = []
    for neck in (plain, scaled):
        neck.zero_grad()
        neck(feats).joints.sum().backward()
        grads.append(neck.proj.bias.grad.abs().sum())
    assert grads[1] > 5 * grads[0]
    with pytest.raises(ValueError, match='logit_scale'):
        Unfolder(**SMALL_UNFOLDER, logit_scale=0.)


def test_unfolder_paper_parameter_count_and_errors():
    neck = Unfolder(heatmap_depth=32)
    assert num_params(neck) == 3 * 40_332_448
    with pytest.raises(ValueError, match='out_indices'):
        Unfolder(**SMALL_UNFOLDER)(_backbone_feats()[1:])
    with pytest.raises(ValueError, match='do not match'):
        Unfolder(**SMALL_UNFOLDER)([f[:, :8] for f in _backbone_feats()])
    with pytest.raises(ValueError, match='upsampling stages'):
        Unfolder(in_channels=(16, 32, 64), deconv_channels=(8, ))


def test_ktformer_shapes_attention_and_params():
    assert num_params(KTFormer()) == 12_884_480
    model = KTFormer(
        in_channels=10, embed_dims=16, num_blocks=2, num_heads=4,
        num_steps=3, num_joints=5).eval()
    x = torch.randn(2, 4, 3, 5, 10)  # (B, K, T, J, C)
    out = model(x)
    assert out.shape == (2, 4, 3, 5, 16)
    # tokens attend across time: changing the past changes the future
    x2 = x.clone()
    x2[:, :, 0] += 1.
    assert not torch.allclose(model(x2)[:, :, 2], out[:, :, 2])
    # ... but never across leading (independent) indices
    x3 = x.clone()
    x3[0] += 1.
    torch.testing.assert_close(model(x3)[1], out[1])
    with pytest.raises(ValueError, match=r'\(\.\.\., T, J, C\)'):
        model(torch.randn(2, 3, 4, 10))


def _naive_kinematic_heads(heads, features, parents):
    """Per-joint loop reference of KinematicTreePoseHeads."""
    n = features.shape[0]
    weight = heads.feature_heads.weight.view(len(parents), 6, -1)
    bias = heads.feature_heads.bias.view(len(parents), 6)
    depths = np.zeros(len(parents), dtype=int)
    for j, p in enumerate(parents):
        depths[j] = 0 if p < 0 else depths[p] + 1
    position = {}
    for d in range(depths.max() + 1):
        for k, j in enumerate(np.flatnonzero(depths == d)):
            position[j] = k
    raw = {}
    for j, p in enumerate(parents):
        chain, a = [], p
        while a >= 0:
            chain.insert(0, raw[a])
            a = parents[a]
        out = features @ weight[j].T + bias[j]
        if chain:
            anc = torch.cat(chain, dim=-1)
            out = out + anc @ heads.ancestor_weights[depths[j] - 1][
                position[j]]
        raw[j] = out
    return torch.stack([raw[j] for j in range(len(parents))], 1) + \
        torch.tensor([1., 0., 0., 1., 0., 0.]).expand(n, len(parents), 6)


def test_kinematic_heads_match_per_joint_reference():
    parents = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14]
    torch.manual_seed(0)
    heads = KinematicTreePoseHeads(12, parents)
    heads.reset_parameters(std=0.3)
    features = torch.randn(4, 12)
    torch.testing.assert_close(
        heads(features), _naive_kinematic_heads(heads, features, parents))
    # same parameter count as 16 separate heads with ancestor inputs
    expected = sum((12 + 6 * d) * 6 + 6
                   for d in [0] + [1, 2, 3] * 5)
    assert num_params(heads) == expected
    # a child depends on its ancestors, never the other way round
    f = features.clone().requires_grad_(True)
    out = heads(f)
    grad_root = torch.autograd.grad(out[:, 0].sum(),
                                    heads.ancestor_weights[0],
                                    allow_unused=True)[0]
    assert grad_root is None or grad_root.abs().sum() == 0
    grad_tip = torch.autograd.grad(heads(f)[:, 3].sum(),
                                   heads.ancestor_weights[0])[0]
    assert grad_tip.abs().sum() > 0
    # zero weights give identity rotations
    heads.reset_parameters(std=0.)
    rot = rot6d_to_matrix(heads(features))
    torch.testing.assert_close(rot, torch.eye(3).expand_as(rot))


def test_mano_regressor_shapes_and_hypotheses():
    torch.manual_seed(0)
    regressor = ManoRegressor(
        in_channels=8,
        global_channels=12,
        num_steps=3,
        camera_cfg=dict(input_size=(64, 64)))
    regressor.init_weights()
    feats = torch.randn(2, 4, 3, 21, 8)  # (B, K, T, J, C)
    coords = torch.rand(2, 1, 3, 21, 3)  # shared by the K hypotheses
    out = regressor(feats, coords, torch.randn(2, 12))
    assert out.mano_pose.shape == (2, 4, 3, 48)
    assert out.mano_shape.shape == (2, 4, 3, 10)
    assert out.cam_t.shape == (2, 4, 3, 3)
    assert out.vertices.shape == (2, 4, 3, 778, 3)
    assert out.joints_cam.shape == (2, 4, 3, 21, 3)
    assert out.joints_2d.shape == (2, 4, 3, 21, 2)
    torch.testing.assert_close(out.joints_cam[..., 0, :],
                               torch.zeros(2, 4, 3, 3))
    # shape and camera are per image, shared by the hypotheses
    torch.testing.assert_close(out.mano_shape[:, 0], out.mano_shape[:, 3])
    # the depth is limited by the virtual camera
    assert (out.cam_t[..., 2] > 0).all()
    assert (out.cam_t[..., 2] < regressor.camera.max_depth).all()
    # the pose heads are shared over time: equal inputs, equal poses
    same = feats[:, :, :1].expand_as(feats)
    pose = regressor.regress_pose(same, coords[:, :, :1].expand_as(
        coords.expand(2, 4, 3, 21, 3)))
    torch.testing.assert_close(pose[:, :, 0], pose[:, :, 2])
    with pytest.raises(ValueError, match='batch axis first'):
        regressor(feats.transpose(0, 1), coords.transpose(0, 1),
                  torch.randn(2, 12))


def test_mano_regressor_coordinate_modes():
    torch.manual_seed(0)
    kwargs = dict(
        in_channels=4,
        global_channels=6,
        camera_cfg=dict(input_size=(32, 32)))
    feats = torch.randn(2, 3, 21, 4)
    coords = torch.rand(2, 3, 21, 3)
    shifted = coords + torch.tensor([0.1, -0.2, 0.05])
    relative = ManoRegressor(**kwargs)
    relative.init_weights()
    # root-relative: where the hand sits in the crop does not change the pose
    torch.testing.assert_close(
        relative.regress_pose(feats, coords),
        relative.regress_pose(feats, shifted))
    absolute = ManoRegressor(coord_mode='absolute', **kwargs)
    absolute.init_weights()
    assert not torch.allclose(
        absolute.regress_pose(feats, coords),
        absolute.regress_pose(feats, shifted))
    with pytest.raises(ValueError, match='coord_mode'):
        ManoRegressor(coord_mode='centred', **kwargs)


def test_mano_regressor_paper_parameter_count():
    assert num_params(ManoRegressor()) == 1_119_327


def test_zero_features_give_the_mean_pose():
    regressor = ManoRegressor(
        in_channels=4,
        global_channels=6,
        camera_cfg=dict(input_size=(32, 32)))
    regressor.init_weights()
    pose = regressor.regress_pose(
        torch.zeros(1, 3, 21, 4), torch.zeros(1, 3, 21, 3))
    torch.testing.assert_close(pose, torch.zeros(1, 3, 48))


def test_grid_sample_reference_is_align_corners_false():
    # Documented convention: grid_sample(align_corners=False) reads the
    # cell whose centre is the normalised point.
    fmap = torch.arange(4.).view(1, 1, 1, 4)
    grid = torch.tensor([[[[2 * (2.5 / 4) - 1, 0.]]]])
    value = F.grid_sample(fmap, grid, align_corners=False)
    assert value.item() == pytest.approx(2.)
