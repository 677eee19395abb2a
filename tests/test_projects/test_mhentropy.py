# Copyright (c) OpenMMLab. All rights reserved.
"""projects/mhentropy: the conditional flow head, its losses, the estimator,
the visibility test and the visible/occluded diversity metric."""
import copy
import math
import os.path as osp

import numpy as np
import pytest
import torch

zuko = pytest.importorskip(
    'zuko',
    reason='projects/mhentropy needs the zuko flow library (pip install '
    'zuko; pinned in requirements/optional.txt)')

from mmengine.config import Config  # noqa: E402

from mmblurhand.registry import METRICS, MODELS, TRANSFORMS  # noqa: E402
from mmblurhand.testing import (  # noqa: E402
    get_packed_inputs, tiny_model_parts)
from mmblurhand.utils import register_all_modules  # noqa: E402

register_all_modules()
from projects.mhentropy.mhentropy import (  # noqa: E402
    GaussianPosePrior, front_depth, joint_visibility, laplace_energy)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(REPO, 'projects', 'mhentropy', 'configs')
B, T, J, C = 2, 3, 21, 16

_PARTS = tiny_model_parts(feat_channels=C)
PREPROCESSOR, BACKBONE, NECK = (_PARTS['preprocessor'], _PARTS['backbone'],
                                _PARTS['neck'])
REGRESSOR = dict(
    type='ManoRegressor',
    in_channels=C,
    coord_dims=2,
    global_channels=128,
    camera_cfg=dict(input_size=(64, 64)))
FLOW_HEAD = dict(
    type='FlowHypothesisHead',
    regressor=REGRESSOR,
    num_hypotheses=5,
    num_train_samples=3,
    token_dims=4,
    context_dims=8,
    context_hidden=16,
    flow_cfg=dict(transforms=2, bins=4, hidden_features=(16, )))


def build(cfg):
    torch.manual_seed(0)
    module = MODELS.build(copy.deepcopy(cfg))
    module.init_weights()
    return module


def flow_model(head=None, **overrides):
    cfg = dict(
        type='MHEntropyNet',
        data_preprocessor=PREPROCESSOR,
        backbone=BACKBONE,
        neck=NECK,
        head=head or FLOW_HEAD,
        test_cfg=dict(num_select=2, ranking='likelihood'))
    cfg.update(overrides)
    return build(cfg)


def identity_flow(head):
    """Zero the output layer of every spline's hyper-network: zero spline
    parameters give the identity, so p(x | c) = N(0, I) exactly."""
    for transform in head.flow.transform.transforms:
        last = [m for m in transform.hyper.modules()
                if isinstance(m, torch.nn.Linear)][-1]
        torch.nn.init.zeros_(last.weight)
        torch.nn.init.zeros_(last.bias)


def fake_feats(head, batch=B, seed=0):
    from mmblurhand.models.necks.unfolder import UnfolderOutput
    gen = torch.Generator().manual_seed(seed)
    reg = head.regressor
    return UnfolderOutput(
        joint_feats=torch.randn(batch, T, J, reg.in_channels, generator=gen),
        joints=torch.rand(batch, T, J, 2, generator=gen),
        heatmaps=torch.zeros(batch, T, J, 8, 8),
        feature_maps=torch.zeros(batch, T, reg.in_channels, 8, 8),
        global_feat=torch.randn(batch, reg.global_channels, generator=gen))


@pytest.fixture(scope='module')
def head():
    return build(FLOW_HEAD)


@pytest.fixture(scope='module')
def batch():
    data = get_packed_inputs(B, input_size=(64, 64), left_hands=[False, True])
    gen = np.random.default_rng(0)
    for sample in data['data_samples']:
        vis = (gen.random((1, T, J)) > 0.3).astype(np.float32)
        sample.gt_instance_labels.joints_vis = torch.as_tensor(vis)
        sample.gt_instances.joints_vis = vis
    return data


