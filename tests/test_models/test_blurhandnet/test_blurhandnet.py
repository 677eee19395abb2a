# Copyright (c) OpenMMLab. All rights reserved.
"""BlurHandNet estimator and head: modes, ordering, gradients, configs."""
import copy

import numpy as np
import pytest
import torch

from mmblurhand.datasets.transforms.hand_geometry import crop_to_image_points
from mmblurhand.models.heads import BlurHandHead
from mmblurhand.models.losses.temporal_order_invariant_loss import \
    apply_temporal_order
from mmblurhand.models.necks import UnfolderOutput
from mmblurhand.registry import MODELS
from mmblurhand.testing import get_packed_inputs, tiny_model_parts
from mmblurhand.utils import register_all_modules

INPUT = 64
_PARTS = tiny_model_parts(heatmap_dims=3, heatmap_depth=8)
TINY_MODEL = dict(
    type='BlurHandNet',
    data_preprocessor=_PARTS['preprocessor'],
    backbone=_PARTS['backbone'],
    neck=_PARTS['neck'],
    head=dict(
        type='BlurHandHead',
        ktformer=dict(
            type='KTFormer', in_channels=16, embed_dims=32, num_blocks=1,
            num_heads=2),
        regressor=dict(
            type='ManoRegressor',
            in_channels=32,
            global_channels=128,
            camera_cfg=dict(input_size=(INPUT, INPUT)))))


@pytest.fixture(scope='module')
def model():
    register_all_modules()
    torch.manual_seed(0)
    net = MODELS.build(copy.deepcopy(TINY_MODEL))
    net.init_weights()
    return net


def _batch(model, training, **kwargs):
    packed = get_packed_inputs(
        batch_size=2, input_size=(INPUT, INPUT), **kwargs)
    return model.data_preprocessor(packed, training=training)


def test_tensor_mode_shapes(model):
    data = _batch(model, False)
    model.eval()
    with torch.no_grad():
        out = model(data['inputs'], None, mode='tensor')
    assert out['unfolder_joints'].shape == (2, 3, 21, 3)
    assert out['joint_feats'].shape == (2, 3, 21, 32)
    assert out['mano_pose'].shape == (2, 3, 48)
    assert out['mano_shape'].shape == (2, 3, 10)
    assert out['cam_t'].shape == (2, 3, 3)
    assert out['vertices'].shape == (2, 3, 778, 3)
    assert out['joints_cam'].shape == (2, 3, 21, 3)
    assert out['joints_2d'].shape == (2, 3, 21, 2)


def test_loss_mode_and_gradients_reach_every_parameter_group(model):
    model.train()
    data = _batch(model, True)
    model.zero_grad()
    losses = model(**data, mode='loss')
    expected = {
        'loss_joint_img', 'loss_joint_proj', 'loss_joint_cam',
        'loss_mano_joint_cam', 'loss_mano_pose', 'loss_mano_shape',
        'order_kept'
    }
    assert set(losses) == expected
    assert all(torch.isfinite(v) for v in losses.values())
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    total.backward()
    missing = [
        name for name, p in model.named_parameters()
        if p.requires_grad and (p.grad is None or not torch.isfinite(
            p.grad).all())
    ]
    assert not missing, missing
    groups = {
        'backbone': model.backbone,
        'neck': model.neck,
        'ktformer': model.head.ktformer,
        'pose feature heads': model.head.regressor.pose_heads.feature_heads,
        'pose ancestor weights':
        model.head.regressor.pose_heads.ancestor_weights,
        'shape head': model.head.regressor.shape_head,
        'camera head': model.head.regressor.camera_head,
    }
    for name, module in groups.items():
        grad = sum(p.grad.abs().sum() for p in module.parameters())
        assert grad > 0, name
    grad_embed = model.head.ktformer.temporal_embed.grad.abs().sum()
    assert grad_embed > 0
    # the MANO layer holds data, not trainable parameters
    assert not any(
        p.requires_grad for p in model.head.regressor.mano.parameters())


def test_camera_depth_loss_pulls_the_depth_to_the_targets():
    """With ``loss_camera_depth`` set, the loss is |t_z - d| / k for the
    target-implied depth d, zero when the camera sits at d, and its
    gradient moves the camera head's depth output towards d."""
    register_all_modules()
    cfg = copy.deepcopy(TINY_MODEL)
    cfg['head']['loss_camera_depth'] = dict(
        type='MaskedL1Loss', loss_weight=1.)
    torch.manual_seed(0)
    net = MODELS.build(cfg)
    net.train()
    data = _batch(net, True)
    feats = net.extract_feat(data['inputs'])
    head = net.head
    losses = head.loss(feats, data['data_samples'])
    assert 'loss_camera_depth' in losses
    gt = BlurHandHead.gather_targets(data['data_samples'])
    camera = head.regressor.camera
    valid = (gt['joints_2d_valid'] > 0) & (gt['joints_cam_valid'] > 0)
    target, usable = camera.depth_from_targets(
        gt['joints_cam'], gt['joints_2d'][..., :2], valid)
    # random test joints: some 2D/3D pairs do not fit (negative slope)
    assert usable.any() and not usable.all()
    k = camera.max_depth
    preds = head.forward(feats)
    # the end-frame order the Unfolder chose applies to the camera too
    _, in_order = head.loss_joint_img(
        preds['unfolder_joints'], gt['joints_2d'], gt['joints_2d_valid'],
        return_order=True)
    t_z = apply_temporal_order(preds['cam_t'], in_order)[..., 2]
    # MaskedL1Loss sums one mean (over usable hands) per time step
    w = usable.float()
    per_step = ((t_z - target).abs() / k * w).sum(0) / w.sum(0).clamp(
        min=1e-6)
    expected = per_step.sum()
    assert float(losses['loss_camera_depth']) == pytest.approx(
        float(expected), rel=1e-4)
    at_target = head.camera_depth_loss(
        head.loss_camera_depth, camera,
        torch.stack([torch.zeros_like(target)] * 2 + [target], -1), gt)
    assert float(at_target) == pytest.approx(0.0, abs=1e-6)
    # the gradient on the raw depth output has the sign of t_z - d
    net.zero_grad()
    losses['loss_camera_depth'].backward()
    # camera_head: one (c0, c1, c2) per time step; c2 is the depth
    depth_bias_grad = head.regressor.camera_head.bias.grad.view(-1, 3)[:, 2]
    side = torch.sign(t_z - target) * usable  # (B, T); 0 where unusable
    nonzero = side != 0
    # steps whose usable hands all lie on one side of their targets
    agree = nonzero.any(0) & ((side >= 0).all(0) | (side <= 0).all(0))
    assert agree.any()
    expected_sign = torch.sign(side.sum(0))
    assert torch.equal(torch.sign(depth_bias_grad[agree]),
                       expected_sign[agree])
    # a step with no usable hand gets no depth gradient at all
    assert torch.all(depth_bias_grad[~nonzero.any(0)] == 0)


