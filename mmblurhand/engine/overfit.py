# Copyright (c) OpenMMLab. All rights reserved.
"""Overfitting check: can a model, as configured, fit a few training images?

A model that cannot drive the error on a handful of training images (no
augmentation, evaluated on the same images) to near zero has a bug: a module
that gradients never reach, a loss on the wrong target, a broken
coordinate convention. :func:`run_overfit_check` trains a config's model on
the first ``num_images`` training images with the *test* pipeline and
evaluates it on them every ``eval_interval`` iterations with the config's
own evaluator, until a metric reaches its target. Used by
``tools/analysis_tools/overfit_check.py`` and the test suite.
"""
import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.evaluator import Evaluator
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader

from mmblurhand.registry import DATASETS, MODELS

#: Default criterion per model type: (metric key, target, rule). For the
#: generator the metric is the best of K with one hypothesis per sequence;
#: for the selector the fraction of images whose top-1 is the true best
#: hypothesis (the evaluator's ``hit_top_n`` is set to 1).
DEFAULT_CRITERIA = {
    'BlurHandNet': ('MPJPE_middle', 3.0, 'less'),
    'MHBlurHandNet': ('MPJPE_oracle-seq_middle', 3.0, 'less'),
    'MHSelector': ('top1_hit', 0.9, 'greater'),
}


@dataclass
class OverfitResult:
    """What :func:`run_overfit_check` measured.

    Attributes:
        metric (str): The criterion's metric key.
        target (float): Its target.
        rule (str): ``'less'`` or ``'greater'``.
        reached (bool): Whether the target was reached.
        iterations (int): Iterations trained.
        seconds (float): Wall time of the training and evaluations.
        curve (list[dict]): One row per evaluation: ``iter``, ``loss`` (the
            mean training loss since the previous row) and every metric.
        frozen (list[str]): Modules kept frozen (for the negative checks).
        stuck_modules (list[str]): Submodules (two name levels, e.g.
            ``head.ktformer``) with trainable parameters of which none
            changed during training: gradients never reached them.
            Parameters the model itself freezes (the selector's generator)
            are not counted; those frozen through ``freeze`` are.
        model (nn.Module): The trained model.
    """
    metric: str
    target: float
    rule: str
    reached: bool = False
    iterations: int = 0
    seconds: float = 0.0
    curve: List[Dict[str, float]] = field(default_factory=list)
    frozen: List[str] = field(default_factory=list)
    stuck_modules: List[str] = field(default_factory=list)
    model: Optional[torch.nn.Module] = field(default=None, repr=False)

    @property
    def passed(self) -> bool:
        """bool: Target reached and gradients reached every module."""
        return self.reached and not self.stuck_modules

    @property
    def final(self) -> float:
        """float: The criterion's metric at the last evaluation."""
        return self.curve[-1][self.metric] if self.curve else math.nan


def _met(value: float, target: float, rule: str) -> bool:
    if rule == 'less':
        return value < target
    return value >= target


def freeze_modules(model: torch.nn.Module, names: Sequence[str]) -> None:
    """Stop gradients to the named submodules (e.g. ``'neck'``).

    Args:
        model (nn.Module): The model.
        names (Sequence[str]): Dotted submodule names.

    Raises:
        KeyError: When a name is not a submodule, listing the top-level
            ones.
    """
    modules = dict(model.named_modules())
    for name in names:
        if name not in modules:
            top = sorted(n for n in modules if n and '.' not in n)
            raise KeyError(f'freeze: the model has no submodule "{name}"; '
                           f'top-level ones: {top}.')
        for param in modules[name].parameters():
            param.requires_grad_(False)


def stuck_modules(model: torch.nn.Module,
                  initial: Dict[str, torch.Tensor],
                  depth: int = 2) -> List[str]:
    """Submodules none of whose parameters moved from ``initial``.

    Args:
        model (nn.Module): The trained model.
        initial (dict[str, Tensor]): Parameter values before training, for
            the parameters that should train.
        depth (int): Name levels that make a group (2: ``head.ktformer``).

    Returns:
        list[str]: Sorted group names whose parameters all kept their
        initial values.
    """
    moved: Dict[str, bool] = {}
    for name, param in model.named_parameters():
        if name not in initial:
            continue
        group = '.'.join(name.split('.')[:depth])
        changed = not torch.equal(param.detach(), initial[name])
        moved[group] = moved.get(group, False) or changed
    return sorted(group for group, ok in moved.items() if not ok)


def build_overfit_dataset(cfg: Config, num_images: int):
    """The first ``num_images`` training images with the test pipeline."""
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.pipeline = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
    dataset_cfg.indices = int(num_images)
    dataset_cfg.test_mode = False
    return DATASETS.build(dataset_cfg)