# ------------------------------------------------------------ the flow --
def test_flow_is_invertible_with_exact_log_density(head):
    feats = fake_feats(head)
    context = head.encode_context(feats)
    x, log_q = head.sample(context, 4)
    assert x.shape == (B, 4, head.pose_dims) and log_q.shape == (B, 4)
    # Density evaluation (forward direction) agrees with the sampler.
    torch.testing.assert_close(
        head.log_prob(x, context), log_q, atol=1e-3, rtol=1e-4)
    # The forward transform maps the samples back to their base noise; the
    # mode (sample 0) comes from z = 0.
    c = context.unsqueeze(1).expand(-1, 4, -1)
    z = head.flow(c).transform(x)
    torch.testing.assert_close(
        z[:, 0], torch.zeros_like(z[:, 0]), atol=1e-4, rtol=0)
    noise = torch.randn(B, 4, head.pose_dims)
    x2, _ = head.sample(context, 4, include_mode=False, noise=noise)
    torch.testing.assert_close(
        head.flow(c).transform(x2), noise, atol=1e-4, rtol=1e-4)


def test_log_density_is_change_of_variables(head):
    """log p(x) = log N(f(x); 0, I) + log |det df/dx|, Jacobian by autograd
    on one image (D = 144)."""
    feats = fake_feats(head, batch=1, seed=3)
    with torch.no_grad():
        context = head.encode_context(feats)
        x, log_q = head.sample(context, 1, include_mode=False)
    x = x[0, 0].double()
    flow = head.flow.double()
    try:
        c = context[0].double()

        def forward(v):
            return flow(c).transform(v)

        jac = torch.autograd.functional.jacobian(forward, x)
        z = forward(x)
        expected = torch.distributions.Normal(0., 1.).log_prob(z).sum() + \
            torch.linalg.slogdet(jac)[1]
        actual = flow(c).log_prob(x)
    finally:
        head.flow.float()
    assert abs(float(actual.detach() - expected)) < 1e-6
    assert abs(float(actual) - float(log_q[0, 0])) < 1e-2


def test_identity_flow_known_likelihood_and_nll_loss(batch):
    model = flow_model(head=dict(FLOW_HEAD, loss_weights=dict(nll=1.0),
                                 pose_scale=2.0))
    head = model.head
    identity_flow(head)
    feats = fake_feats(head)
    context = head.encode_context(feats)
    x = torch.randn(B, 3, head.pose_dims)
    dims = head.pose_dims
    expected = -0.5 * (x**2).sum(-1) - 0.5 * dims * math.log(2 * math.pi)
    torch.testing.assert_close(head.log_prob(x, context), expected)
    # The mode of N(0, I) decodes to the zero (mean) pose.
    _, log_q = head.sample(context, 2)
    torch.testing.assert_close(
        log_q[:, 0], torch.full((B, ), -0.5 * dims * math.log(2 * math.pi)))
    # loss_nll: -log N(pose_gt / pose_scale) / D over images with MANO fits.
    samples = batch['data_samples']
    losses = head.loss(feats, samples)
    poses = torch.stack([s.gt_instance_labels.mano_pose[0] for s in samples])
    valid = torch.stack(
        [s.gt_instance_labels.mano_valid[0].all() for s in samples]).float()
    x_gt = poses.flatten(1) / 2.0
    nll = (0.5 * (x_gt**2).sum(-1) + 0.5 * dims * math.log(2 * math.pi))
    nll = (nll / dims * valid).sum() / valid.sum()
    torch.testing.assert_close(losses['loss_nll'], nll)


def test_rot6d_representation_round_trip():
    head = build(dict(FLOW_HEAD, pose_repr='rot6d'))
    assert head.pose_dims == T * 16 * 6
    pose = (torch.rand(B, T, 48) - 0.5) * 2.0
    x = head.encode_pose(pose)
    decoded, raw = head.decode_pose(x)
    torch.testing.assert_close(decoded, pose, atol=1e-4, rtol=1e-4)
    assert raw.shape == (B, T, 16, 6)
    # Zero flow variables are the identity rotations: the zero pose.
    zero, _ = head.decode_pose(torch.zeros(1, head.pose_dims))
    assert zero.abs().max() < 1e-6


