# Copyright (c) OpenMMLab. All rights reserved.
"""Bad input on the synthetic BlurHandNet config: a corrupt image, an empty
dataset directory, a MANO file of the wrong shape and a checkpoint of
another config each stop with a message that names the culprit, and the
checkpoints of the run already on disk stay intact.

(NaN losses: test_nan_guard_hook.py; atomic checkpoint writes:
test_atomic_checkpoint.py.)
"""
import glob
import hashlib
import itertools
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from engine_toys import tiny_blurhandnet_config_text
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from mmblurhand.engine.checkpoint_check import CheckpointMismatchError
from mmblurhand.engine.resumable_train_loop import select_train_loop
from mmblurhand.models.mano.mano_io import (MANO_KEYS, MANOModelError,
                                            load_procedural_mano)
from mmblurhand.utils import load_from_local, register_all_modules

register_all_modules()
_names = (f'bad_input_{i}' for i in itertools.count())


def _cfg(tmp_path, data_root, work_dir, **overrides):
    path = tmp_path / f'tiny_{next(_names)}.py'
    path.write_text(tiny_blurhandnet_config_text(data_root, max_epochs=1))
    cfg = Config.fromfile(str(path))
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = path.stem
    cfg.custom_hooks = []
    cfg.default_hooks.checkpoint.save_best = None
    cfg.merge_from_dict(overrides)
    select_train_loop(cfg)  # as tools/train.py does
    return cfg


def _checkpoint_files(work_dir):
    """Hash of every checkpoint and of ``last_checkpoint``."""
    names = [n for n in os.listdir(work_dir) if n.endswith('.pth')]
    names.append('last_checkpoint')
    return {
        n: hashlib.sha256(open(osp.join(work_dir, n), 'rb').read()).hexdigest()
        for n in names
    }


@pytest.fixture(scope='module')
def trained(tmp_path_factory, synthetic_blurhand):
    """One epoch (4 iterations) of the tiny synthetic config; the work dir
    holds iter_2.pth, iter_4.pth and last_checkpoint."""
    tmp_path = tmp_path_factory.mktemp('bad_input')
    work_dir = tmp_path / 'work'
    Runner.from_cfg(_cfg(tmp_path, synthetic_blurhand, work_dir)).train()
    files = _checkpoint_files(work_dir)
    assert set(files) == {'iter_2.pth', 'iter_4.pth', 'last_checkpoint'}
    return tmp_path, work_dir, files


def _resume_cfg(tmp_path, data_root, work_dir):
    """Continue the trained run for a second epoch, keeping every
    checkpoint."""
    return _cfg(tmp_path, data_root, work_dir, resume=True,
                train_cfg=dict(max_epochs=2),
                default_hooks=dict(checkpoint=dict(max_keep_ckpts=-1)))


def _copy_run(trained, tmp_path):
    """A copy of the trained work dir (tests may add files to it)."""
    work_dir = tmp_path / 'work'
    shutil.copytree(trained[1], work_dir)
    with open(work_dir / 'last_checkpoint', 'w') as f:
        f.write(str(work_dir / 'iter_4.pth'))
    return work_dir, _checkpoint_files(work_dir)


def _assert_checkpoints_intact(work_dir, before):
    """Every checkpoint written before is unchanged; every checkpoint
    on disk loads; ``last_checkpoint`` names one of them."""
    after = _checkpoint_files(work_dir)
    assert {k: after.get(k) for k in before if k != 'last_checkpoint'} == \
        {k: v for k, v in before.items() if k != 'last_checkpoint'}
    for name in after:
        if name.endswith('.pth'):
            load_from_local(str(work_dir / name))
    with open(work_dir / 'last_checkpoint') as f:
        assert osp.basename(f.read()) in after


