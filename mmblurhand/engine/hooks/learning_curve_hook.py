# Copyright (c) OpenMMLab. All rights reserved.
"""Learning curves: train-subset metrics and the Unfolder's 2D error."""
import copy
import json
import os.path as osp
from typing import Dict, Optional

import torch
from mmengine.dist import is_main_process
from mmengine.evaluator import Evaluator
from mmengine.hooks import Hook

from mmblurhand.registry import HOOKS
from ...models.heads.blurhand_head import BlurHandHead
from ...models.losses.temporal_order_invariant_loss import \
    apply_temporal_order


def unfolder_2d_errors(model: torch.nn.Module, loader) -> Dict[str, float]:
    """Mean distance of the Unfolder's 2D joints to the ground truth.

    Distances are in normalised crop units (1 = the crop side). For models
    with an order-invariant Unfolder (BlurHandNet) each sample's time order
    is the better of kept and reversed, as in training; the middle step is
    the same in both orders.

    Args:
        model (nn.Module): A BlurHandNet-family model (``extract_feat``
            returns an :class:`UnfolderOutput`).
        loader (Iterable): Batches of the model's test pipeline.

    Returns:
        dict[str, float]: ``unfolder_2d_middle`` (middle step),
        ``unfolder_2d_all`` (every step) and ``centre_2d_middle``, the
        error of always predicting the crop centre, for scale.
    """
    sums = torch.zeros(3, dtype=torch.float64)
    counts = torch.zeros(2, dtype=torch.float64)
    order_invariant = type(model).__name__ == 'BlurHandNet'
    model.eval()
    with torch.no_grad():
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            joints = model.extract_feat(data['inputs']).joints[..., :2]
            gt = BlurHandHead.gather_targets(
                data['data_samples'],
                keys=('joints_2d', 'joints_2d_valid'),
                device=joints.device)
            target = gt['joints_2d'][..., :2]
            valid = (gt['joints_2d_valid'] > 0).to(joints.dtype)
            err = (joints - target).norm(dim=-1) * valid  # (B, T, J)
            if order_invariant:
                rev = (apply_temporal_order(
                    joints, torch.zeros(joints.shape[0], dtype=torch.bool,
                                        device=joints.device)) -
                       target).norm(dim=-1) * valid
                keep = err.sum((1, 2)) <= rev.sum((1, 2))
                err = torch.where(keep[:, None, None], err, rev)
            mid = joints.shape[1] // 2
            centre = (target[:, mid] - 0.5).norm(dim=-1) * valid[:, mid]
            sums += torch.stack([
                err[:, mid].sum(),
                err.sum(), centre.sum()
            ]).double().cpu()
            counts += torch.stack([valid[:, mid].sum(),
                                   valid.sum()]).double().cpu()
    counts = counts.clamp(min=1)
    return dict(
        unfolder_2d_middle=float(sums[0] / counts[0]),
        unfolder_2d_all=float(sums[1] / counts[1]),
        centre_2d_middle=float(sums[2] / counts[0]))


@HOOKS.register_module()
class LearningCurveHook(Hook):
    """Log train-set metrics and the Unfolder's 2D error at every validation.

    After each validation the hook evaluates the model on the first
    ``num_train_samples`` training images (with the validation pipeline, so
    no augmentation) with the validation evaluator, and measures the
    Unfolder's 2D error (:func:`unfolder_2d_errors`) on them and on the
    validation set. The values go to the message hub as ``val/train_<key>``
    and ``val/<key>`` (so they appear in the logs and ``scalars.json`` next
    to the validation metrics) and, one JSON line per validation with the
    validation metrics too, to ``<work_dir>/learning_curve.jsonl``, which
    ``tools/analysis_tools/plot_learning_curves.py`` draws.

    Args:
        num_train_samples (int): Training images evaluated. Defaults to
            256.
        batch_size (int, optional): Defaults to the validation loader's.
    """
    priority = 'NORMAL'

    def __init__(self, num_train_samples: int = 256,
                 batch_size: Optional[int] = None):
        if num_train_samples < 1:
            raise ValueError('LearningCurveHook: `num_train_samples` must be '
                             f'positive, got {num_train_samples}.')
        self.num_train_samples = num_train_samples
        self.batch_size = batch_size
        self._train_loader = None

    def _build_train_loader(self, runner):
        from mmengine.runner import Runner
        val_cfg = copy.deepcopy(runner.cfg.val_dataloader)
        dataset = copy.deepcopy(runner.cfg.train_dataloader.dataset)
        while 'datasets' in dataset:  # ConcatDataset: its first part
            dataset = dataset.datasets[0]
        dataset.pipeline = val_cfg.dataset.pipeline
        dataset.indices = self.num_train_samples
        dataset.test_mode = False
        val_cfg.dataset = dataset
        val_cfg.sampler = dict(type='DefaultSampler', shuffle=False)
        if self.batch_size:
            val_cfg.batch_size = self.batch_size
        val_cfg.num_workers = 0
        val_cfg.persistent_workers = False
        return Runner.build_dataloader(val_cfg)

    def after_val_epoch(self, runner, metrics: Optional[Dict] = None):
        model = runner.model
        model = getattr(model, 'module', model)
        if self._train_loader is None:
            self._train_loader = self._build_train_loader(runner)
        evaluator = Evaluator(copy.deepcopy(runner.cfg.val_evaluator))
        evaluator.dataset_meta = self._train_loader.dataset.metainfo
        was_training = model.training
        model.eval()
        with torch.no_grad():
            for batch in self._train_loader:
                outputs = model.val_step(batch)
                evaluator.process(data_samples=outputs, data_batch=batch)
        train_metrics = evaluator.evaluate(len(self._train_loader.dataset))
        train_metrics.update(unfolder_2d_errors(model, self._train_loader))
        val_2d = unfolder_2d_errors(model, runner.val_dataloader)
        model.train(was_training)
        hub = runner.message_hub
        row = dict(epoch=runner.epoch, iter=runner.iter)
        for key, value in (metrics or {}).items():
            row[key] = float(value)
        for key, value in val_2d.items():
            hub.update_scalar(f'val/{key}', value)
            row[key] = value
        for key, value in train_metrics.items():
            hub.update_scalar(f'val/train_{key}', float(value))
            row[f'train_{key}'] = float(value)
        if is_main_process():
            with open(osp.join(runner.work_dir, 'learning_curve.jsonl'),
                      'a') as f:
                f.write(json.dumps(row) + '\n')
        runner.logger.info(
            'learning curve: ' + ', '.join(
                f'{k} {v:.4g}' for k, v in row.items()
                if '/' not in k and k.startswith((
                    'train_MPJPE', 'train_PA', 'unfolder', 'train_unfolder',
                    'train_top1'))))