def test_any_k_and_shapes(head):
    feats = fake_feats(head)
    for k in (1, 3, 7):
        out = head.predict(feats, test_cfg=dict(num_hypotheses=k))
        assert out['joints_cam'].shape == (B, k, T, J, 3)
        assert out['joints_2d'].shape == (B, k, T, J, 2)
        assert out['mano_pose'].shape == (B, k, T, 48)
        assert out['log_prob'].shape == (B, k)
        # Shape and camera are shared by the hypotheses.
        assert torch.equal(out['mano_shape'][:, 0], out['mano_shape'][:, -1])
    assert head.predict(feats)['joints_cam'].shape[1] == 5
    with pytest.raises(ValueError, match='num_hypotheses'):
        head.num_hypotheses = 0


# -------------------------------------------------------------- losses --
def test_laplace_energy_and_order_invariance():
    pred = torch.zeros(1, 1, 2, 1, 2)
    target = torch.tensor([[[[0.1, 0.0]], [[0.0, -0.3]]]])
    weight = torch.tensor([[[1.0], [0.5]]])
    # (0.1 * 1 + 0.3 * 0.5) / 0.05
    assert float(laplace_energy(pred, target, weight, 0.05)) == \
        pytest.approx(5.0)
    head = build(dict(FLOW_HEAD, order_invariant=True))
    pred = torch.randn(B, 4, T, J, 2)
    target = torch.randn(B, T, J, 2)
    weight = torch.rand(B, T, J)
    fwd = head._reconstruction(pred, target, weight, 0.1)
    rev = head._reconstruction(pred.flip(2), target, weight, 0.1)
    torch.testing.assert_close(fwd, rev)
    # A perfect match in one order costs log 2 (half the mixture mass).
    exact = head._reconstruction(target.unsqueeze(1), target, weight, 1e-3)
    torch.testing.assert_close(exact, torch.full_like(exact, math.log(2)))


def test_entropy_objective_trains_only_the_flow(batch):
    head = dict(
        FLOW_HEAD,
        loss_weights=dict(rec_2d=1., rec_3d=1., prior=1., entropy=1.),
        use_visibility=True,
        order_invariant=True,
        prior=dict(type='GaussianPosePrior'))
    model = flow_model(
        head=head, frozen_modules=('backbone', 'neck', 'head.regressor'))
    model.train()
    assert not model.backbone.training and not model.neck.training
    assert model.head.training
    data = model.data_preprocessor(batch, training=True)
    losses = model(**data, mode='loss')
    assert {'loss_rec_2d', 'loss_rec_3d', 'loss_prior',
            'loss_entropy'} <= set(losses)
    assert 'loss_nll' not in losses
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    assert torch.isfinite(total)
    total.backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert all(p.grad is None for p in model.head.regressor.parameters())
    flow_grads = [p.grad for p in model.head.flow.parameters()]
    assert all(g is not None for g in flow_grads)
    assert model.head.context_mlp[0].weight.grad.abs().sum() > 0


def test_visibility_weighting_needs_labels():
    head = build(dict(FLOW_HEAD, loss_weights=dict(rec_2d=1.),
                      use_visibility=True))
    data = get_packed_inputs(B, input_size=(64, 64))
    with pytest.raises(KeyError, match='ComputeJointVisibility'):
        head.loss(fake_feats(head), data['data_samples'])


