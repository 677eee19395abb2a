# Copyright (c) OpenMMLab. All rights reserved.
"""Checkpoints are written atomically and never lost to a crash."""
import itertools
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch
from engine_toys import RUNTIME_CFG, tool_env, toy_config_text
from mmengine.config import Config
from mmengine.fileio import get_file_backend
from mmengine.runner import Runner

import mmblurhand.engine.checkpoint_io as checkpoint_io
from mmblurhand.engine.checkpoint_io import (AtomicLocalBackend,
                                             atomic_write_bytes)
from mmblurhand.utils import load_from_local, register_all_modules

register_all_modules()
_names = (f'atomic_ckpt_{i}' for i in itertools.count())


def test_mmengine_writes_local_files_through_the_atomic_backend(tmp_path):
    assert isinstance(get_file_backend(str(tmp_path)), AtomicLocalBackend)
    assert isinstance(
        get_file_backend(backend_args=dict(backend='local')),
        AtomicLocalBackend)
    backend = get_file_backend(str(tmp_path))
    backend.put_text('hello', tmp_path / 'sub' / 'a.txt')
    assert (tmp_path / 'sub' / 'a.txt').read_text() == 'hello'
    # default permissions (umask), not mkstemp's 0600
    umask = os.umask(0)
    os.umask(umask)
    mode = os.stat(tmp_path / 'sub' / 'a.txt').st_mode & 0o777
    assert mode == 0o666 & ~umask
    assert os.listdir(tmp_path / 'sub') == ['a.txt']


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / 'epoch_1.pth'
    atomic_write_bytes(b'old complete checkpoint', target)

    def fail(*args):
        raise OSError('No space left on device')

    monkeypatch.setattr(checkpoint_io.os, 'replace', fail)
    with pytest.raises(OSError, match='No space'):
        atomic_write_bytes(b'new', target)
    assert target.read_bytes() == b'old complete checkpoint'
    assert os.listdir(tmp_path) == ['epoch_1.pth']  # temp file cleaned


# The writer imports checkpoint_io alone (not the mmblurhand package and its
# registries) so that the subprocess starts fast.
_WRITER = '''
import importlib.util, io, sys, torch
spec = importlib.util.spec_from_file_location('checkpoint_io', sys.argv[2])
checkpoint_io = importlib.util.module_from_spec(spec)
spec.loader.exec_module(checkpoint_io)
atomic_write_bytes = checkpoint_io.atomic_write_bytes
payloads = []
for i in range(2):
    buf = io.BytesIO()
    torch.save({'version': i, 'w': torch.full((2_000_000,), float(i))}, buf)
    payloads.append(buf.getvalue())
print('ready', flush=True)
i = 0
while True:
    atomic_write_bytes(payloads[i % 2], sys.argv[1])
    i += 1
'''


def test_sigkill_during_writes_never_leaves_a_truncated_file(tmp_path):
    """A process rewriting an 8 MB checkpoint in a loop is SIGKILLed while
    a new version is being written (its temporary file exists); the file
    under the final name is always a complete version."""
    target = tmp_path / 'latest.pth'
    for _ in range(2):
        proc = subprocess.Popen([sys.executable, '-c', _WRITER,
                                 str(target), checkpoint_io.__file__],
                                stdout=subprocess.PIPE,
                                env=tool_env())
        assert proc.stdout.readline().strip() == b'ready'
        deadline = time.time() + 60
        while not [n for n in os.listdir(tmp_path) if n.endswith('.tmp')
                   ] or not target.exists():
            assert time.time() < deadline, 'the writer never wrote'
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        ckpt = torch.load(target, weights_only=True)
        assert torch.all(ckpt['w'] == ckpt['version'])
        # (a killed writer leaves its hidden temporary file behind)
        for name in os.listdir(tmp_path):
            if name.endswith('.tmp'):
                os.remove(tmp_path / name)


def _runner(tmp_path, hook_type, **ckpt):
    path = tmp_path / 'toy_cfg.py'
    path.write_text(toy_config_text(RUNTIME_CFG, max_epochs=1))
    cfg = Config.fromfile(str(path))
    cfg.work_dir = str(tmp_path / hook_type)
    cfg.experiment_name = next(_names)
    cfg.custom_hooks = []
    cfg.default_hooks.checkpoint = dict(type=hook_type, **ckpt)
    return Runner.from_cfg(cfg)


def _fail_saves_from(runner, iteration):
    """Make `runner.save_checkpoint` die (like a kill mid-write) from
    ``iteration`` on."""
    save = runner.save_checkpoint

    def flaky_save(*args, **kwargs):
        if runner.iter + 1 >= iteration:
            raise OSError('killed while writing')
        return save(*args, **kwargs)

    runner.save_checkpoint = flaky_save


@pytest.mark.parametrize('hook_type, survives', [
    ('AtomicCheckpointHook', True),
    ('CheckpointHook', False),  # MMEngine's: deletes the old one first
])
def test_failed_save_keeps_the_previous_checkpoint(tmp_path, hook_type,
                                                   survives):
    runner = _runner(tmp_path, hook_type, by_epoch=False, interval=2,
                     max_keep_ckpts=1)
    _fail_saves_from(runner, 4)
    with pytest.raises(OSError, match='killed while writing'):
        runner.train()
    work = tmp_path / hook_type
    assert osp.exists(work / 'iter_2.pth') == survives
    if survives:
        with open(work / 'last_checkpoint') as f:
            assert f.read() == str(work / 'iter_2.pth')
        assert load_from_local(str(work / 'iter_2.pth'))['meta']['iter'] == 2


def test_outdated_and_best_checkpoints_are_replaced_after_saving(tmp_path):
    runner = _runner(tmp_path, 'AtomicCheckpointHook', by_epoch=False,
                     interval=1, max_keep_ckpts=2, save_best='mse',
                     rule='less')
    runner.train()
    work = tmp_path / 'AtomicCheckpointHook'
    names = sorted(n for n in os.listdir(work) if n.endswith('.pth'))
    assert names == ['best_mse_iter_5.pth', 'iter_4.pth', 'iter_5.pth']
    with open(work / 'last_checkpoint') as f:
        assert f.read() == str(work / 'iter_5.pth')
    assert not [n for n in os.listdir(work) if n.endswith('.tmp')]
