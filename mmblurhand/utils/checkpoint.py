# Copyright (c) OpenMMLab. All rights reserved.
"""Checkpoint loading that never runs code from the file.

A ``.pth`` file is a pickle: loaded with ``torch.load(weights_only=False)``
it can run any code its author chose. Every checkpoint mmblurhand reads
(the runner's ``load_from`` and ``--resume``, :func:`init_model`,
``model.generator_checkpoint``, the demo and the tools) is loaded here with
``torch.load(weights_only=True)``, extended by
``torch.serialization.safe_globals`` with exactly the data types that
MMEngine runner checkpoints of this project hold
(:func:`checkpoint_safe_globals`: numpy arrays, dtypes and scalars,
MMEngine's ``HistoryBuffer`` and ``ConfigDict``), and nothing callable.

A file that needs anything else is refused with
:class:`UntrustedCheckpointError`, which names the file and the type. A
user who trusts that one file opts in for it alone: ``--trust-checkpoint``
on ``tools/train.py``, ``tools/test.py``, ``demo/image_demo.py`` and
``tools/deployment/pytorch2onnx.py``, ``init_model(...,
trust_checkpoint=True)``, ``load_checkpoint_file(path, trust=True)``, or
the :func:`trusted_checkpoints` context manager around a runner. There is
no environment-wide switch.

MMEngine 0.10.7 calls ``torch.load`` without ``weights_only`` (since torch
2.6 that means ``True`` with no allow-list, so it refuses its own runner
checkpoints), and loads URLs with ``weights_only=False``.
:func:`install_checkpoint_loader` registers the loaders of this module as
MMEngine's ``CheckpointLoader`` schemes for local files, ``http(s)://``,
``torchvision://`` / ``modelzoo://``, ``open-mmlab://`` / ``openmmlab://``
and ``mmcls://``; it runs when :mod:`mmblurhand` is imported (configs import
it through ``custom_imports``) and again, explicitly, in ``tools/train.py``,
``tools/test.py``, ``pytorch2onnx.py`` and :func:`init_model`. See
``docs/security.md``.
"""
import contextlib
import os
import os.path as osp
import pickle
import re
import zipfile
from collections import Counter
from typing import Any, Iterator, List, Optional, Union

import torch

#: How a user opts in for one trusted file; quoted in refusals.
TRUST_OPT_IN = ('`--trust-checkpoint` (tools/train.py, tools/test.py, '
                'demo/image_demo.py, tools/deployment/pytorch2onnx.py) or '
                '`init_model(..., trust_checkpoint=True)`')

#: MMEngine's URL schemes that this module loads safely.
_URL_PREFIXES = ('http://', 'https://')

_TRUSTED: Counter = Counter()
_SAFE_GLOBALS: Optional[list] = None


class UntrustedCheckpointError(RuntimeError):
    """A checkpoint holds a type outside the allow-list; it was not loaded
    (no code of it ran)."""


# --------------------------------------------------------------------------
# the allow-list
# --------------------------------------------------------------------------
def _history_buffer_statistic(owner: Any, name: str):
    """``getattr`` as pickled by MMEngine's ``HistoryBuffer``, for its
    statistics methods only.

    ``HistoryBuffer.__getstate__`` stores its ``_statistics_methods``
    (``min``, ``max``, ``current``, ``mean``, ...) as
    ``getattr(HistoryBuffer, name)``. This stand-in for ``builtins.getattr``
    returns such a function and refuses every other look-up, so a file
    cannot reach other attributes (``__globals__``, ``__init__``, ...).
    """
    from mmengine.logging import HistoryBuffer
    value = getattr(HistoryBuffer, name, None) if (
        owner is HistoryBuffer and isinstance(name, str)
        and not name.startswith('_')) else None
    if not (callable(value) and getattr(value, '__qualname__', '')
            == f'HistoryBuffer.{name}'):
        owner_name = getattr(owner, '__name__', type(owner).__name__)
        raise pickle.UnpicklingError(
            f'builtins.getattr({owner_name}, {name!r}) (only HistoryBuffer '
            'statistics methods are allowed)')
    return value


