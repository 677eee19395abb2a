# Copyright (c) OpenMMLab. All rights reserved.
"""MPJPE / PA-MPJPE / MPVPE of hand-mesh sequences, as BlurHandNet reports."""
import math
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmblurhand.registry import METRICS
from ..functional import (AGGREGATION_MODES, aggregate_errors,
                          apply_temporal_order, choose_temporal_order,
                          masked_mean, point_errors, procrustes_align)

DEFAULT_STEP_NAMES = {1: ('middle', ), 3: ('past', 'middle', 'future')}


def _as_numpy(value) -> np.ndarray:
    """Tensors (CPU or not) and arrays to numpy."""
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


@METRICS.register_module()
class BlurHandMetric(BaseMetric):
    """Joint and mesh errors of T-step hand sequences (mm).

    Reads ``pred_instances.joints_cam`` ``(1, T, J, 3)`` and
    ``pred_instances.vertices`` ``(1, T, V, 3)`` (metres, original hand
    frame, i.e. left hands mirrored back), and from ``gt_instances``
    ``joints_cam``, ``joints_cam_valid``, and when present ``mesh_cam``,
    ``mesh_valid`` and ``blur_rate`` (see ``docs/data_contract.md``).

    Per sample:

    1. Joints are made root-relative at the wrist (``root_index``); the
       predicted mesh is moved by the same offset (the contract already
       gives it root-relative at the predicted wrist), the GT mesh is used
       as given (root-relative at the MANO wrist).
    2. **Order choice** (official protocol): the predicted sequence is
       compared with the GT as is and time-reversed (past <-> future); the
       order with the smaller sum over steps of the mean error over valid
       joints is kept, for joints and mesh alike. A step without valid
       joints adds nothing (the official code's NaN comparison always
       swapped then).
    3. Per-joint errors for MPJPE; PA-MPJPE after a similarity Procrustes
       alignment (scale, rotation, translation) fitted per step on the
       valid joints; per-step mean vertex error for MPVPE where a GT mesh
       exists.

    **Averaging** (``mode``): ``'per_joint'`` (default, the official
    BlurHandNet evaluation) averages each joint over the samples where it is
    valid, then averages the joints; ``'pooled'`` averages all valid
    (sample, joint) pairs. MPVPE is the same either way (a mesh is valid or
    not as a whole). Only valid joints count in both.

    Reported keys (mm), with step names ``past/middle/future`` for T=3
    (``step_names`` otherwise, default ``t0, t1, ...``):
    ``MPJPE_<step>``, ``MPJPE_mean`` (mean of the steps), ``PA-MPJPE_<step>``,
    ``MPVPE_<step>`` (when any GT mesh is valid), ``order_kept`` (fraction
    of samples whose predicted order was kept), and for every blur-rate bin
    ``[lo, hi)`` holding samples (when the data carries blur rates):
    ``MPJPE_<step>/blur_<lo>-<hi>``, ``PA-MPJPE_middle/blur_<lo>-<hi>``,
    ``MPVPE_middle/blur_<lo>-<hi>`` and ``num_samples/blur_<lo>-<hi>``.

    Args:
        mode (str): ``'per_joint'`` or ``'pooled'``. Defaults to
            ``'per_joint'``.
        root_index (int): Wrist index in the joints. Defaults to 0.
        step_names (Sequence[str], optional): Names of the T steps.
        blur_rate_bins (Sequence[float], optional): Increasing bin edges
            for the blur-rate breakdown; ``None`` disables it. Defaults to
            ``(0, 0.2, 0.4, 0.6, 0.8, inf)``.
        collect_device (str): Device for collecting results across ranks.
            Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 mode: str = 'per_joint',
                 root_index: int = 0,
                 step_names: Optional[Sequence[str]] = None,
                 blur_rate_bins: Optional[Sequence[float]] = (0., 0.2, 0.4,
                                                              0.6, 0.8,
                                                              math.inf),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if mode not in AGGREGATION_MODES:
            raise ValueError(f'BlurHandMetric: `mode` must be one of '
                             f'{AGGREGATION_MODES}, got {mode!r}.')
        if blur_rate_bins is not None and (
                len(blur_rate_bins) < 2
                or np.any(np.diff(np.asarray(blur_rate_bins)) <= 0)):
            raise ValueError('BlurHandMetric: `blur_rate_bins` must be at '
                             'least two increasing edges, got '
                             f'{blur_rate_bins}.')
        self.mode = mode
        self.root_index = root_index
        self.step_names = tuple(step_names) if step_names else None
        self.blur_rate_bins = (
            tuple(float(b) for b in blur_rate_bins)
            if blur_rate_bins is not None else None)

    @staticmethod
    def _get(container: dict, key: str, where: str) -> np.ndarray:
        if key not in container:
            raise KeyError(
                f'BlurHandMetric: `{where}.{key}` is missing; the model must '
                'fill pred_instances and the pipeline gt_instances as in '
                'docs/data_contract.md.')
        return _as_numpy(container[key])

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Compute per-sample errors of one batch and store them.

        Args:
            data_batch: Unused.
            data_samples (Sequence[dict]): Data samples (as dicts) with
                ``pred_instances`` and ``gt_instances``.
        """
        if not data_samples:
            return
        pred_j, gt_j, valid, pred_v, gt_v, mesh_valid, blur = (
            [], [], [], [], [], [], [])
        has_mesh = True
        for sample in data_samples:
            pred = sample['pred_instances']
            gt = sample['gt_instances']
            pred_j.append(self._get(pred, 'joints_cam', 'pred_instances')[0])
            gt_j.append(self._get(gt, 'joints_cam', 'gt_instances')[0])
            valid.append(
                self._get(gt, 'joints_cam_valid', 'gt_instances')[0])
            rate = gt.get('blur_rate', sample.get('blur_rate', np.nan))
            blur.append(float(np.asarray(_as_numpy(rate)).reshape(-1)[0]))
            if has_mesh and 'mesh_cam' in gt and 'vertices' in pred:
                pred_v.append(_as_numpy(pred['vertices'])[0])
                gt_v.append(_as_numpy(gt['mesh_cam'])[0])
                mesh_valid.append(
                    _as_numpy(
                        gt.get('mesh_valid',
                               np.ones(gt_v[-1].shape[0])))[0])
            else:
                has_mesh = False
        pred_j = np.stack(pred_j).astype(np.float64)
        gt_j = np.stack(gt_j).astype(np.float64)
        valid = np.stack(valid) > 0
        if pred_j.shape != gt_j.shape:
            raise ValueError(
                'BlurHandMetric: predicted joints '
                f'{pred_j.shape[1:]} and GT joints {gt_j.shape[1:]} '
                'differ in shape (T, J, 3).')
        root = self.root_index
        pred_root = pred_j[..., root:root + 1, :]
        pred_j = pred_j - pred_root
        gt_j = gt_j - gt_j[..., root:root + 1, :]

        in_order = choose_temporal_order(pred_j, gt_j, valid)
        pred_j = apply_temporal_order(pred_j, in_order, time_axis=1)
        joint_err = point_errors(pred_j, gt_j) * 1000.
        aligned = procrustes_align(pred_j, gt_j, valid)
        pa_err = point_errors(aligned, gt_j) * 1000.

        mesh_err = mesh_ok = None
        if has_mesh:
            pred_v = np.stack(pred_v).astype(np.float64) - pred_root
            pred_v = apply_temporal_order(pred_v, in_order, time_axis=1)
            gt_v = np.stack(gt_v).astype(np.float64)
            mesh_ok = np.stack(mesh_valid) > 0  # (B, T)
            mesh_err = point_errors(pred_v, gt_v).mean(-1) * 1000.

        for i in range(len(data_samples)):
            self.results.append(
                dict(
                    joint_err=joint_err[i].astype(np.float32),
                    pa_err=pa_err[i].astype(np.float32),
                    valid=valid[i],
                    mesh_err=None if mesh_err is None else
                    mesh_err[i].astype(np.float32),
                    mesh_valid=None if mesh_ok is None else mesh_ok[i],
                    in_order=bool(in_order[i]),
                    blur_rate=blur[i]))

    def _step_names(self, num_steps: int) -> Sequence[str]:
        if self.step_names is not None:
            if len(self.step_names) != num_steps:
                raise ValueError(
                    f'BlurHandMetric: {len(self.step_names)} step_names '
                    f'{self.step_names} for {num_steps} time steps.')
            return self.step_names
        return DEFAULT_STEP_NAMES.get(
            num_steps, tuple(f't{t}' for t in range(num_steps)))

    def _summarise(self, results: List[dict], names: Sequence[str],
                   suffix: str = '') -> Dict[str, float]:
        joint_err = np.stack([r['joint_err'] for r in results])
        pa_err = np.stack([r['pa_err'] for r in results])
        valid = np.stack([r['valid'] for r in results])
        mpjpe = aggregate_errors(joint_err, valid, self.mode)  # (T,)
        pa_mpjpe = aggregate_errors(pa_err, valid, self.mode)
        metrics = {}
        for t, name in enumerate(names):
            metrics[f'MPJPE_{name}{suffix}'] = float(mpjpe[t])
        if not suffix:
            metrics['MPJPE_mean'] = float(np.nanmean(mpjpe)) if np.any(
                ~np.isnan(mpjpe)) else float('nan')
        for t, name in enumerate(names):
            if suffix and t != len(names) // 2:
                continue
            metrics[f'PA-MPJPE_{name}{suffix}'] = float(pa_mpjpe[t])
        with_mesh = [r for r in results if r['mesh_err'] is not None]
        if with_mesh:
            mesh_err = np.stack([r['mesh_err'] for r in with_mesh])
            mesh_ok = np.stack([r['mesh_valid'] for r in with_mesh])
            if mesh_ok.any():
                mpvpe = masked_mean(mesh_err, mesh_ok, axis=0)
                for t, name in enumerate(names):
                    if suffix and t != len(names) // 2:
                        continue
                    metrics[f'MPVPE_{name}{suffix}'] = float(mpvpe[t])
        return metrics

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Average the stored per-sample errors.

        Args:
            results (list[dict]): What :meth:`process` stored.

        Returns:
            dict[str, float]: See the class docstring.
        """
        logger = MMLogger.get_current_instance()
        if not results:
            raise ValueError('BlurHandMetric: no results to evaluate; the '
                             'evaluation dataset is empty.')
        names = self._step_names(results[0]['joint_err'].shape[0])
        metrics = self._summarise(results, names)
        metrics['order_kept'] = float(
            np.mean([r['in_order'] for r in results]))
        rates = np.array([r['blur_rate'] for r in results])
        if self.blur_rate_bins is not None and np.isfinite(rates).any():
            edges = self.blur_rate_bins
            for lo, hi in zip(edges[:-1], edges[1:]):
                members = np.flatnonzero((rates >= lo) & (rates < hi))
                if not len(members):
                    continue
                tag = f'/blur_{lo:g}-{hi:g}'
                metrics.update(
                    self._summarise([results[i] for i in members], names,
                                    tag))
                metrics[f'num_samples{tag}'] = float(len(members))
        logger.info(f'BlurHandMetric ({self.mode} averaging, mm) over '
                    f'{len(results)} samples.')
        return metrics
