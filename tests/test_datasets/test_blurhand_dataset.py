# Copyright (c) OpenMMLab. All rights reserved.
"""BlurHandDataset: sample construction, units and clear errors."""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest

from mmblurhand.datasets import BlurHandDataset
from mmblurhand.datasets.blurhand_dataset import BlurHandAnnotationError
from mmblurhand.datasets.transforms import LoadBlurHandImage
from mmblurhand.models.mano import convert_joint_order

from blurhand_helpers import TINY, tiny_pipeline  # isort: skip


@pytest.fixture
def data_copy(synthetic_root, tmp_path):
    """A private copy of the tiny dataset that a test may damage."""
    root = str(tmp_path / 'copy')
    shutil.copytree(synthetic_root, root)
    return root


def _ann_path(root, kind, split='train'):
    return osp.join(root, 'annotations', split,
                    f'BlurHand_{split}_{kind}.json')


def _edit_json(root, kind, edit):
    path = _ann_path(root, kind)
    with open(path) as f:
        content = json.load(f)
    edit(content)
    with open(path, 'w') as f:
        json.dump(content, f)


def test_samples_units_and_frames(synthetic_root):
    dataset = BlurHandDataset(synthetic_root, 'train')
    with open(_ann_path(synthetic_root, 'data')) as f:
        data = json.load(f)
    with open(_ann_path(synthetic_root, 'camera')) as f:
        cameras = json.load(f)
    with open(_ann_path(synthetic_root, 'joint_3d')) as f:
        joints = json.load(f)
    anns = {a['id']: a for a in data['annotations']}
    images = {img['id']: img for img in data['images']}
    ids = set()
    for idx in range(len(dataset)):
        info = dataset.get_data_info(idx)
        ids.add(info['id'])
        ann = anns[info['ann_id']]
        assert ann['is_middle']
        assert info['frame_ann_ids'] == [ann['aid_list'][p] for p in (0, 2, 4)]
        # Past/middle/future joints, middle camera, metres, MANO-21 order.
        img = images[ann['image_id']]
        cam = {k: np.array(v[img['camera']])
               for k, v in cameras[str(img['capture'])].items()}
        hand = slice(0, 21) if info['hand_type'] == 'right' else slice(21, 42)
        for t, aid in enumerate(info['frame_ann_ids']):
            frame = images[anns[aid]['image_id']]
            world = np.array(joints[str(frame['capture'])][str(
                frame['frame_idx'])]['world_coord'])[hand]
            expected = (world - cam['campos']) @ cam['camrot'].T / 1000.0
            np.testing.assert_allclose(
                info['ann_joints_cam'][t],
                convert_joint_order(expected, 'interhand21', 'mano21'),
                atol=1e-6)
            valid = np.array(anns[aid]['joint_valid'])[hand]
            valid = valid * valid[20]
            np.testing.assert_array_equal(
                info['ann_joints_valid'][t],
                convert_joint_order(valid, 'interhand21', 'mano21', axis=-1))
        # Square box around the middle frame's valid 2D joints, 1.2 * 1.25.
        x1, y1, x2, y2 = info['bbox'][0]
        assert x2 - x1 == pytest.approx(y2 - y1, rel=1e-5)
        pts = info['ann_joints_img'][1][info['ann_joints_valid'][1] > 0]
        assert (pts >= info['bbox'][0, :2] - 1e-3).all()
        assert (pts <= info['bbox'][0, 2:] + 1e-3).all()
        assert np.isfinite(info['blur_rate'])
        assert info['ann_mano_valid'].tolist() == [1, 1, 1]
    assert len(ids) == len(dataset)
    # An interacting image gives a right and a left sample.
    by_image = {}
    for idx in range(len(dataset)):
        info = dataset.get_data_info(idx)
        by_image.setdefault(info['img_id'], []).append(info)
    pairs = [v for v in by_image.values() if len(v) == 2]
    assert pairs
    for pair in pairs:
        assert sorted(i['hand_type'] for i in pair) == ['left', 'right']
        assert all(i['orig_hand_type'] == 'interacting' for i in pair)


