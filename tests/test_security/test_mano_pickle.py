# Copyright (c) OpenMMLab. All rights reserved.
"""MANO ``.pkl`` files go through an allow-list unpickler: a pickle that
names anything but numpy, scipy sparse matrices and chumpy is refused by
name and its code never runs; official-layout pickles (protocol 0 and 2)
still load; the shape check blames the array that disagrees."""
import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse
from security_helpers import MkdirPayload

from mmblurhand.models.mano import MANO_KEYS, MANOModelError
from mmblurhand.models.mano.mano_io import (load_mano_arrays,
                                            load_procedural_mano,
                                            read_mano_file,
                                            validate_mano_arrays)


@pytest.fixture(scope='module')
def right():
    return {k: v for k, v in load_procedural_mano('right').items()
            if k in MANO_KEYS}


class EvalPayload:

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (eval, (f'__import__("os").mkdir({self.marker!r})', ))


@pytest.mark.parametrize('payload,name', [(MkdirPayload, 'posix.mkdir'),
                                          (EvalPayload, 'builtins.eval')])
def test_malicious_mano_pickle_is_refused_by_name(tmp_path, right, payload,
                                                  name):
    marker = tmp_path / 'PAYLOAD_RAN'
    path = tmp_path / 'MANO_RIGHT.pkl'
    data = dict(right, v_template=payload(marker))
    with open(path, 'wb') as f:
        pickle.dump(data, f, protocol=2)
    with pytest.raises(MANOModelError) as info:
        load_mano_arrays(str(path), 'right')
    message = str(info.value)
    assert repr(str(path)) in message and f'`{name}`' in message, message
    assert 'could run code' in message and 'mano.is.tue.mpg.de' in message
    assert not marker.exists()
    # the same file runs its payload with a plain unpickler
    with open(path, 'rb') as f:
        pickle.load(f)
    assert marker.exists()


def test_names_near_the_allow_list_are_refused(tmp_path):
    """Only sparse-matrix classes of scipy.sparse and the array machinery
    of numpy resolve; other functions of those packages do not."""
    for module, name in (('scipy.sparse', 'save_npz'), ('numpy', 'load'),
                         ('numpy.lib.npyio', 'load'),
                         ('copyreg', '_inverted_registry'), ('os', 'system')):
        path = tmp_path / f'{module}_{name}.pkl'
        # GLOBAL module name; EMPTY_TUPLE; REDUCE; STOP
        path.write_bytes(f'c{module}\n{name}\n'.encode() + b')R.')
        with pytest.raises(MANOModelError, match=f'`{module}.{name}`'):
            read_mano_file(str(path))


def _fake_chumpy():
    """A class pickled as ``chumpy.ch.Ch`` with its value in ``x`` and a
    set of dirty variables, like chumpy's."""
    chumpy = types.ModuleType('chumpy')
    ch = types.ModuleType('chumpy.ch')

    class Ch:

        def __init__(self, x):
            self.x = np.asarray(x)
            self._dirty_vars = {'x'}

    Ch.__module__, Ch.__qualname__ = 'chumpy.ch', 'Ch'
    ch.Ch = chumpy.Ch = Ch
    return {'chumpy': chumpy, 'chumpy.ch': ch}, Ch


@pytest.mark.parametrize('protocol', [0, 2])
def test_official_layout_pickles_still_load(tmp_path, right, protocol,
                                            monkeypatch):
    modules, ch_class = _fake_chumpy()
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    data = dict(right)
    data['shapedirs'] = ch_class(right['shapedirs'])
    data['J_regressor'] = scipy.sparse.csc_matrix(right['J_regressor'])
    data['bs_style'] = 'lbs'
    path = tmp_path / 'MANO_RIGHT.pkl'
    with open(path, 'wb') as f:
        pickle.dump(data, f, protocol=protocol)
    for name in modules:
        monkeypatch.delitem(sys.modules, name)
    loaded = read_mano_file(str(path))
    for key in MANO_KEYS:
        np.testing.assert_array_equal(loaded[key], right[key])
    assert loaded['bs_style'] == 'lbs'


def test_shape_check_blames_the_array_that_differs(right):
    num_v, num_j = right['weights'].shape
    bad = dict(right, v_template=right['v_template'][:-1])
    with pytest.raises(MANOModelError) as info:
        validate_mano_arrays(bad, 'MANO_RIGHT.npz')
    assert str(info.value).startswith(
        f'MANO_RIGHT.npz: v_template must have shape ({num_v}, 3), got '
        f'({num_v - 1}, 3)')
    assert 'J_regressor' not in str(info.value)

    bad = dict(right, J_regressor=np.vstack(
        [right['J_regressor'], right['J_regressor'][:1]]))
    with pytest.raises(MANOModelError,
                       match=rf'J_regressor must have shape \({num_j}, '
                       rf'{num_v}\), got \({num_j + 1}, {num_v}\)'):
        validate_mano_arrays(bad, 'MANO_RIGHT.npz')

    bad = dict(right, kintree_table=right['kintree_table'][:, :-1])
    with pytest.raises(MANOModelError, match='kintree_table must have shape'):
        validate_mano_arrays(bad, 'MANO_RIGHT.npz')

    bad = dict(right, weights=right['weights'][None])
    with pytest.raises(MANOModelError,
                       match=r'weights must have shape \(V, J\), got \(1, '):
        validate_mano_arrays(bad, 'MANO_RIGHT.npz')
