# Copyright (c) OpenMMLab. All rights reserved.
"""The synthetic BlurHand generator: layout, blur, GT alignment,
determinism and idempotence."""
import importlib.util
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from mmblurhand.datasets import BlurHandDataset
from mmblurhand.datasets.synthesis import (HandArticulation, SynthesisConfig,
                                           blur_rate, sample_hand_motion,
                                           sample_rng, synthesize_blurhand)
from mmblurhand.models.mano import ManoLayer

from blurhand_helpers import TINY, tiny_pipeline  # isort: skip

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _json(root, split, kind):
    path = osp.join(root, 'annotations', split,
                    f'BlurHand_{split}_{kind}.json')
    with open(path) as f:
        return json.load(f)


def _middle_samples(root, split='train'):
    """(annotation, image, camera, world joints (42, 3) mm) per image."""
    data = _json(root, split, 'data')
    cameras = _json(root, split, 'camera')
    joints = _json(root, split, 'joint_3d')
    images = {img['id']: img for img in data['images']}
    for ann in data['annotations']:
        if not ann['is_middle']:
            continue
        img = images[ann['image_id']]
        table = cameras[str(img['capture'])]
        cam = {k: np.array(table[k][img['camera']]) for k in table}
        world = np.array(
            joints[str(img['capture'])][str(img['frame_idx'])]['world_coord'])
        yield ann, img, cam, world


def _read_grey(path):
    img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    assert img is not None, path
    return img


def test_layout_follows_blurhand(synthetic_root):
    for split, num in (('train', TINY['num_train']),
                       ('test', TINY['num_test'])):
        data = _json(synthetic_root, split, 'data')
        mano = _json(synthetic_root, split, 'MANO_NeuralAnnot')
        assert len(data['images']) == len(data['annotations']) == 5 * num
        anns = {a['id']: a for a in data['annotations']}
        images = {img['id']: img for img in data['images']}
        middles = [a for a in data['annotations'] if a['is_middle']]
        assert len(middles) == num
        for ann in middles:
            assert len(ann['aid_list']) == 5
            assert ann['aid_list'][2] == ann['id']
            assert len(ann['joint_valid']) == 42
            assert ann['hand_type'] in ('right', 'left', 'interacting')
            assert 0 <= ann['blur_rate']
            for k, aid in enumerate(ann['aid_list']):
                img = images[anns[aid]['image_id']]
                assert img['file_name'].startswith(
                    f'Capture{img["capture"]}/')
                assert img['file_name'].endswith(
                    f'/cam{img["camera"]}/image{img["frame_idx"]:05d}.png')
                path = osp.join(synthetic_root, 'blur_images', split,
                                img['file_name'])
                # Only the middle (blurry) frame has an image, as in BlurHand.
                assert osp.isfile(path) == (k == 2)
                fits = mano[str(img['capture'])][str(img['frame_idx'])]
                hands = {'interacting': ('right', 'left')}.get(
                    ann['hand_type'], (ann['hand_type'], ))
                for side in ('right', 'left'):
                    if side in hands:
                        assert len(fits[side]['pose']) == 48
                        assert len(fits[side]['shape']) == 10
                        assert len(fits[side]['trans']) == 3
                    else:
                        assert fits[side] is None
    types = [a['hand_type'] for a, _, _, _ in _middle_samples(synthetic_root)]
    assert sorted(set(types)) == ['interacting', 'left', 'right'], types


def test_dataset_and_pipeline_read_synthetic_data(synthetic_root):
    dataset = BlurHandDataset(
        synthetic_root, 'train', pipeline=tiny_pipeline(augment=True))
    num_interacting = sum(a['hand_type'] == 'interacting'
                          for a, _, _, _ in _middle_samples(synthetic_root))
    assert len(dataset) == TINY['num_train'] + num_interacting
    for idx in range(len(dataset)):
        packed = dataset[idx]
        assert packed['inputs'].shape == (3, 64, 64)
        assert packed['inputs'].dtype == torch.uint8
        labels = packed['data_samples'].gt_instance_labels
        assert labels.joints_2d.shape == (1, 3, 21, 3)
        assert labels.mano_pose.shape == (1, 3, 48)
        gt = packed['data_samples'].gt_instances
        assert gt.mesh_cam.shape[:2] == (1, 3)
        assert np.isfinite(gt.blur_rate).all()
        # Every synthetic frame has a MANO fit.
        assert (labels.mano_valid == 1).all()


