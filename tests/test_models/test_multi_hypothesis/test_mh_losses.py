# Copyright (c) OpenMMLab. All rights reserved.
"""CCR, pair-wise, diversity and best-of-K against hand-computed cases."""
import math

import pytest
import torch

from mmblurhand.models.losses.best_of_k import (BestOfKAssigner,
                                                gather_hypotheses,
                                                hypothesis_errors,
                                                select_best_hypotheses,
                                                sequence_errors)
from mmblurhand.models.losses.ccr_loss import CCRLoss, top_n_labels
from mmblurhand.models.losses.diversity_loss import DiversityLoss
from mmblurhand.models.losses.pairwise_rank_loss import PairwiseRankLoss

LN3 = math.log(3.0)
# Three hypotheses: channel 1 logit = ln 3 for k=1, channel 0 = ln 3 for k=2.
LOGITS = torch.tensor([[[0.0, 0.0], [0.0, LN3], [LN3, 0.0]]])
ERRORS = torch.tensor([[2.0, 1.0, 3.0]])  # k=1 best, then k=0, then k=2


class TestCCRLoss:

    def test_hand_computed(self):
        # Positive: k=1 only. Class terms: ln2, ln(4/3), ln(4/3).
        # Rank terms (softmax over K of the label's channel, sums = 5):
        # k=0 (neg, ch0 exp 1) ln5; k=1 (pos, ch1 exp 3) ln(5/3);
        # k=2 (neg, ch0 exp 3) ln(5/3).
        loss = CCRLoss(alpha=0.5, num_positive=1)(LOGITS, ERRORS)
        class_sum = math.log(2) + 2 * math.log(4 / 3)
        rank_sum = math.log(5) + 2 * math.log(5 / 3)
        expected = (0.5 * class_sum + 0.5 * rank_sum) / 3
        assert loss.item() == pytest.approx(expected, rel=1e-6)

    def test_alpha_extremes_and_weight(self):
        cls_only = CCRLoss(alpha=1.0, num_positive=1)(LOGITS, ERRORS)
        assert cls_only.item() == pytest.approx(
            (math.log(2) + 2 * math.log(4 / 3)) / 3, rel=1e-6)
        rank_only = CCRLoss(
            alpha=0.0, num_positive=1, loss_weight=2.0)(LOGITS, ERRORS)
        assert rank_only.item() == pytest.approx(
            2 * (math.log(5) + 2 * math.log(5 / 3)) / 3, rel=1e-6)

    def test_two_positives_and_batch_average(self):
        # num_positive=2: k=1 and k=0 positive, k=2 negative.
        # class: k0 pos ln2, k1 pos ln(4/3), k2 neg ln(4/3)
        # rank: k0 pos ch1 exp1/5 -> ln5, k1 ln(5/3), k2 neg ch0 ln(5/3)
        loss = CCRLoss(
            alpha=0.75, num_positive=2)(LOGITS.repeat(2, 1, 1),
                                        ERRORS.repeat(2, 1))
        class_sum = math.log(2) + 2 * math.log(4 / 3)
        rank_sum = math.log(5) + 2 * math.log(5 / 3)
        assert loss.item() == pytest.approx(
            (0.75 * class_sum + 0.25 * rank_sum) / 3, rel=1e-6)

    def test_weights_and_nan_rows_are_ignored(self):
        logits = torch.cat([LOGITS, torch.randn(1, 3, 2)])
        errors = torch.cat([ERRORS, torch.full((1, 3), float('nan'))])
        loss = CCRLoss(alpha=0.5, num_positive=1)(logits, errors)
        ref = CCRLoss(alpha=0.5, num_positive=1)(LOGITS, ERRORS)
        assert loss.item() == pytest.approx(ref.item(), rel=1e-6)
        errors = torch.cat([ERRORS, torch.rand(1, 3)])
        weighted = CCRLoss(
            alpha=0.5, num_positive=1)(
                logits, errors, weights=torch.tensor([1.0, 0.0]))
        assert weighted.item() == pytest.approx(ref.item(), rel=1e-6)

    def test_gradient_direction(self):
        logits = torch.zeros(1, 4, 2, requires_grad=True)
        CCRLoss(num_positive=1)(logits, torch.tensor([[3., 0., 1.,
                                                       2.]])).backward()
        score_grad = logits.grad[..., 1] - logits.grad[..., 0]
        # Descent raises the score of the best hypothesis only.
        assert score_grad[0, 1] < 0
        assert (score_grad[0, [0, 2, 3]] > 0).all()

    def test_labels_ties_and_errors(self):
        labels = top_n_labels(torch.tensor([[1., 1., 0., float('nan')]]), 2)
        assert labels.tolist() == [[True, False, True, False]]
        with pytest.raises(ValueError, match='num_positive'):
            CCRLoss(num_positive=4)(torch.zeros(1, 3, 2), torch.zeros(1, 3))
        with pytest.raises(ValueError, match=r'\(B, K, 2\)'):
            CCRLoss()(torch.zeros(1, 3), torch.zeros(1, 3))
        with pytest.raises(ValueError, match='errors'):
            CCRLoss(num_positive=1)(torch.zeros(1, 3, 2), torch.zeros(1, 3, 3))
        with pytest.raises(ValueError, match='alpha'):
            CCRLoss(alpha=1.5)


