# Copyright (c) OpenMMLab. All rights reserved.
"""init_model / inference_blurhand on tiny random models."""
import copy
import warnings

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmblurhand.apis import (CheckpointMismatchError,
                             build_inference_pipeline, inference_blurhand,
                             init_model)

H, W = 120, 160


@pytest.fixture(scope='module')
def image():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    return cv2.GaussianBlur(img, (9, 1), 0)  # horizontally blurred noise


@pytest.fixture(scope='module')
def model(tiny_checkpoint):
    return init_model(*tiny_checkpoint)


@pytest.fixture(scope='module')
def mh_model(tiny_mh_checkpoint):
    return init_model(*tiny_mh_checkpoint)


def test_init_model_loads_the_checkpoint_exactly(tiny_checkpoint, model):
    config, checkpoint = tiny_checkpoint
    saved = torch.load(checkpoint, weights_only=True)['state_dict']
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, saved[key])
    assert not model.training
    assert model.dataset_meta == dict(dataset_name='tiny')
    assert model.mesh_faces.shape == (1538, 3)


def test_init_model_warns_about_other_settings(tiny_checkpoint, tmp_path):
    """Same weights, but the stored training config had another logit
    scale: the model loads and one warning names the setting."""
    config, checkpoint = tiny_checkpoint
    ckpt = torch.load(checkpoint, weights_only=True)
    text = Config.fromfile(config).pretty_text
    ckpt['meta']['cfg'] = text
    same = tmp_path / 'same.pth'
    torch.save(ckpt, same)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # nothing to say: same settings
        init_model(config, str(same))
    other = Config.fromfile(config)
    other.model.neck.logit_scale = 30.
    ckpt['meta']['cfg'] = other.pretty_text
    path = tmp_path / 'other.pth'
    torch.save(ckpt, path)
    with pytest.warns(UserWarning, match=r'model\.neck\.logit_scale: 30\.0 '
                      r"-> '<not set>'"):
        init_model(config, str(path))


def test_single_hypothesis_model_returns_documented_shapes(model, image):
    hands = inference_blurhand(model, image)
    assert len(hands) == 1
    pred = hands[0].pred_instances
    T, V, J = 3, 778, 21
    expected = dict(
        hyp_vertices=(1, 1, T, V, 3),
        hyp_joints_cam=(1, 1, T, J, 3),
        hyp_keypoints=(1, 1, T, J, 2),
        hyp_mano_pose=(1, 1, T, 48),
        hyp_scores=(1, 1),
        topn_indices=(1, 1),
        vertices=(1, T, V, 3),
        joints_cam=(1, T, J, 3),
        keypoints=(1, T, J, 2),
        mano_pose=(1, T, 48),
        mano_shape=(1, T, 10),
        cam_t=(1, T, 3),
        bboxes=(1, 4))
    for key, shape in expected.items():
        assert pred.get(key).shape == shape, key
    # K = 1: the only hypothesis is the chosen sequence, with score 1
    np.testing.assert_array_equal(pred.hyp_scores, [[1.0]])
    np.testing.assert_array_equal(pred.topn_indices, [[0]])
    np.testing.assert_array_equal(pred.hyp_vertices[:, 0], pred.vertices)
    np.testing.assert_array_equal(pred.hyp_keypoints[:, 0], pred.keypoints)
    # no box: the whole image is the crop
    np.testing.assert_allclose(pred.bboxes, [[0, 0, W, H]])
    meta = hands[0].metainfo
    np.testing.assert_allclose(meta['input_center'], [W / 2, H / 2])
    np.testing.assert_allclose(meta['input_scale'], [W, W])  # made square
    assert meta['hand_type'] == 'right' and not meta['flip']


