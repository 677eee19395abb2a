# Copyright (c) OpenMMLab. All rights reserved.
"""Local checkpoint loading that works on torch >= 2.6.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True`` and refuses
the numpy arrays and ``HistoryBuffer`` objects every MMEngine runner
checkpoint holds (``meta.dataset_meta`` and ``message_hub``). MMEngine 0.10.7
calls ``torch.load`` without ``weights_only``, so ``--resume`` and
``tools/test.py CKPT`` fail with ``UnpicklingError``. The fix landed on
MMEngine's main branch (PR #1670) but is in no release.

:func:`install_checkpoint_loader` replaces MMEngine's local-file scheme with
:func:`load_from_local`, which passes ``weights_only=False``. It runs
once when :mod:`mmblurhand` is imported, so users need no environment
variable. ``weights_only=False`` executes pickled code: load only checkpoints
you trust (the same trust MMEngine < torch 2.6 assumed).
"""
import os.path as osp
import pickle
import zipfile
from typing import Optional, Union

import torch

_INSTALLED = False


def load_from_local(filename: str,
                    map_location: Optional[Union[str, torch.device]] = None):
    """Load a local checkpoint written by ``torch.save``.

    Args:
        filename (str): Path to the checkpoint file.
        map_location (str | torch.device, optional): See :func:`torch.load`.

    Returns:
        dict: The loaded checkpoint.

    Raises:
        FileNotFoundError: When ``filename`` does not exist.
        RuntimeError: When the file exists but is not a readable checkpoint
            (e.g. truncated by an interrupted copy), naming the file.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(
            f'Checkpoint "{filename}" does not exist. Check the path given to '
            '`--resume`, `load_from` or `tools/test.py`.')
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=False)
    except (RuntimeError, EOFError, pickle.UnpicklingError,
            zipfile.BadZipFile) as err:
        raise RuntimeError(
            f'Checkpoint "{filename}" could not be read ({err}). The file is '
            'corrupt or truncated; use an earlier checkpoint of the run or '
            'copy it again.') from err


def install_checkpoint_loader() -> None:
    """Make MMEngine load local checkpoints with ``weights_only=False``.

    Idempotent. Affects only local paths (MMEngine's ``''`` scheme); HTTP
    loading goes through ``torch.hub`` and is unaffected.
    """
    global _INSTALLED
    if _INSTALLED:
        return
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local, force=True)
    _INSTALLED = True
