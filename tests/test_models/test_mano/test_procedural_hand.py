# Copyright (c) OpenMMLab. All rights reserved.
"""The procedural MANO-format hand: MANO's keys, shapes and topology,
anatomy, rig arrays, shape directions, determinism, mirror, and a coarse
self-intersection check in a fist."""
from collections import Counter

import numpy as np
import torch

from mmblurhand.models.mano import (MANO16_JOINT_NAMES, MANO21_JOINT_NAMES,
                                    ManoLayer)
from mmblurhand.models.mano.procedural_hand import (SHAPE_DIRECTIONS,
                                                    build_procedural_mano,
                                                    mirror_mano_arrays,
                                                    procedural_hand_pose)

TIP_IDS = (745, 317, 445, 556, 673)
SMPLX_TIP_IDS = (744, 320, 443, 554, 671)
DIGITS = ('Thumb', 'Index', 'Middle', 'Ring', 'Pinky')


def _joints21(arrays, vertices=None):
    v = arrays['v_template'] if vertices is None else vertices
    j16 = arrays['J_regressor'] @ v
    out = np.zeros((21, 3))
    for i, name in enumerate(MANO16_JOINT_NAMES):
        out[MANO21_JOINT_NAMES.index(name)] = j16[i]
    for digit, vid in zip(DIGITS, TIP_IDS):
        out[MANO21_JOINT_NAMES.index(f'{digit}_4')] = v[vid]
    return out


def test_mano_keys_shapes_and_dtypes(right_arrays):
    a = right_arrays
    assert a['v_template'].shape == (778, 3)
    assert a['f'].shape == (1538, 3) and a['f'].dtype == np.uint32
    assert a['J_regressor'].shape == (16, 778)
    assert a['weights'].shape == (778, 16)
    assert a['kintree_table'].shape == (2, 16)
    assert a['shapedirs'].shape == (778, 3, 10)
    assert a['posedirs'].shape == (778, 3, 135)
    assert a['hands_components'].shape == (45, 45)
    assert a['hands_mean'].shape == (45, )
    parents = a['kintree_table'][0].astype(np.int64)
    parents[0] = -1
    assert parents.tolist() == [
        -1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14
    ]
    assert a['kintree_table'][1].tolist() == list(range(16))
    for key, value in a.items():
        assert np.isfinite(value).all(), key


