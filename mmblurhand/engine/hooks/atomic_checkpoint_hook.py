# Copyright (c) OpenMMLab. All rights reserved.
"""A ``CheckpointHook`` that never loses a checkpoint already written."""
from typing import Any, List

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from mmblurhand.engine.checkpoint_io import atomic_write_bytes
from mmblurhand.registry import HOOKS


class _DeferredRemovals:
    """Wrap a file backend so that ``remove``/``rmtree`` only queue paths.

    MMEngine's :class:`CheckpointHook` deletes the previous best checkpoint
    *before* it saves the new one; through this proxy the deletion happens
    after the new file is complete.
    """

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self.pending: List[str] = []

    def remove(self, filepath: str) -> None:
        self.pending.append(str(filepath))

    def rmtree(self, dir_path: str) -> None:
        self.pending.append(str(dir_path))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """:class:`~mmengine.hooks.CheckpointHook` that keeps what is written.

    Same arguments and file names as MMEngine's hook. Three differences make
    a run killed at any moment (SIGKILL, out-of-memory, pre-emption) leave
    every earlier checkpoint readable:

    - checkpoint files are written to a temporary file and renamed into
      place (:mod:`mmblurhand.engine.checkpoint_io`), so no truncated
      ``epoch_N.pth`` / ``iter_N.pth`` ever exists;
    - outdated checkpoints (``max_keep_ckpts``) and the previous best
      checkpoint (``save_best``) are deleted only *after* the new file is
      complete (MMEngine deletes first, so a kill during the save of the
      only kept checkpoint leaves none);
    - ``work_dir/last_checkpoint``, which ``--resume`` reads, is rewritten
      atomically and only after the checkpoint it names exists.
    """

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        """Save ``step``'s checkpoint, point ``last_checkpoint`` at it, then
        delete outdated checkpoints."""
        outdated = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1]
                                            == step):
            # Both `_save_checkpoint` and `_save_best_checkpoint` may save
            # the same step; it is kept only once.
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)

        if not is_main_process():
            return
        atomic_write_bytes(
            str(self.last_ckpt).encode('utf-8'),
            self.file_backend.join_path(runner.work_dir, 'last_checkpoint'))
        for old_step in outdated:
            path = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(old_step))
            self._remove(path)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        """MMEngine's best-checkpoint logic, with the previous best file
        deleted after the new one is saved."""
        backend = self.file_backend
        deferred = _DeferredRemovals(backend)
        self.file_backend = deferred
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            self.file_backend = backend
        keep = {str(self.last_ckpt), str(getattr(self, 'best_ckpt_path', ''))}
        keep.update(
            str(p) for p in getattr(self, 'best_ckpt_path_dict', {}).values())
        for path in deferred.pending:
            if path not in keep:
                self._remove(path)

    def _remove(self, path: str) -> None:
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):
            # checkpoints saved by DeepSpeed are directories
            self.file_backend.rmtree(path)