def checkpoint_safe_globals() -> List[Any]:
    """The types a runner checkpoint of this project may hold.

    Found by saving runner checkpoints of the three model kinds
    (BlurHandNet, the multi-hypothesis generator and the selector) and
    reading ``torch.serialization.get_unsafe_globals_in_checkpoint``
    (``tests/test_security/test_checkpoint_allow_list.py`` repeats it):

    - numpy arrays (``_reconstruct``, ``ndarray``), dtypes (``dtype`` and
      the ``numpy.dtypes`` classes but ``ObjectDType``, so no object
      arrays) and scalars (``scalar``), under both their numpy 1
      (``numpy.core``) and numpy 2 (``numpy._core``) module names;
    - ``mmengine.logging.HistoryBuffer`` (``message_hub``) and its
      statistics methods (a restricted ``getattr``,
      :func:`_history_buffer_statistic`);
    - ``mmengine.config.ConfigDict`` (configs stored in ``meta``).

    Tensors, ``OrderedDict``, and Python containers and scalars are allowed
    by torch itself.

    Returns:
        list: Entries for ``torch.serialization.safe_globals`` (objects, or
        ``(object, 'pickled.name')`` pairs).
    """
    global _SAFE_GLOBALS
    if _SAFE_GLOBALS is None:
        import numpy as np
        from mmengine.config import ConfigDict
        from mmengine.logging import HistoryBuffer
        try:
            from numpy._core import multiarray
        except ImportError:  # numpy < 2
            from numpy.core import multiarray
        entries: list = [np.ndarray, np.dtype, HistoryBuffer, ConfigDict]
        for package in ('numpy.core', 'numpy._core'):
            entries += [(multiarray._reconstruct,
                         f'{package}.multiarray._reconstruct'),
                        (multiarray.scalar, f'{package}.multiarray.scalar')]
        dtypes = getattr(np, 'dtypes', None)
        if dtypes is not None:
            for name in dtypes.__all__:
                if name != 'ObjectDType':
                    cls = getattr(dtypes, name)
                    entries.append((cls, f'numpy.dtypes.{name}'))
        entries.append((_history_buffer_statistic, 'builtins.getattr'))
        _SAFE_GLOBALS = entries
    return list(_SAFE_GLOBALS)


# --------------------------------------------------------------------------
# per-file opt-in
# --------------------------------------------------------------------------
def _source_key(filename: Union[str, os.PathLike]) -> str:
    """One name per file: URLs as given, local paths resolved."""
    filename = str(filename)
    if '://' in filename:
        return filename
    return osp.realpath(osp.expanduser(filename))


@contextlib.contextmanager
def trusted_checkpoints(
        *filenames: Optional[Union[str, os.PathLike]]) -> Iterator[None]:
    """Load exactly these files with ``weights_only=False`` in the block.

    For checkpoints the user named and trusts (``--trust-checkpoint``).
    Files are compared by their resolved path (URLs as given); every other
    file still goes through the allow-list. ``None`` entries are ignored.

    Example:
        >>> with trusted_checkpoints('old_format.pth'):  # doctest: +SKIP
        ...     runner.test()
    """
    keys = [_source_key(f) for f in filenames if f is not None]
    _TRUSTED.update(keys)
    try:
        yield
    finally:
        _TRUSTED.subtract(keys)
        for key in keys:
            if _TRUSTED[key] <= 0:
                del _TRUSTED[key]


def is_trusted(filename: Union[str, os.PathLike]) -> bool:
    """Whether ``filename`` is inside a :func:`trusted_checkpoints` block."""
    return _TRUSTED.get(_source_key(filename), 0) > 0


# --------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------
#: How torch's weights-only unpickler names what it refused.
_OFFENDER_PATTERNS = (
    re.compile(r'(builtins\.getattr\([^)]*\))'),
    re.compile(r'GLOBAL ([\w.]+)'),
    re.compile(r"but got <class '([^']+)'>"),
)


def _offending_type(message: str) -> Optional[str]:
    """The type torch's weights-only loader refused, or ``None`` when it
    refused something else (e.g. an opcode of a corrupt file)."""
    for pattern in _OFFENDER_PATTERNS:
        match = pattern.search(message)
        if match:
            return match.group(1).rstrip('.,')
    return None


def _unpickler_detail(message: str) -> str:
    """The reason in torch's weights-only error, without its advice."""
    detail = message.split('WeightsUnpickler error:')[-1].strip()
    return detail.splitlines()[0] if detail else message.splitlines()[0]


def _refusal(source: str, err: BaseException) -> BaseException:
    """One-line error for a file the allow-list refused; a corrupt file
    (torch refuses an unknown opcode) gets the corrupt-file error."""
    offender = _offending_type(str(err))
    if offender is None:
        return _corrupt(source, err)
    return UntrustedCheckpointError(
        f'checkpoint "{source}" was not loaded: it holds `{offender}`, which '
        'is not on the allow-list of checkpoint data types (tensors, numpy '
        'arrays and scalars, MMEngine HistoryBuffer and ConfigDict), and '
        'unpickling it could run code. Only if you trust the file and where '
        f'it came from, load it with {TRUST_OPT_IN}; see docs/security.md.')


