# Copyright (c) OpenMMLab. All rights reserved.
"""InterHand2.6M (30 fps) -> BlurHand: flow interpolation, windows and
skipping, the generator's InterHand-format output and the converter end to
end."""
import importlib.util
import json
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest

from mmblurhand.datasets import BlurHandDataset
from mmblurhand.datasets.conversion import (ConversionConfig,
                                            average_frames,
                                            compare_with_reference,
                                            convert_interhand_to_blurhand,
                                            estimate_flow, find_windows,
                                            interpolate_frames, project_flow)
from mmblurhand.datasets.synthesis import SynthesisConfig, synthesize_blurhand
from mmblurhand.datasets.synthesis.generator import read_meta

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
KINDS = ('data', 'camera', 'joint_3d', 'MANO_NeuralAnnot')


# ----------------------------------------------------------------------
# flow interpolation
# ----------------------------------------------------------------------
def _texture(seed: int, size: int) -> np.ndarray:
    """Smooth random colour texture (multi-octave value noise), 0-255."""
    rng = np.random.default_rng(seed)
    channels = []
    for _ in range(3):
        tex, amp = np.zeros((size, size), np.float32), 1.0
        for cells in (4, 8, 16, 32):
            grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
            tex += amp * cv2.resize(
                grid, (size, size), interpolation=cv2.INTER_CUBIC)
            amp *= 0.6
        channels.append((tex - tex.min()) / np.ptp(tex) * 200 + 25)
    return np.dstack(channels)


def _translated(texture, shift, size=96, origin=32):
    """``size`` crop of ``texture`` whose content moved by ``shift`` px."""
    warp = np.float32([[1, 0, origin - shift[0]], [0, 1, origin - shift[1]]])
    return cv2.warpAffine(
        texture,
        warp, (size, size),
        flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)


def test_flow_interpolation_reproduces_linear_motion():
    """A pattern translating at 3.0, -1.75 px per 30 fps frame: DIS flow
    within 0.15 px (median; measured 0.05), every interpolated sub-frame
    within 1 grey level (mean abs; measured 0.21-0.35, the quantisation of
    the key frames alone gives 0.25) and the content of the frame 1.5
    intervals in at the true position within 0.1 px (measured 0.04)."""
    velocity = np.array([3.0, -1.75])
    texture = _texture(0, 160)
    keys = [
        np.clip(np.rint(_translated(texture, k * velocity)), 0,
                255).astype(np.uint8) for k in range(5)
    ]
    inner = (slice(12, -12), slice(12, -12))
    flow = estimate_flow(keys[1], keys[2], 'dis')
    flow_error = np.median(np.linalg.norm(flow[inner] - velocity, axis=-1))
    assert flow_error < 0.15
    back = estimate_flow(keys[2], keys[1], 'dis')
    assert np.median(np.linalg.norm(back[inner] + velocity, axis=-1)) < 0.15

    sub = interpolate_frames(keys, num_subframes=33, method='dis')
    assert sub.shape == (33, 96, 96, 3) and sub.dtype == np.float32
    for k in range(5):  # key frames are kept as they are
        np.testing.assert_array_equal(sub[8 * k], keys[k])
    errors = [
        np.abs(sub[s] - _translated(texture, s / 8 * velocity))[inner].mean()
        for s in range(33)
    ]
    assert max(errors) < 1.0
    truth = _translated(texture, 1.5 * velocity)
    shift, _ = cv2.phaseCorrelate(
        truth[inner].mean(axis=2).astype(np.float64),
        sub[12][inner].mean(axis=2).astype(np.float64))
    assert np.hypot(*shift) < 0.1
    # shown with `pytest -s` (docs/blurhand_from_video.md)
    print(f'\n[DIS] flow median error {flow_error:.3f} px; sub-frame mean '
          f'abs error {min(errors):.2f}-{max(errors):.2f}; position error '
          f'{np.hypot(*shift):.3f} px')


def test_flow_projection_is_exact_for_constant_flow():
    flow = np.zeros((20, 30, 2), np.float32)
    flow[...] = (4.0, -2.0)
    flow_t, covered = project_flow(flow, 0.25, np.zeros((20, 30), np.float32))
    # every pixel reached is displaced back by -t * flow, holes (where
    # content entered the frame) take the neighbours' flow
    np.testing.assert_allclose(flow_t[..., 0], -1.0)
    np.testing.assert_allclose(flow_t[..., 1], 0.5)
    assert covered[5:15, 5:25].all()
    assert not covered[:, 0].any()  # nothing moves into the left column


