# Copyright (c) OpenMMLab. All rights reserved.
"""A cache of exported ONNX models, keyed by what determines their content.

``init_model(..., backend='onnxruntime')`` exports the model on first use
and reuses the file afterwards. An entry is the folder
``<cache dir>/<key>/`` with ``model.onnx`` and ``meta.json``; the key is the
SHA-256 (first 24 hex digits) of

- the config's ``model`` section (after ``cfg_options``) and input size;
- the weights: the checkpoint file's SHA-256, or, without a checkpoint, a
  hash of the model's state dict (random weights differ per build);
- the precision (``fp32`` / ``int8``), the ONNX opset and the graph format
  version (:data:`CACHE_FORMAT`);
- the versions of torch and onnxruntime, and a hash of the source files of
  ``mmblurhand/models`` and ``mmblurhand/deployment`` (a code change gives
  a new entry instead of a stale graph).

Cache folder: ``cache_dir`` if given, else ``$MMBLURHAND_CACHE_DIR``, else
``${XDG_CACHE_HOME:-~/.cache}/mmblurhand/onnx``. Every file is written
atomically (:func:`mmblurhand.engine.checkpoint_io.atomic_write_bytes`:
temporary file, ``fsync``, rename), ``model.onnx`` before ``meta.json``, so
an entry with a ``meta.json`` is complete; two processes exporting the same
entry at once both write complete files and the last rename wins. Entries
are never deleted automatically: remove the folder to reclaim the space.
"""
import hashlib
import json
import os
import os.path as osp
import time
from typing import Callable, Dict, Optional, Tuple

import torch
from mmengine.config import Config
from torch import nn

#: Bumped whenever the exported graph's inputs or outputs change.
CACHE_FORMAT = 1
#: Environment variable naming the cache folder.
CACHE_ENV = 'MMBLURHAND_CACHE_DIR'
MODEL_FILE = 'model.onnx'
META_FILE = 'meta.json'
_CHUNK = 1 << 22
_SOURCE_DIRS = ('models', 'deployment')


def default_cache_dir() -> str:
    """``$MMBLURHAND_CACHE_DIR``, else ``${XDG_CACHE_HOME:-~/.cache}/
    mmblurhand/onnx``."""
    if os.environ.get(CACHE_ENV):
        return os.environ[CACHE_ENV]
    base = os.environ.get('XDG_CACHE_HOME') or osp.join(
        osp.expanduser('~'), '.cache')
    return osp.join(base, 'mmblurhand', 'onnx')


def file_sha256(path: str) -> str:
    """SHA-256 of a file's content (hex), read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(_CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def state_dict_sha256(model: nn.Module) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of every tensor of
    ``model.state_dict()`` (in key order)."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu()
        digest.update(f'{name}:{tensor.dtype}:{tuple(tensor.shape)}'.encode())
        if tensor.numel():
            flat = tensor.contiguous().reshape(-1)
            digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def source_fingerprint() -> str:
    """SHA-256 of the ``.py`` files under ``mmblurhand/models`` and
    ``mmblurhand/deployment`` (paths and contents, sorted)."""
    root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    digest = hashlib.sha256()
    for sub in _SOURCE_DIRS:
        for folder, dirs, files in sorted(os.walk(osp.join(root, sub))):
            dirs.sort()
            for name in sorted(files):
                if not name.endswith('.py'):
                    continue
                path = osp.join(folder, name)
                digest.update(osp.relpath(path, root).encode())
                with open(path, 'rb') as f:
                    digest.update(f.read())
    return digest.hexdigest()


def _plain(value):
    """Config values as JSON-stable plain Python."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def cache_key(config: Config,
              input_size: Tuple[int, int],
              weights_sha256: str,
              precision: str,
              opset: int,
              extra: Optional[dict] = None) -> Tuple[str, dict]:
    """The cache key of an export and the record it was hashed from.

    Args:
        config (Config): The model config (``cfg_options`` merged).
        input_size (tuple[int, int]): ``(w, h)``.
        weights_sha256 (str): :func:`file_sha256` of the checkpoint or
            :func:`state_dict_sha256` of the model.
        precision (str): ``'fp32'`` or ``'int8'``.
        opset (int): ONNX opset.
        extra (dict, optional): More settings that change the graph.

    Returns:
        tuple[str, dict]: 24 hex digits and the hashed record.
    """
    try:
        import onnxruntime
        ort_version = onnxruntime.__version__
    except ImportError:  # the export itself does not need it
        ort_version = None
    model_cfg = config.model.to_dict() if hasattr(
        config.model, 'to_dict') else dict(config.model)
    record = dict(
        format=CACHE_FORMAT,
        model=_plain(model_cfg),
        input_size=list(input_size),
        weights_sha256=weights_sha256,
        precision=precision,
        opset=int(opset),
        torch=torch.__version__,
        onnxruntime=ort_version,
        source=source_fingerprint(),
        extra=_plain(extra or {}))
    text = json.dumps(record, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24], record


