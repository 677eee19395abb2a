# Copyright (c) OpenMMLab. All rights reserved.
"""demo/image_demo.py on a tiny checkpoint: outputs and error messages."""
import importlib.util
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from mmblurhand.apis.export import load_obj_vertices

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def demo():
    spec = importlib.util.spec_from_file_location(
        'image_demo', osp.join(REPO, 'demo', 'image_demo.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_image(path, seed=0, size=(96, 128)):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, size + (3, ), dtype=np.uint8)
    cv2.imwrite(str(path), cv2.blur(img, (15, 1)))
    return str(path)


def _run(demo, capsys, *args):
    code = demo.main([str(a) for a in args] + ['--render-backend', 'opencv'])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_image_writes_every_output(demo, demo_checkpoint, tmp_path, capsys):
    config, ckpt = demo_checkpoint
    image = _write_image(tmp_path / 'blurry.png')
    out = tmp_path / 'out'
    code, stdout, _ = _run(demo, capsys, config, ckpt, image, '--out-dir',
                           out, '--bbox', 5, 5, 60, 70, '--bbox', 60, 20,
                           120, 90, '--hand-type', 'right', 'left',
                           '--top-n', 2, '--mesh-format', 'ply')
    assert code == 0
    assert f'outputs in {out}' in stdout
    for suffix, rows in (('overlay', None), ('sequence', 2),
                         ('hypotheses', 4)):
        picture = cv2.imread(str(out / f'blurry_{suffix}.png'))
        assert picture is not None and picture.std() > 5, suffix
        if rows is not None:  # one row per hand, top-n rows per hand
            assert picture.shape[0] == rows * 256
    assert cv2.imread(str(out / 'blurry_overlay.png')).shape == (96, 128, 3)
    meshes = sorted(os.listdir(out / 'meshes'))
    # 2 hands x (3 chosen steps + 2 hypotheses x 3 steps)
    assert len(meshes) == 2 * (3 + 2 * 3)
    assert all(m.endswith('.ply') for m in meshes)
    assert 'blurry_hand1_rank2_hyp' in ' '.join(meshes)
    summary = json.load(open(out / 'blurry.json'))
    assert [h['hand_type'] for h in summary['hands']] == ['right', 'left']
    hand = summary['hands'][1]
    assert np.shape(hand['chosen']['mano_pose']) == (3, 48)
    assert np.shape(hand['chosen']['joints_cam']) == (3, 21, 3)
    assert np.shape(hand['chosen']['keypoints']) == (3, 21, 2)
    assert len(hand['hypotheses']['scores']) == 4
    assert len(hand['hypotheses']['listed']) == 2


def test_folder_and_video(demo, demo_checkpoint, tmp_path, capsys):
    config, ckpt = demo_checkpoint
    folder = tmp_path / 'frames'
    folder.mkdir()
    _write_image(folder / 'a.png', 1)
    _write_image(folder / 'b.jpg', 2)
    (folder / 'broken.png').write_bytes(b'not an image')
    out = tmp_path / 'out'
    boxes = tmp_path / 'boxes.json'
    boxes.write_text(json.dumps({
        'b.jpg': [dict(bbox=[0, 0, 60, 60], hand_type='left'),
                  dict(bbox=[60, 30, 120, 90], hand_type='right')]}))
    code, stdout, err = _run(demo, capsys, config, ckpt, folder, '--out-dir',
                             out, '--bbox-file', boxes, '--bbox-padding', 1)
    # the unreadable image is listed and skipped; the exit status says so
    assert code == 1
    assert f'skipped "{folder / "broken.png"}": cannot read image' in err
    assert '2 images done, 1 skipped' in stdout
    assert 'images: 100%' in err  # the progress bar
    names = os.listdir(out)
    assert {'a.json', 'b.json', 'a_overlay.png', 'b_hypotheses.png'} <= set(
        names)
    listed = json.load(open(out / 'b.json'))['hands']
    assert [h['hand_type'] for h in listed] == ['left', 'right']
    assert listed[1]['bbox'] == [60, 30, 120, 90]
    assert json.load(open(out / 'a.json'))['hands'][0]['bbox'] == [
        0, 0, 128, 96]
    # whole-image crop, OBJ by default, readable vertices in metres
    vertices = load_obj_vertices(str(out / 'meshes' / 'a_hand0_middle.obj'))
    assert vertices.shape == (778, 3) and np.abs(vertices).max() < 1.0

    video = str(tmp_path / 'clip.avi')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'MJPG'), 10,
                             (128, 96))
    for seed in range(3):
        writer.write(cv2.imread(str(folder / 'a.png')))
    writer.release()
    code, _, err = _run(demo, capsys, config, ckpt, video, '--out-dir',
                        tmp_path / 'vid', '--max-frames', 2)
    assert code == 0
    names = set(os.listdir(tmp_path / 'vid'))
    assert {'clip_000000_overlay.png', 'clip_000001.json'} <= names
    assert 'clip_000002.json' not in names
    assert 'frames' in err  # the progress bar
    assert osp.getsize(tmp_path / 'vid' / 'clip_overlay.mp4') > 0


def test_bad_inputs_give_one_line_errors(demo, demo_checkpoint, tmp_path,
                                         capsys):
    config, ckpt = demo_checkpoint
    image = _write_image(tmp_path / 'ok.png')
    junk = tmp_path / 'junk.png'
    junk.write_bytes(b'garbage')
    other_config = osp.join(REPO, 'tests/test_apis/data/tiny_blurhandnet.py')
    cases = [
        ((config, ckpt, junk), 'error: cannot read image "'),
        ((config, tmp_path / 'none.pth', image),
         'error: checkpoint "' + str(tmp_path / 'none.pth') +
         '" does not exist; train one with tools/train.py or run `make '
         'demo`'),
        ((other_config, ckpt, image),
         f'error: checkpoint "{ckpt}" does not match config '
         f'"{other_config}": '),
        ((config, ckpt, tmp_path / 'nothing'),
         'error: input "' + str(tmp_path / 'nothing') + '" does not exist'),
        ((config, ckpt, image, '--bbox', 10, 10, 5, 50),
         'error: --bbox 10 10 5 50 is not X1 Y1 X2 Y2'),
        ((config, ckpt, image, '--bbox-file', junk),
         f'error: --bbox-file "{junk}" is not valid JSON'),
        ((config, ckpt, image, '--bbox', 500, 500, 600, 600),
         'error: ok: bbox 0 = [500.0, 500.0, 600.0, 600.0] lies outside the '
         '128x96 image'),
    ]
    for args, expected in cases:
        code, _, err = _run(demo, capsys, *args, '--out-dir', tmp_path / 'o')
        assert code == 1, expected
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1, err
        assert lines[0].startswith(expected), (lines[0], expected)
    assert 'pass the config the checkpoint was trained with' in _run(
        demo, capsys, other_config, ckpt, image)[2]