def _is_weights_only_refusal(err: BaseException) -> bool:
    return isinstance(err, pickle.UnpicklingError) and (
        'Weights only load failed' in str(err)
        or 'WeightsUnpickler' in str(err))


def _torch_load(f, source: str, map_location, trust: bool):
    """``torch.load`` with the allow-list, or unrestricted when trusted."""
    if trust:
        return torch.load(f, map_location=map_location, weights_only=False)
    if not hasattr(torch.serialization, 'safe_globals'):
        raise UntrustedCheckpointError(
            f'checkpoint "{source}" was not loaded: torch '
            f'{torch.__version__} has no torch.serialization.safe_globals '
            '(torch >= 2.5), which the safe loader needs. Upgrade torch, or, '
            f'only if you trust the file, load it with {TRUST_OPT_IN}.')
    with torch.serialization.safe_globals(checkpoint_safe_globals()):
        return torch.load(f, map_location=map_location, weights_only=True)


def load_checkpoint_file(filename: Union[str, os.PathLike],
                         map_location: Optional[Union[str,
                                                      torch.device]] = None,
                         trust: bool = False) -> Any:
    """Load a checkpoint file (or URL) without running code from it.

    Args:
        filename (str | PathLike): A local ``.pth``, an ``http(s)://``
            URL (downloaded to torch's hub cache) or another MMEngine scheme
            (``torchvision://``, ...).
        map_location (str | torch.device, optional): See :func:`torch.load`.
        trust (bool): Load this file with ``weights_only=False`` (it may run
            code). Also true inside :func:`trusted_checkpoints` naming it.

    Returns:
        The unpickled checkpoint (a runner checkpoint is a dict with
        ``state_dict`` and ``meta``).

    Raises:
        FileNotFoundError: The local file does not exist.
        UntrustedCheckpointError: The file holds a type outside the
            allow-list (named in the message) and is not trusted.
        RuntimeError: The file is not a readable checkpoint (corrupt or
            truncated), naming it.
    """
    source = str(filename)
    trust = trust or is_trusted(source)
    if source.startswith(_URL_PREFIXES):
        return _load_url(source, map_location, trust)
    if '://' in source:  # torchvision://, s3://, ...: MMEngine's schemes
        from mmengine.runner.checkpoint import CheckpointLoader
        install_checkpoint_loader()
        with trusted_checkpoints(source if trust else None):
            return CheckpointLoader.load_checkpoint(source, map_location)
    path = osp.expanduser(source)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'Checkpoint "{path}" does not exist. Check the path given to '
            '`--resume`, `load_from`, `model.generator_checkpoint` or the '
            'tool.')
    try:
        return _torch_load(path, path, map_location, trust)
    except pickle.UnpicklingError as err:
        if _is_weights_only_refusal(err):
            raise _refusal(path, err) from None
        raise _corrupt(path, err) from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as err:
        if isinstance(err, UntrustedCheckpointError):
            raise
        raise _corrupt(path, err) from err


def _corrupt(path: str, err: BaseException) -> RuntimeError:
    first = _unpickler_detail(str(err).strip()) if str(err).strip() else ''
    return RuntimeError(
        f'Checkpoint "{path}" could not be read ({type(err).__name__}: '
        f'{first}). The file is corrupt or truncated, or not a checkpoint; '
        'use an earlier checkpoint of the run or copy it again.')


def _load_url(url: str, map_location, trust: bool, model_dir=None,
              progress: bool = False):
    """Download to torch's hub cache (rank 0 first) and load safely."""
    from mmengine.dist import get_dist_info

    def load():
        try:
            if trust:
                return torch.hub.load_state_dict_from_url(
                    url, model_dir=model_dir, map_location=map_location,
                    progress=progress, weights_only=False)
            with torch.serialization.safe_globals(checkpoint_safe_globals()):
                return torch.hub.load_state_dict_from_url(
                    url, model_dir=model_dir, map_location=map_location,
                    progress=progress, weights_only=True)
        except pickle.UnpicklingError as err:
            if _is_weights_only_refusal(err):
                raise _refusal(url, err) from None
            raise

    rank, world_size = get_dist_info()
    checkpoint = load() if rank == 0 else None
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            checkpoint = load()
    return checkpoint