def test_occluded_joints_get_no_2d_reconstruction(batch):
    """Moving the 2D annotation of an occluded joint does not change
    loss_rec_2d (uniform likelihood); moving a visible one does."""
    head = build(dict(FLOW_HEAD, loss_weights=dict(rec_2d=1.),
                      use_visibility=True))
    feats = fake_feats(head)
    samples = copy.deepcopy(batch['data_samples'])
    labels = samples[0].gt_instance_labels
    labels.joints_2d_valid = torch.ones_like(labels.joints_2d_valid)
    vis = labels.joints_vis[0]
    occ_t, occ_j = map(int, torch.nonzero(vis == 0)[0])
    vis_t, vis_j = map(int, torch.nonzero(vis > 0)[0])

    def loss_with(shift_t, shift_j):
        moved = copy.deepcopy(samples)
        if shift_t is not None:
            moved[0].gt_instance_labels.joints_2d[0, shift_t, shift_j,
                                                  :2] += 0.3
        torch.manual_seed(1)
        return float(head.loss(feats, moved)['loss_rec_2d'].detach())

    base = loss_with(None, None)
    assert loss_with(occ_t, occ_j) == pytest.approx(base, rel=1e-6)
    assert abs(loss_with(vis_t, vis_j) - base) > 1e-3


def test_gaussian_pose_prior(tmp_path):
    prior = GaussianPosePrior(std=0.5, eps=0.)
    pose = torch.randn(4, 48) * 0.3
    expected = torch.distributions.Normal(0., 0.5).log_prob(
        pose[:, 3:]).sum(-1)
    torch.testing.assert_close(prior.log_prob(pose), expected, atol=1e-3,
                               rtol=1e-4)
    # The global orientation is not under the prior.
    moved = pose.clone()
    moved[:, :3] += 1.0
    torch.testing.assert_close(prior.log_prob(moved), prior.log_prob(pose))
    path = tmp_path / 'prior.npz'
    np.savez(path, mean=np.full(45, 0.1), cov=np.eye(45) * 0.04)
    fitted = GaussianPosePrior(stats_file=str(path), eps=0.)
    expected = torch.distributions.Normal(0.1, 0.2).log_prob(
        pose[:, 3:]).sum(-1)
    torch.testing.assert_close(fitted.log_prob(pose), expected, atol=1e-3,
                               rtol=1e-4)
    with pytest.raises(FileNotFoundError, match='fit_pose_prior'):
        GaussianPosePrior(stats_file=str(tmp_path / 'missing.npz'))


# ----------------------------------------------------------- estimator --
def test_estimator_predicts_any_k_ranked_by_likelihood(batch):
    model = flow_model()
    model.eval()
    data = model.data_preprocessor(batch, training=False)
    for k in (1, 6):
        model.test_cfg['num_hypotheses'] = k
        with torch.no_grad():
            samples = model(**data, mode='predict')
        pred = samples[0].pred_instances
        assert pred.hyp_joints_cam.shape == (1, k, T, J, 3)
        assert pred.hyp_keypoints.shape == (1, k, T, J, 2)
        assert pred.topn_indices.shape == (1, min(2, k))
        scores = pred.hyp_scores[0]
        assert scores[pred.topn_indices[0, 0]] == scores.max()
    # Any K: the same features sampled at K = 3, ranked by likelihood.
    feats = model.extract_feat(data['inputs'])
    with torch.no_grad():
        preds = model.head.predict(feats, test_cfg=dict(num_hypotheses=3))
    packed = model.pack(preds, preds['log_prob'], data['data_samples'])
    pred = packed[1].pred_instances
    assert pred.hyp_keypoints.shape == (1, 3, T, J, 2)
    np.testing.assert_allclose(pred.hyp_scores[0], preds['log_prob'][1])
    assert pred.topn_indices[0, 0] == int(preds['log_prob'][1].argmax())
    with pytest.raises(ValueError, match='ranking'):
        flow_model(test_cfg=dict(ranking='oracle'))


