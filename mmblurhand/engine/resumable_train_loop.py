# Copyright (c) OpenMMLab. All rights reserved.
"""An epoch-based training loop that resumes exactly, even mid-epoch."""
import logging
import random
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop
from torch.utils.data import BatchSampler, DataLoader, Sampler

from mmblurhand.registry import LOOPS

#: message-hub keys (saved in every checkpoint, restored by ``--resume``)
SAMPLER_SEED_KEY = 'train_sampler_seed'
ITERS_PER_EPOCH_KEY = 'train_iters_per_epoch'
SKIP_MODES = ('auto', 'sampler', 'replay')


class _OffsetSampler(Sampler):
    """Yield a sampler's indices from position ``offset`` on.

    ``len()`` stays the full length so that the batch indices the loop
    reports (``[k/len]`` in the log) remain the positions in the epoch.
    """

    def __init__(self, sampler: Sampler, offset: int) -> None:
        self.sampler = sampler
        self.offset = offset

    def __iter__(self):
        iterator = iter(self.sampler)
        for _ in range(self.offset):
            next(iterator, None)
        return iterator

    def __len__(self) -> int:
        return len(self.sampler)

    def __getattr__(self, name):
        return getattr(self.__dict__['sampler'], name)


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """:class:`~mmengine.runner.EpochBasedTrainLoop` with exact resumption.

    MMEngine restores the iteration count, the weights, the optimiser and
    the schedulers on ``--resume``, but an epoch-based loop then restarts
    the interrupted epoch from its first batch (so the run trains more
    iterations than an uninterrupted one, on other batches), and the random
    generators continue from whatever state the set-up left. This loop makes
    a run killed at any iteration and resumed from an iteration checkpoint
    (``CheckpointHook(by_epoch=False, interval=N)``) finish with the same
    iteration count, the same batches and the same random draws, hence the
    same weights and metrics, as a run that was never interrupted:

    - **data order**: the interrupted epoch continues at the first batch the
      checkpoint had not trained on, ``iter - epoch * len(dataloader)``.
      The sampler's shuffling seed and the epoch length are stored in the
      message hub (part of every checkpoint): the seed is restored, and a
      changed epoch length is refused mid-epoch (allowed at an epoch's
      end).
    - **random numbers**: before fetching each batch, Python's ``random``,
      NumPy's global generator and torch's (CPU and CUDA) generators are
      seeded from ``(runner.seed, iteration)``. The random draws of an
      iteration (augmentations in the main process, dropout, sampling in
      the model) depend only on the seed and the iteration number, not on
      what ran before (validation, an earlier resume).

    Ways to reach the resume position (``skip_mode``):

    - ``'sampler'``: start the sampler at sample ``start * batch_size``.
      No data is loaded. Exact with ``num_workers=0``; with workers the
      batches are the same but the workers' own random streams (MMEngine
      seeds them once per epoch) restart, so their augmentations differ.
    - ``'replay'``: load and drop the ``start`` batches already trained on
      (no forward pass). Exact with workers too (unless
      ``persistent_workers=True``, whose streams span epochs), at the cost of
      loading up to one epoch of data once.
    - ``'auto'`` (default): ``'sampler'`` for a loader without workers and
      with a plain ``BatchSampler``, ``'replay'`` otherwise.

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): The training dataloader or its
            config.
        max_epochs (int): Total training epochs.
        val_begin (int): The epoch that begins validating. Defaults to 1.
        val_interval (int): Validation interval (epochs). Defaults to 1.
        dynamic_intervals (list[tuple[int, int]], optional): See
            :class:`~mmengine.runner.EpochBasedTrainLoop`.
        skip_mode (str): ``'auto'``, ``'sampler'`` or ``'replay'``, see
            above. Defaults to ``'auto'``.
        reseed_every_iter (bool): Seed the global random generators from
            ``(seed, iteration)`` before every batch. Without it a mid-epoch
            resume keeps the data order but not the random draws. Defaults
            to ``True``.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 max_epochs: int,
                 val_begin: int = 1,
                 val_interval: int = 1,
                 dynamic_intervals: Optional[List[Tuple[int, int]]] = None,
                 skip_mode: str = 'auto',
                 reseed_every_iter: bool = True) -> None:
        if skip_mode not in SKIP_MODES:
            raise ValueError(f'skip_mode must be one of {SKIP_MODES}, got '
                             f'"{skip_mode}".')
        super().__init__(runner, dataloader, max_epochs, val_begin,
                         val_interval, dynamic_intervals)
        self.skip_mode = skip_mode
        self.reseed_every_iter = reseed_every_iter
        self._resume_batch = 0

    def run(self) -> torch.nn.Module:
        """Restore the position in the epoch and the sampler's seed after a
        resume, then train."""
        self._resume_batch = self._sync_resume_state()
        return super().run()

    def run_epoch(self) -> None:
        """Train on the batches of the current epoch not trained on yet."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        start, self._resume_batch = self._resume_batch, 0
        if start > 0:
            print_log(
                f'Resuming epoch {self._epoch + 1} at batch {start + 1} of '
                f'{len(self.dataloader)} (iteration {self._iter + 1}).',
                logger='current')
        batches, restore = self._open_epoch(start)
        try:
            batch_idx = start
            while True:
                if self.reseed_every_iter:
                    seed_all_generators(self.runner.seed, self._iter)
                data_batch = next(batches, None)
                if data_batch is None:
                    break
                self.run_iter(batch_idx, data_batch)
                batch_idx += 1
        finally:
            restore()
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def _sync_resume_state(self) -> int:
        """After a resume: the number of batches of the current epoch the
        checkpoint had trained on; the sampler seed is restored. Records
        both the epoch length and the seed for this run's checkpoints.

        Returns:
            int: Batches to skip in the current epoch (0 when not resuming
            or resuming at the start of an epoch).

        Raises:
            RuntimeError: When a mid-epoch checkpoint was written with
                another epoch length.
        """
        hub = self.runner.message_hub
        sampler = _seeded_sampler(self.dataloader)
        iters_per_epoch = len(self.dataloader)
        start = 0
        if self._iter > 0:
            saved_len = hub.get_info(ITERS_PER_EPOCH_KEY) or iters_per_epoch
            start = self._iter - self._epoch * saved_len
            if start == saved_len:
                # all batches done, the epoch-end hooks (validation,
                # epoch checkpoint) not yet: they run on an empty epoch
                start = iters_per_epoch
            elif start != 0 and saved_len != iters_per_epoch:
                raise RuntimeError(
                    f'Cannot continue epoch {self._epoch + 1} at iteration '
                    f'{self._iter}: the checkpoint was written with '
                    f'{saved_len} iterations per epoch, this run has '
                    f'{iters_per_epoch} (the dataset, the batch size or the '
                    'number of GPUs changed). Restore those settings, or '
                    'resume from an end-of-epoch checkpoint '
                    '(epoch_N.pth) instead.')
            if not 0 <= start <= iters_per_epoch:
                raise RuntimeError(
                    f'The checkpoint is at iteration {self._iter} of epoch '
                    f'{self._epoch + 1}, which does not fit an epoch of '
                    f'{iters_per_epoch} iterations: was it written by '
                    'another config?')
            saved_seed = hub.get_info(SAMPLER_SEED_KEY)
            if saved_seed is not None and hasattr(sampler, 'seed'):
                sampler.seed = saved_seed
        hub.update_info(ITERS_PER_EPOCH_KEY, iters_per_epoch)
        if hasattr(sampler, 'seed'):
            hub.update_info(SAMPLER_SEED_KEY, sampler.seed)
        return start

    def _open_epoch(self, start: int):
        """An iterator over the epoch's batches from ``start`` on, and a
        function that undoes any change made to the dataloader."""
        loader = self.dataloader
        mode = self._resolve_skip_mode(start)
        if mode == 'sampler':
            batch_sampler = loader.batch_sampler
            original = batch_sampler.sampler
            batch_sampler.sampler = _OffsetSampler(
                original, start * batch_sampler.batch_size)

            def restore():
                batch_sampler.sampler = original

            return iter(loader), restore
        batches = iter(loader)
        for _ in range(start):
            next(batches)
        return batches, lambda: None

    def _resolve_skip_mode(self, start: int) -> str:
        """The skip mode for this epoch (``'none'`` when nothing is
        skipped)."""
        if start == 0:
            return 'none'
        loader = self.dataloader
        plain_batches = (
            isinstance(loader, DataLoader)
            and type(loader.batch_sampler) is BatchSampler)
        mode = self.skip_mode
        if mode == 'auto':
            mode = 'sampler' if (plain_batches
                                 and loader.num_workers == 0) else 'replay'
        if mode == 'sampler' and not plain_batches:
            print_log(
                'skip_mode="sampler" needs a DataLoader with a plain '
                'BatchSampler; replaying the trained batches instead.',
                logger='current',
                level=logging.WARNING)
            mode = 'replay'
        if getattr(loader, 'persistent_workers', False) and \
                loader.num_workers > 0:
            print_log(
                'persistent_workers=True: the data workers\' random streams '
                'span epochs and cannot be restored, so augmentations after '
                'this resume differ from an uninterrupted run.',
                logger='current',
                level=logging.WARNING)
        return mode


