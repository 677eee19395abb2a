# Copyright (c) OpenMMLab. All rights reserved.
"""Mesh export, the JSON summary and the optional hand detector."""
import json
import struct

import numpy as np
import pytest

from mmblurhand.apis import result_to_dict, save_mesh
from mmblurhand.apis.export import load_obj_vertices
from mmblurhand.apis.hand_detector import (MediaPipeHandDetector,
                                           landmarks_to_bboxes,
                                           swap_handedness)

VERTICES = np.array([[0, 0, 0], [0.1, 0, 0], [0, 0.1, 0], [0, 0, 0.1]],
                    dtype=np.float32)
FACES = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])


def test_obj_round_trip(tmp_path):
    path = str(tmp_path / 'sub' / 'tet.obj')
    save_mesh(path, VERTICES, FACES)
    np.testing.assert_allclose(load_obj_vertices(path), VERTICES)
    faces = [line.split()[1:] for line in open(path) if line[:2] == 'f ']
    np.testing.assert_array_equal(np.asarray(faces, int) - 1, FACES)


def test_binary_ply_layout(tmp_path):
    path = str(tmp_path / 'tet.ply')
    save_mesh(path, VERTICES, FACES)
    data = open(path, 'rb').read()
    header, body = data.split(b'end_header\n')
    assert b'element vertex 4' in header and b'element face 4' in header
    assert len(body) == 4 * 12 + 4 * (1 + 12)
    np.testing.assert_allclose(
        np.frombuffer(body[:48], '<f4').reshape(4, 3), VERTICES)
    first_face = struct.unpack('<B3i', body[48:61])
    assert first_face == (3, 0, 2, 1)


def test_save_mesh_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match='.obj or .ply'):
        save_mesh(str(tmp_path / 'x.stl'), VERTICES, FACES)
    with pytest.raises(ValueError, match='indices into the 4 vertices'):
        save_mesh(str(tmp_path / 'x.obj'), VERTICES, FACES + 1)


def test_result_to_dict_is_json_with_the_top_n():
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample
    K, T, J = 4, 3, 21
    rng = np.random.default_rng(0)
    pred = InstanceData(
        joints_cam=rng.normal(size=(1, T, J, 3)),
        keypoints=rng.normal(size=(1, T, J, 2)),
        mano_pose=rng.normal(size=(1, T, 48)),
        mano_shape=rng.normal(size=(1, T, 10)),
        cam_t=rng.normal(size=(1, T, 3)),
        hyp_joints_cam=rng.normal(size=(1, K, T, J, 3)),
        hyp_keypoints=rng.normal(size=(1, K, T, J, 2)),
        hyp_mano_pose=rng.normal(size=(1, K, T, 48)),
        hyp_scores=np.array([[0.1, 0.7, 0.3, 0.9]]),
        topn_indices=np.array([[3, 1]]),
        bboxes=np.array([[1., 2., 3., 4.]]))
    sample = PoseDataSample(pred_instances=pred)
    sample.set_metainfo(dict(hand_type='left'))
    out = json.loads(json.dumps(result_to_dict(sample, top_n=3)))
    assert out['hand_type'] == 'left' and out['bbox'] == [1, 2, 3, 4]
    assert out['time_steps'] == ['past', 'middle', 'future']
    assert np.shape(out['chosen']['mano_pose']) == (T, 48)
    assert np.shape(out['chosen']['keypoints']) == (T, J, 2)
    listed = out['hypotheses']['listed']
    assert [h['index'] for h in listed] == [3, 1, 2]
    assert [h['rank'] for h in listed] == [1, 2, 3]
    assert listed[0]['score'] == 0.9
    np.testing.assert_allclose(listed[1]['mano_pose'],
                               pred.hyp_mano_pose[0, 1])


def test_detector_helpers_and_errors(tmp_path):
    landmarks = np.array([[[10, 20], [30, 5], [15, 40]],
                          [[0, 0], [1, 1], [2, 0.5]]], dtype=float)
    np.testing.assert_allclose(
        landmarks_to_bboxes(landmarks), [[10, 5, 30, 40], [0, 0, 2, 1]])
    assert swap_handedness(['left', 'right']) == ['right', 'left']
    with pytest.raises(FileNotFoundError, match='hand_landmarker.task'):
        MediaPipeHandDetector(str(tmp_path / 'missing.task'))
    task = tmp_path / 'hand_landmarker.task'
    task.write_bytes(b'')
    try:
        import mediapipe  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match='pip install mediapipe'):
            MediaPipeHandDetector(str(task))
