# Copyright (c) OpenMMLab. All rights reserved.
"""MultiHypothesisMetric against hand-computed values."""
import numpy as np
import pytest

from mmblurhand.evaluation.metrics.multi_hypothesis_metric import \
    MultiHypothesisMetric

# Per (k, t) error of the non-root joints (x offsets). Joint 0 is the wrist
# (root, at the origin everywhere, not annotated here); joints 1, 2 move.
ERRORS = np.array([[1.0, 4.0, 2.0], [3.0, 1.0, 3.0], [2.0, 2.0, 1.0]])
SCORES = np.array([0.1, 0.9, 0.5])  # ranking: k1, k2, k0
K, T, J, V = 3, 3, 3, 4


def make_sample(errors=ERRORS,
                scores=SCORES,
                blur=np.nan,
                scale=1e-3,
                joint_valid=None,
                with_agg=True):
    hyp = np.zeros((1, K, T, J, 3))
    hyp[..., 1:, 0] = errors[None, :, :, None] * scale
    verts = np.zeros((1, K, T, V, 3))
    verts[..., 1] = 2 * errors[None, :, :, None] * scale
    pred = dict(
        hyp_joints_cam=hyp, hyp_vertices=verts, hyp_scores=scores[None])
    if with_agg:
        pred['agg_joints_cam'] = np.full((1, T, J, 3), 0.3 * scale)
        pred['agg_joints_cam'][..., 0, :] = 0.0
        pred['agg_vertices'] = np.zeros((1, T, V, 3))
    if joint_valid is None:
        joint_valid = np.ones((T, J))
        joint_valid[:, 0] = 0
    gt = dict(
        joints_cam=np.zeros((1, T, J, 3)),
        joints_cam_valid=joint_valid[None],
        mesh_cam=np.zeros((1, T, V, 3)),
        mesh_valid=np.array([[1.0, 1.0, 0.0]]),
        blur_rate=np.array([blur]))
    return dict(pred_instances=pred, gt_instances=gt)


def evaluate(samples, **kwargs):
    metric = MultiHypothesisMetric(**kwargs)
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def test_single_sample_hand_computed():
    m = evaluate([make_sample()], max_top_n=3, hit_top_n=2)
    names = ('past', 'middle', 'future')
    expected = {
        'MPJPE_oracle-step': [1, 1, 1],
        'MPJPE_oracle-seq': [2, 2, 1],  # k2 has the lowest mean (5/3)
        'MPJPE_top1': [3, 1, 3],  # k1
        'MPJPE_top2': [2, 1, 1],  # min of k1, k2 per step
        'MPJPE_top3': [1, 1, 1],
        'MPJPE_agg': [0.3 * np.sqrt(3)] * 3,
        'MPVPE_oracle-step': [2, 2],  # MPJPE-best per step, future has no fit
        'MPVPE_top1': [6, 2],
        # best of the top-n by MPJPE per step: past k2 of {k1, k2} (2 mm ->
        # vertices 4), then k0 of all three; middle k1 throughout
        'MPVPE_top2': [4, 2],
        'MPVPE_top3': [2, 2],
        'MPVPE_agg': [0, 0],
        # Two moving joints and the wrist (deviation 0) per step.
        'PJD': [
            2 / 3 * np.sqrt(2 / 3), 2 / 3 * np.sqrt(14 / 9),
            2 / 3 * np.sqrt(2 / 3)
        ],
    }
    for key, values in expected.items():
        for name, value in zip(names, values):
            assert m[f'{key}_{name}'] == pytest.approx(value), key
    assert 'MPVPE_top1_future' not in m
    # Ground-truth top-2 by sequence error: k2 (5/3), then k0 (7/3, tie with
    # k1 broken by index); the selector's top-2 is {k1, k2}.
    assert m['hit_rate'] == pytest.approx(0.5)
    assert m['top1_hit'] == 0.0


def test_pooling_validity_units_and_bins():
    second = ERRORS[::-1].copy()  # k0: [2,2,1], k1: [3,1,3], k2: [1,4,2]
    valid = np.ones((T, J))
    valid[:, 0] = 0
    valid[1, 1] = 0  # one invalid joint in the middle frame
    samples = [
        make_sample(blur=0.1),
        make_sample(second, blur=0.6, joint_valid=valid),
        make_sample(blur=np.nan),
    ]
    m = evaluate(samples, blur_rate_bins=[0.0, 0.5, 1.0])
    # Top-1 is k1 in every sample: middle errors 1, 1 (one joint), 1.
    assert m['MPJPE_top1_middle'] == pytest.approx(1.0)
    assert m['MPJPE_top1_past'] == pytest.approx(3.0)
    # Pooled over valid (sample, joint): best_seq middle = 2,2 | 2 | 2,2.
    assert m['MPJPE_oracle-seq_middle'] == pytest.approx(2.0)
    assert m['MPJPE_oracle-seq_future/blur_0-0.5'] == pytest.approx(1.0)
    assert m['MPJPE_oracle-seq_past/blur_0.5-1'] == pytest.approx(2.0)
    assert m['MPJPE_oracle-step_middle/blur_0.5-1'] == pytest.approx(1.0)
    # Sample 3 (NaN blur rate) is in no bin.
    assert m['num_samples/blur_0-0.5'] == 1
    assert m['num_samples/blur_0.5-1'] == 1


def test_without_optional_predictions():
    sample = make_sample(with_agg=False)
    del sample['pred_instances']['hyp_vertices']
    m = evaluate([sample], max_top_n=5)
    assert 'MPJPE_agg_middle' not in m and 'MPVPE_top1_past' not in m
    assert 'MPJPE_top3_middle' in m and 'MPJPE_top4_middle' not in m


def test_errors():
    sample = make_sample()
    del sample['pred_instances']['hyp_joints_cam']
    with pytest.raises(KeyError, match='hyp_joints_cam'):
        evaluate([sample])
    with pytest.raises(ValueError, match='hyp_scores'):
        evaluate([make_sample(scores=np.ones(2))])
    with pytest.raises(ValueError, match='blur_rate_bins'):
        MultiHypothesisMetric(blur_rate_bins=[0.5, 0.1])
    with pytest.raises(ValueError, match='step_names'):
        evaluate([make_sample()], step_names=['a', 'b'])
