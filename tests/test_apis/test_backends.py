# Copyright (c) OpenMMLab. All rights reserved.
"""init_model(backend=..., precision=...): ONNX Runtime and reduced precision
give the PyTorch fp32 predictions through the unchanged inference API; the
ONNX cache is keyed by config, checkpoint content and precision and written
atomically."""
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from torch import nn

from mmblurhand.apis import inference_blurhand, init_model

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATA = osp.join(REPO, 'tests', 'test_apis', 'data')
CONFIGS = dict(
    single=osp.join(DATA, 'tiny_blurhandnet.py'),
    generator=osp.join(DATA, 'tiny_mh_blurhandnet.py'),
    selector=osp.join(DATA, 'tiny_mh_selector.py'))
#: the outputs compared (all metres / pixels / unitless)
COMPARED = ('hyp_vertices', 'hyp_joints_cam', 'hyp_keypoints', 'hyp_scores',
            'vertices', 'joints_cam', 'keypoints', 'mano_pose', 'mano_shape',
            'cam_t')
BOXES = [[5, 5, 60, 70], [40, 10, 95, 75]]
TYPES = ['right', 'left']


def _image(seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (80, 100, 3), dtype=np.uint8)


def _spread_poses(model):
    """Random pose heads give near-zero poses; push them away from the mean
    pose (and spread the heatmaps) so every output moves."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if 'pose_heads' in name or name.endswith('proj.weight'):
                param.mul_(20.)


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """Per kind: (config, checkpoint) of a seeded random model."""
    root = tmp_path_factory.mktemp('backend_ckpts')
    out = {}
    for kind, config in CONFIGS.items():
        torch.manual_seed(3)
        model = init_model(config)
        _spread_poses(model)
        path = str(root / f'{kind}.pth')
        torch.save(dict(meta=dict(), state_dict=model.state_dict()), path)
        out[kind] = (config, path)
    return out


@pytest.fixture(scope='module')
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp('onnx_cache'))


def _predict(model, image=None):
    hands = inference_blurhand(
        model, _image() if image is None else image, bboxes=BOXES,
        hand_types=TYPES)
    return [hand.pred_instances for hand in hands]


def _max_diff(got, ref, key):
    return max(
        float(np.abs(np.asarray(g.get(key), np.float64) -
                     np.asarray(r.get(key), np.float64)).max())
        for g, r in zip(got, ref))


@pytest.mark.parametrize('kind', ['single', 'generator', 'selector'])
def test_onnxruntime_fp32_gives_the_pytorch_predictions(
        kind, checkpoints, cache_dir):
    config, ckpt = checkpoints[kind]
    ref = _predict(init_model(config, ckpt))
    model = init_model(
        config, ckpt, backend='onnxruntime', cache_dir=cache_dir)
    assert model.inference_backend == 'onnxruntime'
    assert model.inference_precision == 'fp32'
    assert model.mesh_faces is not None and model.cfg is not None
    got = _predict(model)
    for g, r in zip(got, ref):
        assert set(g.keys()) == set(r.keys())
        for key in r.keys():
            assert np.shape(g.get(key)) == np.shape(r.get(key)), key
    # fp32 kernels differ by summation order only
    for key in ('hyp_vertices', 'hyp_joints_cam', 'vertices', 'cam_t'):
        assert _max_diff(got, ref, key) < 1e-5, key  # metres
    assert _max_diff(got, ref, 'hyp_keypoints') < 1e-2  # pixels
    assert _max_diff(got, ref, 'hyp_scores') < 1e-5
    for g, r in zip(got, ref):
        np.testing.assert_array_equal(g.topn_indices, r.topn_indices)
    # the left hand was mirrored back like the PyTorch estimator does
    assert ref[1].vertices.std() > 1e-3


@pytest.mark.parametrize('backend,precision', [('pytorch', 'bf16'),
                                               ('pytorch', 'int8'),
                                               ('onnxruntime', 'int8')])
def test_reduced_precision_stays_close(backend, precision, checkpoints,
                                       cache_dir):
    config, ckpt = checkpoints['generator']
    ref = _predict(init_model(config, ckpt))
    model = init_model(
        config, ckpt, backend=backend, precision=precision,
        cache_dir=cache_dir)
    assert model.inference_precision == precision
    got = _predict(model)
    diff = _max_diff(got, ref, 'hyp_vertices')
    # it changed something (the precision is real) but stays within a few
    # mm on this random model (the measured costs: docs/benchmarks.md)
    assert 0 < diff < 5e-3
    assert np.isfinite(np.asarray(got[0].hyp_vertices)).all()


def test_bf16_weights_autocast_and_fp32_islands(checkpoints):
    config, ckpt = checkpoints['selector']
    model = init_model(config, ckpt, precision='bf16')
    dtypes = {name: p.dtype for name, p in model.named_parameters()}
    # matrix-product layers of the network: bf16
    assert dtypes['backbone.conv1.weight'] == torch.bfloat16
    assert dtypes['neck.proj.weight'] == torch.bfloat16
    assert dtypes[
        'generator.head.transformer.layers.0.attn.in_proj_weight'] == \
        torch.bfloat16
    # BatchNorm was folded into the convolutions (bf16 default), LayerNorm
    # stays fp32; the MANO regressor is an fp32 island
    assert model.folded_batchnorms > 0
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert dtypes['backbone.conv1.bias'] == torch.bfloat16
    assert dtypes['head.layers.0.norm1.weight'] == torch.float32
    regressor = {k: v for k, v in dtypes.items() if '.regressor.' in k}
    assert regressor and set(regressor.values()) == {torch.float32}
    # the island runs in fp32 inside the autocast region
    seen = {}
    regressor_module = model.generator.head.regressor
    hooks = [
        regressor_module.register_forward_pre_hook(
            lambda m, args: seen.update(
                inputs=[a.dtype for a in args],
                autocast=torch.is_autocast_enabled('cpu'))),
        regressor_module.register_forward_hook(
            lambda m, args, out: seen.update(vertices=out.vertices.dtype))
    ]
    _predict(model)
    for hook in hooks:
        hook.remove()
    assert seen == dict(
        inputs=[torch.float32] * 3, autocast=False, vertices=torch.float32)
    assert not torch.is_autocast_enabled('cpu')  # left on exit


def test_bf16_autocast_is_left_when_the_forward_fails(checkpoints):
    config, ckpt = checkpoints['generator']
    model = init_model(config, ckpt, precision='bf16')
    with pytest.raises(RuntimeError, match='expected input'):
        model(torch.zeros(1, 5, 64, 64), None, mode='tensor')
    assert not torch.is_autocast_enabled('cpu')


def test_int8_quantises_linears_outside_the_regressor(checkpoints):
    config, ckpt = checkpoints['generator']
    model = init_model(config, ckpt, precision='int8')
    assert model.int8_layers  # e.g. the transformer's MLP
    assert all('regressor' not in name for name in model.int8_layers)
    mlp = model.head.transformer.layers[0].mlp[0]
    assert type(mlp).__module__.startswith('torch.ao.nn.quantized.dynamic')
    assert type(model.head.regressor.shape_head) is nn.Linear


def test_onnx_cache_key_reuse_and_atomic_writes(checkpoints, tmp_path,
                                                monkeypatch):
    from mmblurhand.engine import checkpoint_io
    config, ckpt = checkpoints['single']
    writes = []
    real = checkpoint_io.atomic_write_bytes

    def spy(data, path):
        writes.append(osp.basename(str(path)))
        return real(data, path)

    monkeypatch.setattr(checkpoint_io, 'atomic_write_bytes', spy)
    cache = str(tmp_path / 'cache')
    first = init_model(config, ckpt, backend='onnxruntime', cache_dir=cache)
    assert first.onnx_created and writes == ['model.onnx', 'meta.json']
    meta = json.load(open(osp.join(osp.dirname(first.onnx_file),
                                   'meta.json')))
    assert meta['precision'] == 'fp32' and meta['checkpoint'] == ckpt
    assert meta['record']['weights_sha256'].startswith('file:')
    assert meta['model_bytes'] == osp.getsize(first.onnx_file)
    # same config, checkpoint and precision: reused, nothing written
    again = init_model(config, ckpt, backend='onnxruntime', cache_dir=cache)
    assert not again.onnx_created and again.onnx_file == first.onnx_file
    assert len(writes) == 2
    # int8: a second entry, quantised from the cached fp32 graph
    int8 = init_model(
        config, ckpt, backend='onnxruntime', precision='int8',
        cache_dir=cache)
    assert int8.onnx_file != first.onnx_file and len(writes) == 4
    # other weights under the same path: another key (content hash)
    state = torch.load(ckpt, weights_only=True)
    state['state_dict']['head.regressor.camera_head.bias'] += 0.1
    changed = str(tmp_path / 'same_name.pth')
    torch.save(state, changed)
    other = init_model(config, changed, backend='onnxruntime',
                       cache_dir=cache)
    assert other.onnx_file not in (first.onnx_file, int8.onnx_file)
    # another config setting: another key
    tweaked = init_model(
        config, ckpt, backend='onnxruntime', cache_dir=cache,
        cfg_options={'model.head.regressor.camera_cfg.focal': (4000., 4000.)})
    assert tweaked.onnx_file not in (first.onnx_file, other.onnx_file)
    # a truncated entry (meta.json disagrees with the model's size) is
    # exported again, not loaded
    with open(first.onnx_file, 'ab') as f:
        f.write(b'junk')
    fresh = init_model(config, ckpt, backend='onnxruntime', cache_dir=cache)
    assert fresh.onnx_created and fresh.onnx_file == first.onnx_file
    assert not [f for f in os.listdir(osp.dirname(first.onnx_file))
                if f.endswith('.tmp')]


def test_cache_dir_from_the_environment(checkpoints, tmp_path, monkeypatch):
    from mmblurhand.deployment import default_cache_dir
    monkeypatch.setenv('MMBLURHAND_CACHE_DIR', str(tmp_path / 'env_cache'))
    assert default_cache_dir() == str(tmp_path / 'env_cache')
    config, ckpt = checkpoints['single']
    model = init_model(config, ckpt, backend='onnxruntime')
    assert model.onnx_file.startswith(str(tmp_path / 'env_cache'))
    monkeypatch.delenv('MMBLURHAND_CACHE_DIR')
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    assert default_cache_dir() == str(tmp_path / 'xdg' / 'mmblurhand' /
                                      'onnx')


def test_random_weights_are_keyed_by_their_values(tmp_path):
    cache = str(tmp_path / 'cache')
    torch.manual_seed(0)
    one = init_model(CONFIGS['single'], backend='onnxruntime',
                     cache_dir=cache)
    torch.manual_seed(1)
    two = init_model(CONFIGS['single'], backend='onnxruntime',
                     cache_dir=cache)
    assert one.onnx_file != two.onnx_file


@pytest.mark.parametrize('kwargs,message', [
    (dict(backend='onnxruntime', precision='bf16'), 'no bf16 kernels'),
    (dict(backend='tensorrt'), 'backend must be one of'),
    (dict(precision='fp16'), 'precision must be one of'),
    (dict(precision='int8', device='cuda:0'), 'runs on the CPU only'),
])
def test_bad_backend_or_precision_is_one_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        init_model(CONFIGS['single'], **kwargs)


def test_demo_backend_and_precision_flags(checkpoints, tmp_path, monkeypatch,
                                          capsys):
    import importlib.util
    import cv2
    spec = importlib.util.spec_from_file_location(
        'image_demo_backend', osp.join(REPO, 'demo', 'image_demo.py'))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    monkeypatch.setenv('MMBLURHAND_CACHE_DIR', str(tmp_path / 'cache'))
    config, ckpt = checkpoints['generator']
    image = str(tmp_path / 'hand.png')
    cv2.imwrite(image, _image())
    results = {}
    for backend, precision in (('pytorch', 'fp32'), ('onnxruntime', 'fp32'),
                               ('pytorch', 'bf16')):
        out = tmp_path / f'{backend}_{precision}'
        code = demo.main([
            config, ckpt, image, '--out-dir',
            str(out), '--render-backend', 'opencv', '--backend', backend,
            '--precision', precision
        ])
        assert code == 0
        results[backend, precision] = json.load(open(out / 'hand.json'))
    joints = {
        key: np.asarray(value['hands'][0]['chosen']['joints_cam'])
        for key, value in results.items()
    }
    ref = joints['pytorch', 'fp32']
    assert np.abs(joints['onnxruntime', 'fp32'] - ref).max() < 1e-5
    assert 0 < np.abs(joints['pytorch', 'bf16'] - ref).max() < 5e-3
    code = demo.main([config, ckpt, image, '--backend', 'onnxruntime',
                      '--precision', 'bf16', '--out-dir',
                      str(tmp_path / 'x')])
    assert code == 1
    assert 'no bf16 kernels' in capsys.readouterr().err


def test_onnx_int8_quantises_layers_not_mano_or_attention_products():
    onnx = pytest.importorskip('onnx')
    from mmblurhand.deployment.onnxruntime_model import (
        export_prediction_bytes, quantize_int8)
    torch.manual_seed(0)
    model = init_model(CONFIGS['selector'])
    graph = onnx.load_from_string(
        quantize_int8(export_prediction_bytes(model, (64, 64)))).graph
    integer = [n for n in graph.node if n.op_type == 'MatMulInteger']
    names = [n.name for n in integer]
    # the transformer's and the score decoder's linear layers are int8
    assert any('/transformer/' in n for n in names)
    assert any('/head/layers.0/' in n for n in names)
    # nothing of the MANO regressor or MANO
    assert not any('/regressor/' in n or '/mano/' in n for n in names)
    # every int8 product has a constant (quantised) weight: the attention
    # score products of two activations stay float32
    weights = {init.name for init in graph.initializer}
    assert all(n.input[1] in weights for n in integer)
    float_products = [
        n for n in graph.node
        if n.op_type == 'MatMul' and 'attn' in n.name and 'regressor' not in
        n.name
    ]
    assert float_products


@pytest.mark.parametrize('cls,groups', [(nn.Conv2d, 1), (nn.Conv2d, 3),
                                        (nn.ConvTranspose2d, 1),
                                        (nn.ConvTranspose2d, 3)])
def test_fold_conv_bn_matches_conv_then_batchnorm(cls, groups):
    from mmblurhand.deployment.fusion import fold_conv_bn
    torch.manual_seed(0)
    kwargs = dict(stride=2, padding=1) if cls is nn.ConvTranspose2d else {}
    conv = cls(6, 9, 4 if cls is nn.ConvTranspose2d else 3, groups=groups,
               bias=cls is nn.Conv2d, **kwargs)
    norm = nn.BatchNorm2d(9)
    with torch.no_grad():
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-1, 1)
    norm.eval()
    x = torch.randn(2, 6, 5, 5)
    expected = norm(conv(x))
    # by hand for one output channel: gamma (y - mean) / sqrt(var + eps)
    y = conv(x)[:, 4]
    manual = norm.weight[4] * (y - norm.running_mean[4]) / torch.sqrt(
        norm.running_var[4] + norm.eps) + norm.bias[4]
    fused = fold_conv_bn(conv, norm)
    got = fused(x)
    assert torch.allclose(got, expected, atol=1e-5)
    assert torch.allclose(got[:, 4], manual, atol=1e-5)
    assert type(fused) is cls and fused.bias is not None
    assert conv.weight is not fused.weight  # the original is untouched
    assert (conv.bias is None) == (cls is nn.ConvTranspose2d)


@pytest.mark.parametrize('kind', ['single', 'generator', 'selector'])
def test_fold_bn_keeps_the_predictions(kind, checkpoints):
    config, ckpt = checkpoints[kind]
    plain = init_model(config, ckpt)
    folded = init_model(config, ckpt, fold_bn=True)
    norms = sum(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    # every BatchNorm follows a convolution: all are folded
    assert folded.folded_batchnorms == norms > 0
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    # the default fp32 model keeps them (its state dict stays loadable)
    assert plain.folded_batchnorms == 0
    ref, got = _predict(plain), _predict(folded)
    assert _max_diff(got, ref, 'hyp_vertices') < 1e-5  # metres
    assert _max_diff(got, ref, 'hyp_scores') < 1e-5


def test_bf16_attention_runs_the_fused_kernel_in_bf16(checkpoints):
    """Under autocast nn.MultiheadAttention skips its fused kernel (and
    with batch > 1 projects through a weight expanded per token); the bf16
    policy runs it with autocast off on bf16 inputs, keeping
    ``query is key is value`` for self-attention."""
    config, ckpt = checkpoints['generator']
    model = init_model(config, ckpt, precision='bf16')
    attn = model.head.transformer.layers[0].attn
    seen = {}

    def probe(module, args, kwargs):
        query, key, value = args[:3]
        seen.update(
            same=query is key and key is value,
            dtype=query.dtype,
            autocast=torch.is_autocast_enabled('cpu'))

    handle = attn.register_forward_pre_hook(probe, with_kwargs=True)
    inference_blurhand(model, _image(), bboxes=BOXES, hand_types=TYPES)
    handle.remove()
    assert seen == dict(same=True, dtype=torch.bfloat16, autocast=False)
