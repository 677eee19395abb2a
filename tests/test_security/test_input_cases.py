# Copyright (c) OpenMMLab. All rights reserved.
"""Input cases that used to fail quietly: clashing output names, per-image
failures in folder runs, a --bbox-file that matches nothing, truncated
JPEGs, an --out-dir that is a file, NaN annotations, arguments with spaces
through the shell launchers, and the overlay's full-size render."""
import json
import os
import os.path as osp
import shutil
import subprocess

import cv2
import numpy as np
import pytest
from security_helpers import REPO, load_tool

from mmblurhand.apis import load_image


@pytest.fixture(scope='module')
def demo():
    return load_tool('demo/image_demo.py')


def _image(path, seed=0, size=(96, 128)):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, size + (3, ), dtype=np.uint8)
    cv2.imwrite(str(path), cv2.blur(img, (15, 1)))
    return str(path)


def _truncated_jpeg(path):
    _image(path, seed=5)
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])  # an interrupted download
    return str(path)


def _run(demo, capsys, *args):
    code = demo.main([str(a) for a in args] + ['--render-backend', 'opencv'])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


# --------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------
def test_output_names_keep_the_extension_where_stems_clash(demo):
    assert demo.output_names(['d/x.png', 'd/x.jpg', 'd/y.png']) == [
        'x_png', 'x_jpg', 'y'
    ]
    with pytest.raises(demo.DemoError, match='would write the same outputs'):
        demo.output_names(['d/x_png.jpg', 'd/x.png', 'd/x.jpg'])


def test_clashing_stems_write_separate_outputs(demo, demo_checkpoint,
                                               tmp_path, capsys):
    config, ckpt = demo_checkpoint
    folder = tmp_path / 'in'
    folder.mkdir()
    _image(folder / 'x.png', 1)
    _image(folder / 'x.jpg', 2)
    out = tmp_path / 'out'
    code, stdout, _ = _run(demo, capsys, config, ckpt, folder, '--out-dir',
                           out)
    assert code == 0 and '2 images done;' in stdout
    names = set(os.listdir(out))
    assert {'x_png.json', 'x_jpg.json', 'x_png_overlay.png',
            'x_jpg_overlay.png'} <= names
    assert 'x.json' not in names
    assert json.load(open(out / 'x_png.json'))['image'] == 'x_png'


def test_folder_run_skips_failing_images_and_says_so(demo, demo_checkpoint,
                                                     tmp_path, capsys):
    config, ckpt = demo_checkpoint
    folder = tmp_path / 'in'
    folder.mkdir()
    _image(folder / 'good.png', 1)
    _image(folder / 'far_box.png', 2)
    _truncated_jpeg(folder / 'cut.jpg')
    boxes = tmp_path / 'boxes.json'
    boxes.write_text(
        json.dumps({'far_box.png': [dict(bbox=[500, 500, 600, 600])]}))
    args = (config, ckpt, folder, '--out-dir', tmp_path / 'out',
            '--bbox-file', boxes)
    code, stdout, err = _run(demo, capsys, *args)
    assert code == 1
    assert '1 image done, 2 skipped (listed above)' in stdout
    skipped = [line for line in err.splitlines() if 'skipped' in line]
    assert len(skipped) == 2, err
    assert f'skipped "{folder / "cut.jpg"}"' in err
    assert 'corrupt or truncated' in err
    assert f'skipped "{folder / "far_box.png"}": far_box: bbox 0' in err
    assert 'lies outside the 128x96 image' in err
    assert (tmp_path / 'out' / 'good.json').is_file()
    # the user accepts skipped images
    code, stdout, _ = _run(demo, capsys, *args, '--allow-skipped')
    assert code == 0 and '2 skipped' in stdout


