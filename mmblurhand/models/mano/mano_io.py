# Copyright (c) OpenMMLab. All rights reserved.
"""Loading MANO-format model files without chumpy.

The official ``MANO_RIGHT.pkl`` / ``MANO_LEFT.pkl`` (MANO v1.2) are Python-2
pickles in which some arrays are ``chumpy`` objects and ``J_regressor`` is a
``scipy.sparse`` matrix. ``chumpy`` does not import on Python >= 3.11 or
numpy >= 1.24, so :class:`ChumpyFreeUnpickler` maps every ``chumpy`` class to
:class:`ChumpyStandIn`, which keeps the pickled state, and
:func:`read_mano_file` turns those into numpy arrays.

:func:`load_mano_arrays` is the single entry point used by
:class:`~mmblurhand.models.mano.ManoLayer`: ``None`` gives the procedural
MANO-format hand (generated once and cached), a directory or a ``.pkl`` /
``.npz`` file gives real MANO (or any file with the same keys).
"""
import hashlib
import json
import os
import os.path as osp
import pickle
import tempfile
import warnings
import zipfile
from typing import Dict, Optional

import numpy as np

#: The nine arrays every MANO-format model must provide.
MANO_KEYS = ('v_template', 'f', 'J_regressor', 'weights', 'kintree_table',
             'shapedirs', 'posedirs', 'hands_components', 'hands_mean')

#: Key of the JSON metadata string stored in ``.npz`` files we write.
META_KEY = 'mmblurhand_meta'

MANO_URL = 'https://mano.is.tue.mpg.de'

MANO_INSTALL_HELP = f"""\
How to get the MANO hand model:
  1. Register at {MANO_URL} and accept the MANO licence.
  2. Download "Models & Code" (mano_v1_2.zip) and unzip it.
  3. Copy mano_v1_2/models/MANO_RIGHT.pkl and MANO_LEFT.pkl to data/mano/
     (or any folder; pass it as ManoLayer(model_path=...)).
  4. Optional, recommended: python tools/misc/convert_mano.py data/mano
     writes chumpy-free MANO_RIGHT.npz / MANO_LEFT.npz next to them.
Licence: MANO is for non-commercial scientific research, education or
artistic projects only; it may not be redistributed and may not be used to
train a commercial product. Keep the files out of git.
Without MANO, ManoLayer(model_path=None) builds the procedural
"MANO-format, NOT MANO" hand of mmblurhand (see docs/hand_model.md);
results with it are not MANO results."""


class MANOModelError(RuntimeError):
    """A MANO-format model file is missing keys or has wrong shapes."""


class MANOModelNotFoundError(FileNotFoundError):
    """The MANO model file was not found where it was looked for."""


class ChumpyStandIn:
    """Placeholder for any ``chumpy`` class met while unpickling.

    It accepts whatever constructor arguments and state the pickle holds.
    ``chumpy.Ch`` keeps its value in ``state['x']``; :meth:`to_array`
    returns it.
    """

    def __init__(self, *args, **kwargs):
        self._args = args
        self._state = {}

    def __setstate__(self, state):
        self._state = state if isinstance(state, dict) else {'_raw': state}

    def to_array(self, where: str = '') -> np.ndarray:
        """The wrapped array, or a MANOModelError naming ``where``."""
        if 'x' in self._state:
            return np.asarray(self._state['x'])
        raise MANOModelError(
            f'{where}: a chumpy object without a stored value (state keys '
            f'{sorted(self._state)}) cannot be converted without chumpy. '
            'Re-download the official MANO files (v1.2).')


class ChumpyFreeUnpickler(pickle.Unpickler):
    """Unpickler that replaces ``chumpy`` classes by
    :class:`ChumpyStandIn` and tolerates old ``scipy.sparse`` module paths.
    """

    def find_class(self, module, name):
        if module == 'chumpy' or module.startswith('chumpy.'):
            return ChumpyStandIn
        if module.startswith('scipy.sparse.'):
            import scipy.sparse
            if hasattr(scipy.sparse, name):
                return getattr(scipy.sparse, name)
        return super().find_class(module, name)


def _to_numpy(value, where: str):
    """Plain numpy array (or scalar/string) from an unpickled value."""
    if isinstance(value, ChumpyStandIn):
        return value.to_array(where)
    if hasattr(value, 'toarray') and hasattr(value, 'nnz'):  # scipy.sparse
        return np.asarray(value.toarray())
    return value