def _disc_scene(step, velocity=(6.0, 2.5), size=96):
    """A textured disc (r = 16 px) moving over a static texture."""
    background = _texture(1, size)
    foreground = _texture(2, 48)
    centre = np.array([30.0, 38.0]) + step * np.array(velocity)
    ss = 4  # supersampled coverage
    ys, xs = np.mgrid[0:size * ss, 0:size * ss] / ss
    alpha = (np.hypot(xs - centre[0], ys - centre[1]) < 16).astype(
        np.float32)
    alpha = cv2.resize(alpha, (size, size), interpolation=cv2.INTER_AREA)
    warp = np.float32([[1, 0, 24 - centre[0]], [0, 1, 24 - centre[1]]])
    disc = cv2.warpAffine(
        foreground,
        warp, (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT)
    return disc * alpha[..., None] + background * (1 - alpha[..., None])


def _psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64))**2)
    return 10 * np.log10(255.0**2 / mse)


@pytest.mark.parametrize('method', ['dis', 'farneback'])
def test_interpolated_blur_beats_plain_frame_averaging(method):
    """An occluding moving disc: the blur of 33 interpolated frames is far
    closer to the true 240 fps blur than the average of the 5 frames
    (measured 54.5 / 49.8 dB for DIS / Farneback vs 41.4 dB)."""
    truth = np.stack([_disc_scene(s / 8) for s in range(33)])
    keys = [np.clip(np.rint(truth[8 * k]), 0, 255).astype(np.uint8)
            for k in range(5)]
    reference = average_frames(truth)
    naive = _psnr(average_frames(np.stack(keys)), reference)
    ours = _psnr(average_frames(interpolate_frames(keys, 33, method)),
                 reference)
    assert ours > naive + 4.0
    print(f'\n[{method}] disc blur PSNR {ours:.2f} dB, 5 frames averaged '
          f'{naive:.2f} dB')


def test_interpolation_rejects_bad_arguments():
    frames = [np.zeros((8, 8), np.uint8)] * 5
    with pytest.raises(ValueError, match='multiple'):
        interpolate_frames(frames, 32)
    with pytest.raises(ValueError, match='Unknown flow method'):
        estimate_flow(frames[0], frames[1], 'raft')
    with pytest.raises(ValueError, match='same shape'):
        interpolate_frames([frames[0], np.zeros((8, 9), np.uint8)], 9)


# ----------------------------------------------------------------------
# windows, skipping, view sampling (annotations only)
# ----------------------------------------------------------------------
def _fake_interhand(frames_per_cam):
    """InterHand-style annotations: capture 0, sequence 'seq', the given
    frame indices per camera; every frame has joints."""
    images, anns, joints = [], [], {}
    cameras = dict(campos={}, camrot={}, focal={}, princpt={})
    next_id = 0
    for cam, frames in frames_per_cam.items():
        for field, value in (('campos', [0, 0, 0]), ('camrot', np.eye(3)
                                                      .tolist()),
                             ('focal', [100, 100]), ('princpt', [50, 50])):
            cameras[field][cam] = value
        for frame in frames:
            images.append(
                dict(
                    id=next_id,
                    file_name=f'Capture0/seq/cam{cam}/image{frame}.jpg',
                    width=100,
                    height=100,
                    capture=0,
                    seq_name='seq',
                    camera=cam,
                    frame_idx=frame))
            anns.append(
                dict(
                    id=next_id,
                    image_id=next_id,
                    joint_valid=[[1]] * 42,
                    hand_type='right'))
            joints[str(frame)] = dict(world_coord=[[0, 0, 0]] * 42)
            next_id += 1
    return dict(
        data=dict(images=images, annotations=anns),
        camera={'0': cameras},
        joint_3d={'0': joints},
        MANO_NeuralAnnot={})


def test_windows_skip_missing_frames_and_infer_the_frame_step():
    """Frames 0, 3, ..., 27 (the 30 fps train split steps by 3); camera
    '2' lacks frame 12. Hand-counted: camera '1' has middles 6..21 (6
    windows, 4 too close to the ends); camera '2' keeps only middle 21
    (4 ends, 4 windows that need frame 12)."""
    frames = list(range(0, 30, 3))
    ann = _fake_interhand({'1': frames, '2': [f for f in frames if f != 12]})
    windows, stats, examples = find_windows(
        ann, ConversionConfig(views_per_frame=0))
    by_cam = {}
    for w in windows:
        by_cam.setdefault(w['camera'], []).append(w['frame_idx'])
    assert by_cam == {'1': [6, 9, 12, 15, 18, 21], '2': [21]}
    assert stats['candidates'] == 19
    assert stats['sequence_end'] == 8
    assert stats['missing_neighbour_frame'] == 4
    assert stats['complete'] == 7
    assert 'no frame 12' in examples['missing_neighbour_frame']
    # aid_list order = time order, the middle annotation in the middle
    win = next(w for w in windows if w['camera'] == '1'
               and w['frame_idx'] == 12)
    frame_of = {
        img['id']: img['frame_idx']
        for img in ann['data']['images']
    }
    assert [frame_of[i] for i in win['ann_ids']] == [6, 9, 12, 15, 18]

    # stride 2: every other frame of the grid is a middle frame
    windows, _, _ = find_windows(
        ann, ConversionConfig(views_per_frame=0, frame_stride=2))
    assert sorted({w['frame_idx'] for w in windows}) == [6, 12, 18]
    # a wrong explicit step finds no neighbours at all
    _, stats, _ = find_windows(
        ann, ConversionConfig(views_per_frame=0, frame_step=1))
    assert stats['complete'] == 0