def test_unfolder_driven_ordering_reuses_the_unfolder_choice():
    """The order picked on the Unfolder joints re-orders every other loss."""
    register_all_modules()
    torch.manual_seed(0)
    head = BlurHandHead(
        ktformer=dict(
            type='KTFormer', in_channels=8, embed_dims=8, num_blocks=1,
            num_heads=2),
        regressor=dict(
            type='ManoRegressor',
            in_channels=8,
            global_channels=16,
            camera_cfg=dict(input_size=(INPUT, INPUT))))
    head.init_weights()
    samples = get_packed_inputs(
        batch_size=2, input_size=(INPUT, INPUT))['data_samples']
    gt = head.gather_targets(samples)
    # Unfolder joints equal to the GT for sample 0 and to the reversed GT
    # for sample 1: the Unfolder orders are (kept, swapped).
    joints = gt['joints_2d'].clone()
    joints[1] = joints[1].flip(0)
    feats = UnfolderOutput(
        joint_feats=torch.randn(2, 3, 21, 8),
        joints=joints,
        heatmaps=torch.zeros(2, 3, 21, 1, 1, 1),
        feature_maps=torch.zeros(2, 3, 8, 1, 1),
        global_feat=torch.randn(2, 16))
    losses = head.loss(feats, samples)
    assert losses['loss_joint_img'].item() == pytest.approx(0., abs=1e-6)
    assert losses['order_kept'].item() == pytest.approx(0.5)

    preds = head.forward(feats)
    # expected: sample 1's regressor outputs reversed before every loss,
    # whatever order the regressor outputs alone would prefer
    flip = torch.tensor([False, True])[:, None, None, None]
    joints_cam = torch.where(flip, preds['joints_cam'].flip(1),
                             preds['joints_cam'])
    expected = head.loss_joint_cam(joints_cam, gt['joints_cam'],
                                   gt['joints_cam_valid'])
    torch.testing.assert_close(losses['loss_joint_cam'], expected)
    pose = torch.where(flip[..., 0], preds['mano_pose'].flip(1),
                       preds['mano_pose'])
    torch.testing.assert_close(
        losses['loss_mano_pose'],
        head.loss_mano_pose(pose, gt['mano_pose'], gt['mano_valid']))
    unordered = head.loss_joint_cam(preds['joints_cam'], gt['joints_cam'],
                                    gt['joints_cam_valid'])
    assert not torch.allclose(unordered, expected)


def test_predict_mirrors_left_hands_and_maps_keypoints(model):
    model.eval()
    data = _batch(model, False, left_hands=[False, True])
    with torch.no_grad():
        raw = model(data['inputs'], None, mode='tensor')
        results = model(**data, mode='predict')
    assert len(results) == 2
    for i, sample in enumerate(results):
        pred = sample.pred_instances
        assert pred.joints_cam.shape == (1, 3, 21, 3)
        assert pred.vertices.shape == (1, 3, 778, 3)
        assert pred.mano_pose.shape == (1, 3, 48)
        assert pred.mano_shape.shape == (1, 3, 10)
        assert pred.cam_t.shape == (1, 3, 3)
        assert pred.keypoints.shape == (1, 3, 21, 2)
        assert pred.keypoint_scores.shape == (1, 3, 21)
        assert isinstance(pred.joints_cam, np.ndarray)
        sign = np.array([-1., 1., 1.]) if i == 1 else np.ones(3)
        np.testing.assert_allclose(
            pred.joints_cam[0], raw['joints_cam'][i].numpy() * sign,
            atol=1e-6)
        np.testing.assert_allclose(
            pred.vertices[0], raw['vertices'][i].numpy() * sign, atol=1e-6)
        np.testing.assert_allclose(
            pred.mano_pose[0], raw['mano_pose'][i].numpy(), atol=1e-6)
        meta = sample.metainfo
        expected = crop_to_image_points(
            raw['joints_2d'][i].numpy(), meta['input_center'],
            meta['input_scale'], meta['input_size'], 0., meta['flip'])
        np.testing.assert_allclose(pred.keypoints[0], expected, atol=1e-3)
    # a left hand's keypoints are mirrored about the crop centre
    centre_x = results[1].metainfo['input_center'][0]
    scale_x = results[1].metainfo['input_scale'][0]
    u = raw['joints_2d'][1, ..., 0].numpy()
    np.testing.assert_allclose(
        results[1].pred_instances.keypoints[0, ..., 0],
        centre_x + (0.5 - u) * scale_x,
        atol=1e-3)