def test_blurry_image_is_less_sharp_than_sharp_frame(synthetic_root):
    """Variance of the Laplacian over the hand drops with blur."""
    checked = 0
    for ann, img, _, _ in _middle_samples(synthetic_root):
        if ann['blur_rate'] <= 0.2:
            continue
        paths = {
            kind: osp.join(synthetic_root, kind, 'train', img['file_name'])
            for kind in ('blur_images', 'sharp_images', 'sharp_masks')
        }
        mask = _read_grey(paths['sharp_masks']) > 0
        ys, xs = np.nonzero(mask)
        box = (slice(max(ys.min() - 4, 0), ys.max() + 5),
               slice(max(xs.min() - 4, 0), xs.max() + 5))

        def sharpness(path):
            grey = _read_grey(path).astype(np.float64)[box]
            return cv2.Laplacian(grey, cv2.CV_64F).var()

        assert sharpness(paths['blur_images']) < sharpness(
            paths['sharp_images']), ann
        checked += 1
    assert checked >= 2


def test_gt_joints_project_onto_the_rendered_hand(synthetic_root):
    """Project ``joint_3d`` with the stored camera: the joints land on the
    hand silhouette of the sharp middle frame."""
    hits, total = 0, 0
    for ann, img, cam, world in _middle_samples(synthetic_root):
        mask = cv2.dilate(
            _read_grey(
                osp.join(synthetic_root, 'sharp_masks', 'train',
                         img['file_name'])), np.ones((3, 3), np.uint8)) > 0
        cam_pts = (world - cam['campos']) @ cam['camrot'].T  # mm
        uv = cam_pts[:, :2] / cam_pts[:, 2:] * cam['focal'] + cam['princpt']
        valid = np.array(ann['joint_valid']) > 0
        assert valid.sum() >= 15
        px = np.round(uv[valid]).astype(int)
        hits += mask[px[:, 1], px[:, 0]].sum()
        total += valid.sum()
        # The unrelated, mirrored positions mostly miss the hand.
        mirrored = np.round(
            [img['width'] - 1 - uv[valid, 0], uv[valid, 1]]).T.astype(int)
        inside = (mirrored >= 0).all(1) & (mirrored < img['width']).all(1)
        assert mask[mirrored[inside, 1], mirrored[inside, 0]].mean() < 0.9
    assert hits / total > 0.97, (hits, total)


def _all_files(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, root)] = f.read()
    return out


def test_same_seed_same_files_whatever_the_workers(tmp_path):
    cfg = SynthesisConfig(image_size=48, interacting_prob=0.5)
    kwargs = dict(num_train=2, num_test=1, cfg=cfg, progress=False)
    synthesize_blurhand(str(tmp_path / 'a'), seed=7, workers=1, **kwargs)
    synthesize_blurhand(str(tmp_path / 'b'), seed=7, workers=2, **kwargs)
    synthesize_blurhand(str(tmp_path / 'c'), seed=8, workers=1, **kwargs)
    files_a = _all_files(tmp_path / 'a')
    files_b = _all_files(tmp_path / 'b')
    assert len(files_a) == 3 + 8 + 1  # images, 2 x 4 JSONs, meta
    assert files_a == files_b
    files_c = _all_files(tmp_path / 'c')
    differ = [k for k in files_a if files_a[k] != files_c.get(k)]
    assert len(differ) >= 3  # another seed: other images and annotations


