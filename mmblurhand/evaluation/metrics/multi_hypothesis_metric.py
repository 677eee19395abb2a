# Copyright (c) OpenMMLab. All rights reserved.
"""Evaluation of multi-hypothesis hand-mesh sequences (oracle, top-n, ...)."""
import math
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmblurhand.registry import METRICS
from ..functional import (AGGREGATION_MODES, aggregate_errors, masked_mean,
                          point_errors, root_relative)

DEFAULT_STEP_NAMES = {1: ('middle', ), 3: ('past', 'middle', 'future')}
# Per-sample values that are (T, J) joint errors / (T,) vertex errors /
# scalars; see MultiHypothesisMetric.process.
_SCALAR_KEYS = ('hit_rate', 'top1_hit')


def _as_numpy(value) -> np.ndarray:
    """Tensors (CPU or not) and arrays to numpy."""
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def masked_joint_errors(pred: np.ndarray, gt: np.ndarray,
                        valid: np.ndarray) -> np.ndarray:
    """Euclidean error of every joint, NaN where the joint is invalid.

    Args:
        pred (np.ndarray): Predictions, shape ``(..., T, J, 3)``.
        gt (np.ndarray): Ground truth, shape ``(T, J, 3)``.
        valid (np.ndarray): Validity, shape ``(T, J)``.

    Returns:
        np.ndarray: Shape ``(..., T, J)``, same unit as the inputs.
    """
    return np.where(valid > 0, point_errors(pred, gt), np.nan)


def step_means(errors: np.ndarray) -> np.ndarray:
    """Mean over the last axis ignoring NaN; NaN where nothing is valid."""
    return masked_mean(np.nan_to_num(errors), ~np.isnan(errors), axis=-1)


