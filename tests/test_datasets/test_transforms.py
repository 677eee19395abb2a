# Copyright (c) OpenMMLab. All rights reserved.
"""BlurHand transforms: geometry conventions, augmentation inverses,
left-hand mirroring, targets and packing."""
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from mmblurhand.datasets import BlurHandDataset
from mmblurhand.datasets.transforms import (BLURHAND_META_KEYS,
                                            BlurHandColorJitter,
                                            BlurHandRandomScaleRotate,
                                            BlurHandTopdownAffine,
                                            GenerateBlurHandTargets,
                                            LoadBlurHandImage,
                                            MirrorLeftHand,
                                            PackBlurHandInputs)
from mmblurhand.datasets.transforms.hand_geometry import (
    apply_affine, augment_mano_pose, augment_points_3d, crop_to_image_points,
    denormalise_depth, get_crop_matrix, invert_affine, left_multiply_root,
    normalise_depth, project_points, restore_mano_pose, restore_points_3d)
from mmblurhand.models.mano import ManoLayer

from blurhand_helpers import tiny_pipeline  # isort: skip


def test_crop_matrix_conventions():
    center, scale, size = np.array([50., 40.]), np.array([20., 20.]), (64, 64)
    matrix = get_crop_matrix(center, scale, 0.0, size)
    np.testing.assert_allclose(apply_affine(center, matrix), [32, 32])
    # +90 degrees: content turns counter-clockwise, so "right" goes "up".
    matrix = get_crop_matrix(center, scale, 90.0, size)
    np.testing.assert_allclose(
        apply_affine(center + [5, 0], matrix), [32, 32 - 16], atol=1e-9)
    # Mirroring sends "right" to "left".
    matrix = get_crop_matrix(center, scale, 0.0, size, flip=True)
    np.testing.assert_allclose(
        apply_affine(center + [5, 0], matrix), [32 - 16, 32], atol=1e-9)
    rng = np.random.default_rng(0)
    for _ in range(5):
        matrix = get_crop_matrix(
            rng.uniform(0, 100, 2), rng.uniform(10, 60, 2),
            rng.uniform(-60, 60), (48, 32), bool(rng.integers(2)))
        pts = rng.uniform(-50, 150, (7, 2))
        np.testing.assert_allclose(
            apply_affine(apply_affine(pts, matrix), invert_affine(matrix)),
            pts, atol=1e-9)
    np.testing.assert_allclose(
        denormalise_depth(normalise_depth(np.array([-0.15, 0.0, 0.07]), 0.3),
                          0.3), [-0.15, 0.0, 0.07])
    assert normalise_depth(0.15, 0.3) == pytest.approx(1.0)


def test_2d_and_3d_augmentations_agree():
    """Rotating / mirroring the crop and rotating / mirroring root-relative
    camera points give the same image (checked on a distant object, where
    projection is nearly orthographic)."""
    rng = np.random.default_rng(1)
    focal, princpt = np.array([800., 800.]), np.array([100., 90.])
    root = np.array([0.05, -0.03, 200.0])
    offsets = rng.normal(0, 0.05, (21, 3))
    offsets[0] = 0
    image_pts = project_points(root + offsets, focal, princpt)
    center = project_points(root, focal, princpt)
    px_per_m = focal[0] / root[2]
    for rotation in (0.0, 35.0, -70.0):
        for flip in (False, True):
            matrix = get_crop_matrix(center, [1., 1.], rotation, (64, 64),
                                     flip)
            crop = apply_affine(image_pts, matrix)
            aug = augment_points_3d(offsets, rotation, flip)
            expected = 32 + aug[:, :2] * px_per_m * 64
            np.testing.assert_allclose(crop, expected, atol=0.05)
            np.testing.assert_allclose(
                restore_points_3d(aug, rotation, flip), offsets, atol=1e-12)


@pytest.mark.parametrize('side', ['right', 'left'])
def test_pose_augmentation_matches_mesh_augmentation(side):
    """Rotating the MANO root (and mirroring the pose) moves the mesh the
    same way as rotating (and mirroring) its vertices; a mirrored left hand
    is the right hand model with the mirrored pose."""
    layer = ManoLayer(side=side)
    right = ManoLayer(side='right')
    rng = np.random.default_rng(2)
    pose = np.concatenate([Rotation.random(random_state=3).as_rotvec(),
                           rng.normal(0, 0.2, 45)])
    betas = torch.as_tensor(rng.normal(0, 0.5, (1, 10)), dtype=torch.float32)

    def mesh(model, p):
        p = torch.as_tensor(p[None], dtype=torch.float32)
        out = model(p[:, :3], p[:, 3:], betas)
        return (out.vertices - out.joints[:, :1]).numpy()[0]

    flip = side == 'left'
    for rotation in (0.0, 40.0):
        aug_pose = augment_mano_pose(pose, rotation, flip)
        model = right if flip else layer
        np.testing.assert_allclose(
            mesh(model, aug_pose),
            augment_points_3d(mesh(layer, pose), rotation, flip),
            atol=2e-5)
        np.testing.assert_allclose(
            restore_mano_pose(aug_pose, rotation, flip), pose, atol=1e-6)