def test_bbox_file_that_matches_no_image_is_an_error(demo, demo_checkpoint,
                                                     tmp_path, capsys):
    config, ckpt = demo_checkpoint
    image = _image(tmp_path / 'hand.png')
    boxes = tmp_path / 'boxes.json'
    boxes.write_text(json.dumps({'other.png': [dict(bbox=[0, 0, 9, 9])]}))
    code, _, err = _run(demo, capsys, config, ckpt, image, '--out-dir',
                        tmp_path / 'out', '--bbox-file', boxes)
    assert code == 1
    line = _one_line(err)
    assert line.startswith(f'error: --bbox-file "{boxes}" names none of the '
                           '1 input image(s)')
    assert '"other.png"' in line and 'hand.png' in line
    assert not (tmp_path / 'out').exists()  # stopped before any output


def test_truncated_jpeg_and_out_dir_file_are_one_line_errors(
        demo, demo_checkpoint, tmp_path, capsys):
    config, ckpt = demo_checkpoint
    cut = _truncated_jpeg(tmp_path / 'cut.jpg')
    # OpenCV alone decodes it (grey rows) and only warns on stderr
    assert cv2.imread(cut) is not None
    with pytest.raises(IOError, match='corrupt or truncated'):
        load_image(cut)
    code, _, err = _run(demo, capsys, config, ckpt, cut, '--out-dir',
                        tmp_path / 'out')
    assert code == 1
    assert _one_line(err).startswith(f'error: cannot read image "{cut}": it '
                                     'is corrupt or truncated')

    image = _image(tmp_path / 'hand.png')
    a_file = tmp_path / 'not_a_dir'
    a_file.write_text('x')
    code, _, err = _run(demo, capsys, config, ckpt, image, '--out-dir',
                        a_file)
    assert code == 1
    assert _one_line(err) == (f'error: --out-dir "{a_file}" is a file, not a '
                              'folder; pass a folder path (it is created if '
                              'missing).')


def test_overlay_renders_only_the_mesh_window(demo_checkpoint, monkeypatch):
    """A large photo is not rendered over in full (that took ~40 float
    copies of it); the overlay covers the same pixels as a full render."""
    from mmblurhand.apis import inference_blurhand, init_model
    from mmblurhand.visualization import MeshVisualizer
    from mmblurhand.visualization import mesh_visualizer as mv
    model = init_model(*demo_checkpoint)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (1200, 1600, 3), dtype=np.uint8)
    hands = inference_blurhand(
        model, image, bboxes=[[100, 200, 300, 400], [900, 600, 1200, 900]],
        hand_types=['right', 'left'])
    vis = MeshVisualizer(
        name='security_overlay', faces=model.mesh_faces,
        render_backend='opencv')
    # the full-size render, as the overlay was drawn before
    full = image.copy()
    for sample in hands:
        pred = sample.pred_instances
        vertices, joints, keypoints = (
            mv._to_numpy(pred.vertices)[0], mv._to_numpy(pred.joints_cam)[0],
            mv._to_numpy(pred.keypoints)[0])
        t = vertices.shape[0] // 2
        region = vis._sample_region(sample, image, keypoints)
        scale, center = vis._camera(joints, keypoints, None, vertices,
                                    region)
        color = mv.time_step_colors(vertices.shape[0], vis.pred_colors)[t]
        full = vis._render_over(full, vertices[t:t + 1], scale[t:t + 1],
                                center[t:t + 1], color[None])[0]
    sizes = []
    render_over = vis._render_over

    def spy(backgrounds, *args):
        sizes.append(backgrounds.shape[-3] * backgrounds.shape[-2])
        return render_over(backgrounds, *args)

    monkeypatch.setattr(vis, '_render_over', spy)
    overlay = vis.draw_image_overlay(image, hands)
    assert len(sizes) == 2 and max(sizes) < 0.1 * image.shape[0] * \
        image.shape[1]
    drawn = (overlay != image).any(-1)
    assert drawn.sum() > 1000
    np.testing.assert_array_equal(drawn, (full != image).any(-1))
    diff = np.abs(overlay.astype(int) - full.astype(int))[drawn]
    assert diff.mean() < 1.0  # shading within a grey level on average


# --------------------------------------------------------------------------
# dataset
# --------------------------------------------------------------------------
def _copy_dataset(root, tmp_path):
    copy = tmp_path / 'data'
    shutil.copytree(root, copy)
    return copy