def pick_per_step(errors: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Per time step, the per-joint errors of the best candidate hypothesis.

    Args:
        errors (np.ndarray): Per-joint errors, shape ``(K, T, J)`` (NaN =
            invalid).
        candidates (np.ndarray): Hypothesis indices to choose from, shape
            ``(n,)``.

    Returns:
        np.ndarray: Shape ``(T, J)``: for every ``t`` the errors of the
        candidate with the lowest mean error at ``t``.
    """
    sub = errors[candidates]  # (n, T, J)
    means = step_means(sub)  # (n, T)
    best = np.argmin(np.where(np.isnan(means), np.inf, means), axis=0)
    return sub[best, np.arange(sub.shape[1])]


def per_joint_deviation(joints: np.ndarray) -> np.ndarray:
    """Per-joint standard deviation over hypotheses (MHEntropy's PJD).

    Args:
        joints (np.ndarray): Hypotheses, shape ``(K, T, J, 3)``.

    Returns:
        np.ndarray: Root-mean-square distance of the K hypotheses to their
        mean, shape ``(T, J)``.
    """
    centred = joints - joints.mean(axis=0, keepdims=True)
    return np.sqrt((centred**2).sum(-1).mean(0))


@METRICS.register_module()
class MultiHypothesisMetric(BaseMetric):
    """Accuracy, selection quality and diversity of K hypothesis sequences.

    Reads ``pred_instances.hyp_joints_cam`` ``(1, K, T, J, 3)``,
    ``hyp_scores`` ``(1, K)`` and, when present, ``hyp_vertices``
    ``(1, K, T, V, 3)`` and ``agg_joints_cam`` / ``agg_vertices`` (the mesh
    of the mean of the selected poses, ``(1, T, ...)``), against
    ``gt_instances`` ``joints_cam``, ``joints_cam_valid``, ``mesh_cam``,
    ``mesh_valid`` and ``blur_rate`` (see ``docs/data_contract.md``; all
    metres in the original hand frame). Joints are made root-relative at
    ``root_index`` and meshes moved with their joints, as in
    :class:`BlurHandMetric`. Errors are in millimetres; time order is never
    swapped (the hypotheses cover the past/future ambiguity).

    Keys (``{s}`` = ``past``/``middle``/``future`` for ``T = 3``):

    - ``MPJPE_oracle-step_{s}``: best of K chosen independently for every
      time step (the official generator evaluation).
    - ``MPJPE_oracle-seq_{s}``: best of K with one hypothesis per sample
      (lowest error averaged over the valid time steps).
    - ``MPJPE_top{n}_{s}`` for ``n = 1 .. max_top_n``: among the ``n``
      highest-scored hypotheses, the one with the lowest error at that time
      step (the paper's "MPJPE" for ``n = 4``); ``n = 1`` is the top-1
      prediction.
    - ``MPJPE_agg_{s}``: the aggregate (mean of the selected poses), when
      predicted.
    - ``MPVPE_oracle-step_{s}``, ``MPVPE_top{n}_{s}``, ``MPVPE_agg_{s}``:
      mean vertex error of the per-step MPJPE-best hypothesis, of the
      MPJPE-best of the ``n`` highest-scored ones at that time step (the
      hypothesis ``MPJPE_top{n}`` picks; the paper's "Ours (best)" MPVPE
      for ``n = 4``; ``n = 1`` is the top-1) and of the aggregate, over
      samples with a MANO fit.
    - ``hit_rate``: ``|S_n & G_n| / n`` with ``S_n`` the ``n = hit_top_n``
      highest-scored hypotheses and ``G_n`` the ``n`` with the lowest
      sequence MPJPE; ``top1_hit``: fraction of samples whose top-1 is in
      ``G_n``.
    - ``PJD_{s}``: diversity, the per-joint standard deviation of the K
      hypotheses (MHEntropy's PJD, mm), over all joints (the root-relative
      wrist contributes 0) and samples; needs no ground truth.

    Joint errors are averaged over samples and joints by ``mode`` (see
    :func:`~mmblurhand.evaluation.functional.aggregate_errors`); the
    default ``'pooled'`` is the multi-hypothesis code's ``nanmean``.
    With ``blur_rate_bins``, every key is repeated as
    ``{key}/blur_{lo}-{hi}`` for the samples whose blur rate lies in
    ``[lo, hi)``, with ``num_samples/blur_{lo}-{hi}`` (samples with an
    unknown, NaN blur rate are in no bin).

    Args:
        max_top_n (int): Largest ``n`` of the top-n keys. Defaults to ``4``.
        hit_top_n (int): ``n`` of the hit rate. Defaults to ``4``.
        mode (str): ``'pooled'`` or ``'per_joint'``. Defaults to
            ``'pooled'``.
        root_index (int): Wrist index in the joints. Defaults to ``0``.
        blur_rate_bins (Sequence[float], optional): Increasing bin edges.
            ``None`` disables the breakdown. Defaults to
            ``(0, 0.2, 0.4, 0.6, 0.8, inf)``.
        step_names (Sequence[str], optional): Names of the T time steps.
            Defaults to past/middle/future for ``T = 3``, else ``t0, ...``.
        collect_device (str): See :class:`mmengine.evaluator.BaseMetric`.
        prefix (str, optional): Key prefix. Defaults to ``None``.
    """
    default_prefix: Optional[str] = None

    def __init__(self,
                 max_top_n: int = 4,
                 hit_top_n: int = 4,
                 mode: str = 'pooled',
                 root_index: int = 0,
                 blur_rate_bins: Optional[Sequence[float]] = (0., 0.2, 0.4,
                                                              0.6, 0.8,
                                                              math.inf),
                 step_names: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if max_top_n < 1 or hit_top_n < 1:
            raise ValueError('MultiHypothesisMetric: `max_top_n` and '
                             '`hit_top_n` must be >= 1, got '
                             f'{max_top_n} and {hit_top_n}.')
        if mode not in AGGREGATION_MODES:
            raise ValueError(f'MultiHypothesisMetric: `mode` must be one of '
                             f'{AGGREGATION_MODES}, got {mode!r}.')
        if blur_rate_bins is not None and (len(blur_rate_bins) < 2 or np.any(
                np.diff(np.asarray(blur_rate_bins)) <= 0)):
            raise ValueError(
                'MultiHypothesisMetric: `blur_rate_bins` must be at least '
                f'two increasing edges, got {blur_rate_bins}.')
        self.max_top_n = max_top_n
        self.hit_top_n = hit_top_n
        self.mode = mode
        self.root_index = root_index
        self.blur_rate_bins = (None if blur_rate_bins is None else tuple(
            float(b) for b in blur_rate_bins))
        self.step_names = tuple(step_names) if step_names else None

    @staticmethod
    def _get(container: dict, key: str, where: str) -> np.ndarray:
        if key not in container:
            raise KeyError(
                f'MultiHypothesisMetric: `{where}.{key}` is missing. The '
                'metric needs a multi-hypothesis model (MHBlurHandNet or '
                'MHSelector) and the evaluation ground truth of '
                'docs/data_contract.md.')
        return _as_numpy(container[key])

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Compute per-sample errors and keep them for ``compute_metrics``.

        Args:
            data_batch: Unused.
            data_samples (Sequence[dict]): Packed predictions and ground
                truth (see the class docstring).
        """
        for sample in data_samples:
            self.results.append(self._process_sample(sample))

    def _process_sample(self, sample: dict) -> dict:
        pred, gt = sample['pred_instances'], sample['gt_instances']
        root = self.root_index
        hyp_joints = self._get(pred, 'hyp_joints_cam',
                               'pred_instances')[0].astype(np.float64)
        scores = self._get(pred, 'hyp_scores',
                           'pred_instances')[0].astype(np.float64)
        gt_joints = self._get(gt, 'joints_cam',
                              'gt_instances')[0].astype(np.float64)
        valid = self._get(gt, 'joints_cam_valid', 'gt_instances')[0]
        num_hyps, steps = hyp_joints.shape[:2]
        if gt_joints.shape != hyp_joints.shape[1:]:
            raise ValueError(
                'MultiHypothesisMetric: `hyp_joints_cam` (1, K, T, J, 3) '
                f'{hyp_joints.shape} does not match `joints_cam` '
                f'(1, T, J, 3) {gt_joints.shape}.')
        if scores.shape != (num_hyps, ):
            raise ValueError(
                'MultiHypothesisMetric: `hyp_scores` must have shape '
                f'(1, K) = (1, {num_hyps}), got (1, {scores.shape}).')
        hyp_root = hyp_joints[..., root:root + 1, :]
        hyp_joints = hyp_joints - hyp_root
        gt_joints = root_relative(gt_joints, root)

        errors = masked_joint_errors(hyp_joints, gt_joints,
                                     valid) * 1000.  # (K, T, J)
        seq_err = step_means(step_means(errors))  # (K,)
        order = np.argsort(-scores, kind='stable')
        result = dict(steps=steps)
        result['MPJPE_oracle-step'] = pick_per_step(errors,
                                                    np.arange(num_hyps))
        has_gt = not np.all(np.isnan(seq_err))
        ranked = np.where(np.isnan(seq_err), np.inf, seq_err)
        result['MPJPE_oracle-seq'] = errors[int(np.argmin(ranked))]
        for n in range(1, min(self.max_top_n, num_hyps) + 1):
            result[f'MPJPE_top{n}'] = pick_per_step(errors, order[:n])
        result['PJD'] = per_joint_deviation(hyp_joints) * 1000.
        if has_gt:
            hit_n = min(self.hit_top_n, num_hyps)
            truth = set(np.argsort(ranked, kind='stable')[:hit_n].tolist())
            chosen = set(order[:hit_n].tolist())
            result['hit_rate'] = len(truth & chosen) / hit_n
            result['top1_hit'] = float(order[0] in truth)

        agg_root = None
        if 'agg_joints_cam' in pred:
            agg = self._get(pred, 'agg_joints_cam',
                            'pred_instances')[0].astype(np.float64)
            agg_root = agg[..., root:root + 1, :]
            result['MPJPE_agg'] = masked_joint_errors(agg - agg_root,
                                                      gt_joints, valid) * 1000.

        if 'hyp_vertices' in pred and 'mesh_cam' in gt:
            gt_mesh = self._get(gt, 'mesh_cam', 'gt_instances')[0]
            mesh_ok = self._get(gt, 'mesh_valid', 'gt_instances')[0] > 0
            hyp_verts = self._get(pred, 'hyp_vertices',
                                  'pred_instances')[0] - hyp_root
            if hyp_verts.shape[1:] != gt_mesh.shape:
                raise ValueError(
                    'MultiHypothesisMetric: `hyp_vertices` (1, K, T, V, 3) '
                    f'{hyp_verts.shape} does not match `mesh_cam` '
                    f'(1, T, V, 3) {gt_mesh.shape}.')
            vert_err = np.where(mesh_ok,
                                point_errors(hyp_verts, gt_mesh).mean(-1) *
                                1000., np.nan)  # (K, T)
            means = step_means(errors)
            best = np.argmin(np.where(np.isnan(means), np.inf, means), 0)
            result['MPVPE_oracle-step'] = vert_err[best, np.arange(steps)]
            # best of the top-n: per time step, of the n highest-scored
            # hypotheses the one with the lowest MPJPE (the paper's
            # "Ours (best)"); n = 1 is the top-1 prediction
            for n in range(1, min(self.max_top_n, num_hyps) + 1):
                top = order[:n]
                pick = top[np.argmin(
                    np.where(np.isnan(means[top]), np.inf, means[top]), 0)]
                result[f'MPVPE_top{n}'] = vert_err[pick, np.arange(steps)]
            if 'agg_vertices' in pred and agg_root is not None:
                agg_verts = self._get(pred, 'agg_vertices',
                                      'pred_instances')[0] - agg_root
                result['MPVPE_agg'] = np.where(
                    mesh_ok,
                    point_errors(agg_verts, gt_mesh).mean(-1) * 1000., np.nan)

        rate = gt.get('blur_rate', sample.get('blur_rate', np.nan))
        rate = np.nan if rate is None else rate
        result['blur_rate'] = float(np.asarray(_as_numpy(rate)).reshape(-1)[0])
        return result

    def _step_names(self, num_steps: int) -> Sequence[str]:
        if self.step_names is not None:
            if len(self.step_names) != num_steps:
                raise ValueError(
                    f'MultiHypothesisMetric: {len(self.step_names)} '
                    f'step_names {self.step_names} for {num_steps} time '
                    'steps.')
            return self.step_names
        return DEFAULT_STEP_NAMES.get(num_steps,
                                      tuple(f't{t}' for t in range(num_steps)))

    def _summarise(self,
                   results: List[dict],
                   names: Sequence[str],
                   suffix: str = '') -> Dict[str, float]:
        """Average the per-sample values of ``results``."""
        stacks = defaultdict(list)
        for result in results:
            for key, value in result.items():
                if key not in ('steps', 'blur_rate'):
                    stacks[key].append(np.asarray(value, dtype=np.float64))
        metrics = {}
        for key, values in stacks.items():
            stacked = np.stack(values)
            if key in _SCALAR_KEYS:
                metrics[f'{key}{suffix}'] = float(stacked.mean())
                continue
            mask = ~np.isnan(stacked)
            if stacked.ndim == 3:  # (N, T, J) joint errors
                per_step = aggregate_errors(
                    np.nan_to_num(stacked), mask, self.mode)
            else:  # (N, T) per-sample vertex errors
                per_step = masked_mean(np.nan_to_num(stacked), mask, axis=0)
            for name, value in zip(names, per_step):
                if not np.isnan(value):
                    metrics[f'{key}_{name}{suffix}'] = float(value)
        return metrics

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Summarise all samples, and every blur-rate bin when configured.

        Args:
            results (list[dict]): Per-sample dicts from :meth:`process`.

        Returns:
            dict[str, float]: Metric values (see the class docstring).
        """
        if not results:
            raise ValueError('MultiHypothesisMetric: no samples were '
                             'evaluated; check the test dataloader.')
        names = self._step_names(results[0]['steps'])
        metrics = self._summarise(results, names)
        rates = np.array([r['blur_rate'] for r in results])
        if self.blur_rate_bins is not None and np.isfinite(rates).any():
            edges = self.blur_rate_bins
            for lo, hi in zip(edges[:-1], edges[1:]):
                members = np.flatnonzero((rates >= lo) & (rates < hi))
                if not len(members):
                    continue
                tag = f'/blur_{lo:g}-{hi:g}'
                metrics.update(
                    self._summarise([results[i] for i in members], names, tag))
                metrics[f'num_samples{tag}'] = float(len(members))
        MMLogger.get_current_instance().info(
            f'MultiHypothesisMetric ({self.mode} averaging, mm) over '
            f'{len(results)} samples.')
        return metrics
