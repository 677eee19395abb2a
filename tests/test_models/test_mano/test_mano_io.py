# Copyright (c) OpenMMLab. All rights reserved.
"""Chumpy-free loading of MANO files, errors, the left-hand fix, the
procedural-model cache and the conversion tool."""
import importlib.util
import os
import os.path as osp
import pickle
import sys

import numpy as np
import pytest

from mmblurhand.models.mano import (MANO_KEYS, MANOModelError,
                                    MANOModelNotFoundError, load_mano_arrays,
                                    read_mano_file)
from mmblurhand.models.mano import mano_io

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))


def _load_tool(name):
    path = osp.join(REPO, 'tools', 'misc', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'_tool_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _buggy_left(right):
    """A left model with MANO_LEFT's released bug: everything mirrored
    except shapedirs[:, 0, :], which equals the right hand's."""
    from mmblurhand.models.mano.procedural_hand import mirror_mano_arrays
    left = mirror_mano_arrays(right)
    left['shapedirs'] = left['shapedirs'].copy()
    left['shapedirs'][:, 0, :] = right['shapedirs'][:, 0, :]
    return left


def test_chumpy_free_unpickler_reads_official_layout(tmp_path, right_arrays,
                                                     official_like_pickle):
    path = official_like_pickle(tmp_path / 'MANO_RIGHT.pkl', right_arrays)
    assert 'chumpy' not in sys.modules
    data = read_mano_file(str(path))
    assert 'chumpy' not in sys.modules
    for key in MANO_KEYS:
        assert isinstance(data[key], np.ndarray), key
        np.testing.assert_array_equal(data[key], right_arrays[key])
    # The sparse J_regressor came back dense, the extra keys are kept.
    assert data['J_regressor'].shape == right_arrays['J_regressor'].shape
    np.testing.assert_allclose(
        data['J'], right_arrays['J_regressor'] @ right_arrays['v_template'])
    assert data['bs_style'] == 'lbs'


def test_load_from_folder_prefers_npz_and_accepts_smplx_layout(
        tmp_path, right_arrays, official_like_pickle):
    smplx_dir = tmp_path / 'models' / 'mano'
    smplx_dir.mkdir(parents=True)
    official_like_pickle(smplx_dir / 'MANO_RIGHT.pkl', right_arrays)
    arrays = load_mano_arrays(str(tmp_path / 'models'), 'right')
    np.testing.assert_array_equal(arrays['v_template'],
                                  right_arrays['v_template'])
    # An npz next to the pkl wins.
    changed = dict(right_arrays, v_template=right_arrays['v_template'] + 1)
    np.savez(smplx_dir / 'MANO_RIGHT.npz', **changed)
    arrays = load_mano_arrays(str(smplx_dir), 'right')
    np.testing.assert_array_equal(arrays['v_template'],
                                  changed['v_template'])


def test_missing_model_error_explains_where_to_get_it(tmp_path):
    with pytest.raises(MANOModelNotFoundError) as info:
        load_mano_arrays(str(tmp_path), 'right')
    message = str(info.value)
    for needle in ('MANO_RIGHT', str(tmp_path), 'mano.is.tue.mpg.de',
                   'data/mano', 'convert_mano.py', 'non-commercial',
                   'redistributed', 'model_path=None'):
        assert needle in message, needle
    with pytest.raises(MANOModelNotFoundError, match='MANO_LEFT.pkl'):
        load_mano_arrays(str(tmp_path / 'MANO_LEFT.pkl'), 'left')


def test_wrong_files_give_clear_errors(tmp_path, right_arrays):
    not_a_dict = tmp_path / 'MANO_RIGHT.pkl'
    with open(not_a_dict, 'wb') as f:
        pickle.dump([1, 2, 3], f)
    with pytest.raises(MANOModelError, match='not the dict'):
        load_mano_arrays(str(not_a_dict))

    garbage = tmp_path / 'garbage' / 'MANO_RIGHT.pkl'
    garbage.parent.mkdir()
    garbage.write_bytes(b'this is not a pickle')
    with pytest.raises(MANOModelError, match='could not be read'):
        load_mano_arrays(str(garbage.parent))

    missing_key = {k: v for k, v in right_arrays.items() if k != 'posedirs'}
    np.savez(tmp_path / 'MANO_RIGHT.npz', **missing_key)
    with pytest.raises(MANOModelError, match=r"missing MANO keys \['posedirs"):
        load_mano_arrays(str(tmp_path))

    bad_shape = dict(right_arrays, weights=right_arrays['weights'][:, :15])
    np.savez(tmp_path / 'MANO_RIGHT.npz', **bad_shape)
    with pytest.raises(MANOModelError, match='weights must have shape'):
        load_mano_arrays(str(tmp_path))

    with pytest.raises(ValueError, match='is a right hand model'):
        load_mano_arrays(str(tmp_path / 'MANO_RIGHT.npz'), 'left')
    with pytest.raises(MANOModelError, match='unsupported extension'):
        (tmp_path / 'MANO_RIGHT.obj').write_text('v 0 0 0')
        load_mano_arrays(str(tmp_path / 'MANO_RIGHT.obj'))


def test_left_shapedirs_fix_only_for_the_buggy_official_file(
        tmp_path, right_arrays, official_like_pickle):
    left = _buggy_left(right_arrays)
    official_like_pickle(tmp_path / 'MANO_RIGHT.pkl', right_arrays)
    official_like_pickle(tmp_path / 'MANO_LEFT.pkl', left)
    fixed = load_mano_arrays(str(tmp_path), 'left')
    np.testing.assert_array_equal(fixed['shapedirs'][:, 0],
                                  -right_arrays['shapedirs'][:, 0])
    np.testing.assert_array_equal(fixed['shapedirs'][:, 1:],
                                  left['shapedirs'][:, 1:])
    unfixed = load_mano_arrays(str(tmp_path), 'left',
                               fix_left_shapedirs=False)
    np.testing.assert_array_equal(unfixed['shapedirs'], left['shapedirs'])

    # A correct left file (x already mirrored) is left alone.
    good_dir = tmp_path / 'good'
    good_dir.mkdir()
    from mmblurhand.models.mano.procedural_hand import mirror_mano_arrays
    good_left = mirror_mano_arrays(right_arrays)
    official_like_pickle(good_dir / 'MANO_RIGHT.pkl', right_arrays)
    official_like_pickle(good_dir / 'MANO_LEFT.pkl', good_left)
    loaded = load_mano_arrays(str(good_dir), 'left')
    np.testing.assert_array_equal(loaded['shapedirs'],
                                  good_left['shapedirs'])

    # A lone left file cannot be checked: unchanged, with a warning.
    lone = tmp_path / 'lone'
    lone.mkdir()
    official_like_pickle(lone / 'MANO_LEFT.pkl', left)
    with pytest.warns(UserWarning, match='cannot be checked'):
        loaded = load_mano_arrays(str(lone / 'MANO_LEFT.pkl'), 'left')
    np.testing.assert_array_equal(loaded['shapedirs'], left['shapedirs'])


def test_procedural_cache_is_written_atomically_and_reused(
        tmp_path, monkeypatch, right_arrays):
    from mmblurhand.models.mano.procedural_hand import \
        PROCEDURAL_MANO_VERSION
    calls = []

    def counting(side):  # stands in for the (slow) generator
        calls.append(side)
        return {k: v.copy() for k, v in right_arrays.items()}

    monkeypatch.setattr(mano_io, '_build_procedural', counting)
    first = mano_io.load_procedural_mano('right', cache_dir=str(tmp_path))
    files = os.listdir(tmp_path)
    assert len(files) == 1 and not files[0].startswith('.tmp')
    assert files[0].startswith('procedural_MANO_RIGHT_')
    meta = read_mano_file(str(tmp_path / files[0]))[mano_io.META_KEY]
    assert meta['version'] == PROCEDURAL_MANO_VERSION
    assert 'NOT MANO' in meta['source']
    assert calls == ['right']

    # A new process (empty memo) reads the file instead of rebuilding.
    monkeypatch.setattr(mano_io, '_PROCEDURAL_MEMO', {})
    second = mano_io.load_procedural_mano('right', cache_dir=str(tmp_path))
    assert calls == ['right']
    for key in MANO_KEYS:
        np.testing.assert_array_equal(first[key], second[key])
    # Returned arrays are copies: editing them does not touch the cache.
    second['v_template'][:] = 0
    third = mano_io.load_procedural_mano('right', cache_dir=str(tmp_path))
    np.testing.assert_array_equal(third['v_template'], first['v_template'])

    # A corrupt cache file is rebuilt.
    monkeypatch.setattr(mano_io, '_PROCEDURAL_MEMO', {})
    (tmp_path / files[0]).write_bytes(b'broken')
    rebuilt = mano_io.load_procedural_mano('right', cache_dir=str(tmp_path))
    assert calls == ['right', 'right']
    np.testing.assert_array_equal(rebuilt['f'], first['f'])


def test_convert_mano_tool_writes_loadable_fixed_npz(
        tmp_path, right_arrays, official_like_pickle):
    left = _buggy_left(right_arrays)
    official_like_pickle(tmp_path / 'MANO_RIGHT.pkl', right_arrays)
    official_like_pickle(tmp_path / 'MANO_LEFT.pkl', left)
    tool = _load_tool('convert_mano')
    out_dir = tmp_path / 'out'
    written = tool.main([str(tmp_path), '--out-dir', str(out_dir)])
    assert sorted(osp.basename(p) for p in written) == [
        'MANO_LEFT.npz', 'MANO_RIGHT.npz'
    ]
    data = read_mano_file(str(out_dir / 'MANO_LEFT.npz'))
    assert data[mano_io.META_KEY]['left_shapedirs_fixed'] is True
    np.testing.assert_array_equal(data['shapedirs'][:, 0],
                                  -right_arrays['shapedirs'][:, 0])
    # The converted folder loads without pickles, the fix is not redone.
    loaded = load_mano_arrays(str(out_dir), 'left')
    np.testing.assert_array_equal(loaded['shapedirs'], data['shapedirs'])
    right = load_mano_arrays(str(out_dir), 'right')
    np.testing.assert_array_equal(right['J_regressor'],
                                  right_arrays['J_regressor'])
    # Refuses to overwrite without --force; a missing input is an error.
    with pytest.raises(SystemExit):
        tool.main([str(tmp_path), '--out-dir', str(out_dir)])
    with pytest.raises(MANOModelNotFoundError):
        tool.main([str(tmp_path / 'nothing_here')])


def test_make_synthetic_mano_files_load_in_mmblurhand_and_smplx(
        tmp_path, right_arrays):
    import smplx
    import torch
    tool = _load_tool('make_synthetic_mano')
    written = tool.main(['--out-dir', str(tmp_path)])
    assert sorted(osp.basename(p) for p in written) == [
        'MANO_LEFT.npz', 'MANO_LEFT.pkl', 'MANO_RIGHT.npz', 'MANO_RIGHT.pkl'
    ]
    with open(tmp_path / 'MANO_RIGHT.pkl', 'rb') as f:
        raw = pickle.load(f)  # a plain pickle: no chumpy, no mmblurhand
    assert 'NOT MANO' in raw[mano_io.META_KEY]['source']
    for ext in ('npz', 'pkl'):
        arrays = load_mano_arrays(str(tmp_path / f'MANO_RIGHT.{ext}'))
        np.testing.assert_array_equal(arrays['v_template'],
                                      right_arrays['v_template'])
    # The procedural left file is never "fixed" (it is already mirrored).
    left = load_mano_arrays(str(tmp_path), 'left')
    np.testing.assert_array_equal(left['shapedirs'][:, 0],
                                  -right_arrays['shapedirs'][:, 0])
    model = smplx.MANO(str(tmp_path / 'MANO_RIGHT.pkl'), use_pca=False,
                       flat_hand_mean=True)
    out = model(betas=torch.zeros(1, 10), global_orient=torch.zeros(1, 3),
                hand_pose=torch.zeros(1, 45))
    np.testing.assert_allclose(out.vertices[0].detach().numpy(),
                               right_arrays['v_template'], atol=1e-6)
    with pytest.raises(FileExistsError):
        tool.main(['--out-dir', str(tmp_path)])
