# Copyright (c) OpenMMLab. All rights reserved.
"""Write the procedural MANO-format hand as model files, and a preview.

The procedural hand is **MANO-format, NOT MANO**: it has MANO's arrays and
conventions but is generated from geometric primitives (see
``docs/hand_model.md``). ``ManoLayer(model_path=None)`` builds it on demand;
this tool writes it out for other programs (e.g. smplx, which reads
``MANO_RIGHT.pkl`` from a folder) and renders the picture in the docs.

Usage::

    python tools/misc/make_synthetic_mano.py --out-dir data/mano_procedural
    python tools/misc/make_synthetic_mano.py --no-files \\
        --preview docs/images/synthetic_hand.png \\
        --shape-preview docs/images/synthetic_hand_shapes.png
"""
import argparse
import os
import os.path as osp
import pickle
import sys
import tempfile
from typing import List, Optional

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from mmblurhand.models.mano.mano_io import (  # noqa: E402
    META_KEY, load_procedural_mano, save_npz_atomic)
from mmblurhand.models.mano.procedural_hand import (  # noqa: E402
    PROCEDURAL_MANO_VERSION, procedural_hand_pose)

PREVIEW_POSES = ('flat', 'relaxed', 'fist', 'pinch', 'point')


def write_model_files(out_dir: str, formats=('pkl', 'npz'),
                      force: bool = False) -> List[str]:
    """Write MANO_RIGHT / MANO_LEFT of the procedural hand.

    The ``.pkl`` is a plain pickle of numpy arrays (no chumpy) with MANO's
    keys, readable by smplx and by :func:`load_mano_arrays`; both formats
    carry metadata saying the model is procedural.
    """
    written = []
    os.makedirs(out_dir, exist_ok=True)
    for side in ('right', 'left'):
        arrays = load_procedural_mano(side)  # built once, then cached
        meta = dict(version=PROCEDURAL_MANO_VERSION, side=side,
                    source='procedural (MANO-format, NOT MANO)')
        for fmt in formats:
            path = osp.join(out_dir, f'MANO_{side.upper()}.{fmt}')
            if osp.exists(path) and not force:
                raise FileExistsError(
                    f'{path} exists; pass --force to overwrite it.')
            if fmt == 'npz':
                save_npz_atomic(path, arrays, meta)
            else:
                fd, tmp = tempfile.mkstemp(prefix='.tmp_', dir=out_dir)
                with os.fdopen(fd, 'wb') as f:
                    pickle.dump(dict(arrays, **{META_KEY: meta}), f,
                                protocol=4)
                os.replace(tmp, path)
            written.append(path)
    return written


def _look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray):
    forward = target - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2] = right, np.cross(right,
                                                             forward), -forward
    pose[:3, 3] = eye
    return pose


def render_views(vertices: np.ndarray, faces: np.ndarray, views,
                 size: int = 320,
                 center: Optional[np.ndarray] = None) -> List[np.ndarray]:
    """Render a mesh from several directions with pyrender (EGL).

    Args:
        vertices (np.ndarray): ``(V, 3)`` metres.
        faces (np.ndarray): ``(F, 3)``.
        views (list): camera offsets ``(3,)`` from the mesh centre, metres.
        size (int): image side in pixels.
        center (np.ndarray, optional): camera target; default the centre of
            the mesh's bounding box.

    Returns:
        list[np.ndarray]: ``(size, size, 3)`` uint8 RGB images on white.
    """
    os.environ.setdefault('PYOPENGL_PLATFORM', 'egl')
    import pyrender
    import trimesh
    if center is None:
        center = (vertices.min(0) + vertices.max(0)) / 2
    material = pyrender.MetallicRoughnessMaterial(
        baseColorFactor=(0.88, 0.71, 0.6, 1.0), metallicFactor=0.0,
        roughnessFactor=0.75)
    mesh = pyrender.Mesh.from_trimesh(
        trimesh.Trimesh(vertices, faces, process=False), material=material,
        smooth=True)
    renderer = pyrender.OffscreenRenderer(size, size)
    images = []
    try:
        for offset in views:
            offset = np.asarray(offset, dtype=np.float64)
            up = np.array([0.0, 1.0, 0.0])
            if abs(offset @ up) > 0.9 * np.linalg.norm(offset):
                up = np.array([-1.0, 0.0, 0.0])
            pose = _look_at(center + offset, center, up)
            scene = pyrender.Scene(bg_color=[1.0, 1.0, 1.0, 0.0],
                                   ambient_light=[0.35, 0.35, 0.35])
            scene.add(mesh)
            scene.add(pyrender.PerspectiveCamera(yfov=np.pi / 6), pose=pose)
            scene.add(pyrender.DirectionalLight(intensity=3.0), pose=pose)
            rgba, _ = renderer.render(scene,
                                      flags=pyrender.RenderFlags.RGBA)
            alpha = rgba[..., 3:4] / 255.0
            images.append((rgba[..., :3] * alpha + 255 *
                           (1 - alpha)).astype(np.uint8))
    finally:
        renderer.delete()
    return images