def test_fixed_k_head_and_generator_initialisation(tmp_path):
    generator = build(
        dict(
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
                    num_hypotheses=3),
                regressor=REGRESSOR)))
    for module in generator.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.fill_(0.25)
    path = str(tmp_path / 'gen.pth')
    torch.save(dict(state_dict=generator.state_dict(), meta=dict()), path)

    def pretrained(prefix):
        return dict(type='Pretrained', checkpoint=path, prefix=prefix)

    model = flow_model(
        backbone=dict(BACKBONE, init_cfg=pretrained('backbone.')),
        neck=dict(NECK, init_cfg=[pretrained('neck.')]),
        head=dict(
            FLOW_HEAD,
            regressor=dict(REGRESSOR, init_cfg=pretrained('head.regressor.'))))
    for name in ('backbone', 'neck'):
        mine = getattr(model, name).state_dict()
        for key, value in getattr(generator, name).state_dict().items():
            assert torch.equal(mine[key], value), f'{name}.{key}'
    torch.testing.assert_close(model.head.regressor.shape_head.weight,
                               generator.head.regressor.shape_head.weight)
    # The generator itself runs under MHEntropyNet at its fixed K only.
    with pytest.raises(ValueError, match='fixed K'):
        MODELS.build(
            dict(
                type='MHEntropyNet',
                backbone=BACKBONE,
                neck=NECK,
                head=dict(
                    type='MultiHypothesisHead',
                    transformer=dict(
                        type='MultiHypothesisTransformer',
                        embed_dims=C,
                        num_heads=2,
                        num_layers=1,
                        num_hypotheses=3),
                    regressor=REGRESSOR),
                test_cfg=dict(num_hypotheses=8)))


# ---------------------------------------------------------- visibility --
def test_front_depth_and_joint_visibility():
    verts = np.array([[0., 0., 2.], [4., 0., 2.], [0., 4., 2.]])
    faces = np.array([[0, 1, 2]])
    points = np.array([[1., 1.], [3., 3.]])
    depth = front_depth(points, verts, faces)
    assert depth[0] == pytest.approx(2.0) and np.isinf(depth[1])
    # A triangle 10 cm in front of a joint at 0.5 m hides it; one behind
    # it does not; a joint beside the triangle is visible.
    tri = np.array([[-0.05, -0.05, 0.4], [0.05, -0.05, 0.4],
                    [0.0, 0.05, 0.4]])
    joints = np.array([[0.0, 0.0, 0.5], [0.0, 0.0, 0.3], [0.2, 0.2, 0.5]])
    vis = joint_visibility(joints, tri, faces, (500., 500.), (32., 32.),
                           tolerance=0.02)
    assert vis.tolist() == [False, True, True]
    with pytest.raises(ValueError, match='absolute'):
        joint_visibility(joints - 1.0, tri, faces, (500., 500.), (32., 32.))


def test_compute_joint_visibility_transform():
    from mmblurhand.models.mano import ManoLayer
    layer = ManoLayer(model_path=None)
    with torch.no_grad():
        out = layer(
            global_orient=torch.zeros(1, 3),
            hand_pose=torch.zeros(1, 45),
            betas=torch.zeros(1, 10))
    verts, joints = out.vertices.numpy(), out.joints.numpy()
    # The mean hand seen along +z from 0.5 m, twice (T = 2 steps); in the
    # second step the middle fingertip is pushed 5 cm behind the hand.
    offset = np.array([0., 0., 0.5])
    joints_abs = np.repeat(joints + offset, 2, axis=0)
    joints_abs[1, 12, 2] += 0.05
    transform = TRANSFORMS.build(dict(type='ComputeJointVisibility'))
    results = dict(
        ann_joints_cam=joints_abs,
        gt_mesh_cam=np.repeat(verts - joints[:, :1], 2, axis=0)[None],
        gt_mesh_valid=np.ones((1, 2)),
        joints_2d_valid=np.ones((1, 2, J)),
        focal=np.array([500., 500.]),
        princpt=np.array([32., 32.]))
    vis = transform(copy.deepcopy(results))['joints_vis']
    assert vis.shape == (1, 2, J)
    assert vis[0, 0, 12] == 1 and vis[0, 1, 12] == 0
    # The mean hand is seen edge-on from its little-finger side: those tips
    # (on the surface, nearest) are visible, the index tip is hidden behind
    # the other fingers (6 cm of hand in front of it).
    assert vis[0, 0, [12, 16, 20]].all() and vis[0, 0, 8] == 0
    # Truncated joints are not visible; steps without a mesh are.
    results['joints_2d_valid'][0, 0, 8] = 0
    results['gt_mesh_valid'][0, 1] = 0
    vis = transform(results)['gt_joints_vis']
    assert vis[0, 0, 8] == 0 and vis[0, 1].all()


