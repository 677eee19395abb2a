# Copyright (c) OpenMMLab. All rights reserved.
"""Loading MANO-format model files without chumpy.

The official ``MANO_RIGHT.pkl`` / ``MANO_LEFT.pkl`` (MANO v1.2) are Python-2
pickles in which some arrays are ``chumpy`` objects and ``J_regressor`` is a
``scipy.sparse`` matrix. ``chumpy`` does not import on Python >= 3.11 or
numpy >= 1.24, so :class:`ChumpyFreeUnpickler` maps every ``chumpy`` class to
:class:`ChumpyStandIn`, which keeps the pickled state, and
:func:`read_mano_file` turns those into numpy arrays. The unpickler resolves
only numpy, ``scipy.sparse`` and ``chumpy`` names (an allow-list): a ``.pkl``
that names anything else is refused by name and none of its code runs.

:func:`load_mano_arrays` is the single entry point used by
:class:`~mmblurhand.models.mano.ManoLayer`: ``None`` gives the procedural
MANO-format hand (generated once and cached), a directory or a ``.pkl`` /
``.npz`` file gives real MANO (or any file with the same keys).
"""
import _compat_pickle
import codecs
import copyreg
import hashlib
import json
import os
import os.path as osp
import pickle
import tempfile
import warnings
import zipfile
from typing import Dict, Optional, Tuple

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


#: Sparse-matrix classes a MANO file may hold (``J_regressor``).
SPARSE_CLASSES = ('csc_matrix', 'csr_matrix', 'coo_matrix', 'csc_array',
                  'csr_array', 'coo_array')


class MANOPickleRefused(pickle.UnpicklingError):
    """A MANO pickle names a class or function outside the allow-list."""

    def __init__(self, qualified_name: str):
        super().__init__(qualified_name)
        self.qualified_name = qualified_name