def read_mano_file(path: str) -> Dict[str, object]:
    """Read a MANO-format ``.pkl`` or ``.npz`` into plain numpy values.

    Args:
        path (str): the file.

    Returns:
        dict: every key of the file; chumpy and sparse values are converted
        to dense numpy arrays. ``.npz`` metadata (:data:`META_KEY`) is
        returned decoded as a dict.
    """
    if not osp.isfile(path):
        raise MANOModelNotFoundError(
            f'MANO model file {path!r} does not exist.\n{MANO_INSTALL_HELP}')
    ext = osp.splitext(path)[1].lower()
    try:
        if ext == '.npz':
            with np.load(path, allow_pickle=False) as npz:
                data = {k: npz[k] for k in npz.files}
            if META_KEY in data:
                data[META_KEY] = json.loads(str(data[META_KEY]))
            return data
        if ext == '.pkl':
            with open(path, 'rb') as f:
                raw = ChumpyFreeUnpickler(f, encoding='latin1').load()
        else:
            raise MANOModelError(
                f'{path!r}: unsupported extension {ext!r}; expected a MANO '
                '.pkl or an .npz written by tools/misc/convert_mano.py.')
    except (pickle.UnpicklingError, EOFError, ValueError, OSError,
            AttributeError, ImportError, UnicodeDecodeError, KeyError,
            zipfile.BadZipFile) as err:
        raise MANOModelError(
            f'{path!r} could not be read as a MANO model ({type(err).__name__}'
            f': {err}). Is it the MANO_RIGHT.pkl / MANO_LEFT.pkl from '
            f'{MANO_URL} (mano_v1_2/models/)?') from err
    if not isinstance(raw, dict):
        raise MANOModelError(
            f'{path!r} holds a {type(raw).__name__}, not the dict of arrays '
            f'of a MANO model file.')
    return {k: _to_numpy(v, f'{path}[{k!r}]') for k, v in raw.items()}


def validate_mano_arrays(arrays: Dict[str, object],
                         source: str,
                         num_betas: int = 10) -> Dict[str, np.ndarray]:
    """Check keys and shapes; return the nine arrays as numpy.

    Shapes are checked against each other, not against fixed MANO sizes:
    ``V`` from ``v_template``, ``J`` from ``J_regressor``.

    Args:
        arrays (dict): values read from a file.
        source (str): the file name (for error messages).
        num_betas (int): shape directions needed.

    Returns:
        dict: ``MANO_KEYS`` -> np.ndarray.
    """
    missing = [k for k in MANO_KEYS if k not in arrays]
    if missing:
        raise MANOModelError(
            f'{source}: missing MANO keys {missing} (has '
            f'{sorted(arrays)}). Use the official MANO_*.pkl or an .npz from '
            'tools/misc/convert_mano.py.')
    out = {k: np.asarray(arrays[k]) for k in MANO_KEYS}
    v = out['v_template']
    if v.ndim != 2 or v.shape[1] != 3:
        raise MANOModelError(f'{source}: v_template must be (V, 3), got '
                             f'{v.shape}')
    num_v = v.shape[0]
    reg = out['J_regressor']
    if reg.ndim != 2 or reg.shape[1] != num_v:
        raise MANOModelError(f'{source}: J_regressor must be (J, {num_v}), '
                             f'got {reg.shape}')
    num_j = reg.shape[0]
    num_pose = 3 * (num_j - 1)
    expected = {
        'f': (None, 3),
        'weights': (num_v, num_j),
        'kintree_table': (2, num_j),
        'shapedirs': (num_v, 3, None),
        'posedirs': (num_v, 3, 9 * (num_j - 1)),
        'hands_components': (None, num_pose),
        'hands_mean': (num_pose, ),
    }
    for key, shape in expected.items():
        actual = out[key].shape
        if len(actual) != len(shape) or any(
                s is not None and s != a for s, a in zip(shape, actual)):
            pretty = tuple('*' if s is None else s for s in shape)
            raise MANOModelError(f'{source}: {key} must have shape {pretty}, '
                                 f'got {actual}')
    if out['shapedirs'].shape[2] < num_betas:
        raise MANOModelError(
            f'{source}: shapedirs has {out["shapedirs"].shape[2]} shape '
            f'directions, {num_betas} betas were requested.')
    faces = out['f']
    if faces.size and (faces.min() < 0 or faces.max() >= num_v):
        raise MANOModelError(f'{source}: f indexes vertices outside '
                             f'[0, {num_v}).')
    return out