# --------------------------------------------------------------------------
# MMEngine CheckpointLoader schemes
# --------------------------------------------------------------------------
def load_from_local(filename: str,
                    map_location: Optional[Union[str, torch.device]] = None):
    """MMEngine's local scheme: :func:`load_checkpoint_file`."""
    return load_checkpoint_file(filename, map_location)


def load_from_http(filename: str,
                   map_location: Optional[Union[str, torch.device]] = None,
                   model_dir: Optional[str] = None,
                   progress: bool = False):
    """MMEngine's ``http(s)://`` scheme, with the allow-list."""
    return _load_url(filename, map_location, is_trusted(filename),
                     model_dir, progress)


def load_from_torchvision(filename: str, map_location=None):
    """``torchvision://NAME`` (and ``modelzoo://NAME``): the URL from
    MMEngine's table, loaded with :func:`load_from_http`."""
    from mmengine.runner.checkpoint import get_torchvision_models
    name = filename.split('://', 1)[1]
    return load_from_http(get_torchvision_models()[name], map_location)


def load_from_openmmlab(filename: str, map_location=None):
    """``open-mmlab://NAME``: MMEngine's table, loaded safely."""
    from mmengine.runner.checkpoint import (_get_mmengine_home,
                                            get_deprecated_model_names,
                                            get_external_models)
    name = filename.split('://', 1)[1]
    name = get_deprecated_model_names().get(name, name)
    url = get_external_models()[name]
    if url.startswith(_URL_PREFIXES):
        return load_from_http(url, map_location)
    return load_checkpoint_file(
        osp.join(_get_mmengine_home(), url), map_location)


def load_from_mmcls(filename: str, map_location=None):
    """``mmcls://NAME``: MMEngine's table, loaded safely."""
    from mmengine.runner.checkpoint import (_process_mmcls_checkpoint,
                                            get_mmcls_models)
    url = get_mmcls_models()[filename[len('mmcls://'):]]
    return _process_mmcls_checkpoint(load_from_http(url, map_location))


_SCHEMES = (
    ('', load_from_local),
    (_URL_PREFIXES, load_from_http),
    (('torchvision://', 'modelzoo://'), load_from_torchvision),
    (('open-mmlab://', 'openmmlab://'), load_from_openmmlab),
    ('mmcls://', load_from_mmcls),
)


def install_checkpoint_loader() -> None:
    """Make MMEngine's ``CheckpointLoader`` use this module's loaders.

    Registers (``force=True``) :func:`load_from_local` for local files and
    the URL loaders above, so the runner's ``load_from`` / ``resume``,
    ``load_checkpoint`` and ``Pretrained`` initialisations all load with the
    allow-list. Idempotent and cheap: tools call it right before loading
    so that no other package's loader is used in its place. ``pavi://`` and
    ``s3://`` keep MMEngine's loaders (``torch.load`` with torch's default,
    ``weights_only=True`` since torch 2.6).
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    for prefixes, loader in _SCHEMES:
        CheckpointLoader.register_scheme(
            prefixes=prefixes, loader=loader, force=True)


def load_weights(module: torch.nn.Module,
                 filename: str,
                 map_location: Union[str, torch.device] = 'cpu',
                 trust: bool = False,
                 advice: str = '') -> Any:
    """Load a checkpoint's weights into ``module``, all or nothing.

    The checkpoint is read with :func:`load_checkpoint_file`; when its
    weights do not fit (missing, unexpected or other-shaped keys) a short
    :class:`~mmblurhand.engine.checkpoint_check.CheckpointMismatchError`
    lists them instead of MMEngine's raw key dump.

    Args:
        module (nn.Module): The module to fill.
        filename (str): Local path or URL.
        map_location (str | torch.device): Defaults to ``'cpu'``.
        trust (bool): See :func:`load_checkpoint_file`.
        advice (str): What to do, appended to a mismatch report.

    Returns:
        The loaded checkpoint.
    """
    from mmblurhand.engine.checkpoint_check import (check_checkpoint_matches,
                                                    checkpoint_state_dict)
    checkpoint = load_checkpoint_file(filename, map_location, trust)
    if not isinstance(checkpoint, dict):
        raise RuntimeError(f'Checkpoint "{filename}" holds a '
                           f'{type(checkpoint).__name__}, not a state dict '
                           'or a runner checkpoint.')
    check_checkpoint_matches(module, checkpoint, source=str(filename),
                             advice=advice)
    module.load_state_dict(checkpoint_state_dict(checkpoint), strict=True)
    return checkpoint