def test_hypothesis_keypoints_use_the_chosen_camera():
    """Each hypothesis is projected with the weak-perspective camera fitted
    to the chosen sequence (exact here: the chosen keypoints are a
    weak-perspective projection)."""
    from mmengine.structures import InstanceData

    from mmblurhand.apis.inference import _add_hypothesis_keypoints
    rng = np.random.default_rng(0)
    joints = rng.uniform(-0.1, 0.1, (1, 3, 21, 3))
    scale = np.array([400.0, 500.0, 600.0])
    center = np.array([[50.0, 60.0], [55.0, 60.0], [60.0, 62.0]])
    hyps = np.stack([joints[0], joints[0] * 0.5])[None]  # (1, K=2, T, J, 3)
    pred = InstanceData(
        joints_cam=joints,
        keypoints=scale[:, None, None] * joints[..., :2] + center[:, None],
        hyp_joints_cam=hyps)
    _add_hypothesis_keypoints(pred)
    assert pred.hyp_keypoints.shape == (1, 2, 3, 21, 2)
    np.testing.assert_allclose(pred.hyp_keypoints[:, 0], pred.keypoints,
                               rtol=1e-5)
    expected = scale[:, None, None] * hyps[0, 1, ..., :2] + center[:, None]
    np.testing.assert_allclose(pred.hyp_keypoints[0, 1], expected, rtol=1e-5)


def test_path_and_array_inputs_agree(model, image, tmp_path):
    path = str(tmp_path / 'blurry.png')
    cv2.imwrite(path, image)
    from_path = inference_blurhand(model, path)[0]
    from_array = inference_blurhand(model, image)[0]
    np.testing.assert_allclose(from_path.pred_instances.vertices,
                               from_array.pred_instances.vertices)
    assert from_path.metainfo['img_path'] == path


def test_multi_hypothesis_model_ranks_and_chooses(mh_model, image):
    hands = inference_blurhand(
        mh_model, image, bboxes=[[10, 10, 60, 70], [80, 20, 150, 100]])
    assert len(hands) == 2
    for hand in hands:
        pred = hand.pred_instances
        assert pred.hyp_vertices.shape == (1, 4, 3, 778, 3)
        assert pred.hyp_keypoints.shape == (1, 4, 3, 21, 2)
        assert pred.topn_indices.shape == (1, 2)  # test_cfg.num_select
        scores = pred.hyp_scores[0]
        top = pred.topn_indices[0]
        assert scores[top[0]] == scores.max()
        assert scores[top[0]] >= scores[top[1]]
        # aggregate=False: the chosen sequence is the top-1 hypothesis
        np.testing.assert_allclose(pred.vertices[0],
                                   pred.hyp_vertices[0, top[0]])
        np.testing.assert_allclose(pred.mano_pose[0],
                                   pred.hyp_mano_pose[0, top[0]])
        # every hypothesis is projected by the model itself (image pixels);
        # the chosen one's projection is the chosen keypoints, exactly
        np.testing.assert_allclose(pred.hyp_keypoints[0, top[0]],
                                   pred.keypoints[0], atol=1e-4)
    # boxes are padded by 1.5 about their centre
    np.testing.assert_allclose(hands[0].pred_instances.bboxes,
                               [[-2.5, -5, 72.5, 85]])


