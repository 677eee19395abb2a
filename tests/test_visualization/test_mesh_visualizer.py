# Copyright (c) OpenMMLab. All rights reserved.
"""MeshVisualizer (GL and OpenCV paths), its camera fit, and the hook."""
import os.path as osp
import warnings
from unittest.mock import MagicMock

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from mmblurhand.utils import register_all_modules

PANEL = 96
STEPS = 3


@pytest.fixture(scope='module')
def hand():
    """A posed hand sequence from the procedural ManoLayer (T = 3)."""
    register_all_modules()
    from mmblurhand.registry import MODELS
    mano = MODELS.build(dict(type='ManoLayer'))
    orient = torch.tensor([[np.pi / 2, 0.0, 0.0]]).repeat(STEPS, 1)
    hand_pose = torch.linspace(0.0, 0.5, STEPS)[:, None].repeat(1, 45)
    with torch.no_grad():
        out = mano(orient, hand_pose, torch.zeros(STEPS, 10))
    root = out.joints[:, :1]
    return dict(
        vertices=(out.vertices - root).numpy(),
        joints=(out.joints - root).numpy(),
        faces=mano.faces)


SCALE = 500.0


def _origin(hand, scale=SCALE):
    """Image position of the 3D origin that centres the middle mesh on
    (80, 60), the centre of the packed crop."""
    xy = hand['vertices'][STEPS // 2, :, :2]
    return np.array([80.0, 60.0]) - scale * (xy.min(0) + xy.max(0)) / 2


def _sample(hand, scale=SCALE, center=None, hypotheses=0):
    """A one-hand PoseDataSample whose keypoints are the weak-perspective
    projection ``scale * X + center``; its crop is 160 px around (80, 60)."""
    from mmpose.structures import PoseDataSample
    center = _origin(hand, scale) if center is None else center
    keypoints = scale * hand['joints'][..., :2] + np.asarray(center)
    pred = InstanceData(
        vertices=hand['vertices'][None],
        joints_cam=hand['joints'][None],
        keypoints=keypoints[None])
    if hypotheses:
        factors = np.linspace(0.8, 1.2, hypotheses)[:, None, None, None]
        pred.hyp_vertices = (hand['vertices'][None] * factors)[None]
        pred.hyp_joints_cam = (hand['joints'][None] * factors)[None]
        pred.hyp_scores = np.linspace(0.1, 0.9, hypotheses)[None]
        pred.topn_indices = np.array([[hypotheses - 1]])
    sample = PoseDataSample()
    sample.pred_instances = pred
    sample.set_metainfo(
        dict(
            input_center=np.array([80.0, 60.0]),
            input_scale=np.array([160.0, 160.0]),
            input_size=(64, 64)))
    return sample


def _image():
    rng = np.random.default_rng(0)
    return (rng.integers(0, 60, (120, 160, 3)) + 60).astype(np.uint8)


def _visualizer(hand, backend, **kwargs):
    from mmblurhand.visualization import MeshVisualizer
    return MeshVisualizer(
        name=f'test_vis_{backend}_{len(kwargs)}_{np.random.rand()}',
        faces=hand['faces'],
        render_backend=backend,
        panel_size=PANEL,
        **kwargs)


def test_fit_weak_perspective_recovers_camera_and_flags_degenerate():
    from mmblurhand.visualization.mesh_visualizer import fit_weak_perspective
    rng = np.random.default_rng(1)
    joints = rng.uniform(-0.1, 0.1, (2, 21, 3))
    scale = np.array([500.0, 1200.0])
    center = np.array([[10.0, 20.0], [-5.0, 300.0]])
    keypoints = scale[:, None, None] * joints[..., :2] + center[:, None]
    got_scale, got_center, ok = fit_weak_perspective(joints, keypoints)
    np.testing.assert_allclose(got_scale, scale)
    np.testing.assert_allclose(got_center, center, atol=1e-9)
    assert ok.all()
    # a joint with a wild 2D position but zero weight does not matter
    keypoints[0, 3] = 1e4
    valid = np.ones((2, 21))
    valid[0, 3] = 0
    got_scale, _, _ = fit_weak_perspective(joints, keypoints, valid)
    np.testing.assert_allclose(got_scale, scale)
    # collapsed joints, mirrored 2D and NaNs are not usable fits
    collapsed = np.zeros((21, 3))
    assert not fit_weak_perspective(collapsed, keypoints[1])[2]
    mirrored = keypoints[1] * np.array([-1.0, -1.0])
    assert not fit_weak_perspective(joints[1], mirrored)[2]
    assert not fit_weak_perspective(joints[1] * np.nan, keypoints[1])[2]


def test_time_steps_and_top_hypotheses():
    from mmblurhand.visualization.mesh_visualizer import (
        FUTURE_COLOR, MIDDLE_COLOR, PAST_COLOR, select_top_hypotheses,
        time_step_colors, time_step_names)
    assert time_step_names(3) == ['past', 'middle', 'future']
    assert time_step_names(5) == ['t-2', 't-1', 'middle', 't+1', 't+2']
    colors = time_step_colors(5)
    np.testing.assert_allclose(colors[[0, 2, 4]],
                               [PAST_COLOR, MIDDLE_COLOR, FUTURE_COLOR])
    scores = np.array([0.1, 0.9, 0.5, 0.7])
    assert select_top_hypotheses(scores, 3) == [1, 3, 2]
    # the model's own top-n come first, then by score
    assert select_top_hypotheses(scores, 3, np.array([2])) == [2, 1, 3]
    assert select_top_hypotheses(scores, 10) == [1, 3, 2, 0]


@pytest.mark.parametrize('backend', ['pyrender', 'opencv'])
def test_add_datasample_draws_meshes_where_the_joints_are(
        hand, backend, tmp_path):
    """GL (pyrender + EGL) and the OpenCV fallback both put the mesh where
    the sample's 2D joints say, and write a non-empty picture."""
    from mmblurhand.visualization.renderers import get_render_backend
    if backend == 'pyrender':
        try:
            get_render_backend('pyrender')
        except RuntimeError as err:
            pytest.skip(f'no GL context on this machine: {err}')
    vis = _visualizer(hand, backend, mesh_alpha=1.0)
    sample = _sample(hand, hypotheses=4)
    image = _image()
    out_file = str(tmp_path / f'{backend}.png')
    drawn = vis.add_datasample('hand', image, sample, out_file=out_file)
    # rows: prediction (T + side view) and a gallery of top_n = 3 rows
    assert drawn.shape == (4 * PANEL, (STEPS + 1) * PANEL, 3)
    saved = cv2.imread(out_file)
    assert saved is not None and saved.shape == drawn.shape
    np.testing.assert_array_equal(saved[..., ::-1], drawn)

    # The middle-step panel: the mesh covers the projected vertices. The
    # panel shows the square region of side 1.1 * 160 px around (80, 60).
    region = 160 * vis.region_padding
    k = PANEL / region
    origin = np.array([80.0, 60.0]) - region / 2
    mid = STEPS // 2
    proj = (SCALE * hand['vertices'][mid, :, :2] + _origin(hand) - origin) * k
    background = vis._crop(image, np.r_[origin, origin + region])
    panel = drawn[:PANEL, mid * PANEL:(mid + 1) * PANEL]
    changed = (np.abs(panel.astype(int) - background).sum(-1) > 30)
    changed[:24] = False  # caption
    ys, xs = np.nonzero(changed)
    assert len(xs) > 200
    assert proj.min() > 24 and proj.max() < PANEL  # below the caption
    np.testing.assert_allclose(
        [xs.min(), xs.max(), ys.min(), ys.max()],
        [proj[:, 0].min(), proj[:, 0].max(), proj[:, 1].min(),
         proj[:, 1].max()],
        atol=2)
    # The gallery's first row is the model's top-1 (hypothesis 3 of 4).
    assert not np.array_equal(drawn[PANEL:2 * PANEL, :STEPS * PANEL],
                              drawn[2 * PANEL:3 * PANEL, :STEPS * PANEL])


def test_auto_backend_falls_back_to_opencv_with_one_warning(
        hand, monkeypatch):
    from mmblurhand.visualization import renderers

    class NoGL:

        def __init__(self):
            raise RuntimeError('no EGL display (simulated)')

    monkeypatch.setattr(renderers, '_BACKEND_CLASSES',
                        dict(renderers._BACKEND_CLASSES,
                             moderngl=NoGL, pyrender=NoGL))
    monkeypatch.setattr(renderers, '_RENDERERS', {})
    monkeypatch.setattr(renderers, '_GL_FAILURES', {})
    monkeypatch.setattr(renderers, '_WARNED_FALLBACK', False)
    vis = _visualizer(hand, 'auto')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        first = vis.add_datasample('a', _image(), _sample(hand),
                                   out_file=None)
        vis.add_datasample('b', _image(), _sample(hand), out_file=None)
    fallback = [w for w in caught if 'OpenCV painter' in str(w.message)]
    assert len(fallback) == 1
    assert first.shape == (PANEL, (STEPS + 1) * PANEL, 3)
    assert first.std() > 10


def test_ground_truth_row_uses_gt_joints_for_its_camera(hand):
    from mmblurhand.datasets.transforms.hand_geometry import get_crop_matrix
    vis = _visualizer(hand, 'opencv', mesh_alpha=1.0)
    sample = _sample(hand)
    # GT 2D joints in normalised crop coords of the packed crop (64 px of a
    # 160 px box at (80, 60)), placing the GT hand 20 px right of the pred.
    kp_img = SCALE * hand['joints'][..., :2] + _origin(hand) + [20.0, 0.0]
    matrix = get_crop_matrix([80.0, 60.0], [160.0, 160.0], 0.0, (64, 64))
    crop = kp_img @ matrix[:, :2].T + matrix[:, 2]
    sample.gt_instance_labels = InstanceData(
        joints_2d=torch.as_tensor(
            np.concatenate([crop / 64.0, np.zeros_like(crop[..., :1])],
                           -1)[None]),
        joints_2d_valid=torch.ones(1, STEPS, 21))
    sample.gt_instances = InstanceData(
        mesh_cam=hand['vertices'][None],
        joints_cam=hand['joints'][None],
        mesh_valid=np.ones((1, STEPS)))
    drawn = vis.add_datasample('gt', _image(), sample, out_file=None)
    assert drawn.shape == (2 * PANEL, (STEPS + 1) * PANEL, 3)
    pred_row, gt_row = drawn[:PANEL], drawn[PANEL:]
    green = np.array([0.45, 0.85, 0.45])

    def mesh_columns(row, is_gt):
        panel = row[20:, PANEL:2 * PANEL].astype(float) / 255
        hue = panel / np.maximum(panel.sum(-1, keepdims=True), 1e-6)
        target = green / green.sum()
        mask = np.abs(hue - target).sum(-1) < 0.08
        if not is_gt:
            mask = ~mask & (panel.max(-1) - panel.min(-1) > 0.3)
        return np.nonzero(mask)[1]

    shift = mesh_columns(gt_row, True).mean() - mesh_columns(
        pred_row, False).mean()
    expected = 20.0 * PANEL / (160 * vis.region_padding)
    assert abs(shift - expected) < 2.5


def test_nothing_to_draw_and_bad_faces_are_clear_errors(hand):
    from mmpose.structures import PoseDataSample
    vis = _visualizer(hand, 'opencv')
    with pytest.raises(ValueError, match='nothing to draw for "empty"'):
        vis.add_datasample('empty', _image(), PoseDataSample())
    vis.set_faces(np.array([[0, 1, 5000]]))
    with pytest.raises(ValueError, match='set_faces'):
        vis.add_datasample('x', _image(), _sample(hand))


def _runner(tmp_path, model):
    runner = MagicMock()
    runner.work_dir = str(tmp_path)
    runner.timestamp = '20250101_000000'
    runner.model = model
    runner.iter = 0
    return runner


def test_hook_writes_test_pictures_with_the_models_faces(hand, tmp_path):
    from mmengine.visualization import Visualizer

    from mmblurhand.engine.hooks import MeshVisualizationHook
    from mmblurhand.visualization import MeshVisualizer
    vis = MeshVisualizer.get_instance(
        'test_hook_visualizer', render_backend='opencv', panel_size=PANEL)
    assert Visualizer.get_current_instance() is vis
    image_path = str(tmp_path / 'blurry.png')
    cv2.imwrite(image_path, _image())
    sample = _sample(hand)
    sample.set_metainfo(dict(img_path=image_path))

    model = torch.nn.Module()
    model.hand = torch.nn.Module()
    model.hand.faces = hand['faces']
    runner = _runner(tmp_path, model)

    disabled = MeshVisualizationHook(enable=False, out_dir='vis')
    disabled.before_test(runner)
    disabled.after_test_iter(runner, 0, {}, [sample])
    assert not osp.exists(tmp_path / runner.timestamp)

    hook = MeshVisualizationHook(enable=True, interval=2, out_dir='vis')
    hook.before_test(runner)
    hook.after_test_iter(runner, 0, {}, [sample, sample])
    hook.after_test_iter(runner, 1, {}, [sample])
    out_dir = tmp_path / runner.timestamp / 'vis'
    assert sorted(p.name for p in out_dir.iterdir()) == [
        'blurry_0.png', 'blurry_2.png'
    ]
    picture = cv2.imread(str(out_dir / 'blurry_0.png'))
    assert picture.shape == (PANEL, (STEPS + 1) * PANEL, 3)
    np.testing.assert_array_equal(vis.faces, hand['faces'])


def test_hook_needs_a_mesh_visualizer(hand, tmp_path):
    from mmengine.visualization import Visualizer

    from mmblurhand.engine.hooks import MeshVisualizationHook
    Visualizer.get_instance('test_plain_visualizer')
    hook = MeshVisualizationHook(enable=True)
    runner = _runner(tmp_path, torch.nn.Module())
    hook.before_test(runner)
    with pytest.raises(TypeError, match="type='MeshVisualizer'"):
        hook.after_test_iter(runner, 0, {}, [_sample(hand)])