def test_five_time_steps(synthetic_root):
    dataset = BlurHandDataset(
        synthetic_root,
        'test',
        frame_positions=(0, 1, 2, 3, 4),
        pipeline=tiny_pipeline())
    sample = dataset[0]['data_samples']
    assert sample.gt_instance_labels.joints_cam.shape == (1, 5, 21, 3)
    assert sample.gt_instances.mesh_cam.shape[:2] == (1, 5)
    with pytest.raises(ValueError, match='aid_list has 5 entries'):
        BlurHandDataset(synthetic_root, 'test', frame_positions=(0, 5))


def test_bad_split():
    with pytest.raises(ValueError, match="'train', 'test'"):
        BlurHandDataset('anywhere', 'val')


def test_missing_annotation_file(data_copy):
    os.remove(_ann_path(data_copy, 'camera'))
    with pytest.raises(FileNotFoundError) as err:
        BlurHandDataset(data_copy, 'train')
    msg = str(err.value)
    assert 'BlurHand_train_camera.json' in msg
    assert 'synthesize_blurhand.py' in msg and 'docs/datasets.md' in msg


def test_malformed_json(data_copy):
    path = _ann_path(data_copy, 'joint_3d')
    with open(path) as f:
        text = f.read()
    with open(path, 'w') as f:
        f.write(text[:len(text) // 2])
    with pytest.raises(ValueError) as err:
        BlurHandDataset(data_copy, 'train')
    msg = str(err.value)
    assert 'BlurHand_train_joint_3d.json' in msg
    assert 'not valid JSON' in msg and 'line' in msg


def test_missing_key_names_file_and_key(data_copy):

    def drop_aid_list(data):
        middle = next(a for a in data['annotations'] if a['is_middle'])
        del middle['aid_list']

    _edit_json(data_copy, 'data', drop_aid_list)
    with pytest.raises(BlurHandAnnotationError) as err:
        BlurHandDataset(data_copy, 'train')
    assert 'BlurHand_train_data.json' in str(err.value)
    assert "'aid_list'" in str(err.value)
    assert isinstance(err.value, KeyError)


def test_unknown_capture_and_bad_shape(data_copy, synthetic_root):
    _edit_json(data_copy, 'camera', lambda cams: cams.pop('0'))
    with pytest.raises(BlurHandAnnotationError,
                       match=r"BlurHand_train_camera\.json.*'0'"):
        BlurHandDataset(data_copy, 'train')

    shutil.copy(_ann_path(synthetic_root, 'camera'),
                _ann_path(data_copy, 'camera'))

    def truncate(joints):
        frame = next(iter(joints['0'].values()))
        frame['world_coord'] = frame['world_coord'][:21]

    _edit_json(data_copy, 'joint_3d', truncate)
    with pytest.raises(BlurHandAnnotationError, match=r'shape \(42, 3\)'):
        BlurHandDataset(data_copy, 'train')


def test_missing_images_raise_or_are_skipped(data_copy):
    full = BlurHandDataset(data_copy, 'train')
    victim = full.get_data_info(0)['img_path']
    num_victim = sum(
        full.get_data_info(i)['img_path'] == victim
        for i in range(len(full)))
    os.remove(victim)
    with pytest.raises(FileNotFoundError) as err:
        BlurHandDataset(data_copy, 'train')
    msg = str(err.value)
    assert f'1 of {TINY["num_train"]}' in msg
    assert victim in msg and 'skip_missing=True' in msg

    skipping = BlurHandDataset(data_copy, 'train', skip_missing=True)
    assert len(skipping) == len(full) - num_victim
    assert skipping.load_stats['missing_images'] == 1

    # A file that disappears after start-up fails at loading, clearly.
    results = full.get_data_info(0)
    with pytest.raises(FileNotFoundError, match='skip_missing'):
        LoadBlurHandImage()(results)