def left_shapedirs_need_fix(left_shapedirs: np.ndarray,
                            right_shapedirs: np.ndarray) -> bool:
    """Whether MANO_LEFT's ``shapedirs`` carry the known x-sign bug.

    The released MANO_LEFT.pkl has ``shapedirs[:, 0, :]`` equal to the
    right hand's although the left mesh is the right one mirrored in x, so
    the x components must be negated (smplx issue #48). The check used by
    BlurHandNet: the x components of both files differ by less than 1 in
    summed absolute value.
    """
    return float(
        np.abs(left_shapedirs[:, 0, :] - right_shapedirs[:, 0, :]).sum()) < 1


def _find_model_file(model_dir: str, side: str) -> Optional[str]:
    """The model file of ``side`` in ``model_dir`` (or ``model_dir/mano``,
    smplx's layout); ``.npz`` preferred over ``.pkl``."""
    stem = f'MANO_{side.upper()}'
    for folder in (model_dir, osp.join(model_dir, 'mano')):
        for ext in ('.npz', '.pkl'):
            path = osp.join(folder, stem + ext)
            if osp.isfile(path):
                return path
    return None


def _sibling_file(path: str, side: str) -> Optional[str]:
    return _find_model_file(osp.dirname(osp.abspath(path)), side)


def _side_of_file(path: str) -> Optional[str]:
    name = osp.basename(path).upper()
    if 'LEFT' in name:
        return 'left'
    if 'RIGHT' in name:
        return 'right'
    return None


def load_mano_arrays(model_path: Optional[str] = None,
                     side: str = 'right',
                     num_betas: int = 10,
                     fix_left_shapedirs: bool = True
                     ) -> Dict[str, np.ndarray]:
    """The nine MANO arrays of one hand, as numpy, ready for ``smplx.MANO``.

    Args:
        model_path (str, optional): ``None`` for the procedural MANO-format
            hand (cached, see :func:`procedural_cache_dir`); a folder holding
            ``MANO_RIGHT`` / ``MANO_LEFT`` as ``.npz`` or ``.pkl`` (also
            smplx's ``folder/mano/`` layout); or a model file.
        side (str): ``'right'`` or ``'left'``; with a folder it picks the
            file; with a file it must match the file name when that says
            LEFT or RIGHT.
        num_betas (int): shape directions needed (checked).
        fix_left_shapedirs (bool): apply the MANO_LEFT ``shapedirs`` fix
            (:func:`left_shapedirs_need_fix`) to left-hand files. The check
            compares with MANO_RIGHT in the same folder and only changes a
            file whose x shape components equal the right hand's; a lone
            left file is used unchanged with a warning. Files from
            ``convert_mano.py`` (already checked) and procedural files are
            skipped.

    Returns:
        dict: ``MANO_KEYS`` -> np.ndarray.
    """
    if side not in ('right', 'left'):
        raise ValueError(f"side must be 'right' or 'left', got {side!r}")
    if model_path is None:
        return load_procedural_mano(side)
    model_path = osp.expanduser(str(model_path))
    if osp.isdir(model_path):
        path = _find_model_file(model_path, side)
        if path is None:
            raise MANOModelNotFoundError(
                f'No MANO_{side.upper()}.npz or MANO_{side.upper()}.pkl in '
                f'{model_path!r} (nor in {osp.join(model_path, "mano")!r}).'
                f'\n{MANO_INSTALL_HELP}')
    else:
        path = model_path
        named_side = _side_of_file(path)
        if named_side is not None and named_side != side:
            raise ValueError(
                f'{path!r} is a {named_side} hand model but side={side!r} '
                'was requested; pass the folder or the matching file.')
    data = read_mano_file(path)
    arrays = validate_mano_arrays(data, path, num_betas)
    meta = data.get(META_KEY)
    meta = meta if isinstance(meta, dict) else {}
    already_checked = meta.get('left_shapedirs_checked', False) or \
        'procedural' in str(meta.get('source', ''))
    if side == 'left' and fix_left_shapedirs and not already_checked:
        right_path = _sibling_file(path, 'right')
        if right_path is None:
            warnings.warn(
                f'{path}: MANO_RIGHT is not next to this left-hand file, so '
                'the known MANO_LEFT shapedirs sign bug cannot be checked; '
                'the file is used unchanged. Put both files in one folder '
                '(or run tools/misc/convert_mano.py on the folder).')
        else:
            right = validate_mano_arrays(
                read_mano_file(right_path), right_path, num_betas)
            if left_shapedirs_need_fix(arrays['shapedirs'],
                                       right['shapedirs']):
                arrays['shapedirs'] = arrays['shapedirs'].copy()
                arrays['shapedirs'][:, 0, :] *= -1
    return arrays