@pytest.fixture(scope='module')
def corrupt_copy(trained, synthetic_blurhand):
    """The synthetic dataset with one training image truncated."""
    tmp_path = trained[0]
    root = tmp_path / 'corrupt_data'
    shutil.copytree(synthetic_blurhand, root)
    image = sorted(
        glob.glob(str(root / 'blur_images' / 'train' / '**' / '*.png'),
                  recursive=True))[0]
    data = open(image, 'rb').read()
    with open(image, 'wb') as f:
        f.write(data[:len(data) // 2])  # an interrupted copy
    return str(root) + '/', image


def test_corrupt_image_fails_with_its_name(trained, corrupt_copy,
                                           tmp_path):
    work_dir, files = _copy_run(trained, tmp_path)
    data_root, image = corrupt_copy
    runner = Runner.from_cfg(_resume_cfg(tmp_path, data_root, work_dir))
    with pytest.raises(IOError) as info:
        runner.train()  # stops when the corrupt image's batch is loaded
    message = str(info.value)
    assert f'Image "{image}" exists but is corrupt or truncated' in message
    assert "on_corrupt='skip'" in message
    _assert_checkpoints_intact(work_dir, files)


def test_corrupt_image_skipped_with_counted_warning(trained, corrupt_copy):
    tmp_path, _, _ = trained
    data_root, image = corrupt_copy
    cfg = _cfg(tmp_path, data_root, tmp_path / 'skip')
    cfg.train_dataloader.dataset.pipeline[0].on_corrupt = 'skip'
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 4  # the epoch is complete: another sample was used
    log = open(MMLogger.get_current_instance().log_file).read()
    assert (f'Skipped corrupt or truncated image "{image}" (1 corrupt '
            'image(s) skipped so far in this process)') in log


def test_empty_dataset_directory(trained, tmp_path):
    work_dir, files = _copy_run(trained, tmp_path)
    empty = tmp_path / 'empty'
    empty.mkdir()
    runner = Runner.from_cfg(
        _resume_cfg(tmp_path, str(empty) + '/', work_dir))
    with pytest.raises(FileNotFoundError) as info:
        runner.train()
    message = str(info.value)
    assert str(empty / 'annotations' / 'train' /
               'BlurHand_train_data.json') in message
    assert 'synthesize_blurhand.py' in message
    assert _checkpoint_files(work_dir) == files


def test_dataset_directory_without_images(trained, synthetic_blurhand,
                                          tmp_path):
    work_dir, files = _copy_run(trained, tmp_path)
    root = tmp_path / 'no_images'
    shutil.copytree(
        osp.join(synthetic_blurhand, 'annotations'), root / 'annotations')
    runner = Runner.from_cfg(
        _resume_cfg(tmp_path, str(root) + '/', work_dir))
    with pytest.raises(FileNotFoundError,
                       match=r'8 of 8 BlurHand train images are missing'):
        runner.train()
    assert _checkpoint_files(work_dir) == files


def test_mano_file_of_wrong_shape(trained, synthetic_blurhand, tmp_path):
    work_dir, files = _copy_run(trained, tmp_path)
    mano_dir = tmp_path / 'mano'
    mano_dir.mkdir()
    for side in ('right', 'left'):
        arrays = {k: load_procedural_mano(side)[k] for k in MANO_KEYS}
        if side == 'right':  # 10 pose-corrective blend shapes, not 135
            arrays['posedirs'] = arrays['posedirs'][..., :10]
        np.savez(mano_dir / f'MANO_{side.upper()}.npz', **arrays)
    cfg = _resume_cfg(tmp_path, synthetic_blurhand, work_dir)
    cfg.model.head.regressor.mano_cfg.model_path = str(mano_dir)
    with pytest.raises(MANOModelError) as info:
        Runner.from_cfg(cfg).train()
    message = str(info.value)
    assert str(mano_dir / 'MANO_RIGHT.npz') in message
    assert 'posedirs must have shape' in message
    assert ', 10)' in message
    assert _checkpoint_files(work_dir) == files


def test_checkpoint_of_another_config(trained, synthetic_blurhand, tmp_path):
    work_dir, files = _copy_run(trained, tmp_path)
    ckpt = str(work_dir / 'iter_4.pth')
    cfg = _cfg(tmp_path, synthetic_blurhand, tmp_path / 'test',
               load_from=ckpt)
    cfg.model.head.ktformer.num_blocks = 2
    with pytest.raises(CheckpointMismatchError) as info:
        Runner.from_cfg(cfg).test()
    message = str(info.value)
    assert f'Checkpoint "{ckpt}" does not match' in message
    assert 'model key(s) missing from the checkpoint: head.ktformer' in \
        message
    assert 'model.head.ktformer.num_blocks: 1 -> 2' in message
    assert _checkpoint_files(work_dir) == files
