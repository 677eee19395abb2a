# Copyright (c) OpenMMLab. All rights reserved.
"""Pure-numpy evaluation functions: errors, aggregation, Procrustes, order."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mmblurhand.evaluation.functional import (aggregate_errors,
                                              apply_temporal_order,
                                              choose_temporal_order,
                                              masked_mean, point_errors,
                                              procrustes_align,
                                              similarity_transform)


def test_point_errors_and_masked_mean():
    pred = np.array([[[0., 0., 0.], [3., 4., 0.]]])
    gt = np.zeros((1, 2, 3))
    np.testing.assert_allclose(point_errors(pred, gt), [[0., 5.]])
    values = np.array([[1., 2., 3.], [4., 5., 6.]])
    mask = np.array([[1, 0, 1], [0, 0, 0]])
    out = masked_mean(values, mask, axis=-1)
    assert out[0] == pytest.approx(2.)
    assert np.isnan(out[1])


def test_aggregate_per_joint_vs_pooled_hand_computed():
    # 3 samples, 2 joints; joint 1 valid only in sample 0.
    errors = np.array([[1., 10.], [3., 20.], [5., 30.]])
    mask = np.array([[1, 1], [1, 0], [1, 0]])
    # per joint: joint0 = (1+3+5)/3 = 3, joint1 = 10 -> (3 + 10) / 2 = 6.5
    assert aggregate_errors(errors, mask, 'per_joint') == pytest.approx(6.5)
    # pooled: (1 + 10 + 3 + 5) / 4 = 4.75
    assert aggregate_errors(errors, mask, 'pooled') == pytest.approx(4.75)
    # a joint never valid is ignored, not counted as 0
    mask_none = np.array([[1, 0], [1, 0], [1, 0]])
    assert aggregate_errors(errors, mask_none) == pytest.approx(3.)
    # batched over a middle (time) dim
    stacked = np.stack([errors, errors * 2], axis=1)  # (N, T, J)
    out = aggregate_errors(stacked, np.stack([mask, mask], axis=1))
    np.testing.assert_allclose(out, [6.5, 13.])
    with pytest.raises(ValueError, match='mode'):
        aggregate_errors(errors, mask, 'median')


def test_procrustes_recovers_scaled_rotated_translated_copy():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(4, 3, 21, 3))
    rot = Rotation.random(12, random_state=1).as_matrix().reshape(4, 3, 3, 3)
    scale = rng.uniform(0.5, 2., size=(4, 3))
    pred = scale[..., None, None] * np.einsum('...ij,...nj->...ni', rot,
                                              gt) + rng.normal(size=(4, 3,
                                                                     1, 3))
    aligned = procrustes_align(pred, gt)
    assert np.abs(aligned - gt).max() < 1e-9
    s, r, _ = similarity_transform(pred, gt)
    np.testing.assert_allclose(s, 1. / scale, rtol=1e-9)
    np.testing.assert_allclose(np.linalg.det(r), 1., atol=1e-9)
    # invalid joints (here: garbage) are ignored by the fit
    mask = rng.random((4, 3, 21)) > 0.3
    mask[..., :3] = True
    corrupted = np.where(mask[..., None], pred, 50.)
    aligned = procrustes_align(corrupted, gt, mask)
    assert np.abs(aligned - gt)[mask].max() < 1e-9


def test_procrustes_never_reflects():
    gt = np.random.default_rng(2).normal(size=(21, 3))
    mirrored = gt * np.array([-1., 1., 1.])
    _, rot, _ = similarity_transform(mirrored, gt)
    assert np.linalg.det(rot) == pytest.approx(1.)
    err = point_errors(procrustes_align(mirrored, gt), gt).mean()
    assert err > 1e-3  # a mirror image cannot be aligned by a rotation


def test_choose_temporal_order_picks_smaller_error():
    rng = np.random.default_rng(3)
    gt = rng.normal(size=(3, 3, 21, 3))
    pred = gt.copy()
    pred[1] = gt[1, ::-1]  # predicted future/past swapped
    pred[2] = gt[2, ::-1] + 0.01
    mask = np.ones((3, 3, 21))
    np.testing.assert_array_equal(
        choose_temporal_order(pred, gt, mask), [True, False, False])
    # invalid joints do not vote: corrupt the end frames only where masked
    pred2 = gt.copy()
    pred2[0, 0, :10] += 100.
    mask2 = np.ones((3, 3, 21))
    mask2[0, 0, :10] = 0
    assert choose_temporal_order(pred2, gt, mask2)[0]
    reordered = apply_temporal_order(pred, np.array([True, False, False]), 1)
    np.testing.assert_allclose(reordered[:2], gt[:2])
    with pytest.raises(ValueError, match='before the time axis'):
        apply_temporal_order(pred, np.array([True]), 1)
