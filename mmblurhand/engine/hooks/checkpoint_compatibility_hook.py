# Copyright (c) OpenMMLab. All rights reserved.
"""Refuse (or warn about) a checkpoint that does not fit the config."""
import logging
from typing import Sequence

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop

from mmblurhand.engine.checkpoint_check import (CheckpointMismatchError,
                                                mismatch_report,
                                                settings_report)
from mmblurhand.registry import HOOKS

ACTIONS = ('error', 'warn', 'ignore')

_ADVICE = {
    'resume': ('`--resume` continues the run the checkpoint came from: use '
               'the config it was trained with (stored in the checkpoint, '
               '`mmblurhand.utils.load_checkpoint_file(path)'
               "['meta']['cfg']`). To start a new run from these weights, "
               'use `load_from=PATH` without `--resume`.'),
    'test': ('Evaluate it with the config it was trained with (stored in '
             "the checkpoint, `mmblurhand.utils.load_checkpoint_file(path)"
             "['meta']['cfg']`), or pass the checkpoint of this config."),
    'load': ('Training goes on: the listed weights keep their '
             'initialisation (fine-tuning from another config). Set '
             "`default_hooks.checkpoint_check.on_load='error'` to refuse.")
}


@HOOKS.register_module()
class CheckpointCompatibilityHook(Hook):
    """Compare every loaded checkpoint with the model before it is loaded.

    Runs at ``after_load_checkpoint`` (MMEngine calls it before the weights
    are copied into the model). When keys are missing or unexpected, or
    tensors have another shape, it reports them together with the ``model``
    settings that differ between the config stored in the checkpoint and the
    current config (:mod:`mmblurhand.engine.checkpoint_check`), then acts by
    context:

    - resuming training (``--resume``): ``on_resume`` (default
      ``'error'``);
    - testing or validating (``tools/test.py CONFIG CKPT``): ``on_test``
      (default ``'error'``);
    - starting a new training run from weights (``load_from``): ``on_load``
      (default ``'warn'``, fine-tuning from another config is legitimate).

    When the weights fit but ``model`` settings without weights differ (e.g.
    ``neck.logit_scale``), it warns with the list in every context
    (:func:`~mmblurhand.engine.checkpoint_check.settings_report`) unless
    the action is ``'ignore'``.

    Args:
        on_resume (str): ``'error'``, ``'warn'`` or ``'ignore'``.
        on_test (str): Same choices.
        on_load (str): Same choices.
        ignore_keys (Sequence[str]): Regular expressions of state-dict keys
            left out of the check. Defaults to ``()``.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 on_resume: str = 'error',
                 on_test: str = 'error',
                 on_load: str = 'warn',
                 ignore_keys: Sequence[str] = ()) -> None:
        for name, action in (('on_resume', on_resume), ('on_test', on_test),
                             ('on_load', on_load)):
            if action not in ACTIONS:
                raise ValueError(
                    f'{name} must be one of {ACTIONS}, got "{action}".')
        self.actions = dict(resume=on_resume, test=on_test, load=on_load)
        self.ignore_keys = tuple(ignore_keys)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Check ``checkpoint`` against ``runner.model``."""
        context = self._context(runner)
        action = self.actions[context]
        if action == 'ignore':
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        source = (runner._load_from if isinstance(
            getattr(runner, '_load_from', None), str) else 'checkpoint')
        if context == 'resume' and source == 'checkpoint':
            source = 'the latest checkpoint in the work dir'
        report = mismatch_report(
            model,
            checkpoint,
            source=source,
            cfg=getattr(runner, 'cfg', None),
            ignore_keys=self.ignore_keys)
        if not report:
            # the weights fit; settings without weights may still differ
            settings = settings_report(
                checkpoint, getattr(runner, 'cfg', None), source=source)
            if settings:
                print_log(settings, logger='current', level=logging.WARNING)
            return
        message = f'{report}\n{_ADVICE[context]}'
        if action == 'error':
            raise CheckpointMismatchError(message)
        print_log(message, logger='current', level=logging.WARNING)

    @staticmethod
    def _context(runner) -> str:
        """``'resume'``, ``'load'`` (training from weights) or ``'test'``.

        ``Runner.train`` builds its train loop before it loads a
        checkpoint; ``Runner.test``/``val`` never build it.
        """
        if getattr(runner, '_resume', False):
            return 'resume'
        if isinstance(getattr(runner, '_train_loop', None), BaseLoop):
            return 'load'
        return 'test'