def _seeded_sampler(loader) -> Optional[Sampler]:
    """The loader's sampler that shuffles with a ``seed`` (``None`` if
    there is none)."""
    candidates = [getattr(loader, 'sampler', None)]
    candidates.append(
        getattr(getattr(loader, 'batch_sampler', None), 'sampler', None))
    for sampler in candidates:
        if hasattr(sampler, 'seed'):
            return sampler
    return None


def seed_all_generators(seed: int, step: int) -> None:
    """Seed Python's, NumPy's and torch's global generators from
    ``(seed, step)``.

    The seeds come from :class:`numpy.random.SeedSequence`, so neighbouring
    steps get unrelated streams.

    Args:
        seed (int): The run's seed (``runner.seed``).
        step (int): The iteration about to run.
    """
    state = np.random.SeedSequence([int(seed) % 2**63, int(step)])
    words = state.generate_state(4, dtype=np.uint32)
    random.seed(int(words[0]) << 32 | int(words[1]))
    np.random.seed(words[:2])
    torch.manual_seed(int(words[2]) << 31 | int(words[3]) >> 1)


def select_train_loop(cfg) -> None:
    """Train epoch-based configs with :class:`ResumableEpochBasedTrainLoop`.

    ``tools/train.py`` calls it on every config. MMEngine refuses a
    ``train_cfg`` holding both ``type`` and ``by_epoch``, and configs
    (``configs/_base_/default_runtime.py`` and MMPose-style children) write
    ``by_epoch``. The rule:

    - no ``type``, ``by_epoch=True``: ``type='ResumableEpochBasedTrainLoop'``
      replaces ``by_epoch`` (exact mid-epoch resume);
    - no ``type``, ``by_epoch=False``: unchanged (MMEngine's
      ``IterBasedTrainLoop``);
    - a ``type`` (e.g. ``--cfg-options train_cfg.type=EpochBasedTrainLoop``
      to opt out): the type decides, ``by_epoch`` is dropped.

    Args:
        cfg (Config): The full config; ``cfg.train_cfg`` is changed in place.
    """
    train_cfg = cfg.get('train_cfg')
    if not train_cfg:
        return
    if 'type' in train_cfg:
        train_cfg.pop('by_epoch', None)
    elif train_cfg.get('by_epoch', False):
        train_cfg.pop('by_epoch')
        train_cfg['type'] = ResumableEpochBasedTrainLoop.__name__