def test_non_finite_annotations_are_refused_at_load(synthetic_root,
                                                    tmp_path):
    from mmblurhand.datasets.blurhand_dataset import (BlurHandAnnotationError,
                                                      BlurHandDataset)
    root = _copy_dataset(synthetic_root, tmp_path)
    ann_dir = root / 'annotations' / 'train'
    data = json.load(open(ann_dir / 'BlurHand_train_data.json'))
    images = {img['id']: img for img in data['images']}
    by_id = {ann['id']: ann for ann in data['annotations']}
    middle = next(a for a in data['annotations'] if a.get('is_middle'))
    frame = by_id[middle['aid_list'][0]]
    image = images[frame['image_id']]
    capture, frame_idx = str(image['capture']), str(image['frame_idx'])
    joints_path = ann_dir / 'BlurHand_train_joint_3d.json'
    joints = json.load(open(joints_path))
    joints[capture][frame_idx]['world_coord'][3][1] = float('nan')
    with open(joints_path, 'w') as f:
        json.dump(joints, f)  # Python writes NaN; json.load reads it back
    with pytest.raises(BlurHandAnnotationError) as info:
        BlurHandDataset(str(root), 'train')
    message = str(info.value)
    assert message.startswith(f'"{joints_path}": annotation {frame["id"]} '
                              f'(capture {capture} frame {frame_idx}) '
                              'world_coord holds 1 non-finite value(s)')
    assert 'first at index (3, 1)' in message
    assert 'the annotation data is bad' in message

    joints[capture][frame_idx]['world_coord'][3][1] = 0.0
    with open(joints_path, 'w') as f:
        json.dump(joints, f)
    mano_path = ann_dir / 'BlurHand_train_MANO_NeuralAnnot.json'
    mano = json.load(open(mano_path))
    hand = next(iter(mano[capture][frame_idx]))
    mano[capture][frame_idx][hand]['pose'][0] = float('inf')
    with open(mano_path, 'w') as f:
        json.dump(mano, f)
    with pytest.raises(BlurHandAnnotationError,
                       match=f'annotation {frame["id"]} .* {hand} pose holds '
                       '1 non-finite'):
        BlurHandDataset(str(root), 'train')


# --------------------------------------------------------------------------
# launchers
# --------------------------------------------------------------------------
@pytest.mark.parametrize('script,args,tail', [
    ('dist_train.sh', ['my cfg.py', '1'], ['my cfg.py', '--launcher',
                                           'pytorch']),
    ('dist_test.sh', ['my cfg.py', 'a b.pth', '1'],
     ['my cfg.py', 'a b.pth', '--launcher', 'pytorch']),
    ('slurm_train.sh', ['part', 'job', 'my cfg.py', 'work dir'],
     ['my cfg.py', '--work-dir=work dir', '--launcher=slurm']),
    ('slurm_test.sh', ['part', 'job', 'my cfg.py', 'a b.pth'],
     ['my cfg.py', 'a b.pth', '--launcher=slurm']),
])
def test_launchers_pass_arguments_with_spaces_intact(tmp_path, script, args,
                                                     tail):
    echo = tmp_path / 'bin' / 'echo_args'
    echo.parent.mkdir()
    echo.write_text('#!/usr/bin/env bash\nfor a in "$@"; do '
                    'printf "%s\\n" "$a"; done\n')
    echo.chmod(0o755)
    shutil.copy(echo, tmp_path / 'bin' / 'srun')  # slurm: srun echoes
    env = dict(os.environ, PYTHON=str(echo),
               PATH=f'{tmp_path / "bin"}:{os.environ["PATH"]}')
    extra = ['--cfg-options', 'work_dir=with space', '--out', 'x y.json']
    result = subprocess.run(
        ['bash', osp.join(REPO, 'tools', script)] + args + extra,
        env=env, capture_output=True, text=True, check=True)
    printed = result.stdout.splitlines()
    assert printed[-len(tail) - len(extra):] == tail + extra, printed
