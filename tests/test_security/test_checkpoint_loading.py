# Copyright (c) OpenMMLab. All rights reserved.
"""No code runs from a checkpoint: every entry point refuses a checkpoint
whose pickle payload would create a marker (and the marker never appears),
naming the file, the type and the opt-in; runner checkpoints of the three
model kinds, the resume path and converted official weights still load;
``--trust-checkpoint`` / ``trust_checkpoint=True`` open exactly the named
file."""
import io
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from security_helpers import (MkdirPayload, TouchPayload, load_tool,
                              make_malicious, tiny_config)
from mmengine.config import Config, ConfigDict
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader, load_checkpoint

from mmblurhand.apis import init_model
from mmblurhand.engine.checkpoint_check import CheckpointMismatchError
from mmblurhand.registry import MODELS
from mmblurhand.utils import register_all_modules
from mmblurhand.utils.checkpoint import (UntrustedCheckpointError,
                                         checkpoint_safe_globals,
                                         load_checkpoint_file,
                                         trusted_checkpoints)

register_all_modules()
KINDS = ('blurhandnet', 'generator', 'selector')


def _allowed_names():
    """Pickled names the allow-list admits."""
    names = set()
    for entry in checkpoint_safe_globals():
        if isinstance(entry, tuple):
            names.add(entry[1])
        else:
            names.add(f'{entry.__module__}.{entry.__qualname__}')
    return names


def _assert_refused(message, path, offender):
    assert f'"{path}"' in message, message
    assert offender in message, message
    assert '--trust-checkpoint' in message, message
    assert 'trust_checkpoint=True' in message, message
    assert 'weights_only=False' not in message, message


@pytest.fixture
def evil(runner_checkpoints, tmp_path):
    """A BlurHandNet runner checkpoint with a payload in ``meta``, and the
    marker its payload would create."""
    marker = tmp_path / 'PAYLOAD_RAN'
    path = make_malicious(runner_checkpoints['blurhandnet'][1],
                          tmp_path / 'evil.pth', marker)
    return runner_checkpoints['blurhandnet'][0], path, marker


# --------------------------------------------------------------------------
# what loads
# --------------------------------------------------------------------------
@pytest.mark.parametrize('kind', KINDS)
def test_runner_checkpoints_of_each_model_kind_load(runner_checkpoints, kind):
    config, path = runner_checkpoints[kind]
    # the checkpoint needs more than torch's own allow-list ...
    unsafe = set(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in unsafe
    # ... and nothing beyond ours
    assert unsafe <= _allowed_names(), unsafe - _allowed_names()
    ckpt = load_checkpoint_file(path)
    assert ckpt['meta']['epoch'] == 1 and ckpt['meta']['iter'] == 2
    loss = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(loss, HistoryBuffer)
    # the statistics methods came back through the restricted getattr
    assert np.isfinite(loss.mean()) and loss.current() == loss.data[0][-1]
    model = init_model(config, path)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, ckpt['state_dict'][key])


def test_resume_and_load_from_through_tools_train(runner_checkpoints,
                                                  synthetic_root, tmp_path,
                                                  monkeypatch):
    train = load_tool('tools/train.py')
    config = tmp_path / 'two_epochs.py'
    tiny_config('blurhandnet', synthetic_root, tmp_path / 'resumed', config,
                train_cfg=dict(max_epochs=2))
    ckpt = runner_checkpoints['blurhandnet'][1]
    monkeypatch.setattr('sys.argv',
                        ['train.py', str(config), '--resume', ckpt])
    train.main()
    resumed = load_checkpoint_file(str(tmp_path / 'resumed' / 'epoch_2.pth'))
    assert resumed['meta']['iter'] == 4  # continued from iteration 2
    monkeypatch.setattr('sys.argv', [
        'train.py', str(config), '--work-dir', str(tmp_path / 'finetuned'),
        '--cfg-options', f'load_from={ckpt}'
    ])
    train.main()
    assert load_checkpoint_file(
        str(tmp_path / 'finetuned' / 'epoch_2.pth'))['meta']['iter'] == 4


