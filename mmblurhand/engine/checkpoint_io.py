# Copyright (c) OpenMMLab. All rights reserved.
"""Atomic writes for every local file MMEngine saves (checkpoints included).

MMEngine 0.10.7 writes a checkpoint with ``open(path, 'wb').write(...)``:
a process killed (SIGKILL, out-of-memory, pre-emption) while writing leaves a
truncated ``epoch_N.pth`` under its final name, which ``--resume`` then fails
to read. :class:`AtomicLocalBackend` writes to a temporary file in the same
directory, flushes it to disk and renames it over the target with
:func:`os.replace` (atomic on POSIX and Windows), so a file under its final
name is always complete: either the old content or the new one.

:func:`install_atomic_local_backend` makes it MMEngine's backend for local
paths (``backend='local'`` and paths without a prefix). It runs when
:mod:`mmblurhand.engine` is imported, which every Runner built with
``default_scope='mmblurhand'`` does when it builds its hooks.
"""
import os
import os.path as osp
import uuid
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

_TMP_SUFFIX = '.tmp'


def temporary_path(filepath: Union[str, Path]) -> str:
    """A unique temporary name next to ``filepath`` (same file system).

    The name starts with a dot and ends with ``.tmp`` so that it never
    matches a checkpoint pattern such as ``epoch_*.pth``.
    """
    directory, name = osp.split(osp.abspath(str(filepath)))
    return osp.join(directory, f'.{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}'
                    f'{_TMP_SUFFIX}')


def atomic_write_bytes(data: bytes, filepath: Union[str, Path]) -> None:
    """Write ``data`` to ``filepath`` atomically.

    The bytes go to a temporary file in the target's directory, are flushed
    and ``fsync``-ed, and the temporary file is renamed over ``filepath``.
    Readers (and a later ``--resume``) see either the previous file or the
    complete new one, never a truncated file. The temporary file is removed
    when the write fails (e.g. disk full); a process killed mid-write may
    leave a hidden ``.<name>.<pid>.<id>.tmp`` file, never a broken target.

    Args:
        data (bytes): The content.
        filepath (str | Path): The destination; its directory is created
            when missing.
    """
    filepath = str(filepath)
    directory = osp.dirname(osp.abspath(filepath))
    os.makedirs(directory, exist_ok=True)
    tmp_path = temporary_path(filepath)
    try:
        # 'xb' creates a new file with the default (umask) permissions.
        with open(tmp_path, 'xb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, filepath)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Persist a rename on file systems that need the directory synced."""
    if not hasattr(os, 'O_DIRECTORY'):  # Windows
        return
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class AtomicLocalBackend(LocalBackend):
    """MMEngine's local file backend with atomic ``put`` and ``put_text``.

    Everything else (reading, listing, removing) is :class:`LocalBackend`'s.
    ``isinstance(backend, LocalBackend)`` still holds.
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes to ``filepath`` atomically (see
        :func:`atomic_write_bytes`)."""
        atomic_write_bytes(obj, filepath)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` atomically."""
        atomic_write_bytes(obj.encode(encoding), filepath)


def install_atomic_local_backend() -> None:
    """Use :class:`AtomicLocalBackend` for all local paths in MMEngine.

    Registers it under the name ``'local'`` and the empty prefix (paths
    without ``scheme://``), replacing :class:`LocalBackend`. Idempotent.
    """
    register_backend(
        'local', AtomicLocalBackend, force=True, prefixes='')