def test_left_hand_is_mirrored_in_and_back(model, image):
    """A left hand in the mirrored image gives the mirror image of the
    right-hand prediction in the original image."""
    box = np.array([20.0, 15.0, 90.0, 100.0])
    right = inference_blurhand(model, image, bboxes=box)[0]
    mirrored = np.ascontiguousarray(image[:, ::-1])
    mirrored_box = [W - 1 - box[2], box[1], W - 1 - box[0], box[3]]
    left = inference_blurhand(
        model, mirrored, bboxes=mirrored_box, hand_types='left')[0]
    assert left.metainfo['flip'] and left.metainfo['hand_type'] == 'left'
    pr, pl = right.pred_instances, left.pred_instances
    flip_x = np.array([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(pl.vertices, pr.vertices * flip_x, atol=1e-5)
    np.testing.assert_allclose(
        pl.hyp_joints_cam, pr.hyp_joints_cam * flip_x, atol=1e-5)
    np.testing.assert_allclose(pl.mano_pose, pr.mano_pose, atol=1e-5)
    np.testing.assert_allclose(pl.keypoints[..., 0],
                               W - 1 - pr.keypoints[..., 0], atol=1e-3)
    np.testing.assert_allclose(pl.keypoints[..., 1], pr.keypoints[..., 1],
                               atol=1e-3)


def test_inference_pipeline_drops_annotation_steps(tiny_checkpoint):
    cfg = Config.fromfile(tiny_checkpoint[0])
    types = [t.__class__.__name__ for t in
             build_inference_pipeline(cfg).transforms]
    assert types == [
        'LoadBlurHandImage', 'MirrorLeftHand', 'BlurHandTopdownAffine',
        'PackBlurHandInputs'
    ]
    no_mirror = copy.deepcopy(cfg)
    no_mirror.test_dataloader.dataset.pipeline = [
        s for s in cfg.test_dataloader.dataset.pipeline
        if s['type'] != 'MirrorLeftHand'
    ]
    types = [t.__class__.__name__ for t in
             build_inference_pipeline(no_mirror).transforms]
    assert types.index('MirrorLeftHand') == types.index(
        'BlurHandTopdownAffine') - 1
    no_crop = copy.deepcopy(cfg)
    no_crop.test_dataloader.dataset.pipeline = [dict(type='LoadBlurHandImage')]
    with pytest.raises(KeyError, match='BlurHandTopdownAffine'):
        build_inference_pipeline(no_crop)


def test_missing_files_are_reported(tiny_checkpoint, tmp_path):
    config, checkpoint = tiny_checkpoint
    with pytest.raises(FileNotFoundError, match='checkpoint "nope.pth" does '
                       'not exist.*make demo'):
        init_model(config, 'nope.pth')
    with pytest.raises(FileNotFoundError, match='Config "nope.py" does not'):
        init_model('nope.py', checkpoint)
    broken = tmp_path / 'broken.pth'
    broken.write_bytes(b'not a checkpoint')
    with pytest.raises(RuntimeError, match='could not be read'):
        init_model(config, str(broken))


def test_config_checkpoint_mismatch_is_one_clear_line(
        tiny_checkpoint, tiny_mh_checkpoint):
    config, _ = tiny_checkpoint
    _, mh_checkpoint = tiny_mh_checkpoint
    with pytest.raises(CheckpointMismatchError) as info:
        init_model(config, mh_checkpoint)
    message = str(info.value)
    assert '\n' not in message
    assert message.startswith(f'checkpoint "{mh_checkpoint}" does not match '
                              f'config "{config}": ')
    assert 'missing keys (e.g. head.ktformer.' in message
    assert 'unexpected keys (e.g. head.transformer.' in message
    assert message.endswith('pass the config the checkpoint was trained '
                            'with.')
    # same keys, other shapes
    wider = Config.fromfile(config)
    wider.model.head.ktformer.embed_dims = 48
    wider.model.head.regressor.in_channels = 48
    with pytest.raises(CheckpointMismatchError,
                       match=r'shape mismatches \(checkpoint vs model\) '
                       r'\(e\.g\. head\.ktformer\.'):
        init_model(wider, tiny_checkpoint[1])


def test_bad_inputs_are_reported(model, image, tmp_path):
    with pytest.raises(FileNotFoundError, match='image "missing.png" does '
                       'not exist'):
        inference_blurhand(model, 'missing.png')
    junk = tmp_path / 'junk.png'
    junk.write_bytes(b'\x89PNG but not really')
    with pytest.raises(IOError, match='cannot read image .*junk.png'):
        inference_blurhand(model, str(junk))
    with pytest.raises(ValueError, match='uint8 BGR'):
        inference_blurhand(model, image.astype(np.float32))
    with pytest.raises(ValueError, match=r'bbox 1 = \[5.0, 5.0, 1.0, 9.0\]'):
        inference_blurhand(model, image, bboxes=[[0, 0, 9, 9], [5, 5, 1, 9]])
    with pytest.raises(ValueError, match='lies outside'):
        inference_blurhand(model, image, bboxes=[500, 500, 600, 600])
    with pytest.raises(ValueError, match="'middle' is not"):
        inference_blurhand(model, image, hand_types='middle')
    with pytest.raises(ValueError, match='2 hand_types for 1 boxes'):
        inference_blurhand(model, image, hand_types=['left', 'right'])
    # grey and BGRA arrays are accepted
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    assert len(inference_blurhand(model, grey)) == 1