def run_overfit_check(cfg: Config,
                      num_images: int = 32,
                      max_iters: int = 2000,
                      eval_interval: int = 50,
                      batch_size: Optional[int] = None,
                      metric: Optional[str] = None,
                      target: Optional[float] = None,
                      rule: Optional[str] = None,
                      freeze: Sequence[str] = (),
                      seed: int = 0,
                      lr_decay_at: Optional[float] = 0.6,
                      progress: Optional[Callable[[Dict], None]] = None
                      ) -> OverfitResult:
    """Train on ``num_images`` training images until a metric reaches its
    target on them.

    Args:
        cfg (Config): A model config (``model``, ``train_dataloader``,
            ``test_dataloader``, ``optim_wrapper``, ``val_evaluator``).
            Schedulers are not used: the learning rate stays at the
            optimiser's.
        num_images (int): Training images used (the first ones).
        max_iters (int): Iteration budget.
        eval_interval (int): Iterations between evaluations.
        batch_size (int, optional): Defaults to the config's, capped at
            ``num_images``.
        metric, target, rule: The criterion; defaults from
            :data:`DEFAULT_CRITERIA` by ``cfg.model.type``.
        freeze (Sequence[str]): Submodules to freeze (negative checks).
        seed (int): Seed of the initialisation and the data order.
        lr_decay_at (float, optional): Multiply the learning rate by 0.1
            once, after this fraction of ``max_iters`` (the config's
            schedulers are not used); ``None`` keeps it constant. Without a
            decay Adam's steps keep the error at a noise floor of a few mm.
        progress (callable, optional): Called with every curve row.

    Returns:
        OverfitResult: The curve and whether the target was reached.
    """
    model_type = cfg.model.type
    default = DEFAULT_CRITERIA.get(model_type)
    if default is None and (metric is None or target is None or
                            rule is None):
        raise ValueError(
            f'overfit check: no default criterion for model type '
            f'"{model_type}"; give metric, target and rule '
            f'(known types: {sorted(DEFAULT_CRITERIA)}).')
    metric = metric or default[0]
    target = default[1] if target is None else float(target)
    rule = rule or default[2]
    if rule not in ('less', 'greater'):
        raise ValueError(f'overfit check: rule must be "less" or "greater", '
                         f'got "{rule}".')
    init_default_scope(cfg.get('default_scope', 'mmblurhand'))
    torch.manual_seed(seed)
    dataset = build_overfit_dataset(cfg, num_images)
    if len(dataset) == 0:
        raise ValueError('overfit check: the training set is empty; check '
                         'train_dataloader.dataset.data_root.')
    batch_size = min(batch_size or cfg.train_dataloader.batch_size,
                     len(dataset))
    generator = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        collate_fn=pseudo_collate,
        generator=generator)
    eval_loader = DataLoader(
        dataset, batch_size=batch_size, collate_fn=pseudo_collate)

    model = MODELS.build(cfg.model)
    model.init_weights()
    # What the model itself trains, before the requested freezing.
    initial = {
        name: param.detach().clone()
        for name, param in model.named_parameters() if param.requires_grad
    }
    freeze_modules(model, freeze)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    evaluator_cfg = copy.deepcopy(cfg.val_evaluator)
    if model_type == 'MHSelector' and metric == 'top1_hit':
        evaluator_cfg['hit_top_n'] = 1
    evaluator = Evaluator(evaluator_cfg)
    evaluator.dataset_meta = dataset.metainfo

    def evaluate() -> Dict[str, float]:
        model.eval()
        with torch.no_grad():
            for batch in eval_loader:
                outputs = model.val_step(batch)
                evaluator.process(data_samples=outputs, data_batch=batch)
        model.train()
        return {
            k: float(v)
            for k, v in evaluator.evaluate(len(dataset)).items()
        }

    result = OverfitResult(
        metric=metric, target=target, rule=rule, frozen=list(freeze))
    start = time.perf_counter()
    model.train()
    it, losses = 0, []
    while it < max_iters:
        for batch in train_loader:
            log_vars = model.train_step(batch, optim_wrapper)
            losses.append(float(log_vars['loss'].detach()))
            it += 1
            if lr_decay_at is not None and it == int(lr_decay_at * max_iters):
                for group in optim_wrapper.param_groups:
                    group['lr'] *= 0.1
            if it % eval_interval == 0 or it == max_iters:
                row = dict(iter=it, loss=sum(losses) / len(losses))
                row.update(evaluate())
                losses = []
                if metric not in row:
                    raise KeyError(
                        f'overfit check: the evaluator gives no "{metric}"; '
                        f'it gives {sorted(row)}.')
                result.curve.append(row)
                if progress is not None:
                    progress(row)
                if _met(row[metric], target, rule):
                    result.reached = True
            if result.reached or it >= max_iters:
                break
        if result.reached:
            break
    result.iterations = it
    result.stuck_modules = stuck_modules(model, initial)
    result.seconds = time.perf_counter() - start
    result.model = model
    return result
