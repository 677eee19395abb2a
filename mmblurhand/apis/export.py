# Copyright (c) OpenMMLab. All rights reserved.
"""Write inference results: meshes as OBJ / PLY, parameters as a dict."""
import os
import os.path as osp
from typing import Optional

import numpy as np

MESH_FORMATS = ('obj', 'ply')


def save_mesh(path: str, vertices: np.ndarray, faces: np.ndarray) -> None:
    """Write a triangle mesh as Wavefront OBJ or binary PLY.

    The format follows the extension (``.obj`` or ``.ply``). Coordinates are
    written as given (mmblurhand meshes: root-relative metres in the OpenCV
    camera frame, ``y`` down).

    Args:
        path (str): Output file.
        vertices (np.ndarray): ``(V, 3)`` vertices.
        faces (np.ndarray): ``(F, 3)`` zero-based vertex indices.

    Raises:
        ValueError: Unknown extension or bad shapes.
    """
    ext = osp.splitext(path)[1].lower().lstrip('.')
    if ext not in MESH_FORMATS:
        raise ValueError(f'mesh file "{path}" must end with .obj or .ply.')
    vertices = np.asarray(vertices, dtype=np.float32)
    faces = np.asarray(faces, dtype=np.int64)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise ValueError(f'vertices must be (V, 3), got {vertices.shape}.')
    if faces.ndim != 2 or faces.shape[1] != 3 or (
            faces.size and (faces.min() < 0
                            or faces.max() >= len(vertices))):
        raise ValueError(f'faces must be (F, 3) indices into the '
                         f'{len(vertices)} vertices.')
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    if ext == 'obj':
        lines = ['# mmblurhand mesh: root-relative metres, OpenCV camera axes']
        lines += [f'v {x:.6f} {y:.6f} {z:.6f}' for x, y, z in vertices]
        lines += [f'f {a + 1} {b + 1} {c + 1}' for a, b, c in faces]
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        return
    header = ('ply\nformat binary_little_endian 1.0\n'
              f'element vertex {len(vertices)}\n'
              'property float x\nproperty float y\nproperty float z\n'
              f'element face {len(faces)}\n'
              'property list uchar int vertex_indices\nend_header\n')
    face_rec = np.empty(
        len(faces), dtype=[('n', 'u1'), ('idx', '<i4', (3, ))])
    face_rec['n'] = 3
    face_rec['idx'] = faces
    with open(path, 'wb') as f:
        f.write(header.encode('ascii'))
        f.write(vertices.astype('<f4').tobytes())
        f.write(face_rec.tobytes())


def load_obj_vertices(path: str) -> np.ndarray:
    """Read the vertices of an OBJ file written by :func:`save_mesh`.

    Args:
        path (str): ``.obj`` file.

    Returns:
        np.ndarray: ``(V, 3)`` float32.
    """
    with open(path) as f:
        rows = [line.split()[1:4] for line in f if line.startswith('v ')]
    return np.asarray(rows, dtype=np.float32).reshape(-1, 3)


def result_to_dict(data_sample, top_n: Optional[int] = None) -> dict:
    """A JSON-ready summary of one hand from ``inference_blurhand``.

    Args:
        data_sample (PoseDataSample): One hand's result.
        top_n (int, optional): Hypotheses listed under ``hypotheses`` (in
            ``topn_indices`` order, then by score). Defaults to all K.

    Returns:
        dict: ``hand_type``, ``bbox`` (crop box, pixels), ``time_steps``
        (names), ``chosen`` (the chosen sequence: ``mano_pose`` (T, 48) and
        ``mano_shape`` (T, 10) MANO parameters of the right-hand model,
        ``cam_t`` (T, 3) m, ``joints_cam`` (T, J, 3) root-relative m,
        ``keypoints`` (T, J, 2) image pixels) and ``hypotheses`` (``scores``
        (K,), ``topn_indices`` (n,) and, per listed hypothesis, ``index``,
        ``rank``, ``score``, ``mano_pose``, ``joints_cam``, ``keypoints``).
        Arrays become nested lists.
    """
    from mmblurhand.visualization.mesh_visualizer import (
        select_top_hypotheses, time_step_names)
    pred = data_sample.pred_instances
    meta = data_sample.metainfo

    def arr(key):
        return np.asarray(pred.get(key))[0]

    scores = arr('hyp_scores').astype(np.float64)
    num_hyps = scores.size
    topn = arr('topn_indices').astype(np.int64)
    order = select_top_hypotheses(scores, num_hyps if top_n is None else
                                  top_n, topn)
    steps = arr('joints_cam').shape[0]
    chosen = {
        key: arr(key).tolist()
        for key in ('mano_pose', 'mano_shape', 'cam_t', 'joints_cam',
                    'keypoints') if key in pred
    }
    hypotheses = []
    for rank, k in enumerate(order):
        hyp = dict(index=int(k), rank=rank + 1, score=float(scores[k]))
        for key in ('mano_pose', 'joints_cam', 'keypoints'):
            if f'hyp_{key}' in pred:
                hyp[key] = arr(f'hyp_{key}')[k].tolist()
        hypotheses.append(hyp)
    bbox = np.asarray(pred.get('bboxes')).reshape(-1).tolist() \
        if 'bboxes' in pred else None
    return dict(
        hand_type=meta.get('hand_type', 'right'),
        bbox=bbox,
        time_steps=time_step_names(steps),
        units=dict(
            joints_cam='metres, root-relative, OpenCV camera axes',
            keypoints='image pixels',
            mano_pose='axis-angle radians (48 = 3 global + 45 hand), '
            'relative to the mean pose, right-hand model'),
        chosen=chosen,
        hypotheses=dict(
            scores=scores.tolist(),
            topn_indices=topn.tolist(),
            listed=hypotheses))