def entry_paths(cache_dir: str, key: str) -> Tuple[str, str]:
    """``model.onnx`` and ``meta.json`` of an entry."""
    folder = osp.join(cache_dir, key)
    return osp.join(folder, MODEL_FILE), osp.join(folder, META_FILE)


def lookup(cache_dir: str, key: str) -> Optional[str]:
    """The cached model of ``key``, or None when there is no complete
    entry (a ``meta.json`` naming the key and an existing model file)."""
    model_file, meta_file = entry_paths(cache_dir, key)
    if not (osp.isfile(model_file) and osp.isfile(meta_file)):
        return None
    try:
        with open(meta_file) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    if meta.get('key') != key or meta.get('model_bytes') != osp.getsize(
            model_file):
        return None
    return model_file


def store(cache_dir: str, key: str, record: dict, data: bytes,
          info: Optional[dict] = None) -> str:
    """Write an entry atomically: the model bytes, then ``meta.json``.

    Args:
        cache_dir (str): Cache folder (created when missing).
        key (str): From :func:`cache_key`.
        record (dict): The hashed record (stored for inspection).
        data (bytes): The serialised ONNX model.
        info (dict, optional): More fields for ``meta.json`` (e.g. the
            config and checkpoint paths, the export time).

    Returns:
        str: The model file.
    """
    from mmblurhand.engine.checkpoint_io import atomic_write_bytes
    model_file, meta_file = entry_paths(cache_dir, key)
    atomic_write_bytes(data, model_file)
    meta = dict(
        key=key,
        created=time.strftime('%Y-%m-%d %H:%M:%S'),
        model_bytes=len(data),
        record=record,
        **(info or {}))
    atomic_write_bytes(
        json.dumps(meta, indent=2, sort_keys=True).encode(), meta_file)
    return model_file


def get_or_create(cache_dir: Optional[str], key: str, record: dict,
                  create: Callable[[], bytes],
                  info: Optional[dict] = None) -> Tuple[str, bool]:
    """The cached model of ``key``, exporting it with ``create`` if needed.

    Args:
        cache_dir (str, optional): Cache folder; ``None`` for
            :func:`default_cache_dir`.
        key (str): From :func:`cache_key`.
        record (dict): The hashed record.
        create (Callable[[], bytes]): Produces the model bytes.
        info (dict, optional): See :func:`store`.

    Returns:
        tuple[str, bool]: The model file and whether it was created now.

    Raises:
        PermissionError / OSError: The cache folder is not writable (the
            message names it and the variable to change it).
    """
    cache_dir = cache_dir or default_cache_dir()
    found = lookup(cache_dir, key)
    if found is not None:
        return found, False
    try:
        os.makedirs(cache_dir, exist_ok=True)
    except OSError as err:
        raise OSError(
            f'cannot create the ONNX cache folder "{cache_dir}" ({err}); '
            f'set {CACHE_ENV} or pass cache_dir= to a writable folder.'
        ) from err
    start = time.perf_counter()
    data = create()
    info = dict(info or {}, export_s=round(time.perf_counter() - start, 3))
    return store(cache_dir, key, record, data, info), True


def describe(model_file: str) -> Dict[str, object]:
    """The ``meta.json`` beside a cached model file."""
    with open(osp.join(osp.dirname(model_file), META_FILE)) as f:
        return json.load(f)


def weights_hash(model: nn.Module, checkpoint: Optional[str]) -> str:
    """Checkpoint content hash, or the state dict's without a checkpoint.
    """
    if checkpoint is not None:
        return 'file:' + file_sha256(checkpoint)
    return 'state_dict:' + state_dict_sha256(model)


