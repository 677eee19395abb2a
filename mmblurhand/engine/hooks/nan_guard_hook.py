# Copyright (c) OpenMMLab. All rights reserved.
"""Stop training at the first non-finite loss, before anything is saved."""
import math
import os.path as osp
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.dist import all_gather, get_world_size
from mmengine.hooks import Hook

from mmblurhand.registry import HOOKS

DATA_BATCH = Optional[dict]


class NonFiniteLossError(RuntimeError):
    """A training loss became NaN or infinite."""


@HOOKS.register_module()
class NaNGuardHook(Hook):
    """Stop training with a clear message when a loss is NaN or infinite.

    After every training iteration the hook checks the loss terms the model
    returned (every key of ``outputs`` containing ``'loss'``, the same rule
    MMEngine's ``parse_losses`` uses to sum them). When one is not finite it
    raises :class:`NonFiniteLossError`, naming the iteration, the epoch, the
    offending terms and ranks, the images of the batch and the last good
    checkpoint.

    The hook runs with priority ``ABOVE_NORMAL``: before the
    ``CheckpointHook`` (``VERY_LOW``), ``EMAHook`` and the schedulers of the
    same iteration, so the corrupted weights of that iteration are never
    written and the last checkpoint on disk stays the last good one. In
    distributed training the flags are gathered from every rank, so all ranks
    stop at the same iteration with the same message instead of hanging in
    the next collective.

    Args:
        interval (int): Check every ``interval`` iterations. Defaults to 1.
        keys (Sequence[str], optional): The ``outputs`` keys to check.
            Defaults to ``None``: every key containing ``'loss'``.
        max_paths (int): How many image paths of the failing batch the
            message lists. Defaults to 4.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self,
                 interval: int = 1,
                 keys: Optional[Sequence[str]] = None,
                 max_paths: int = 4) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}.')
        self.interval = interval
        self.keys = None if keys is None else list(keys)
        self.max_paths = max_paths

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[Dict] = None) -> None:
        """Check the losses of the iteration that just finished."""
        if not outputs or not self.every_n_train_iters(runner,
                                                       self.interval):
            return
        names = self._loss_names(outputs)
        if not names:
            return
        local = torch.tensor([
            0. if _is_finite(outputs[name]) else 1. for name in names
        ])
        if get_world_size() > 1:
            flags = torch.stack([f.cpu() for f in all_gather(local)])
        else:
            flags = local[None]
        if not flags.any():
            return
        raise NonFiniteLossError(
            self._message(runner, batch_idx, data_batch, outputs, names,
                          flags))

    def _loss_names(self, outputs: Dict) -> List[str]:
        if self.keys is not None:
            missing = [k for k in self.keys if k not in outputs]
            if missing:
                raise KeyError(
                    f'NaNGuardHook: keys {missing} are not in the model\'s '
                    f'training outputs {sorted(outputs)}; fix `keys` of '
                    '`default_hooks.nan_guard`.')
            return list(self.keys)
        # sorted: the same order on every rank
        return sorted(k for k in outputs if 'loss' in k)

    def _message(self, runner, batch_idx: int, data_batch: DATA_BATCH,
                 outputs: Dict, names: List[str],
                 flags: torch.Tensor) -> str:
        bad = []
        for j, name in enumerate(names):
            ranks = flags[:, j].nonzero().flatten().tolist()
            if not ranks:
                continue
            value = outputs[name]
            value = value.detach().float().mean().item() if isinstance(
                value, torch.Tensor) else float(value)
            where = f' on rank {ranks}' if flags.shape[0] > 1 else ''
            bad.append(f'{name}={value}{where}')
        lines = [
            f'Non-finite loss at iteration {runner.iter + 1} (epoch '
            f'{runner.epoch + 1}, batch {batch_idx + 1}): '
            f'{", ".join(bad)}.',
            'Training stopped before anything of this iteration was saved.',
            f'Last good checkpoint: {self._last_checkpoint(runner)}.',
        ]
        paths = _image_paths(data_batch)[:self.max_paths]
        if paths:
            lines.append(f'Images of this batch (this rank): {paths}.')
        lines.append(
            'Check those images and annotations, lower the learning rate or '
            'clip gradients (`optim_wrapper.clip_grad=dict(max_norm=1.0)`), '
            'then continue from the last checkpoint with `--resume`.')
        return '\n'.join(lines)

    @staticmethod
    def _last_checkpoint(runner) -> str:
        last = runner.message_hub.get_info('last_ckpt')
        if last is None:
            pointer = osp.join(runner.work_dir, 'last_checkpoint')
            if osp.isfile(pointer):
                with open(pointer) as f:
                    last = f.read().strip() or None
        if last is None:
            return 'none written yet'
        return str(last)


def _is_finite(value) -> bool:
    if isinstance(value, torch.Tensor):
        return bool(torch.isfinite(value.detach()).all())
    return math.isfinite(float(value))


def _image_paths(data_batch: DATA_BATCH) -> List[str]:
    """``img_path`` of every sample of a batch, where the samples have
    one."""
    if not isinstance(data_batch, dict):
        return []
    paths = []
    for sample in data_batch.get('data_samples') or []:
        metainfo = getattr(sample, 'metainfo', None)
        if metainfo is None and isinstance(sample, dict):
            metainfo = sample
        path = (metainfo or {}).get('img_path')
        if path is not None:
            paths.append(str(path))
    return paths