def test_camera_view_sampling_is_deterministic():
    frames = list(range(10))
    cams = {str(c): frames for c in range(1, 7)}
    ann = _fake_interhand(cams)
    cfg = ConversionConfig(views_per_frame=2, seed=5)
    windows, stats, _ = find_windows(ann, cfg)
    middles = [w['frame_idx'] for w in windows]
    # 6 middle frames (2..7), 2 of 6 views each
    assert sorted(set(middles)) == list(range(2, 8))
    assert all(middles.count(f) == 2 for f in range(2, 8))
    assert stats['sampled_out'] == 6 * 4
    again, _, _ = find_windows(ann, cfg)
    assert again == windows
    views = {(w['frame_idx'], w['camera']) for w in windows}
    other = {(w['frame_idx'], w['camera'])
             for w in find_windows(ann, ConversionConfig(
                 views_per_frame=2, seed=6))[0]}
    assert views != other  # another seed samples other views


def test_invalid_options_and_missing_files_are_reported(tmp_path):
    with pytest.raises(ValueError, match='odd'):
        ConversionConfig(num_frames=4).validate()
    with pytest.raises(ValueError, match='multiple'):
        ConversionConfig(num_subframes=30).validate()
    with pytest.raises(FileNotFoundError,
                       match='InterHand2.6M_train_data.json'):
        convert_interhand_to_blurhand(
            str(tmp_path / 'nothing'), str(tmp_path / 'out'), 'train',
            progress=False)
    assert not osp.exists(tmp_path / 'out')  # nothing written


# ----------------------------------------------------------------------
# the generator's InterHand format and the converter end to end
# ----------------------------------------------------------------------
@pytest.fixture(scope='module')
def interhand_root(tmp_path_factory):
    """3 synthetic samples written as InterHand2.6M 30 fps sequences (plus
    the generator's own blur), and the same dataset in the default
    format."""
    base = tmp_path_factory.mktemp('interhand')
    roots = {}
    for fmt in ('interhand', 'blurhand'):
        roots[fmt] = str(base / fmt)
        synthesize_blurhand(
            roots[fmt],
            3,
            0,
            seed=11,
            workers=1,
            cfg=SynthesisConfig(
                image_size=64, interacting_prob=0.34, output_format=fmt),
            progress=False)
    return roots


def _load(root, split, prefix):
    out = {}
    for kind in KINDS:
        path = osp.join(root, 'annotations', split,
                        f'{prefix}_{split}_{kind}.json')
        with open(path) as f:
            out[kind] = json.load(f)
    return out


def test_generator_writes_interhand_sequences(interhand_root):
    root = interhand_root['interhand']
    ih = _load(root, 'train', 'InterHand2.6M')
    bh = _load(root, 'train', 'BlurHand')
    assert len(ih['data']['images']) == 15  # 3 sequences x 5 frames
    for img, ann in zip(ih['data']['images'], ih['data']['annotations']):
        assert img['file_name'].endswith('.jpg')
        assert not {'aid_list', 'is_middle', 'blur_rate'} & set(ann)
        frame = cv2.imread(osp.join(root, 'images', 'train',
                                    img['file_name']))
        assert frame is not None and frame.shape == (64, 64, 3)
    for kind in ('camera', 'joint_3d', 'MANO_NeuralAnnot'):
        assert ih[kind] == bh[kind]
    # The format adds files only: the blurry images and annotations are
    # those of the default format, whose meta is unchanged.
    default = interhand_root['blurhand']
    assert _load(default, 'train', 'BlurHand') == bh
    for img in bh['data']['images'][2::5]:
        with open(osp.join(root, 'blur_images', 'train', img['file_name']),
                  'rb') as a, open(
                      osp.join(default, 'blur_images', 'train',
                               img['file_name']), 'rb') as b:
            assert a.read() == b.read()
    assert 'output_format' not in read_meta(default)
    assert read_meta(root)['output_format'] == 'interhand'
    assert not osp.exists(osp.join(default, 'images'))


