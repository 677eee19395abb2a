# Copyright (c) OpenMMLab. All rights reserved.
"""ONNX export: dynamic batch, onnxruntime vs PyTorch within tolerance."""
import json

import pytest
import torch

from mmblurhand.deployment import (DEFAULT_ATOL, OUTPUT_NAMES,
                                   HandMeshExportWrapper, OnnxRuntimeModel,
                                   build_inference_model, compare_with_torch,
                                   export_onnx)

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')


def _posed(model):
    """Make the random-init regressor predict clearly non-zero poses, so
    the axis-angle conversion is compared away from the identity."""
    regressor = getattr(model, 'generator', model).head.regressor
    torch.manual_seed(0)
    with torch.no_grad():
        regressor.pose_heads.feature_heads.weight.normal_(0., 0.05)
        regressor.pose_heads.feature_heads.bias.normal_(0., 0.5)
    return model


@pytest.fixture(scope='module')
def exported(tiny_configs, tmp_path_factory):
    """Each tiny model kind, wrapped and exported with batch 1."""
    root = tmp_path_factory.mktemp('onnx')
    result = {}
    for name in ('generator', 'selector', 'blurhandnet'):
        model = _posed(build_inference_model(tiny_configs[name]))
        wrapper = HandMeshExportWrapper(model).eval()
        path = str(root / f'{name}.onnx')
        export_onnx(wrapper, path, (64, 64), batch_size=1)
        result[name] = (wrapper, path)
    return result


@pytest.mark.parametrize('name,num_hyps', [('generator', 4),
                                           ('selector', 4),
                                           ('blurhandnet', 1)])
def test_onnxruntime_matches_torch_with_another_batch_size(
        exported, name, num_hyps):
    wrapper, path = exported[name]
    runtime = OnnxRuntimeModel(path)
    torch.manual_seed(1)
    image = torch.rand(3, 3, 64, 64) * 255.  # exported with batch 1
    report = compare_with_torch(wrapper, runtime, image)
    assert report['summary']['all_ok'], report
    outputs = runtime(image.numpy())
    assert outputs['vertices'].shape == (3, num_hyps, 3, 778, 3)
    assert outputs['joints'].shape == (3, num_hyps, 3, 21, 3)
    assert outputs['pose'].shape == (3, num_hyps, 3, 48)
    assert outputs['scores'].shape == (3, num_hyps)
    # the poses are far from zero, so the comparison means something
    assert abs(outputs['pose']).max() > 0.1


def test_graph_has_a_dynamic_batch_axis_and_opset(exported):
    graph = onnx.load(exported['generator'][1])
    onnx.checker.check_model(graph)
    assert max(o.version for o in graph.opset_import
               if o.domain in ('', 'ai.onnx')) >= 17
    names = [i.name for i in graph.graph.input]
    assert names == ['image']
    assert [o.name for o in graph.graph.output] == list(OUTPUT_NAMES)
    for value in list(graph.graph.input) + list(graph.graph.output):
        assert value.type.tensor_type.shape.dim[0].dim_param == 'batch'


def test_compare_flags_a_real_difference(exported):
    wrapper, path = exported['generator']

    class Shifted:
        """onnxruntime outputs with the joints moved by 1 mm."""

        def __init__(self, runtime):
            self.runtime = runtime

        def __call__(self, image):
            out = self.runtime(image)
            out['joints'] = out['joints'] + 1e-3
            return out

    report = compare_with_torch(wrapper, Shifted(OnnxRuntimeModel(path)),
                                torch.rand(1, 3, 64, 64) * 255.)
    assert not report['joints']['ok']
    assert report['joints']['max_abs_diff'] == pytest.approx(1e-3, rel=1e-2)
    assert report['vertices']['ok']
    assert not report['summary']['all_ok']


def test_export_needs_eval_mode_and_opset_17(exported, tmp_path):
    wrapper, _ = exported['blurhandnet']
    with pytest.raises(ValueError, match='opset'):
        export_onnx(wrapper, str(tmp_path / 'x.onnx'), (64, 64), opset=16)
    wrapper.train()
    try:
        with pytest.raises(RuntimeError, match='eval'):
            export_onnx(wrapper, str(tmp_path / 'x.onnx'), (64, 64))
    finally:
        wrapper.eval()


def test_pytorch2onnx_tool(tiny_configs, onnx_tool, tmp_path):
    import cv2
    import numpy as np
    images = tmp_path / 'images'
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(
            str(images / f'{i}.png'),
            rng.integers(0, 256, (80, 100, 3), dtype=np.uint8))
    out, report = tmp_path / 'gen.onnx', tmp_path / 'check.json'
    assert onnx_tool.main([
        tiny_configs['generator'], '--out',
        str(out), '--check-images',
        str(images), '--report',
        str(report)
    ]) == 0
    saved = json.loads(report.read_text())
    assert saved['all_ok'] and '3 images' in saved['source']
    assert set(saved['outputs']) == set(DEFAULT_ATOL)
    with pytest.raises(ValueError, match='NAME=VALUE'):
        onnx_tool.main([
            tiny_configs['generator'], '--out',
            str(out), '--atol', 'mesh=1'
        ])


def test_random_selector_is_refused(tiny_configs, onnx_tool, tmp_path):
    config = tmp_path / 'random_selector.py'
    config.write_text(
        f"_base_ = ['{tiny_configs['generator']}']\n"
        "model = dict(selector=dict(_delete_=True, type='RandomSelector', "
        'seed=0))\n')
    with pytest.raises(ValueError, match='ProjectiveSelector'):
        onnx_tool.main([str(config), '--out', str(tmp_path / 'x.onnx')])
    assert not (tmp_path / 'x.onnx').exists()