def test_topology_is_a_disc_with_a_16_edge_wrist_opening(right_arrays):
    faces = right_arrays['f'].astype(np.int64)
    assert len(np.unique(faces)) == 778  # every vertex is used
    assert (faces[:, 0] != faces[:, 1]).all() and (
        faces[:, 1] != faces[:, 2]).all() and (faces[:, 0] !=
                                               faces[:, 2]).all()
    directed = np.concatenate(
        [faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    # Consistent winding: each directed edge appears once.
    assert len(np.unique(directed, axis=0)) == len(directed)
    undirected = Counter(map(tuple, np.sort(directed, axis=1)))
    uses = Counter(undirected.values())
    assert set(uses) == {1, 2} and uses[1] == 16
    num_edges = len(undirected)
    assert 778 - num_edges + 1538 == 1  # Euler characteristic of a disc
    # The boundary is one loop of 16 edges around the wrist.
    boundary = [e for e, n in undirected.items() if n == 1]
    nodes = Counter(v for e in boundary for v in e)
    assert set(nodes.values()) == {2} and len(nodes) == 16
    ring = right_arrays['v_template'][list(nodes)]
    wrist = _joints21(right_arrays)[0]
    assert np.linalg.norm(ring.mean(0) - wrist) < 0.015
    # Faces point outwards: closing the hole gives a positive volume. Each
    # cap triangle runs along its boundary edge against the edge's face.
    v = right_arrays['v_template']
    center = len(v)
    directed_set = set(map(tuple, directed))
    cap = np.array([(b, a, center) if (a, b) in directed_set else
                    (a, b, center) for a, b in boundary])
    closed_v = np.concatenate([v, ring.mean(0, keepdims=True)])
    closed_f = np.concatenate([faces, cap])
    tri = closed_v[closed_f]
    volume = np.einsum('ij,ij->i', tri[:, 0], np.cross(tri[:, 1],
                                                       tri[:, 2])).sum() / 6
    assert 2.5e-4 < volume < 4.5e-4  # an adult hand, cut at the wrist


def test_anatomical_proportions(right_arrays):
    j = _joints21(right_arrays)
    name = MANO21_JOINT_NAMES.index

    def dist(a, b):
        return np.linalg.norm(j[name(a)] - j[name(b)])

    assert np.allclose(j[0], 0, atol=1e-6)  # wrist at the origin
    assert 0.085 < dist('Wrist', 'Middle_1') < 0.10  # palm length
    assert 0.17 < dist('Wrist', 'Middle_4') < 0.20  # hand length
    assert 0.035 < dist('Index_1', 'Index_2') < 0.045
    assert 0.022 < dist('Index_2', 'Index_3') < 0.028
    assert 0.040 < dist('Middle_1', 'Middle_2') < 0.050
    assert dist('Pinky_1', 'Pinky_4') < dist('Ring_1', 'Ring_4') < dist(
        'Middle_1', 'Middle_4')
    v = right_arrays['v_template']
    # Palm width across the knuckles (~8 cm) and the axes: fingers along
    # -x, thumb side +z, back of the hand +y.
    thumb = right_arrays['weights'][:, 13:].sum(1) > 0.1
    knuckles = v[(np.abs(v[:, 0] + 0.075) < 0.006) & ~thumb]
    assert 0.07 < np.ptp(knuckles[:, 2]) < 0.095
    assert j[name('Middle_4'), 0] < -0.15
    assert j[name('Thumb_4'), 2] > j[name('Index_4'), 2] > j[name(
        'Pinky_4'), 2]
    # Thumb in opposition: its tip is below the palm plane.
    assert j[name('Thumb_4'), 1] < -0.01


def test_fingertip_vertices_are_the_tips(right_arrays):
    v = right_arrays['v_template']
    weights = right_arrays['weights']
    j = _joints21(right_arrays)
    for digit, tip, pad in zip(DIGITS, TIP_IDS, SMPLX_TIP_IDS):
        dip = MANO16_JOINT_NAMES.index(f'{digit}_3')
        own = np.flatnonzero(weights[:, dip] > 0.5)
        assert tip in own and pad in own
        axis = j[MANO21_JOINT_NAMES.index(f'{digit}_4')] - j[
            MANO21_JOINT_NAMES.index(f'{digit}_3')]
        axis /= np.linalg.norm(axis)
        # The apex is the most distal vertex of the distal phalanx.
        assert np.argmax(v[own] @ axis) == list(own).index(tip)
        assert np.linalg.norm(v[pad] - v[tip]) < 0.01


def test_rig_arrays(right_arrays):
    reg = right_arrays['J_regressor']
    assert (reg >= 0).all()
    assert np.allclose(reg.sum(1), 1)
    w = right_arrays['weights']
    assert (w >= 0).all() and np.allclose(w.sum(1), 1)
    # Skinning is smooth: some vertices blend two bones at every joint.
    for j in range(1, 16):
        assert ((w[:, j] > 0.2) & (w[:, j] < 0.8)).sum() >= 5, j
    comps = right_arrays['hands_components']
    assert np.allclose(comps @ comps.T, np.eye(45), atol=1e-10)


def test_mean_pose_is_a_relaxed_curl(right_arrays):
    layer = ManoLayer(flat_hand_mean=True)
    zeros = torch.zeros(3), torch.zeros(10)
    flat = layer(zeros[0], torch.zeros(45), zeros[1]).joints.numpy()
    mean = torch.tensor(right_arrays['hands_mean'], dtype=torch.float32)
    relaxed = layer(zeros[0], mean, zeros[1]).joints.numpy()
    tips = [MANO21_JOINT_NAMES.index(f'{d}_4') for d in DIGITS[1:]]
    drop = flat[tips, 1] - relaxed[tips, 1]  # towards the palm (-y)
    assert (drop > 0.01).all() and (drop < 0.06).all()
    angles = np.linalg.norm(right_arrays['hands_mean'].reshape(15, 3), axis=1)
    assert angles.max() < 0.5


def test_shape_directions_are_meaningful():
    layer = ManoLayer()
    pose = torch.zeros(3), torch.zeros(45)
    name = MANO21_JOINT_NAMES.index

    def measure(k, value):
        betas = torch.zeros(10)
        betas[k] = value
        out = layer(*pose, betas)
        j, v = out.joints.numpy(), out.vertices.numpy()
        return dict(
            length=np.linalg.norm(j[name('Middle_4')] - j[0]),
            finger=np.linalg.norm(j[name('Middle_4')] - j[name('Middle_1')]),
            palm_width=np.linalg.norm(j[name('Index_1')] -
                                      j[name('Pinky_1')]),
            thickness=np.ptp(v[:, 1]),
            thumb=np.linalg.norm(j[name('Thumb_4')] - j[name('Thumb_1')]),
            v=v)

    names = [n for n, _ in SHAPE_DIRECTIONS]
    base = measure(0, 0.0)
    grows = {
        'overall size': 'length',
        'finger length': 'finger',
        'palm width': 'palm_width',
        'hand thickness': 'thickness',
        'thumb length': 'thumb',
    }
    for direction, quantity in grows.items():
        k = names.index(direction)
        assert measure(k, 2.0)[quantity] > base[quantity] * 1.03, direction
        assert measure(k, -2.0)[quantity] < base[quantity] * 0.97, direction
    # Every direction changes the mesh, plausibly, up to |beta| = 3.
    for k in range(10):
        moved = np.linalg.norm(measure(k, 3.0)['v'] - base['v'], axis=1)
        assert 0.002 < moved.max() < 0.03, names[k]


def test_generation_is_deterministic(right_arrays):
    again = build_procedural_mano()
    for key, value in right_arrays.items():
        np.testing.assert_allclose(again[key], value, rtol=0, atol=1e-12,
                                   err_msg=key)


def test_left_is_the_mirror_of_the_right(right_arrays, left_arrays):
    np.testing.assert_allclose(left_arrays['v_template'],
                               right_arrays['v_template'] * [-1, 1, 1])
    np.testing.assert_array_equal(left_arrays['f'], right_arrays['f'][:,
                                                                        ::-1])
    twice = mirror_mano_arrays(mirror_mano_arrays(right_arrays))
    for key, value in right_arrays.items():
        np.testing.assert_allclose(twice[key], value, err_msg=key)


# --------------------------------------------------------------------------
# Coarse self-intersection check
# --------------------------------------------------------------------------
def _closest_points_on_triangles(points, tris):
    """Closest point of every triangle to every point.

    Returns the closest points ``(N, M, 3)`` and the feature hit: 0 face
    interior, 1-3 edges (ab, bc, ca), 4-6 vertices (a, b, c).
    """
    a, b, c = (tris[None, :, k] for k in range(3))
    p = points[:, None]
    n = np.cross(b - a, c - a)
    n_sq = (n * n).sum(-1)
    # Barycentric coordinates of the projection onto the plane.
    w_c = (np.cross(b - a, p - a) * n).sum(-1) / n_sq
    w_b = (np.cross(p - a, c - a) * n).sum(-1) / n_sq
    w_a = 1 - w_b - w_c
    inside = (w_a >= 0) & (w_b >= 0) & (w_c >= 0)
    best = a * w_a[..., None] + b * w_b[..., None] + c * w_c[..., None]
    feature = np.zeros(inside.shape, dtype=np.int64)
    best_d = np.where(inside, ((p - best)**2).sum(-1), np.inf)
    for k, (s, e) in enumerate(((a, b), (b, c), (c, a))):
        t = np.clip(((p - s) * (e - s)).sum(-1) /
                    ((e - s)**2).sum(-1), 0, 1)
        q = s + t[..., None] * (e - s)
        d = ((p - q)**2).sum(-1)
        edge_feature = np.where(t <= 0, 4 + k, np.where(t >= 1, 4 +
                                                          (k + 1) % 3, 1 + k))
        better = (~inside) & (d < best_d)
        best = np.where(better[..., None], q, best)
        best_d = np.where(better, d, best_d)
        feature = np.where(better, edge_feature, feature)
    return best, feature


def palm_penetration_depth(vertices, faces, weights, wrist_threshold=0.97,
                           finger_threshold=0.03):
    """Deepest finger vertex inside the palm (metres, 0 if none).

    The palm is the patch of faces whose vertices all follow the wrist only
    (``weights[:, 0] > wrist_threshold``); fingers are the vertices with
    almost no wrist weight. Signed distances use the face normal (face
    hits) or the summed normals of the faces around an edge or a vertex
    (pseudo-normals). Points whose nearest palm point is on the patch
    border are skipped, where the inside is undefined.
    """
    palm = weights[:, 0] > wrist_threshold
    palm_faces = faces[palm[faces].all(1)]
    fingers = np.flatnonzero(weights[:, 0] < finger_threshold)
    tris = vertices[palm_faces]
    normals = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    edges = np.sort(np.stack([palm_faces[:, [0, 1]], palm_faces[:, [1, 2]],
                              palm_faces[:, [2, 0]]], 1), axis=-1)
    edge_normal, edge_count, vertex_normal = {}, Counter(), {}
    border = set()
    for f, face_edges in enumerate(edges):
        for e in map(tuple, face_edges):
            edge_normal[e] = edge_normal.get(e, 0) + normals[f]
            edge_count[e] += 1
        for v in palm_faces[f]:
            vertex_normal[v] = vertex_normal.get(v, 0) + normals[f]
    for e, n in edge_count.items():
        if n == 1:
            border.update(e)
    closest, feature = _closest_points_on_triangles(vertices[fingers], tris)
    dist = np.linalg.norm(closest - vertices[fingers][:, None], axis=-1)
    nearest = dist.argmin(1)
    depth = 0.0
    for i, f in enumerate(nearest):
        kind = feature[i, f]
        face = palm_faces[f]
        if kind == 0:
            normal, on_border = normals[f], False
        elif kind <= 3:
            e = tuple(sorted((face[kind - 1], face[kind % 3])))
            normal, on_border = edge_normal[e], edge_count[e] == 1
        else:
            v = face[kind - 4]
            normal, on_border = vertex_normal[v], v in border
        if on_border:
            continue
        signed = (vertices[fingers[i]] - closest[i, f]) @ normal
        if signed < 0:
            depth = max(depth, dist[i, f])
    return depth


def test_fist_has_no_finger_through_the_palm(right_arrays):
    layer = ManoLayer(flat_hand_mean=True)
    weights = right_arrays['weights']
    faces = right_arrays['f'].astype(np.int64)

    def depth(pose):
        v = layer(torch.zeros(3), torch.tensor(pose, dtype=torch.float32),
                  torch.zeros(10)).vertices.double().numpy()
        return palm_penetration_depth(v, faces, weights)

    fist = procedural_hand_pose('fist')
    assert depth(np.zeros(45)) == 0
    assert depth(fist) < 0.004
    # The check can fail: fingers bent much further do go through.
    assert depth(fist * 1.6) > 0.004