def _numpy_allowed() -> Dict[Tuple[str, str], object]:
    """``(module, name) -> object`` of the numpy names a MANO pickle may
    use: arrays, dtypes (no object arrays) and scalars, under their numpy 1
    and numpy 2 module names."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    allowed = {('numpy', 'ndarray'): np.ndarray, ('numpy', 'dtype'): np.dtype}
    for package in ('numpy.core', 'numpy._core'):
        allowed[(f'{package}.multiarray', '_reconstruct')] = \
            multiarray._reconstruct
        allowed[(f'{package}.multiarray', 'scalar')] = multiarray.scalar
    dtypes = getattr(np, 'dtypes', None)
    for name in getattr(dtypes, '__all__', ()):
        if name != 'ObjectDType':
            allowed[('numpy.dtypes', name)] = getattr(dtypes, name)
    return allowed


def _latin1_bytes(text: str, encoding: str = 'latin1',
                  errors: str = 'strict') -> bytes:
    """``_codecs.encode`` as Python 3 pickles (protocol < 3) use it to
    rebuild ``bytes`` (e.g. numpy array data): latin-1 only."""
    if encoding.lower().replace('_', '-') not in ('latin1', 'latin-1') \
            or not isinstance(text, str):
        raise MANOPickleRefused(f'_codecs.encode(..., {encoding!r})')
    return codecs.encode(text, 'latin1', errors)


class ChumpyFreeUnpickler(pickle.Unpickler):
    """Allow-list unpickler for MANO-format model files.

    A MANO ``.pkl`` holds only numpy arrays and scalars, a ``scipy.sparse``
    matrix (``J_regressor``) and ``chumpy`` objects. This unpickler resolves
    exactly those names (``chumpy`` classes become :class:`ChumpyStandIn`,
    which keeps the pickled state; old ``scipy.sparse.csc`` paths resolve
    to today's classes), plus ``copyreg._reconstructor`` and ``object``,
    with which Python 2 pickles rebuild plain objects of those classes,
    ``set`` / ``frozenset`` (chumpy's bookkeeping), and a latin-1-only
    ``_codecs.encode`` (Python 3 protocol-2 ``bytes``).
    Every other name raises :class:`MANOPickleRefused` before anything is
    called, so a file cannot run code.
    """

    _BASE = {('copyreg', '_reconstructor'): copyreg._reconstructor,
             ('builtins', 'object'): object,
             ('builtins', 'set'): set,
             ('builtins', 'frozenset'): frozenset,
             ('_codecs', 'encode'): _latin1_bytes}

    def find_class(self, module, name):
        # Python 2 names (copy_reg, __builtin__) as pickle's own mapping.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        if module == 'chumpy' or module.startswith('chumpy.'):
            return ChumpyStandIn
        if (module == 'scipy.sparse' or module.startswith('scipy.sparse.')
                ) and name in SPARSE_CLASSES:
            import scipy.sparse
            if hasattr(scipy.sparse, name):
                return getattr(scipy.sparse, name)
        allowed = self._BASE.get((module, name))
        if allowed is None:
            allowed = _numpy_allowed().get((module, name))
        if allowed is None:
            raise MANOPickleRefused(f'{module}.{name}')
        return allowed


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
    except MANOPickleRefused as err:
        raise MANOModelError(
            f'{path!r} was not loaded: it names `{err.qualified_name}`, which '
            'a MANO model file does not hold (only numpy arrays, scipy '
            'sparse matrices and chumpy objects are allowed), and '
            'unpickling it could run code. Use the MANO_RIGHT.pkl / '
            f'MANO_LEFT.pkl downloaded from {MANO_URL}, or an .npz written '
            'by tools/misc/convert_mano.py.') from None
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
    ``V`` (vertices) and ``J`` (joints) are the sizes most of the arrays
    that carry them agree on, so an error names the array that differs.

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
    # The number of axes of each array, and the sizes fixed by MANO.
    layouts = {
        'v_template': ('V', 3),
        'f': ('*', 3),
        'J_regressor': ('J', 'V'),
        'weights': ('V', 'J'),
        'kintree_table': (2, 'J'),
        'shapedirs': ('V', 3, '*'),
        'posedirs': ('V', 3, '9*(J-1)'),
        'hands_components': ('*', '3*(J-1)'),
        'hands_mean': ('3*(J-1)', ),
    }
    for key, layout in layouts.items():
        actual = out[key].shape
        if len(actual) != len(layout) or any(
                isinstance(s, int) and s != a for s, a in zip(layout, actual)):
            raise MANOModelError(
                f'{source}: {key} must have shape '
                f'({", ".join(map(str, layout))}), got {actual}')
    # V and J are what most arrays agree on, so the odd array is blamed
    # (not J_regressor when v_template is the bad one).
    num_v = _agreed_size({
        key: out[key].shape[layout.index('V')]
        for key, layout in layouts.items() if 'V' in layout
    })
    num_j = _agreed_size({
        key: out[key].shape[layout.index('J')]
        for key, layout in layouts.items() if 'J' in layout
    })
    num_pose = 3 * (num_j - 1)
    expected = {
        'v_template': (num_v, 3),
        'J_regressor': (num_j, num_v),
        'weights': (num_v, num_j),
        'kintree_table': (2, num_j),
        'shapedirs': (num_v, 3, None),
        'posedirs': (num_v, 3, 9 * (num_j - 1)),
        'hands_components': (None, num_pose),
        'hands_mean': (num_pose, ),
    }
    for key, shape in expected.items():
        actual = out[key].shape
        if any(s is not None and s != a for s, a in zip(shape, actual)):
            pretty = tuple('*' if s is None else s for s in shape)
            raise MANOModelError(
                f'{source}: {key} must have shape {pretty}, got {actual} '
                f'(the other arrays give V = {num_v} vertices, J = {num_j} '
                'joints).')
    if out['shapedirs'].shape[2] < num_betas:
        raise MANOModelError(
            f'{source}: shapedirs has {out["shapedirs"].shape[2]} shape '
            f'directions, {num_betas} betas were requested.')
    faces = out['f']
    if faces.size and (faces.min() < 0 or faces.max() >= num_v):
        raise MANOModelError(f'{source}: f indexes vertices outside '
                             f'[0, {num_v}).')
    return out


def _agreed_size(sizes: Dict[str, int]) -> int:
    """The size most arrays agree on (ties: the first array's).

    Args:
        sizes (dict): array name -> its size along the shared axis.
    """
    counts: Dict[int, int] = {}
    for size in sizes.values():
        counts[size] = counts.get(size, 0) + 1
    best = max(counts.values())
    return next(size for size in sizes.values() if counts[size] == best)


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

