# Copyright (c) OpenMMLab. All rights reserved.
"""MultiHypothesisHead: shapes, best-of-K choice, where gradients flow."""
import pytest
import torch

from mmblurhand.models.heads import BlurHandHead
from mmblurhand.models.necks.unfolder import UnfolderOutput
from mmblurhand.registry import MODELS
from mmblurhand.testing import get_packed_inputs
from mmblurhand.utils import register_all_modules

B, K, T, J, C, CG = 2, 3, 2, 21, 8, 16

register_all_modules()


def build_head(mode='sequence', diversity_weight=1.0, weight=1.0,
               depth_weight=None):
    torch.manual_seed(0)

    def l1(w):
        return dict(type='MaskedL1Loss', loss_weight=w * weight, step_dim=None)

    head = MODELS.build(
        dict(
            type='MultiHypothesisHead',
            transformer=dict(
                type='MultiHypothesisTransformer',
                embed_dims=C,
                num_heads=2,
                num_layers=1,
                num_hypotheses=K,
                num_time_steps=T,
                num_joints=J),
            regressor=dict(
                type='ManoRegressor',
                in_channels=C,
                coord_dims=2,
                global_channels=CG,
                num_steps=T,
                num_joints=J,
                camera_cfg=dict(input_size=(64, 64))),
            assigner=dict(type='BestOfKAssigner', mode=mode),
            loss_joint_img=l1(8.),
            loss_joint_proj=l1(2.),
            loss_joint_cam=l1(10.),
            loss_mano_joint_cam=l1(10.),
            loss_mano_pose=l1(1.),
            loss_mano_shape=l1(1.),
            loss_diversity=dict(
                type='DiversityLoss',
                alpha=float(J * C),
                loss_weight=diversity_weight),
            loss_camera_depth=None if depth_weight is None else l1(
                depth_weight)))
    head.init_weights()
    return head


def fake_feats(requires_grad=False):
    torch.manual_seed(1)
    return UnfolderOutput(
        joint_feats=torch.randn(B, T, J, C, requires_grad=requires_grad),
        joints=torch.rand(B, T, J, 2),
        heatmaps=torch.randn(B, T, J, 8, 8),
        feature_maps=torch.randn(B, T, C, 8, 8),
        global_feat=torch.randn(B, CG))


def samples():
    return get_packed_inputs(
        B, num_steps=T, input_size=(64, 64))['data_samples']


def test_forward_shapes():
    head = build_head()
    out = head(fake_feats())
    assert out['joint_feats'].shape == (B, K, T, J, C)
    assert out['mano_pose'].shape == (B, K, T, 48)
    assert out['joints_cam'].shape == (B, K, T, J, 3)
    assert out['joints_2d'].shape == (B, K, T, J, 2)
    assert out['vertices'].shape[:3] == (B, K, T)
    assert out['unfolder_joints'].shape == (B, T, J, 2)
    # Shape and camera are shared by the hypotheses, poses are not.
    assert torch.equal(out['mano_shape'][:, 0], out['mano_shape'][:, 1])
    assert torch.equal(out['cam_t'][:, 0], out['cam_t'][:, 2])
    assert not torch.allclose(out['mano_pose'][:, 0], out['mano_pose'][:, 1])


def test_loss_keys_and_finite():
    head = build_head()
    losses = head.loss(fake_feats(), samples())
    assert {
        'loss_joint_img', 'loss_joint_proj', 'loss_joint_cam',
        'loss_mano_joint_cam', 'loss_mano_pose', 'loss_mano_shape',
        'loss_diversity', 'mpjpe_oracle', 'mpjpe_mean'
    } <= set(losses)
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses['mpjpe_oracle'] <= losses['mpjpe_mean']


def test_camera_depth_loss_is_off_by_default_and_uses_the_shared_camera():
    """Off by default (the paper); when set, it is the L1 between the
    shared camera's t_z / k and the target-implied depth / k, the same
    for every hypothesis, and it alone trains the camera's depth output."""
    data_samples = samples()
    assert 'loss_camera_depth' not in build_head().loss(
        fake_feats(), data_samples)
    head = build_head(depth_weight=1.0)
    preds = head(fake_feats())
    losses = head.loss_by_feat(preds, data_samples)
    gt = BlurHandHead.gather_targets(data_samples)
    camera = head.regressor.camera
    valid = (gt['joints_2d_valid'] > 0) & (gt['joints_cam_valid'] > 0)
    target, usable = camera.depth_from_targets(
        gt['joints_cam'], gt['joints_2d'], valid)
    w = usable.float()
    diff = (preds['cam_t'][:, 0, :, 2] - target).abs() / camera.max_depth
    expected = (diff * w).sum() / w.sum()
    assert float(losses['loss_camera_depth']) == pytest.approx(
        float(expected), rel=1e-5)
    head.zero_grad()
    losses['loss_camera_depth'].backward()
    grad = head.regressor.camera_head.bias.grad.view(-1, 3)
    assert torch.all(grad[:, :2] == 0) and grad[:, 2].abs().sum() > 0