class TestPairwiseRankLoss:

    def test_hand_computed(self):
        # Scores s = l1 - l0 = (0, ln3, -ln3).
        # (0,1): e0 > e1, target 0, x = -ln3: -log(1 - 1/4) = ln(4/3)
        # (0,2): target 1, x = ln3: -log(3/4) = ln(4/3)
        # (1,2): target 1, x = 2 ln3: -log(9/10) = ln(10/9)
        loss = PairwiseRankLoss()(LOGITS, ERRORS)
        expected = (2 * math.log(4 / 3) + math.log(10 / 9)) / 3
        assert loss.item() == pytest.approx(expected, rel=1e-6)

    def test_ties_sigma_and_invalid(self):
        logits = torch.tensor([[[0.0, 1.0], [0.0, 0.0]]])
        # Tie: target 0.5, x = 2 * 1: BCE = log(1 + e^2) - 0.5 * 2
        loss = PairwiseRankLoss(sigma=2.0)(logits, torch.tensor([[1.0, 1.0]]))
        assert loss.item() == pytest.approx(
            math.log(1 + math.e**2) - 1.0, rel=1e-6)
        # A NaN error ranks last: hypothesis 0 must be better (target 1).
        nan_loss = PairwiseRankLoss()(logits,
                                      torch.tensor([[1.0, float('nan')]]))
        assert nan_loss.item() == pytest.approx(
            math.log(1 + math.exp(-1.0)), rel=1e-6)
        both_nan = PairwiseRankLoss()(logits, torch.full((1, 2), float('nan')))
        assert both_nan.item() == 0.0

    def test_finite_and_correctly_signed_gradient(self):
        logits = torch.zeros(2, 5, 2, requires_grad=True)
        errors = torch.arange(5.).repeat(2, 1)
        loss = PairwiseRankLoss()(logits, errors)
        loss.backward()
        assert torch.isfinite(loss)
        score_grad = logits.grad[..., 1] - logits.grad[..., 0]
        # The best hypothesis is pushed up, the worst down.
        assert (score_grad[:, 0] < 0).all() and (score_grad[:, -1] > 0).all()


class TestDiversityLoss:

    def test_hand_computed(self):
        feats = torch.tensor([[[[0.0, 0.0]], [[3.0, 4.0]]]])  # (1, 2, 1, 2)
        l2 = DiversityLoss(alpha=5.0, p=2)(feats)
        assert l2.item() == pytest.approx(math.exp(-1.0), rel=1e-6)
        l1 = DiversityLoss(alpha=7.0, p=1, loss_weight=3.0)(feats)
        assert l1.item() == pytest.approx(3 * math.exp(-1.0), rel=1e-6)

    def test_mean_over_pairs_steps_and_images(self):
        feats = torch.zeros(2, 3, 2, 4)  # all collapsed: every term is 1
        assert DiversityLoss()(feats).item() == pytest.approx(1.0)
        assert DiversityLoss()(torch.randn(2, 1, 3, 4)).item() == 0.0

    def test_anchor_is_detached(self):
        feats = torch.randn(2, 4, 3, 5, 6, requires_grad=True)
        anchors = torch.tensor([[1, 1, 1], [3, 0, 2]])
        DiversityLoss(alpha=20.0)(feats, anchors).backward()
        grad_norm = feats.grad.flatten(3).norm(dim=-1)  # (B, K, T)
        for b in range(2):
            for t in range(3):
                assert grad_norm[b, anchors[b, t], t] == 0
                others = [k for k in range(4) if k != anchors[b, t]]
                assert (grad_norm[b, others, t] > 0).all()

    def test_descent_increases_distance(self):
        feats = torch.tensor([[[[0.0]], [[0.5]]]], requires_grad=True)
        DiversityLoss(
            alpha=1.0, p=1)(feats, torch.zeros(1, 1,
                                               dtype=torch.long)).backward()
        assert feats.grad[0, 1, 0, 0] < 0  # descent moves it away from 0

    def test_bad_inputs(self):
        with pytest.raises(ValueError, match='alpha'):
            DiversityLoss(alpha=0)
        with pytest.raises(ValueError, match='anchor_indices'):
            DiversityLoss()(torch.randn(1, 2, 3, 4), torch.zeros(1, 2).long())