def test_checkpoint_with_config_dict_and_numpy_types_loads(tmp_path):
    data = dict(
        state_dict={'w': torch.ones(2)},
        meta=dict(
            cfg=ConfigDict(model=dict(type='BlurHandNet')),
            dataset_meta=dict(
                flip=np.array([1, 0], dtype=np.int32),
                valid=np.array([True, False]),
                names=np.array(['a', 'bb'])),
            scale=np.float32(1.5),
            step=np.int64(3)))
    torch.save(data, tmp_path / 'typed.pth')
    loaded = load_checkpoint_file(str(tmp_path / 'typed.pth'))
    assert isinstance(loaded['meta']['cfg'], ConfigDict)
    assert loaded['meta']['dataset_meta']['names'].tolist() == ['a', 'bb']
    assert loaded['meta']['scale'] == np.float32(1.5)


def test_converted_official_checkpoints_load(tmp_path):
    """The official-weight converters (tools/model_converters/) write
    ``make_checkpoint``'s plain-typed meta: the safe loader reads it."""
    from mmblurhand.utils.official_weights import make_checkpoint
    source = tmp_path / 'snapshot_12.pth.tar'
    source.write_bytes(b'official file')
    converted = make_checkpoint({'backbone.conv1.weight': torch.ones(2, 3)},
                                [str(source)], 'blurhandnet')
    torch.save(converted, tmp_path / 'converted.pth')
    loaded = load_checkpoint_file(str(tmp_path / 'converted.pth'))
    assert loaded['meta']['source_files'] == ['snapshot_12.pth.tar']
    torch.testing.assert_close(loaded['state_dict']['backbone.conv1.weight'],
                               torch.ones(2, 3))


# --------------------------------------------------------------------------
# what is refused, at every entry point
# --------------------------------------------------------------------------
@pytest.mark.parametrize('payload,offender',
                         [(MkdirPayload, 'posix.mkdir'),
                          (TouchPayload, 'pathlib.Path')])
def test_loader_refuses_payloads_and_trust_opens_only_that_file(
        runner_checkpoints, tmp_path, payload, offender):
    marker = tmp_path / 'PAYLOAD_RAN'
    base = runner_checkpoints['blurhandnet'][1]
    path = make_malicious(base, tmp_path / 'evil.pth', marker, payload)
    other = make_malicious(base, tmp_path / 'other.pth',
                           tmp_path / 'OTHER_RAN', payload)
    with pytest.raises(UntrustedCheckpointError) as info:
        load_checkpoint_file(path)
    _assert_refused(str(info.value), path, offender)
    assert len(str(info.value).splitlines()) == 1
    # MMEngine's own loader (runner load_from / resume, load_checkpoint)
    with pytest.raises(UntrustedCheckpointError):
        CheckpointLoader.load_checkpoint(path)
    assert not marker.exists()

    # the opt-in names one file: the payload of that file runs (so the test
    # would see a payload that ran), the other file is still refused
    with trusted_checkpoints(osp.join(str(tmp_path), '.', 'evil.pth')):
        assert load_checkpoint_file(path)['meta']['epoch'] == 1
        with pytest.raises(UntrustedCheckpointError):
            load_checkpoint_file(other)
    assert marker.exists()
    assert not (tmp_path / 'OTHER_RAN').exists()
    # and ends with the block
    with pytest.raises(UntrustedCheckpointError):
        load_checkpoint_file(path)


def test_environment_cannot_switch_the_allow_list_off(evil, monkeypatch):
    _, path, marker = evil
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    with pytest.raises(UntrustedCheckpointError):
        load_checkpoint_file(path)
    assert not marker.exists()


def test_getattr_is_limited_to_history_buffer_statistics(tmp_path):
    class Reach:

        def __init__(self, owner, name):
            self.owner, self.name = owner, name

        def __reduce__(self):
            return (getattr, (self.owner, self.name))

    for owner, name in ((HistoryBuffer, '__init__'),
                        (HistoryBuffer, '_statistics_methods'),
                        (ConfigDict, 'update')):
        buffer = io.BytesIO()
        torch.save({'x': Reach(owner, name)}, buffer)
        path = tmp_path / f'{owner.__name__}_{name}.pth'
        path.write_bytes(buffer.getvalue())
        with pytest.raises(UntrustedCheckpointError,
                           match=f"getattr\\({owner.__name__}, '{name}'\\)"):
            load_checkpoint_file(str(path))