def _converter_cli():
    spec = importlib.util.spec_from_file_location(
        'interhand_to_blurhand',
        osp.join(REPO, 'tools/dataset_converters/interhand_to_blurhand.py'))
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    return cli


def test_converter_matches_the_generators_blur(interhand_root, tmp_path,
                                               capsys):
    """Converting the sharp sequences gives the generator's annotations
    (all BlurHand keys but its extra blur_rate) and blurry images close to
    its own blur (at 64 px the measured PSNR is 33.5-35.3 dB; see
    docs/blurhand_from_video.md for the 128 px dataset)."""
    root = interhand_root['interhand']
    out = str(tmp_path / 'converted')
    cli = _converter_cli()
    argv = [
        '--interhand-root', root, '--out', out, '--split', 'train',
        '--workers', '1', '--quiet', '--reference', root
    ]
    summary = cli.main(argv)
    text = capsys.readouterr().out
    assert summary['samples'] == summary['written'] == 3
    assert summary['skipped']['sequence_end'] == 12  # 4 per 5-frame video
    assert 'PSNR against' in text
    assert summary['reference']['psnr']['min'] > 30.0
    print(f'\n[converter, 64 px] PSNR vs the generator\'s blur: '
          f'{summary["reference"]["psnr"]}')

    ours = _load(out, 'train', 'BlurHand')
    ref = _load(root, 'train', 'BlurHand')
    for kind in ('camera', 'joint_3d', 'MANO_NeuralAnnot'):
        assert ours[kind] == ref[kind]
    assert ours['data']['images'] == ref['data']['images']
    assert ours['data']['annotations'] == [{
        k: v
        for k, v in ann.items() if k != 'blur_rate'
    } for ann in ref['data']['annotations']]

    # The dataset reads it: same samples and GT as the generator's data.
    a = BlurHandDataset(data_root=out, split='train')
    b = BlurHandDataset(data_root=root, split='train')
    assert len(a) == len(b) >= 3
    for i in range(len(a)):
        info_a, info_b = a.get_data_info(i), b.get_data_info(i)
        np.testing.assert_array_equal(info_a['ann_joints_cam'],
                                      info_b['ann_joints_cam'])
        assert np.isnan(info_a['blur_rate'])

    # Resumable: a second run keeps the images already written.
    stamps = {
        p: os.stat(p).st_mtime_ns
        for p in _pngs(osp.join(out, 'blur_images'))
    }
    again = cli.main(argv)
    assert again['written'] == 0 and again['kept'] == 3
    assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps
    # Other options need --overwrite.
    with pytest.raises(SystemExit, match='--overwrite'):
        cli.main(argv + ['--flow', 'farneback'])

    # Deterministic whatever the workers.
    out2 = str(tmp_path / 'converted2')
    cli.main(argv[:3] + [out2] + argv[4:7] + ['2', '--quiet'])
    for path in stamps:
        with open(path, 'rb') as f1, open(path.replace(out, out2),
                                          'rb') as f2:
            assert f1.read() == f2.read()


def _pngs(folder):
    return sorted(
        osp.join(d, f) for d, _, files in os.walk(folder) for f in files
        if f.endswith('.png'))


def test_missing_frames_and_images_are_skipped(interhand_root, tmp_path):
    """Sample 0 loses a neighbouring frame's annotation, sample 1 the
    image file of its 5th frame: both are skipped and counted, the third
    is converted and is the only one in the annotations."""
    root = str(tmp_path / 'ih')
    shutil.copytree(interhand_root['interhand'], root)
    path = osp.join(root, 'annotations', 'train',
                    'InterHand2.6M_train_data.json')
    with open(path) as f:
        data = json.load(f)
    dropped = data['images'][1]['id']  # 2nd frame of sequence 0
    data['images'] = [i for i in data['images'] if i['id'] != dropped]
    with open(path, 'w') as f:
        json.dump(data, f)
    lost = osp.join(root, 'images', 'train', data['images'][8]['file_name'])
    os.remove(lost)  # 5th frame of sequence 1

    out = str(tmp_path / 'out')
    summary = convert_interhand_to_blurhand(
        root, out, 'train', workers=1, progress=False)
    assert summary['samples'] == summary['written'] == 1
    assert summary['skipped']['missing_neighbour_frame'] == 1
    assert summary['skipped']['missing_image'] == 1
    assert summary['examples']['missing_image'] == lost
    ours = _load(out, 'train', 'BlurHand')['data']
    middles = [a for a in ours['annotations'] if a['is_middle']]
    assert len(middles) == 1 and len(ours['images']) == 5
    assert len(_pngs(osp.join(out, 'blur_images'))) == 1
    psnr = compare_with_reference(out, interhand_root['interhand'], 'train')
    assert psnr['num_images'] == 1
