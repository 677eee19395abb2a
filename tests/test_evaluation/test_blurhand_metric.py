# Copyright (c) OpenMMLab. All rights reserved.
"""BlurHandMetric against a hand-computed case."""
import numpy as np
import pytest

from mmblurhand.evaluation.metrics import BlurHandMetric


def _gt_joints():
    # (T=3, J=3, 3) metres, root at the origin; steps differ clearly.
    gt = np.zeros((3, 3, 3))
    for t in range(3):
        gt[t, 1] = [0.01 * (t + 1), 0., 0.]
        gt[t, 2] = [0., 0.02 * (t + 1), 0.]
    return gt


def _samples():
    gt = _gt_joints()
    mesh = np.random.default_rng(0).uniform(-0.05, 0.05, (3, 4, 3))

    # Sample A: predicted past/future swapped (the metric must swap back),
    # middle joint 1 off by 3 mm, middle joint 2 off by 1 m but invalid.
    pred_a = gt[::-1].copy()
    pred_a[1, 1, 0] += 0.003
    pred_a[1, 2, 1] += 1.0
    valid_a = np.ones((3, 3))
    valid_a[1, 2] = 0
    verts_a = mesh[::-1].copy()
    verts_a[1] += np.array([0.002, 0., 0.])  # 2 mm on every middle vertex

    # Sample B: in order, future joint 1 off by 6 mm; no middle mesh fit.
    pred_b = gt.copy()
    pred_b[2, 1, 2] += 0.006
    verts_b = mesh.copy()
    verts_b[1] += 0.5  # ignored: mesh_valid is 0 there
    mesh_valid_b = np.array([1., 0., 1.])

    def sample(pred, valid, verts, mesh_valid, blur):
        return dict(
            pred_instances=dict(
                joints_cam=pred[None].astype(np.float32),
                vertices=verts[None].astype(np.float32)),
            gt_instances=dict(
                joints_cam=gt[None].astype(np.float32),
                joints_cam_valid=valid[None],
                mesh_cam=mesh[None].astype(np.float32),
                mesh_valid=mesh_valid[None],
                blur_rate=np.array([blur], dtype=np.float32)))

    return [
        sample(pred_a, valid_a, verts_a, np.ones(3), 0.1),
        sample(pred_b, np.ones((3, 3)), verts_b, mesh_valid_b, 0.5)
    ]


def _evaluate(**kwargs):
    metric = BlurHandMetric(**kwargs)
    metric.process({}, _samples())
    return metric.compute_metrics(metric.results)


def test_hand_computed_per_joint_average():
    m = _evaluate()
    # past: exact after the swap; middle: joints (0, mean(3, 0), 0) -> 0.5;
    # future: joints (0, mean(0, 6), 0) -> 1.0
    assert m['MPJPE_past'] == pytest.approx(0., abs=1e-4)
    assert m['MPJPE_middle'] == pytest.approx(0.5, abs=1e-4)
    assert m['MPJPE_future'] == pytest.approx(1.0, abs=1e-4)
    assert m['MPJPE_mean'] == pytest.approx(0.5, abs=1e-4)
    assert m['order_kept'] == pytest.approx(0.5)
    # middle mesh only valid for sample A (2 mm); past exact after swap
    assert m['MPVPE_middle'] == pytest.approx(2., abs=1e-4)
    assert m['MPVPE_past'] == pytest.approx(0., abs=1e-4)
    # two valid joints are always matched exactly by a similarity transform
    assert m['PA-MPJPE_middle'] == pytest.approx(0., abs=1e-4)
    assert m['PA-MPJPE_future'] > 0.1


def test_pooled_average_differs():
    m = _evaluate(mode='pooled')
    # middle: (0 + 3 + 0 + 0 + 0) / 5 valid pairs; future: 6 / 6
    assert m['MPJPE_middle'] == pytest.approx(0.6, abs=1e-4)
    assert m['MPJPE_future'] == pytest.approx(1.0, abs=1e-4)


def test_blur_rate_bins():
    m = _evaluate(blur_rate_bins=(0., 0.2, 0.4, 0.6))
    # sample A alone: middle joints (0, 3, never valid) -> 1.5
    assert m['MPJPE_middle/blur_0-0.2'] == pytest.approx(1.5, abs=1e-4)
    assert m['num_samples/blur_0-0.2'] == 1
    assert m['MPJPE_future/blur_0.4-0.6'] == pytest.approx(2., abs=1e-4)
    assert 'num_samples/blur_0.2-0.4' not in m
    assert not any('blur' in k for k in _evaluate(blur_rate_bins=None))


def test_without_blur_rates_and_meshes():
    samples = _samples()
    for s in samples:
        s['gt_instances']['blur_rate'] = np.array([np.nan])
        del s['gt_instances']['mesh_cam']
    metric = BlurHandMetric()
    metric.process({}, samples)
    m = metric.compute_metrics(metric.results)
    assert not any(k.startswith('MPVPE') for k in m)
    assert not any('blur' in k for k in m)
    assert m['MPJPE_middle'] == pytest.approx(0.5, abs=1e-4)


def test_errors_are_clear():
    with pytest.raises(ValueError, match='mode'):
        BlurHandMetric(mode='sum')
    with pytest.raises(ValueError, match='blur_rate_bins'):
        BlurHandMetric(blur_rate_bins=(0.5, 0.2))
    metric = BlurHandMetric()
    samples = _samples()
    del samples[0]['pred_instances']['joints_cam']
    with pytest.raises(KeyError, match='pred_instances.joints_cam'):
        metric.process({}, samples)