def test_init_model_refuses_and_trust_checkpoint_opts_in(evil):
    config, path, marker = evil
    with pytest.raises(UntrustedCheckpointError) as info:
        init_model(config, path)
    _assert_refused(str(info.value), path, 'posix.mkdir')
    assert not marker.exists()
    model = init_model(config, path, trust_checkpoint=True)
    assert marker.exists() and model.dataset_meta is not None


def test_demo_refuses_with_one_line(evil, tmp_path, capsys):
    config, path, marker = evil
    demo = load_tool('demo/image_demo.py')
    import cv2
    image = str(tmp_path / 'hand.png')
    cv2.imwrite(image, np.full((64, 64, 3), 128, np.uint8))
    code = demo.main([
        config, path, image, '--out-dir',
        str(tmp_path / 'out'), '--render-backend', 'opencv'
    ])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1, err
    assert lines[0].startswith('error: checkpoint "')
    _assert_refused(lines[0], path, 'posix.mkdir')
    assert not marker.exists()
    assert demo.main([
        config, path, image, '--out-dir',
        str(tmp_path / 'out'), '--render-backend', 'opencv',
        '--trust-checkpoint'
    ]) == 0
    assert marker.exists()


def test_tools_test_refuses_and_trusts_the_named_file(evil, monkeypatch,
                                                      capsys):
    config, path, marker = evil
    test = load_tool('tools/test.py')
    monkeypatch.setattr('sys.argv', ['test.py', config, path])
    with pytest.raises(SystemExit) as info:
        test.main()
    _assert_refused(str(info.value.code), path, 'posix.mkdir')
    assert str(info.value.code).startswith('error: checkpoint')
    assert not marker.exists()
    monkeypatch.setattr('sys.argv',
                        ['test.py', config, path, '--trust-checkpoint'])
    test.main()
    assert marker.exists()


@pytest.mark.parametrize('how', ['resume', 'load_from'])
def test_tools_train_refuses_resume_and_load_from(evil, monkeypatch,
                                                  tmp_path, how):
    config, path, marker = evil
    train = load_tool('tools/train.py')
    args = ['--resume', path] if how == 'resume' else [
        '--cfg-options', f'load_from={path}'
    ]
    monkeypatch.setattr('sys.argv', [
        'train.py', config, '--work-dir',
        str(tmp_path / 'work')
    ] + args)
    with pytest.raises(SystemExit) as info:
        train.main()
    _assert_refused(str(info.value.code), path, 'posix.mkdir')
    assert not marker.exists()
    # no checkpoint of the refused run was written
    assert not any(
        name.endswith('.pth') for name in os.listdir(tmp_path / 'work'))


def test_tools_train_trust_needs_a_named_checkpoint(runner_checkpoints,
                                                    monkeypatch, tmp_path):
    train = load_tool('tools/train.py')
    config = runner_checkpoints['blurhandnet'][0]
    monkeypatch.setattr('sys.argv', [
        'train.py', config, '--work-dir',
        str(tmp_path / 'w'), '--trust-checkpoint'
    ])
    with pytest.raises(SystemExit, match='names none'):
        train.main()


def test_generator_checkpoint_refused_and_mismatch_readable(
        runner_checkpoints, tmp_path, monkeypatch):
    config, generator_ckpt = runner_checkpoints['generator']
    selector_config = runner_checkpoints['selector'][0]
    marker = tmp_path / 'PAYLOAD_RAN'
    evil = make_malicious(generator_ckpt, tmp_path / 'evil_gen.pth', marker)
    cfg = Config.fromfile(selector_config)
    cfg.model.generator_checkpoint = evil
    selector = MODELS.build(cfg.model)
    with pytest.raises(UntrustedCheckpointError) as info:
        selector.init_weights()
    _assert_refused(str(info.value), evil, 'posix.mkdir')
    assert not marker.exists()

    # through tools/train.py: refused, then trusted by --trust-checkpoint
    train = load_tool('tools/train.py')
    argv = [
        'train.py', selector_config, '--work-dir',
        str(tmp_path / 'sel'), '--cfg-options',
        f'model.generator_checkpoint={evil}'
    ]
    monkeypatch.setattr('sys.argv', argv)
    with pytest.raises(SystemExit) as info:
        train.main()
    _assert_refused(str(info.value.code), evil, 'posix.mkdir')
    assert not marker.exists()
    monkeypatch.setattr('sys.argv', argv + ['--trust-checkpoint'])
    train.main()
    assert marker.exists()

    # a BlurHandNet checkpoint is not a generator: a short report
    cfg.model.generator_checkpoint = runner_checkpoints['blurhandnet'][1]
    selector = MODELS.build(cfg.model)
    with pytest.raises(CheckpointMismatchError) as info:
        selector.init_weights()
    message = str(info.value)
    assert message.startswith(
        f'Checkpoint "{runner_checkpoints["blurhandnet"][1]}" does not match')
    assert 'model.generator_checkpoint' in message
    assert len(message.splitlines()) < 20
    assert 'unexpected key in source state_dict' not in message