@pytest.mark.parametrize('split', ['train', 'test'])
def test_augment_then_invert_recovers_the_original(synthetic_root, split):
    """Crop joints mapped back with the metainfo land on the image joints,
    3D targets and MANO poses restore to the original camera frame."""
    np.random.seed(0)
    pipeline = tiny_pipeline(augment=True)
    pipeline[2] = dict(type='BlurHandRandomScaleRotate', rotate_prob=1.0)
    dataset = BlurHandDataset(synthetic_root, split, pipeline=pipeline)
    raw = BlurHandDataset(synthetic_root, split)
    flips = set()
    for idx in range(len(dataset)):
        sample = dataset[idx]['data_samples']
        info = raw.get_data_info(idx)
        meta = sample.metainfo
        labels = sample.gt_instance_labels
        flips.add(meta['flip'])
        assert meta['flip'] == (info['hand_type'] == 'left')
        assert meta['rotation'] != 0
        image_pts = crop_to_image_points(
            labels.joints_2d[0, ..., :2].numpy(), meta['input_center'],
            meta['input_scale'], meta['input_size'], meta['rotation'],
            meta['flip'])
        np.testing.assert_allclose(image_pts, info['ann_joints_img'],
                                   atol=2e-3)
        restored = restore_points_3d(labels.joints_cam[0].numpy(),
                                     meta['rotation'], meta['flip'])
        np.testing.assert_allclose(restored,
                                   sample.gt_instances.joints_cam[0],
                                   atol=1e-5)
        depth = denormalise_depth(labels.joints_2d[0, ..., 2].numpy(), 0.3)
        np.testing.assert_allclose(depth, labels.joints_cam[0, ..., 2],
                                   atol=1e-5)
        pose_cam = left_multiply_root(info['ann_mano_pose'],
                                      info['cam_rot'])
        np.testing.assert_allclose(
            Rotation.from_rotvec(
                restore_mano_pose(labels.mano_pose[0].numpy(),
                                  meta['rotation'],
                                  meta['flip'])[:, :3]).as_matrix(),
            Rotation.from_rotvec(pose_cam[:, :3]).as_matrix(),
            atol=1e-5)
        np.testing.assert_allclose(
            restore_mano_pose(labels.mano_pose[0].numpy(), meta['rotation'],
                              meta['flip'])[:, 3:],
            pose_cam[:, 3:],
            atol=1e-5)
    assert flips == {False, True}


def test_mirrored_left_hand_lands_on_the_hand(synthetic_root):
    """Crop the sharp hand mask of left hands: the mirrored joints fall on
    the mirrored hand in the crop."""
    dataset = BlurHandDataset(
        synthetic_root,
        'train',
        img_dir='sharp_masks',
        pipeline=tiny_pipeline(input_size=(96, 96)))
    hits, misses_if_unmirrored, total = 0, 0, 0
    for idx in range(len(dataset)):
        packed = dataset[idx]
        sample = packed['data_samples']
        if sample.metainfo['hand_type'] != 'left':
            continue
        assert sample.metainfo['flip']
        mask = packed['inputs'][0].numpy() > 0
        joints = sample.gt_instance_labels.joints_2d[0, 1, :, :2].numpy()
        valid = sample.gt_instance_labels.joints_2d_valid[0, 1].numpy() > 0
        px = np.clip(np.round(joints[valid] * 96).astype(int), 0, 95)
        hits += mask[px[:, 1], px[:, 0]].sum()
        unmirrored = np.clip(
            np.round((1 - joints[valid, 0]) * 96).astype(int), 0, 95)
        misses_if_unmirrored += (~mask[px[:, 1], unmirrored]).sum()
        total += valid.sum()
    assert total >= 30
    assert hits / total > 0.95
    assert misses_if_unmirrored / total > 0.2


def _target_results(**overrides):
    """A results dict with one frame for GenerateBlurHandTargets."""
    joints = np.zeros((1, 21, 3), np.float32)
    joints[0, :, 2] = 0.5
    joints[0, :, 0] = np.linspace(0, 0.05, 21)
    results = dict(
        ann_joints_cam=joints,
        ann_joints_img=project_points(joints, [100, 100], [32, 32]),
        ann_joints_valid=np.ones((1, 21), np.float32),
        ann_mano_pose=np.zeros((1, 48), np.float32),
        ann_mano_shape=np.zeros((1, 10), np.float32),
        ann_mano_trans=np.zeros((1, 3), np.float32),
        ann_mano_valid=np.ones(1, np.float32),
        cam_rot=np.eye(3, dtype=np.float32),
        cam_trans=np.array([0, 0, 0.5], np.float32),
        focal=np.array([100, 100], np.float32),
        princpt=np.array([32, 32], np.float32),
        hand_type='right',
        rotation=0.0,
        flip=False,
        input_size=(64, 64),
        crop_matrix=get_crop_matrix([32, 32], [64, 64], 0, (64, 64)))
    results.update(overrides)
    return results