def render_preview(path: str, poses=PREVIEW_POSES, size: int = 320) -> None:
    """Save a grid: one row per view, one column per pose (right hand)."""
    import cv2
    import torch

    from mmblurhand.models.mano import ManoLayer
    layer = ManoLayer(flat_hand_mean=True)
    views = [(0.0, 0.38, 1e-4), (0.0, -0.38, 1e-4), (0.12, -0.2, 0.28)]
    columns = []
    for name in poses:
        pose = torch.tensor(procedural_hand_pose(name), dtype=torch.float32)
        with torch.no_grad():
            verts = layer(torch.zeros(3), pose, torch.zeros(10)).vertices
        images = render_views(verts.numpy(), layer.faces, views, size)
        for image in images:
            cv2.putText(image, name, (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                        (60, 60, 60), 2, cv2.LINE_AA)
        columns.append(np.concatenate(images, axis=0))
    grid = np.concatenate(columns, axis=1)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    cv2.imwrite(path, grid[..., ::-1])


def render_shape_preview(path: str, directions=range(5), value=3.0,
                         size: int = 260) -> None:
    """Save a grid of shape directions: rows ``-value``, 0, ``+value``
    (relaxed pose, palm view), one column per direction."""
    import cv2
    import torch

    from mmblurhand.models.mano import ManoLayer
    from mmblurhand.models.mano.procedural_hand import SHAPE_DIRECTIONS
    layer = ManoLayer()
    columns = []
    for k in directions:
        images = []
        for beta in (-value, 0.0, value):
            betas = torch.zeros(layer.num_betas)
            betas[k] = beta
            with torch.no_grad():
                verts = layer(torch.zeros(3), torch.zeros(45), betas).vertices
            # A fixed camera target so that size changes stay visible.
            verts = verts.numpy()
            image = render_views(verts, layer.faces, [(0.0, -0.42, 1e-4)],
                                 size, center=np.array([-0.09, 0.0, 0.0]))[0]
            cv2.putText(image, f'{SHAPE_DIRECTIONS[k][0]} {beta:+.0f}',
                        (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                        (60, 60, 60), 1, cv2.LINE_AA)
            images.append(image)
        columns.append(np.concatenate(images, axis=0))
    grid = np.concatenate(columns, axis=1)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    cv2.imwrite(path, grid[..., ::-1])


def parse_args(argv: Optional[List[str]] = None):
    parser = argparse.ArgumentParser(
        description='Write the procedural MANO-format hand (NOT MANO).')
    parser.add_argument('--out-dir', default='data/mano_procedural',
                        help='folder for MANO_RIGHT/LEFT files')
    parser.add_argument('--formats', nargs='+', default=['pkl', 'npz'],
                        choices=['pkl', 'npz'])
    parser.add_argument('--no-files', action='store_true',
                        help='write no model files (e.g. preview only)')
    parser.add_argument('--force', action='store_true',
                        help='overwrite existing files')
    parser.add_argument('--preview', default=None,
                        help='also render a PNG of several poses here')
    parser.add_argument('--shape-preview', default=None,
                        help='also render a PNG of shape directions here')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> List[str]:
    args = parse_args(argv)
    written = []
    if not args.no_files:
        written = write_model_files(args.out_dir, args.formats, args.force)
        for path in written:
            print(f'wrote {path}')
    if args.preview:
        render_preview(args.preview)
        print(f'wrote {args.preview}')
    if args.shape_preview:
        render_shape_preview(args.shape_preview)
        print(f'wrote {args.shape_preview}')
    return written


if __name__ == '__main__':
    main()