def test_pytorch2onnx_refuses_and_reports_mismatch(runner_checkpoints, evil,
                                                   tmp_path):
    config, path, marker = evil
    tool = load_tool('tools/deployment/pytorch2onnx.py')
    out = str(tmp_path / 'model.onnx')
    with pytest.raises(SystemExit) as info:
        tool.main([config, path, '--out', out, '--skip-check'])
    _assert_refused(str(info.value.code), path, 'posix.mkdir')
    assert not marker.exists() and not osp.exists(out)

    generator_ckpt = runner_checkpoints['generator'][1]
    with pytest.raises(SystemExit) as info:
        tool.main([config, generator_ckpt, '--out', out, '--skip-check'])
    message = str(info.value.code)
    assert message.startswith(f'error: Checkpoint "{generator_ckpt}" does '
                              'not match')
    assert 'Export it with the config it was trained with' in message
    assert 'unexpected key in source state_dict' not in message
    assert not osp.exists(out)


def test_corrupt_checkpoint_is_not_called_untrusted(tmp_path):
    path = tmp_path / 'garbage.pth'
    path.write_bytes(b'not a checkpoint at all')
    with pytest.raises(RuntimeError) as info:
        load_checkpoint_file(str(path))
    assert not isinstance(info.value, UntrustedCheckpointError)
    assert 'could not be read' in str(info.value)
    assert 'corrupt or truncated' in str(info.value)


def test_messages_no_longer_advise_weights_only_false(runner_checkpoints,
                                                      tmp_path):
    """The mismatch report's advice reads the stored config safely."""
    from mmblurhand.engine.hooks.checkpoint_compatibility_hook import \
        _ADVICE
    for advice in _ADVICE.values():
        assert 'weights_only=False' not in advice
    assert "load_checkpoint_file(path)['meta']['cfg']" in _ADVICE['test']
    ckpt = runner_checkpoints['blurhandnet'][1]
    stored = load_checkpoint_file(ckpt)['meta']['cfg']
    assert 'BlurHandNet' in Config.fromstring(stored, '.py').model.type
    # the loaded weights go into a model through MMEngine's load_checkpoint
    model = init_model(runner_checkpoints['blurhandnet'][0])
    load_checkpoint(model, ckpt, map_location='cpu', strict=True)


def test_pickle_module_sanity():
    """The payload classes really run code when unpickled without the
    allow-list (so the refusals above are meaningful)."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        marker = osp.join(tmp, 'ran')
        pickle.loads(pickle.dumps(MkdirPayload(marker)))
        assert osp.isdir(marker)
        pickle.loads(pickle.dumps(TouchPayload(marker + '.txt'), protocol=2))
        assert osp.isfile(marker + '.txt')


def test_url_checkpoints_are_refused_too(evil, tmp_path):
    """``http(s)://`` goes through torch.hub's cache; MMEngine's own loader
    would unpickle it with ``weights_only=False``."""
    from mmblurhand.utils.checkpoint import load_from_http
    _, path, marker = evil
    cache = tmp_path / 'hub'
    cache.mkdir()
    (cache / 'evil.pth').write_bytes(open(path, 'rb').read())
    url = 'https://example.invalid/weights/evil.pth'  # found in the cache
    assert CheckpointLoader._get_checkpoint_loader(url) is load_from_http
    with pytest.raises(UntrustedCheckpointError) as info:
        load_from_http(url, model_dir=str(cache))
    _assert_refused(str(info.value), url, 'posix.mkdir')
    assert not marker.exists()
    with trusted_checkpoints(url):
        load_from_http(url, model_dir=str(cache))
    assert marker.exists()