# -------------------------------------------------------------- metric --
def test_metric_visible_and_occluded_diversity():
    gt_joints = np.zeros((1, T, J, 3))
    gt_joints[..., 0] = np.linspace(0., 0.1, J)
    vis = np.ones((1, T, J))
    vis[0, :, 5] = 0  # joint 5 occluded at every step
    hyps = np.repeat(gt_joints[:, None], 2, axis=1)  # (1, K=2, T, J, 3)
    hyps[0, 0, :, 5, 1] += 0.01  # +-1 cm at the occluded joint
    hyps[0, 1, :, 5, 1] -= 0.01
    keypoints = np.zeros((1, 2, T, J, 2))
    keypoints[0, 0, :, 5, 0] = 3.
    keypoints[0, 1, :, 5, 0] = -3.
    keypoints[0, 0, :, 7, 0] = 0.5  # visible joint 7: std 0.5 px
    keypoints[0, 1, :, 7, 0] = -0.5
    sample = dict(
        pred_instances=dict(
            hyp_joints_cam=hyps,
            hyp_scores=np.array([[1.0, 0.0]]),
            hyp_keypoints=keypoints),
        gt_instances=dict(
            joints_cam=gt_joints,
            joints_cam_valid=np.ones((1, T, J)),
            joints_vis=vis))
    metric = METRICS.build(
        dict(type='MHEntropyMetric', max_top_n=2, blur_rate_bins=None))
    metric.process(None, [sample])
    values = metric.compute_metrics(metric.results)
    assert values['PJD-occ_middle'] == pytest.approx(10.0)
    assert values['PJD-vis_middle'] == pytest.approx(0.0)
    assert values['PJD2d-occ_middle'] == pytest.approx(3.0)
    # 1 of the 19 visible non-root joints moves by 0.5 px.
    assert values['PJD2d-vis_middle'] == pytest.approx(0.5 / 19)
    assert values['RD_middle'] == pytest.approx(0.5 / 19 / 10.0)
    assert values['occluded_fraction_middle'] == pytest.approx(1 / 20)
    # Best of K: the hypotheses are 1 cm off at one of 21 joints.
    assert values['MPJPE_oracle-step_middle'] == pytest.approx(10.0 / J)


# ------------------------------------------------------------- configs --
@pytest.mark.parametrize('name', [
    'mhentropy-flow_r18s_nll_study-synthetic-64x64.py',
    'mhentropy-flow_r18s_ent-2d_study-synthetic-64x64.py',
    'mhentropy-flow_r18s_ent-3d_study-synthetic-64x64.py',
    'mh-gen_r18s_k16_eval-vis_study-synthetic-64x64.py',
])
def test_configs_build(name, tmp_path):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    assert 'projects.mhentropy.mhentropy' in cfg.custom_imports.imports
    model_cfg = copy.deepcopy(cfg.model)
    prior = model_cfg.head.get('prior')
    if prior is not None:  # the fitted prior is made by a tool; fake one
        path = tmp_path / 'prior.npz'
        np.savez(path, mean=np.zeros(45), cov=np.eye(45) * 0.1)
        prior.stats_file = str(path)
    model = MODELS.build(model_cfg)
    assert type(model).__name__ == 'MHEntropyNet'
    names = [t['type'] for t in cfg.test_dataloader.dataset.pipeline]
    assert 'ComputeJointVisibility' in names
    assert cfg.test_evaluator.type == 'MHEntropyMetric'
