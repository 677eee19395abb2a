# Copyright (c) OpenMMLab. All rights reserved.
"""Fixtures for the hand-model tests: a private procedural-model cache and
stand-in "official MANO" pickles that contain chumpy-like objects."""
import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse


@pytest.fixture(scope='session', autouse=True)
def _private_mano_cache(tmp_path_factory):
    """Build the procedural hand into a temporary cache, not ~/.cache."""
    from mmblurhand.models.mano import mano_io
    patcher = pytest.MonkeyPatch()
    patcher.setenv('XDG_CACHE_HOME', str(tmp_path_factory.mktemp('xdg')))
    yield
    patcher.undo()
    # Drop the in-process copies keyed by the temporary path.
    for key in list(mano_io._PROCEDURAL_MEMO):
        if key.startswith(str(tmp_path_factory.getbasetemp())):
            del mano_io._PROCEDURAL_MEMO[key]


@pytest.fixture(scope='session')
def right_arrays():
    from mmblurhand.models.mano import load_mano_arrays
    return load_mano_arrays(None, 'right')


@pytest.fixture(scope='session')
def left_arrays():
    from mmblurhand.models.mano import load_mano_arrays
    return load_mano_arrays(None, 'left')


def _install_fake_chumpy():
    """Modules ``chumpy`` and ``chumpy.ch`` with a class pickled as
    ``chumpy.ch.Ch`` that stores its array in ``__dict__['x']``, like the
    real one. Returns the class and the names to remove afterwards."""
    chumpy = types.ModuleType('chumpy')
    ch = types.ModuleType('chumpy.ch')

    class Ch:

        def __init__(self, x):
            self.x = np.asarray(x)
            self.label = None
            self._dirty_vars = set()

    Ch.__module__ = 'chumpy.ch'
    Ch.__qualname__ = 'Ch'
    Ch.__name__ = 'Ch'
    ch.Ch = Ch
    chumpy.ch = ch
    chumpy.Ch = Ch
    sys.modules['chumpy'] = chumpy
    sys.modules['chumpy.ch'] = ch
    return Ch


def write_official_like_pickle(path, arrays, chumpy_keys=('shapedirs',
                                                         'v_template')):
    """Write ``arrays`` the way the official MANO pkl stores them: the
    ``chumpy_keys`` as chumpy objects, ``J_regressor`` as a scipy csc
    matrix, plus the extra keys of the official file. chumpy is gone from
    ``sys.modules`` when this returns."""
    ch_class = _install_fake_chumpy()
    try:
        payload = {}
        for key, value in arrays.items():
            value = np.asarray(value)
            if key in chumpy_keys:
                payload[key] = ch_class(value)
            elif key == 'J_regressor':
                payload[key] = scipy.sparse.csc_matrix(value)
            else:
                payload[key] = value
        payload['J'] = ch_class(arrays['J_regressor'] @ arrays['v_template'])
        payload['hands_coeffs'] = np.zeros((4, 45))
        payload['bs_style'] = 'lbs'
        payload['bs_type'] = 'lrotmin'
        with open(path, 'wb') as f:
            pickle.dump(payload, f, protocol=2)
    finally:
        del sys.modules['chumpy']
        del sys.modules['chumpy.ch']
    return path


@pytest.fixture
def official_like_pickle():
    """The function :func:`write_official_like_pickle`."""
    return write_official_like_pickle