def oracle_preds(data_samples, exact):
    """Hypotheses that are 5 cm / 0.1 / 0.3 rad off the ground truth except
    hypothesis ``exact[b][t]`` of image b at step t, which is exact."""
    labels = [s.gt_instance_labels for s in data_samples]
    gt = {
        k: torch.cat([lab.get(k) for lab in labels])
        for k in ('joints_cam', 'joints_2d', 'mano_pose')
    }
    preds = dict(
        joints_cam=gt['joints_cam'][:, None].repeat(1, K, 1, 1, 1) + 0.05,
        joints_2d=gt['joints_2d'][:, None, ..., :2].repeat(1, K, 1, 1, 1) +
        0.1,
        mano_pose=gt['mano_pose'][:, None].repeat(1, K, 1, 1) + 0.3,
        mano_shape=torch.zeros(B, K, T, 10),
        unfolder_joints=torch.zeros(B, T, J, 2),
        joint_feats=torch.randn(B, K, T, J, C))
    for b in range(B):
        for t in range(T):
            k = exact[b][t]
            preds['joints_cam'][b, k, t] = gt['joints_cam'][b, t]
            preds['joints_2d'][b, k, t] = gt['joints_2d'][b, t, :, :2]
            preds['mano_pose'][b, k, t] = gt['mano_pose'][b, t]
    return preds


@pytest.mark.parametrize('mode', ['sequence', 'time_step'])
def test_best_of_k_picks_the_right_hypothesis(mode):
    head = build_head(mode=mode)
    data_samples = samples()
    # Image 0: hypothesis 2 is exact at every step; image 1: hypothesis 0.
    losses = head.loss_by_feat(
        oracle_preds(data_samples, [[2, 2], [0, 0]]), data_samples)
    for key in ('loss_joint_cam', 'loss_joint_proj', 'loss_mano_pose'):
        assert losses[key].item() == pytest.approx(0.0, abs=1e-6), key
    assert losses['mpjpe_oracle'].item() == pytest.approx(0.0, abs=1e-3)


def test_time_step_mode_mixes_hypotheses_sequence_mode_does_not():
    data_samples = samples()
    exact = [[0, 1], [2, 0]]  # a different exact hypothesis per step
    per_step = build_head(mode='time_step').loss_by_feat(
        oracle_preds(data_samples, exact), data_samples)
    per_seq = build_head(mode='sequence').loss_by_feat(
        oracle_preds(data_samples, exact), data_samples)
    assert per_step['loss_joint_cam'].item() == pytest.approx(0., abs=1e-6)
    assert per_seq['loss_joint_cam'].item() > 0.1


def feature_grads(head):
    """Gradient norm of the refined features per (b, k, t) and the best
    hypothesis per (b, t)."""
    data_samples = samples()
    preds = head(fake_feats())
    preds['joint_feats'].retain_grad()
    losses = head.loss_by_feat(preds, data_samples)
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    labels = [s.gt_instance_labels for s in data_samples]
    targets = {
        k: torch.cat([lab.get(k) for lab in labels])
        for k in ('joints_cam', 'mano_joints_cam', 'joints_cam_valid',
                  'mano_joints_valid')
    }
    joints = preds['joints_cam'].detach()
    indices, _ = head.assigner.assign(
        torch.cat([joints, joints], dim=3),
        torch.cat([targets['joints_cam'], targets['mano_joints_cam']], 2),
        torch.cat([targets['joints_cam_valid'], targets['mano_joints_valid']],
                  2))
    grads = preds['joint_feats'].grad.flatten(3).norm(dim=-1)  # (B, K, T)
    is_best = torch.arange(K).view(1, K, 1) == indices[:, None]
    return grads, is_best


@pytest.mark.parametrize('mode', ['sequence', 'time_step'])
def test_best_of_k_gradients_reach_only_the_best(mode):
    head = build_head(mode=mode, diversity_weight=0.0)
    grads, is_best = feature_grads(head)
    assert (grads[is_best] > 0).all()
    assert (grads[~is_best] == 0).all()


def test_diversity_gradients_reach_only_the_others():
    head = build_head(diversity_weight=1.0, weight=0.0)
    grads, is_best = feature_grads(head)
    assert (grads[is_best] == 0).all()
    assert (grads[~is_best] > 0).all()


def test_aggregate_is_the_mesh_of_the_mean_pose():
    head = build_head()
    preds = head(fake_feats())
    agg = head.aggregate(preds, torch.tensor([[0, 2], [1, 1]]))
    assert agg['joints_cam'].shape == (B, T, J, 3)
    expected = (preds['mano_pose'][0, 0] + preds['mano_pose'][0, 2]) / 2
    assert torch.allclose(agg['mano_pose'][0], expected, atol=1e-6)
    # Selecting one hypothesis twice gives back that hypothesis.
    assert torch.allclose(
        agg['joints_cam'][1], preds['joints_cam'][1, 1], atol=1e-5)


def test_bad_inputs():
    head = build_head()
    feats = fake_feats()
    with pytest.raises(TypeError, match='UnfolderOutput'):
        head(feats.joint_feats)
    feats.joints = torch.rand(B, T, J, 3)
    with pytest.raises(ValueError, match='heatmap_dims=2'):
        head(feats)
    with pytest.raises(ValueError, match='coord_dims=2'):
        MODELS.build(
            dict(
                type='MultiHypothesisHead',
                regressor=dict(type='ManoRegressor', coord_dims=3)))