class TestBestOfK:

    def _case(self):
        gt = torch.zeros(1, 2, 2, 3)  # B=1, T=2, J=2
        pred = torch.zeros(1, 3, 2, 2, 3)  # K=3
        # Per-time-step errors (x offset): rows k, columns t.
        offsets = torch.tensor([[1.0, 5.0], [3.0, 2.0], [2.0, 2.5]])
        pred[..., 0] = offsets[None, :, :, None]
        return pred, gt

    def test_errors_and_selection_modes(self):
        pred, gt = self._case()
        weights = torch.ones(1, 2, 2)
        errors, valid = hypothesis_errors(pred, gt, weights)
        assert torch.allclose(
            errors[0], torch.tensor([[1.0, 5.0], [3.0, 2.0], [2.0, 2.5]]))
        assert valid.all()
        # Sequence means: 3.0, 2.5, 2.25 -> hypothesis 2 for both steps.
        assert select_best_hypotheses(errors, valid,
                                      'sequence').tolist() == [[2, 2]]
        assert select_best_hypotheses(errors, valid,
                                      'time_step').tolist() == [[0, 1]]

    def test_invalid_steps_and_joints(self):
        pred, gt = self._case()
        weights = torch.ones(1, 2, 2)
        weights[0, 1] = 0  # step 1 has no ground truth
        pred[0, 1, 0, 1, 0] = 100.0  # invalid joint of k=1, t=0 ignored...
        weights[0, 0, 1] = 0  # ... because joint 1 of t=0 is masked
        errors, valid = hypothesis_errors(pred, gt, weights)
        assert valid.tolist() == [[True, False]]
        assert errors[0, 1, 0].item() == pytest.approx(3.0)
        # Only step 0 votes: hypothesis 0 wins both modes (fallback at t=1).
        assert select_best_hypotheses(errors, valid,
                                      'sequence').tolist() == [[0, 0]]
        assert select_best_hypotheses(errors, valid,
                                      'time_step').tolist() == [[0, 0]]
        assert torch.isnan(sequence_errors(errors,
                                           torch.zeros_like(valid))).all()

    def test_gather_and_gradient_only_to_winner(self):
        values = torch.randn(2, 4, 3, 5, requires_grad=True)
        indices = torch.tensor([[0, 1, 2], [3, 3, 3]])
        picked = gather_hypotheses(values, indices)
        assert picked.shape == (2, 3, 5)
        assert torch.equal(picked[1, 2], values[1, 3, 2])
        picked.sum().backward()
        mask = torch.zeros(2, 4, 3, dtype=torch.bool)
        mask[0, 0, 0] = mask[0, 1, 1] = mask[0, 2, 2] = True
        mask[1, 3] = True
        assert (values.grad[mask] == 1).all()
        assert (values.grad[~mask] == 0).all()

    def test_assigner(self):
        pred, gt = self._case()
        assigner = BestOfKAssigner(mode='time_step')
        indices, errors = assigner.assign(pred, gt, torch.ones(1, 2, 2))
        assert indices.tolist() == [[0, 1]] and errors.shape == (1, 3, 2)
        with pytest.raises(ValueError, match='mode'):
            BestOfKAssigner(mode='per_joint')
        with pytest.raises(ValueError, match='gt_joints'):
            hypothesis_errors(pred, gt[:, :1], torch.ones(1, 2, 2))