def test_truncation_validity_and_shape_outliers():
    transform = GenerateBlurHandTargets()
    results = _target_results()
    results['ann_joints_img'][0, 3] = [-5, 10]  # outside the crop
    results['ann_joints_cam'][0, 4, 2] = 0.5 + 0.2  # beyond +0.15 m
    results['ann_joints_valid'][0, 5] = 0
    out = transform(results)
    valid = out['joints_2d_valid'][0, 0]
    assert valid[3] == 0 and valid[4] == 0 and valid[5] == 0
    assert valid[[0, 1, 2, 6]].all()
    assert out['joints_cam_valid'][0, 0, 3] == 1  # 3D stays valid
    assert out['joints_cam_valid'][0, 0, 5] == 0
    shape = np.zeros((1, 10), np.float32)
    shape[0, 2] = 3.5
    out = transform(_target_results(ann_mano_shape=shape))
    assert (out['mano_shape'] == 0).all()
    shape[0, 2] = 2.5
    out = transform(_target_results(ann_mano_shape=shape))
    assert out['mano_shape'][0, 0, 2] == pytest.approx(2.5)
    # No MANO fit: zero targets and masks.
    out = transform(_target_results(ann_mano_valid=np.zeros(1, np.float32)))
    assert out['mano_valid'].sum() == 0 and out['gt_mesh_cam'].sum() == 0
    assert out['mano_joints_valid'].sum() == 0
    assert out['gt_mesh_cam'].shape == (1, 1, 778, 3)


def test_packing_follows_the_contract(synthetic_root):
    dataset = BlurHandDataset(
        synthetic_root, 'train', pipeline=tiny_pipeline()[:-1])
    results = dataset[0]
    packed = PackBlurHandInputs()(dict(results))
    np.testing.assert_array_equal(packed['inputs'].numpy(),
                                  results['img'].transpose(2, 0, 1))
    sample = packed['data_samples']
    assert set(sample.metainfo) == set(BLURHAND_META_KEYS)
    for key in PackBlurHandInputs.label_mapping_table.values():
        value = sample.gt_instance_labels.get(key)
        assert isinstance(value, torch.Tensor), key
        assert value.dtype == torch.float32 and value.shape[0] == 1
    for key in PackBlurHandInputs.instance_mapping_table.values():
        assert isinstance(sample.gt_instances.get(key), np.ndarray), key
    assert sample.gt_instances.is_left.dtype == bool
    assert sample.gt_instances.bboxes.shape == (1, 4)


def test_small_transforms():
    np.random.seed(0)
    # Scale in [0.75, 1.25], rotation 0 without rotate probability.
    aug = BlurHandRandomScaleRotate(rotate_prob=0.0)
    scales = []
    for _ in range(50):
        out = aug(dict(bbox_scale=np.array([[10., 10.]])))
        scales.append(out['bbox_scale'][0, 0] / 10)
        assert out['bbox_rotation'][0] == 0
    assert 0.75 <= min(scales) < max(scales) <= 1.25
    rotations = [
        BlurHandRandomScaleRotate(rotate_prob=1.0)(
            dict(bbox_scale=np.ones((1, 2))))['bbox_rotation'][0]
        for _ in range(50)
    ]
    assert max(np.abs(rotations)) <= 60 and np.std(rotations) > 5
    # Per-channel colour factors in [0.8, 1.2].
    img = np.full((4, 4, 3), 100, np.uint8)
    out = BlurHandColorJitter()(dict(img=img))['img']
    assert out.dtype == np.uint8
    assert ((out >= 80) & (out <= 120)).all()
    assert len(np.unique(out[0, 0])) > 1
    # Mirroring flags.
    assert MirrorLeftHand()(dict(hand_type='left'))['flip']
    assert not MirrorLeftHand()(dict(hand_type='right'))['flip']
    with pytest.raises(ValueError, match='hand_type'):
        MirrorLeftHand()(dict(hand_type='interacting'))
    # An image already given is kept.
    loaded = LoadBlurHandImage()(dict(img=np.zeros((5, 6, 3), np.uint8)))
    assert loaded['img_shape'] == (5, 6) and loaded['img_path'] is None
    # Affine output size and aspect ratio fix.
    affine = BlurHandTopdownAffine(input_size=(32, 16))
    out = affine(
        dict(img=np.zeros((50, 50, 3), np.uint8),
             bbox_center=np.array([[25., 25.]]),
             bbox_scale=np.array([[10., 10.]])))
    assert out['img'].shape == (16, 32, 3)
    np.testing.assert_allclose(out['input_scale'], [20, 10])
    with pytest.raises(ValueError, match='input_size'):
        BlurHandTopdownAffine(input_size=(0, 10))
