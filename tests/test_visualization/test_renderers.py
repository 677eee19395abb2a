# Copyright (c) OpenMMLab. All rights reserved.
"""Mesh renderers: projection convention, backends agree, GL fallback."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from mmblurhand.visualization import renderers
from mmblurhand.visualization.renderers import (concatenate_meshes,
                                                get_render_backend,
                                                render_mesh,
                                                render_mesh_sequence,
                                                vertex_normals)


def _sphere(radius=0.05, center=(0.0, 0.0, 0.5), subdivisions=3):
    import trimesh
    mesh = trimesh.creation.icosphere(
        subdivisions=subdivisions, radius=radius)
    return np.asarray(mesh.vertices) + center, np.asarray(mesh.faces)


#: Backends under test; a GL one without a usable context is skipped.
BACKENDS = ('moderngl', 'pyrender', 'opencv')


def _require(backend):
    try:
        get_render_backend(backend)
    except RuntimeError as err:
        pytest.skip(f'{backend} cannot render here: {err}')
    return backend


def _available():
    names = []
    for name in BACKENDS:
        try:
            get_render_backend(name)
            names.append(name)
        except RuntimeError:
            pass
    return names


@pytest.mark.parametrize('backend', BACKENDS)
def test_sphere_silhouette_position_size_and_depth(backend):
    """A sphere renders where pinhole projection puts it, with the
    analytic size and depth."""
    _require(backend)
    radius, center = 0.05, np.array([0.03, -0.02, 0.5])
    verts, faces = _sphere(radius, center)
    focal, princpt, size = (200.0, 180.0), (40.3, 35.7), (80, 72)
    rgb, alpha, depth = render_mesh(verts, faces, focal, princpt, size,
                                    color=(0.8, 0.5, 0.3), backend=backend)
    assert rgb.shape == (72, 80, 3) and alpha.shape == depth.shape == (72,
                                                                       80)
    assert rgb.dtype == np.float32 and 0 <= rgb.min() and rgb.max() <= 1
    ys, xs = np.mgrid[:72, :80]
    centroid = [(alpha * xs).sum() / alpha.sum(),
                (alpha * ys).sum() / alpha.sum()]
    expected = center[:2] / center[2] * focal + princpt
    np.testing.assert_allclose(centroid, expected, atol=0.3)
    # The silhouette of a sphere is an ellipse with semi-axes f * r / d.
    dist = np.linalg.norm(center)
    semi = np.array(focal) * radius / np.sqrt(dist**2 - radius**2)
    area = np.pi * semi[0] * semi[1]
    assert alpha.sum() == pytest.approx(area, rel=0.05)
    covered = alpha > 0.99
    assert depth[covered].min() == pytest.approx(
        dist - radius, abs=0.004)
    assert (depth[alpha == 0] == 0).all()
    assert (rgb[alpha == 0] == 0).all()
    # Lit from the camera side: the sphere is not black, colour ratios kept.
    mean = rgb[covered].mean(axis=0)
    assert mean[0] > mean[1] > mean[2] > 0.05


def test_backends_agree():
    verts, faces = _sphere(0.04, (0.01, 0.02, 0.4))
    masks = []
    for backend in _available():
        _, alpha, _ = render_mesh(verts, faces, (150, 150), (31.5, 31.5),
                                  (64, 64), backend=backend)
        masks.append(alpha > 0.5)
    for mask in masks[1:]:
        iou = (mask & masks[0]).sum() / (mask | masks[0]).sum()
        assert iou > 0.95


@pytest.mark.parametrize('side', ['right', 'left'])
def test_open_hand_mesh_backends_agree(side):
    """The hand mesh is open at the wrist (and mirrored, with flipped
    faces, for the left hand): the OpenCV painter must still draw what can
    be seen through the opening, like the GL renderers."""
    import torch
    from scipy.spatial.transform import Rotation

    from mmblurhand.models.mano import ManoLayer
    layer = ManoLayer(side=side)
    for seed in range(3):  # seed 1 looks into the wrist opening
        orient = torch.as_tensor(
            Rotation.random(random_state=seed).as_rotvec(),
            dtype=torch.float32)[None]
        verts = layer(orient, torch.zeros(1, 45),
                      torch.zeros(1, 10)).vertices[0].numpy()
        verts = verts - verts.mean(axis=0) + [0, 0, 0.5]
        masks = [
            render_mesh(verts, layer.faces, (300, 300), (63.5, 63.5),
                        (128, 128), backend=b)[1] > 0.5 for b in _available()
        ]
        for mask in masks[:-1]:
            iou = (mask & masks[-1]).sum() / (mask | masks[-1]).sum()
            assert iou > 0.95, (seed, iou)


@pytest.mark.parametrize('backend', BACKENDS)
def test_sequence_moves_with_the_mesh(backend):
    _require(backend)
    verts, faces = _sphere(0.03, (0.0, 0.0, 0.5), subdivisions=2)
    shifts = np.array([-0.05, 0.0, 0.05])
    seq = np.stack([verts + [s, 0, 0] for s in shifts])
    colors = np.tile([[0.2, 0.9, 0.2]], (len(verts), 1))
    rgb, alpha, depth = render_mesh_sequence(
        seq, faces, (100, 100), (31.5, 31.5), (64, 64), color=colors,
        backend=backend, return_depth=False)
    assert rgb.shape == (3, 64, 64, 3) and depth is None
    xs = np.arange(64)
    cx = (alpha.sum(axis=1) * xs).sum(axis=1) / alpha.sum(axis=(1, 2))
    np.testing.assert_allclose(cx, 31.5 + shifts / 0.5 * 100, atol=0.3)
    prem, alpha2, _ = render_mesh_sequence(
        seq, faces, (100, 100), (31.5, 31.5), (64, 64), color=colors,
        backend=backend, premultiplied=True)
    np.testing.assert_allclose(alpha2, alpha)
    np.testing.assert_allclose(prem, rgb * alpha[..., None], atol=0.01)


def test_merged_meshes_and_normals():
    verts, faces = _sphere(0.02, (0.0, 0.0, 0.3), subdivisions=1)
    merged, merged_faces, colors = concatenate_meshes(
        [verts[None], (verts + [0.05, 0, 0])[None]], [faces, faces],
        [(1, 0, 0), (0, 0, 1)])
    assert merged.shape == (1, 2 * len(verts), 3)
    assert merged_faces.max() == 2 * len(verts) - 1
    assert (colors[:len(verts)] == [1, 0, 0]).all()
    normals = vertex_normals(verts, faces)
    radial = (verts - [0, 0, 0.3]) / 0.02
    assert (np.einsum('vc,vc->v', normals, radial) > 0.95).all()


def test_bad_inputs():
    verts, faces = _sphere(subdivisions=1)
    with pytest.raises(ValueError, match='Unknown render backend'):
        render_mesh(verts, faces, (1, 1), (0, 0), (8, 8), backend='vulkan')
    with pytest.raises(ValueError, match=r'\(N, V, 3\)'):
        render_mesh_sequence(verts, faces, (1, 1), (0, 0), (8, 8))
    with pytest.raises(ValueError, match='faces index'):
        render_mesh(verts, faces + len(verts), (1, 1), (0, 0), (8, 8))
    with pytest.raises(ValueError, match='color'):
        render_mesh(verts, faces, (1, 1), (0, 0), (8, 8), color=(1, 0))


def test_falls_back_to_opencv_with_one_warning(monkeypatch):
    """When no GL context can be made, 'auto' renders with OpenCV and warns
    once; an explicit GL backend raises."""

    class NoGL:

        def __init__(self):
            raise RuntimeError('EGL: no display')

    monkeypatch.setitem(renderers._BACKEND_CLASSES, 'moderngl', NoGL)
    monkeypatch.setitem(renderers._BACKEND_CLASSES, 'pyrender', NoGL)
    monkeypatch.setattr(renderers, '_RENDERERS', {})
    monkeypatch.setattr(renderers, '_GL_FAILURES', {})
    monkeypatch.setattr(renderers, '_WARNED_FALLBACK', False)
    verts, faces = _sphere(subdivisions=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        for _ in range(3):
            _, alpha, _ = render_mesh(verts, faces, (50, 50), (15.5, 15.5),
                                      (32, 32))
            assert alpha.sum() > 10
    fallback = [w for w in caught if 'OpenCV' in str(w.message)]
    assert len(fallback) == 1
    assert 'EGL: no display' in str(fallback[0].message)
    assert get_render_backend('auto').name == 'opencv'
    with pytest.raises(RuntimeError, match="backend='opencv'"):
        get_render_backend('moderngl')


def test_importing_mmblurhand_sets_no_gl_platform():
    env = {k: v for k, v in os.environ.items() if k != 'PYOPENGL_PLATFORM'}
    code = ('import os, mmblurhand.visualization.renderers; '
            'print(os.environ.get("PYOPENGL_PLATFORM"))')
    out = subprocess.run([sys.executable, '-c', code],
                         env=env,
                         capture_output=True,
                         text=True,
                         check=True)
    assert out.stdout.strip() == 'None'
