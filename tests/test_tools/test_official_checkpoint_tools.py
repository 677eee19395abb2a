# Copyright (c) OpenMMLab. All rights reserved.
"""A converted official BlurHandNet checkpoint through the user's tools.

An official-layout training state (``{'network': {'module.' + key: ...}}``
with every key and shape of the official BlurHandNet, recorded in
``tests/data/official_checkpoints/blurhandnet_keys.json``) is filled with
seeded random weights, converted by
``tools/model_converters/blurhandnet_official2mmblurhand.py`` and then run,
without ``--trust-checkpoint``, through ``demo/image_demo.py``,
``tools/test.py`` and ``tools/deployment/pytorch2onnx.py`` with the paper
config (full size: 158.5 M parameters, one 256 x 256 crop per tool). The
MANO layer is the built-in procedural hand (``MANO_MODEL_PATH`` unset).
"""
import hashlib
import importlib.util
import json
import math
import os
import os.path as osp

import numpy as np
import pytest
import torch

from mmblurhand.utils.checkpoint import load_checkpoint_file
from mmblurhand.utils.official_weights import PAPER_CONFIGS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
KEYS = osp.join(REPO, 'tests', 'data', 'official_checkpoints',
                'blurhandnet_keys.json')
CONFIG = osp.join(REPO, PAPER_CONFIGS['blurhandnet'])
NUM_VERTICES = 778  # MANO mesh
NUM_POSE = 48  # MANO axis-angle pose (16 joints x 3)


def load_tool(relative_path: str):
    """Import a script of the repository as a module."""
    path = osp.join(REPO, relative_path)
    name = osp.splitext(osp.basename(path))[0] + '_official_tool'
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_official_state(seed: int = 0) -> dict:
    """Seeded random tensors under the official key names and shapes.

    Weights are N(0, 1 / fan_in) so that activations stay O(1) through the
    158 M-parameter network; BatchNorm statistics and scales are positive;
    the KTFormer position embeddings N(0, 1) as the official init.
    """
    with open(KEYS) as f:
        shapes = json.load(f)['shapes']
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        if key.endswith('num_batches_tracked'):
            state[key] = torch.zeros(shape, dtype=torch.long)
            continue
        value = torch.randn(shape, generator=generator)
        if key.endswith('running_var') or (key.endswith('.weight')
                                           and len(shape) == 1):
            value = 1. + 0.1 * value.abs()  # BN / LayerNorm scales
        elif key.endswith(('bias', 'running_mean')):
            value = 0.01 * value
        elif len(shape) >= 2 and 'pos_embed' not in key:
            fan_in = math.prod(shape[1:])
            value = value / math.sqrt(fan_in)
        state[key] = value
    return state


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    """(official source, converted checkpoint) of the paper BlurHandNet."""
    previous = os.environ.pop('MANO_MODEL_PATH', None)
    root = tmp_path_factory.mktemp('official_blurhandnet')
    source = str(root / 'epoch_13.pth.tar')
    torch.save({'network': random_official_state(), 'epoch': 13}, source)
    dst = str(root / 'blurhandnet_official.pth')
    converter = load_tool(
        'tools/model_converters/blurhandnet_official2mmblurhand.py')
    converter.main([source, dst])
    yield source, dst
    for path in (source, dst):  # 0.6 GB each
        os.remove(path)
    if previous is not None:
        os.environ['MANO_MODEL_PATH'] = previous


def test_converted_checkpoint_loads_safely(converted):
    source, dst = converted
    ckpt = load_checkpoint_file(dst)  # weights_only, no opt-in
    meta = ckpt['meta']
    assert meta['config'] == PAPER_CONFIGS['blurhandnet']
    with open(source, 'rb') as f:
        assert meta['source_sha256'] == [hashlib.sha256(f.read()).hexdigest()]
    state = ckpt['state_dict']
    assert sum(v.numel() for k, v in state.items()
               if 'running' not in k and 'num_batches' not in k) \
        == 158_509_183
    official = torch.load(source, mmap=True, weights_only=True)['network']
    assert torch.equal(state['backbone.conv1.weight'],
                       official['module.backbone.conv1.weight'])
    # the middle decoder's first deconvolution: output channels 512..1023
    # of the grouped layer (steps past, middle, future)
    md = official['module.unfolder.decoder_md.deconv1.0.weight']
    assert torch.equal(state['neck.deconvs.0.0.weight'][:, 512:1024], md)


def test_demo_runs_the_converted_checkpoint(converted, tmp_path):
    import cv2
    _, dst = converted
    rng = np.random.default_rng(0)
    image = tmp_path / 'hand.png'
    cv2.imwrite(str(image), rng.integers(0, 256, (200, 240, 3), np.uint8))
    demo = load_tool('demo/image_demo.py')
    out = tmp_path / 'out'
    assert demo.main([
        CONFIG, dst,
        str(image), '--out-dir',
        str(out), '--render-backend', 'opencv'
    ]) == 0
    with open(out / 'hand.json') as f:
        result = json.load(f)
    hand = result['hands'][0]
    assert hand['time_steps'] == ['past', 'middle', 'future']
    pose = np.asarray(hand['chosen']['mano_pose'])
    assert pose.shape == (3, NUM_POSE) and np.isfinite(pose).all()
    # three decoders with their own random weights: three different poses
    assert np.abs(pose[0] - pose[1]).max() > 1e-3
    assert np.abs(pose[2] - pose[1]).max() > 1e-3
    for step in hand['time_steps']:
        mesh = out / 'meshes' / f'hand_hand0_{step}.obj'
        with open(mesh) as f:
            vertices = [line for line in f if line.startswith('v ')]
        assert len(vertices) == NUM_VERTICES
    assert (out / 'hand_overlay.png').is_file()


def test_tools_test_evaluates_the_converted_checkpoint(converted, tiny_dataset,
                                                       tmp_path, monkeypatch):
    _, dst = converted
    test = load_tool('tools/test.py')
    metrics_file = tmp_path / 'metrics.json'
    monkeypatch.setattr('sys.argv', [
        'test.py', CONFIG, dst, '--work-dir',
        str(tmp_path / 'work'), '--out',
        str(metrics_file), '--cfg-options',
        f'test_dataloader.dataset.data_root={tiny_dataset}',
        'test_dataloader.dataset.indices=1', 'test_dataloader.batch_size=1',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False'
    ])
    test.main()
    with open(metrics_file) as f:
        metrics = json.load(f)
    errors = {k: v for k, v in metrics.items() if 'MPJPE' in k}
    assert {'MPJPE_past', 'MPJPE_middle', 'MPJPE_future'} <= set(errors)
    # random weights: finite, positive errors (mm)
    assert all(math.isfinite(v) and v > 0 for v in errors.values())


def test_onnx_export_of_the_converted_checkpoint(converted, tmp_path):
    _, dst = converted
    onnx_tool = load_tool('tools/deployment/pytorch2onnx.py')
    out, report = tmp_path / 'blurhandnet.onnx', tmp_path / 'check.json'
    try:
        assert onnx_tool.main([
            CONFIG, dst, '--out',
            str(out), '--num-check', '1', '--batch-size', '1', '--report',
            str(report)
        ]) == 0
        assert out.stat().st_size > 158_509_183 * 4  # fp32 weights inside
    finally:
        if out.exists():
            out.unlink()  # 0.6 GB
    saved = json.loads(report.read_text())
    assert saved['all_ok']
    assert saved['outputs']['vertices']['max_abs_diff'] < 1e-4
