# Copyright (c) OpenMMLab. All rights reserved.
"""The official training settings of the paper configs (docs/architecture.md,
"Official conventions and the remaining deviations"): each setting against a
hand-computed case, and the ``*_r50_*`` configs using them while the
components' defaults stay mmblurhand's."""
import math
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from torch import nn

from mmblurhand.datasets.transforms import GenerateBlurHandTargets
from mmblurhand.datasets.transforms.hand_geometry import (get_crop_matrix,
                                                          project_points)
from mmblurhand.models.heads import BlurHandHead, MultiHypothesisHead
from mmblurhand.models.heads.mano_regressor import (KinematicTreePoseHeads,
                                                    ManoRegressor)
from mmblurhand.models.losses import DiversityLoss
from mmblurhand.models.mano import ManoLayer
from mmblurhand.models.necks import Unfolder, UnfolderOutput
from mmblurhand.models.necks.unfolder import per_step_xavier_std
from mmblurhand.testing import get_packed_inputs
from mmblurhand.utils.official_key_maps import MANO16_PARENTS
from mmblurhand.utils.official_weights import PAPER_CONFIGS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STEPS = 3


def paper_config(model):
    return Config.fromfile(osp.join(REPO, PAPER_CONFIGS[model]))


def official_weight_shape(conv, steps):
    """The weight shape of one official per-step decoder layer."""
    if isinstance(conv, nn.ConvTranspose2d):  # (in, out / groups, kh, kw)
        c_in = conv.in_channels // conv.groups
        return (c_in, conv.out_channels // steps, *conv.kernel_size)
    return (conv.out_channels // steps, conv.in_channels // conv.groups,
            *conv.kernel_size)


def test_unfolder_xavier_uses_the_fans_of_one_decoder():
    # the paper multi-hypothesis Unfolder (2D, 3 decoders), on meta: each
    # layer's std equals torch's Xavier on the official decoder's layer
    with torch.device('meta'):
        neck = Unfolder(in_channels=(512, 1024, 2048),
                        heatmap_dims=2,
                        conv_init='xavier_normal')
    layers = [
        m for m in neck.modules()
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
    ]
    assert len(layers) == 7  # 2 deconvs, 2 skips, 2 convs, projection
    for conv in layers:
        shape = official_weight_shape(conv, STEPS)
        fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(
            torch.empty(shape, device='meta'))
        assert per_step_xavier_std(conv, STEPS) == pytest.approx(
            math.sqrt(2. / (fan_in + fan_out)))
    # hand-computed: ConvT 2048 -> 512 (4x4) and the 1x1 projection 512 -> 21
    deconv1, proj = neck.deconvs[0][0], neck.proj
    assert per_step_xavier_std(deconv1, STEPS) == pytest.approx(
        math.sqrt(2. / ((2048 + 512) * 16)))
    assert per_step_xavier_std(proj, STEPS) == pytest.approx(
        math.sqrt(2. / (512 + 21)))
    # MMEngine's XavierInit on a step-stacked layer would be too small: the
    # 1x1 skip 1024 -> 1024 per decoder is one 1024 -> 3 x 1024 layer
    skip = neck.skips[0][0]
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(skip.weight)
    assert (fan_in, fan_out) == (1024, 3072)
    assert per_step_xavier_std(skip, STEPS) == pytest.approx(
        math.sqrt(2. / 2048))


def test_unfolder_xavier_init_draws_with_that_std():
    torch.manual_seed(0)
    kwargs = dict(in_channels=(32, 64, 128),
                  deconv_channels=(32, 16),
                  conv_channels=(64, 32),
                  num_joints=5,
                  heatmap_dims=2)
    neck = Unfolder(conv_init='xavier_normal', **kwargs)
    neck.init_weights()
    for conv in (neck.deconvs[0][0], neck.skips[1][0], neck.convs[0][0]):
        std = per_step_xavier_std(conv, STEPS)
        assert conv.weight.std().item() == pytest.approx(std, rel=0.05)
        if conv.bias is not None:
            assert not conv.bias.any()
    bn = neck.convs[0][1]
    assert (bn.weight == 1).all() and not bn.bias.any()
    # the default keeps init_cfg's N(0, 0.001)
    default = Unfolder(**kwargs)
    assert default.conv_init == 'init_cfg'
    default.init_weights()
    assert default.convs[0][0].weight.std().item() == pytest.approx(1e-3,
                                                                    rel=0.05)
    with pytest.raises(ValueError, match='conv_init'):
        Unfolder(conv_init='xavier', **kwargs)


def test_pose_heads_xavier_per_official_joint_head():
    torch.manual_seed(0)
    features = 2000
    heads = KinematicTreePoseHeads(features,
                                   MANO16_PARENTS,
                                   identity_offset=False)
    heads.reset_parameters(mode='xavier_normal')
    depths = np.asarray(heads.depths)
    # official joint p: nn.Linear(F + 6 depth_p, 6), Xavier-normal
    expected = np.sqrt(2. / (features + 6 * depths + 6))
    rows = heads.feature_heads.weight.view(len(depths), 6, features)
    for depth in range(4):
        got = rows[torch.as_tensor(depths == depth)].std().item()
        assert got == pytest.approx(expected[depths == depth][0], rel=0.05)
    for depth, weight in enumerate(heads.ancestor_weights, start=1):
        # (joints at that depth, 6 depth inputs, 6 outputs): few numbers,
        # so the scale only (whitened values have unit std)
        whitened = weight / math.sqrt(2. / (features + 6 * depth + 6))
        assert 0.7 < whitened.std().item() < 1.3
    assert not heads.feature_heads.bias.any()
    heads.reset_parameters()  # default: N(0, 0.01)
    assert heads.feature_heads.weight.std().item() == pytest.approx(0.01,
                                                                    rel=0.05)
    with pytest.raises(ValueError, match='mode'):
        heads.reset_parameters(mode='xavier')


def test_mano_regressor_pose_init_setting():
    kwargs = dict(in_channels=8,
                  global_channels=16,
                  num_joints=21,
                  camera_cfg=dict(input_size=(64, 64)))
    assert ManoRegressor(**kwargs).pose_init == 'normal'
    torch.manual_seed(0)
    reg = ManoRegressor(pose_init='xavier_normal',
                        init_cfg=dict(type='Xavier',
                                      distribution='normal',
                                      layer='Linear',
                                      bias=0.),
                        **kwargs)
    reg.init_weights()
    in_features = 21 * (8 + 3)
    root_rows = reg.pose_heads.feature_heads.weight[:6]
    assert root_rows.std().item() == pytest.approx(math.sqrt(
        2. / (in_features + 6)),
                                                   rel=0.1)
    # the shape head: Xavier over (16, 3 x 10)
    assert reg.shape_head.weight.std().item() == pytest.approx(math.sqrt(
        2. / (16 + 30)),
                                                               rel=0.15)
    with pytest.raises(ValueError, match='pose_init'):
        ManoRegressor(pose_init='xavier', **kwargs)


def test_official_diversity_term_by_hand():
    # one image, one step, 3 hypotheses with L2 distances 5, 1, sqrt(18)
    feats = torch.tensor([[0., 0.], [3., 4.], [0., 1.]]).view(1, 3, 1, 2)
    loss = DiversityLoss(alpha=1., p=2, loss_weight=1.)(feats)
    expected = (math.exp(-5.) + math.exp(-1.) + math.exp(-math.sqrt(18.))) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def tiny_blurhand_head(mask):
    return BlurHandHead(ktformer=dict(type='KTFormer',
                                      in_channels=8,
                                      embed_dims=8,
                                      num_blocks=1,
                                      num_heads=2),
                        regressor=dict(type='ManoRegressor',
                                       in_channels=8,
                                       global_channels=16,
                                       camera_cfg=dict(input_size=(64, 64))),
                        mano_joints_mask=mask)


def test_mano_joint_loss_masked_by_fit_only():
    torch.manual_seed(0)
    head = tiny_blurhand_head('fit')
    batch = get_packed_inputs(batch_size=2, invalid_ratio=0.3, seed=1)
    samples = batch['data_samples']
    samples[1].gt_instance_labels.mano_valid[0, 1] = 0.  # no fit at t = 1
    joints = torch.rand(2, STEPS, 21, 3)
    feats = UnfolderOutput(joint_feats=torch.randn(2, STEPS, 21, 8),
                           joints=joints,
                           heatmaps=torch.zeros(2, STEPS, 21, 2, 2, 2),
                           feature_maps=torch.zeros(2, STEPS, 8, 2, 2),
                           global_feat=torch.randn(2, 16))
    fit = head.loss(feats, samples)['loss_mano_joint_cam']
    head.mano_joints_mask = 'truncation'
    truncated = head.loss(feats, samples)['loss_mano_joint_cam']
    # 'fit' equals the truncation mask replaced by the fit's validity
    for sample in samples:
        labels = sample.gt_instance_labels
        labels.mano_joints_valid = labels.mano_valid[..., None].expand_as(
            labels.mano_joints_valid).clone()
    replaced = head.loss(feats, samples)['loss_mano_joint_cam']
    assert fit.item() == pytest.approx(replaced.item(), rel=1e-6)
    assert abs(fit.item() - truncated.item()) > 1e-4
    with pytest.raises(ValueError, match='mano_joints_mask'):
        tiny_blurhand_head('all')


def test_best_of_k_assigned_to_the_annotated_joints_only():
    head = MultiHypothesisHead(
        transformer=dict(type='MultiHypothesisTransformer', embed_dims=8,
                         num_heads=2, num_layers=1, num_hypotheses=2),
        regressor=dict(type='ManoRegressor', in_channels=8, coord_dims=2,
                       global_channels=16,
                       camera_cfg=dict(input_size=(64, 64))),
        assigner=dict(type='BestOfKAssigner', mode='time_step'))
    assert head.assign_to == 'joints_and_mano'
    annotated = torch.zeros(1, 1, 21, 3)
    mano = torch.full((1, 1, 21, 3), 0.01)
    # hypothesis 0 is the annotated hand, hypothesis 1 the MANO fit
    joints = torch.stack([annotated, mano], dim=1)  # (B, K, T, J, 3)
    valid = torch.ones(1, 1, 21)
    annotated_valid = valid.clone()
    annotated_valid[..., 10:] = 0  # 10 annotated joints vs 21 MANO joints
    gt = dict(joints_cam=annotated, joints_cam_valid=annotated_valid,
              mano_joints_cam=mano, mano_joints_valid=valid)
    # both sets: hypothesis 1 is off by 10 of 31 joints, hypothesis 0 by 21
    assert head.assign(joints, gt).tolist() == [[1]]
    head.assign_to = 'joints'  # official: annotated joints only
    assert head.assign(joints, gt).tolist() == [[0]]
    with pytest.raises(ValueError, match='assign_to'):
        MultiHypothesisHead(assign_to='mano')


def _target_results(shape):
    joints = np.zeros((1, 21, 3), np.float32)
    joints[0, :, 2] = 0.5
    joints[0, :, 0] = np.linspace(0, 0.05, 21)
    return dict(ann_joints_cam=joints,
                ann_joints_img=project_points(joints, [100, 100], [32, 32]),
                ann_joints_valid=np.ones((1, 21), np.float32),
                ann_mano_pose=np.zeros((1, 48), np.float32),
                ann_mano_shape=shape,
                ann_mano_trans=np.zeros((1, 3), np.float32),
                ann_mano_valid=np.ones(1, np.float32),
                cam_rot=np.eye(3, dtype=np.float32),
                cam_trans=np.array([0, 0, 0.5], np.float32),
                focal=np.array([100, 100], np.float32),
                princpt=np.array([32, 32], np.float32),
                hand_type='right',
                rotation=0.0,
                flip=False,
                input_size=(64, 64),
                crop_matrix=get_crop_matrix([32, 32], [64, 64], 0, (64, 64)))


def test_mpvpe_ground_truth_with_the_target_betas():
    shape = np.zeros((1, 10), np.float32)
    shape[0, 0] = 3.5  # |beta| > 3: the shape target is zeroed
    annotated = GenerateBlurHandTargets()(_target_results(shape.copy()))
    target = GenerateBlurHandTargets(mesh_betas='target')(_target_results(
        shape.copy()))
    mano = ManoLayer(side='right')
    with torch.no_grad():
        zero = torch.zeros(1, 45)
        out = mano(global_orient=zero[:, :3],
                   hand_pose=zero,
                   betas=torch.zeros(1, 10),
                   transl=zero[:, :3])
    expected = (out.vertices - out.joints[:, :1])[0].numpy()
    np.testing.assert_allclose(target['gt_mesh_cam'][0, 0],
                               expected,
                               atol=1e-6)
    assert np.abs(annotated['gt_mesh_cam'] - target['gt_mesh_cam']).max() \
        > 1e-3  # the annotated beta changes the mesh
    for key in ('mano_joints_cam', 'mano_shape', 'joints_2d', 'mano_pose'):
        np.testing.assert_array_equal(annotated[key], target[key])
    # betas within the limit: the same mesh either way
    shape[0, 0] = 2.5
    a = GenerateBlurHandTargets()(_target_results(shape.copy()))
    t = GenerateBlurHandTargets(mesh_betas='target')(_target_results(
        shape.copy()))
    np.testing.assert_array_equal(a['gt_mesh_cam'], t['gt_mesh_cam'])
    with pytest.raises(ValueError, match='mesh_betas'):
        GenerateBlurHandTargets(mesh_betas='zero')


def _losses(head_cfg):
    return {
        k: v
        for k, v in head_cfg.items() if k.startswith('loss_') and v is not None
    }


def test_blurhandnet_paper_config_trains_and_tests_as_the_official_code():
    cfg = paper_config('blurhandnet')
    head = cfg.model.head
    assert head.mano_joints_mask == 'fit'
    losses = _losses(head)
    assert len(losses) == 6
    assert all(loss.normalize == 'all' for loss in losses.values())
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        targets = [
            t for t in loader.dataset.pipeline
            if t.type == 'GenerateBlurHandTargets'
        ]
        assert [t.mesh_betas for t in targets] == ['target']
    train_targets = [
        t for t in cfg.train_dataloader.dataset.pipeline
        if t.type == 'GenerateBlurHandTargets'
    ]
    assert 'mesh_betas' not in train_targets[0]
    assert cfg.train_cfg.max_epochs == 13
    assert cfg.get('sync_bn') is None  # official: DataParallel, per-GPU BN


def test_mh_paper_configs_train_as_the_official_code():
    gen = paper_config('mh_generator')
    model = gen.model
    assert model.backbone.init_cfg.checkpoint.endswith('resnet50-11ad3fa6.pth')
    assert model.neck.conv_init == 'xavier_normal'
    reg = model.head.regressor
    assert reg.pose_init == 'xavier_normal'
    assert reg.init_cfg == dict(type='Xavier',
                                distribution='normal',
                                layer='Linear',
                                bias=0.)
    assert model.head.assigner.mode == 'time_step'
    assert model.head.assign_to == 'joints'
    assert model.head.loss_diversity == dict(type='DiversityLoss',
                                             alpha=1.,
                                             p=2,
                                             loss_weight=1.)
    losses = _losses(model.head)
    del losses['loss_diversity']
    assert len(losses) == 6
    assert all(loss.normalize == 'all' and loss.step_dim is None
               for loss in losses.values())
    assert gen.sync_bn == 'torch'
    assert gen.train_cfg.max_epochs == 30
    assert gen.param_scheduler[0].type == 'CosineAnnealingLR'

    sel = paper_config('mh_selector')
    assert sel.model.loss_joint_img.normalize == 'all'
    assert sel.model.generator == model
    assert sel.sync_bn == 'torch'