# --------------------------------------------------------------------------
# Procedural model cache
# --------------------------------------------------------------------------
def procedural_cache_dir() -> str:
    """``${XDG_CACHE_HOME:-~/.cache}/mmblurhand/mano``."""
    root = os.environ.get('XDG_CACHE_HOME') or osp.join(
        osp.expanduser('~'), '.cache')
    return osp.join(root, 'mmblurhand', 'mano')


def save_npz_atomic(path: str, arrays: Dict[str, np.ndarray],
                    meta: Optional[dict] = None) -> None:
    """Write ``arrays`` (+ JSON ``meta``) to ``path`` via a temporary file
    in the same folder and ``os.replace``, so readers never see half a
    file."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    payload = dict(arrays)
    if meta is not None:
        payload[META_KEY] = np.array(json.dumps(meta, sort_keys=True))
    fd, tmp = tempfile.mkstemp(prefix='.tmp_', suffix='.npz', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            np.savez(f, **payload)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


_PROCEDURAL_MEMO: Dict[str, Dict[str, np.ndarray]] = {}


def _procedural_tag() -> str:
    """Cache key: the generator version and a hash of its source, so an
    edited generator never reads arrays cached by an older one."""
    from . import procedural_hand
    digest = hashlib.sha1(procedural_hand.PROCEDURAL_MANO_VERSION.encode())
    with open(procedural_hand.__file__, 'rb') as f:
        digest.update(f.read())
    return digest.hexdigest()[:12]


def _build_procedural(side: str) -> Dict[str, np.ndarray]:
    """Generate the procedural model of ``side`` (no cache)."""
    from .procedural_hand import procedural_mano_arrays
    return procedural_mano_arrays(side)


def load_procedural_mano(side: str = 'right',
                         cache_dir: Optional[str] = None
                         ) -> Dict[str, np.ndarray]:
    """The procedural MANO-format hand, from memory, disk cache or built.

    The cache file name holds a hash of the generator version and source,
    so a changed generator never reads stale arrays. An unwritable cache
    folder only costs the rebuild next time.

    Args:
        side (str): ``'right'`` or ``'left'`` (the mirror image).
        cache_dir (str, optional): default :func:`procedural_cache_dir`.

    Returns:
        dict: ``MANO_KEYS`` -> np.ndarray (copies; safe to modify).
    """
    from .procedural_hand import PROCEDURAL_MANO_VERSION
    if side not in ('right', 'left'):
        raise ValueError(f"side must be 'right' or 'left', got {side!r}")
    cache_dir = cache_dir or procedural_cache_dir()
    tag = _procedural_tag()
    path = osp.join(cache_dir, f'procedural_MANO_{side.upper()}_{tag}.npz')
    key = path
    if key not in _PROCEDURAL_MEMO:
        arrays = None
        if osp.isfile(path):
            try:
                data = read_mano_file(path)
                if data.get(META_KEY, {}).get(
                        'version') == PROCEDURAL_MANO_VERSION:
                    arrays = validate_mano_arrays(data, path)
            except (MANOModelError, OSError, ValueError, KeyError,
                    AttributeError, zipfile.BadZipFile):
                arrays = None  # corrupt or foreign file: rebuild
        if arrays is None and side == 'left':
            # The left hand is the mirror image of the (cached) right one.
            from .procedural_hand import mirror_mano_arrays
            arrays = mirror_mano_arrays(
                load_procedural_mano('right', cache_dir))
            _save_procedural(path, arrays, side, cache_dir)
        elif arrays is None:
            arrays = _build_procedural(side)
            _save_procedural(path, arrays, side, cache_dir)
        _PROCEDURAL_MEMO[key] = arrays
    return {k: v.copy() for k, v in _PROCEDURAL_MEMO[key].items()}


def _save_procedural(path, arrays, side, cache_dir):
    from .procedural_hand import PROCEDURAL_MANO_VERSION
    meta = dict(version=PROCEDURAL_MANO_VERSION, side=side,
                source='procedural (MANO-format, NOT MANO)')
    try:
        save_npz_atomic(path, arrays, meta)
    except OSError as err:
        warnings.warn(f'Could not cache the procedural hand in '
                      f'{cache_dir!r} ({err}); it will be rebuilt next '
                      'time.')