def test_generation_is_idempotent(tmp_path):
    root = str(tmp_path / 'syn')
    cfg = SynthesisConfig(image_size=40)
    first = synthesize_blurhand(root, 1, 1, seed=1, cfg=cfg, progress=False)
    assert not first['skipped']
    meta = osp.join(root, 'synthesis_meta.json')
    stamp = os.stat(meta).st_mtime_ns
    again = synthesize_blurhand(root, 1, 1, seed=1, cfg=cfg, progress=False)
    assert again['skipped'] and os.stat(meta).st_mtime_ns == stamp
    with pytest.raises(FileExistsError, match='--overwrite'):
        synthesize_blurhand(root, 2, 1, seed=1, cfg=cfg, progress=False)
    redone = synthesize_blurhand(
        root, 2, 1, seed=1, cfg=cfg, overwrite=True, progress=False)
    assert not redone['skipped']
    assert len(_json(root, 'train', 'data')['images']) == 10
    # Data from another hand model (or generator version) is stale: it is
    # regenerated without --overwrite.
    with open(meta) as f:
        stored = json.load(f)
    stored['hand_model'] = 'another-hand'
    with open(meta, 'w') as f:
        json.dump(stored, f)
    fresh = synthesize_blurhand(root, 2, 1, seed=1, cfg=cfg, progress=False)
    assert not fresh['skipped']
    with open(meta) as f:
        assert json.load(f)['hand_model'] != 'another-hand'


def test_cli_writes_then_skips(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        'synthesize_blurhand',
        osp.join(REPO, 'tools/dataset_converters/synthesize_blurhand.py'))
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    argv = [
        '--out',
        str(tmp_path / 'cli'), '--num-train', '1', '--num-test', '0',
        '--img-size', '40', '--workers', '1', '--quiet'
    ]
    summary = cli.main(argv)
    out = capsys.readouterr().out
    assert summary['num_samples'] == 1 and 'blur-rate histogram' in out
    cli.main(argv)
    assert 'nothing to do' in capsys.readouterr().out
    assert not osp.exists(tmp_path / 'cli' / 'annotations' / 'test')


def test_blur_rate_matches_its_definition():
    """``|union S_i| / |S_1| - 1`` (Human from Blur, eq. 12)."""
    still = np.zeros((3, 8, 8))
    still[:, 2:4, 2:4] = 1
    assert blur_rate(still) == 0
    moved = np.zeros((2, 8, 8))
    moved[0, 0:2, 0:2] = 1
    moved[1, 0:2, 4:6] = 1  # disjoint, same size
    assert blur_rate(moved) == pytest.approx(1.0)
    half = np.zeros((2, 8, 8))
    half[0, 0:2, 0:2] = 1
    half[1, 0:2, 1:3] = 1
    assert blur_rate(half) == pytest.approx(0.5)
    empty_first = np.zeros((2, 4, 4))
    empty_first[1, 0, 0] = 1
    assert np.isnan(blur_rate(empty_first))


def test_motion_is_smooth_keyframed_and_within_limits():
    layer = ManoLayer(side='right')
    art = HandArticulation.from_layer(layer)
    mean_flex = np.linalg.norm(art.hands_mean.reshape(-1, 3), axis=1)
    # The mean curl is zero relative pose; the axes are unit vectors.
    np.testing.assert_allclose(
        art.hand_pose(mean_flex, np.zeros_like(mean_flex)), 0, atol=1e-9)
    np.testing.assert_allclose(
        np.linalg.norm(art.flex_axes, axis=1), 1, atol=1e-9)
    rng = sample_rng(0, 'train', 0)
    fast = dict(articulation=5.0, rotation=6.0, translation=0.8)
    from scipy.spatial.transform import Rotation
    motion = sample_hand_motion(rng, art, fast, Rotation.identity(),
                                np.zeros(3))
    assert motion['global_orient'].shape == (33, 3)
    assert motion['hand_pose'].shape == (33, 45)
    assert list(motion['keyframe_index']) == [0, 8, 16, 24, 32]
    # Joint angles stay inside the limits: recover them from the pose.
    full = (motion['hand_pose'] + art.hands_mean).reshape(33, -1, 3)
    flex = np.einsum('tjc,jc->tj', full, art.flex_axes)
    assert (flex >= art.flex_limits[:, 0] - 1e-6).all()
    assert (flex <= art.flex_limits[:, 1] + 1e-6).all()
    # Smooth: sub-frame steps are small and change slowly.
    step = np.diff(motion['transl'], axis=0)
    assert np.abs(np.diff(step, axis=0)).max() < 0.2 * np.abs(step).max()
    still = sample_hand_motion(
        sample_rng(0, 'train', 1), art,
        dict(articulation=0.0, rotation=0.0, translation=0.0),
        Rotation.identity(), np.zeros(3))
    assert np.ptp(still['transl'], axis=0).max() < 3e-3
    assert np.ptp(still['global_orient'], axis=0).max() < 1e-9
