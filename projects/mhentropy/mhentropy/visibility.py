# Copyright (c) OpenMMLab. All rights reserved.
"""Which joints the camera sees: a z-buffer test against the hand mesh.

MHEntropy's "gold criterion" splits joints into visible ones (to be accurate)
and occluded ones (to be diverse). The BlurHand layout only stores joint
validity and truncation, so self-occlusion is computed here from the GT
mesh: a joint is occluded when a mesh surface covering its pixel lies more
than ``tolerance`` in front of it (joints lie inside the hand volume, so the
tolerance absorbs the flesh between a joint and its own surface).
"""
from typing import Dict, Optional

import numpy as np
from mmcv.transforms import BaseTransform

from mmblurhand.datasets.transforms.formatting import PackBlurHandInputs
from mmblurhand.registry import TRANSFORMS


def front_depth(points: np.ndarray, verts: np.ndarray,
                faces: np.ndarray) -> np.ndarray:
    """Depth of the nearest mesh surface under image points.

    Vectorised over points and faces: every point is tested against every
    triangle (barycentric coordinates in the image plane) and the depth is
    interpolated linearly in screen space.

    Args:
        points (np.ndarray): ``(..., N, 2)`` image points (any 2D units).
        verts (np.ndarray): ``(..., V, 3)`` projected vertices: image
            ``x, y`` (same units as ``points``) and depth ``z`` (larger is
            farther).
        faces (np.ndarray): ``(F, 3)`` vertex indices.

    Returns:
        np.ndarray: ``(..., N)`` nearest depth, ``inf`` where no triangle
        covers the point.
    """
    tri = verts[..., faces, :]  # (..., F, 3, 3)
    a, b, c = (tri[..., None, :, i, :] for i in range(3))  # (..., 1, F, 3)
    p = points[..., :, None, :]  # (..., N, 1, 2)
    v0, v1, v2 = b[..., :2] - a[..., :2], c[..., :2] - a[..., :2], \
        p - a[..., :2]
    den = v0[..., 0] * v1[..., 1] - v1[..., 0] * v0[..., 1]
    ok = np.abs(den) > 1e-12
    den = np.where(ok, den, 1.0)
    u = (v2[..., 0] * v1[..., 1] - v1[..., 0] * v2[..., 1]) / den
    v = (v0[..., 0] * v2[..., 1] - v2[..., 0] * v0[..., 1]) / den
    inside = ok & (u >= 0) & (v >= 0) & (u + v <= 1)
    depth = (1 - u - v) * a[..., 2] + u * b[..., 2] + v * c[..., 2]
    return np.where(inside, depth, np.inf).min(-1)


def joint_visibility(joints: np.ndarray,
                     verts: np.ndarray,
                     faces: np.ndarray,
                     focal,
                     princpt,
                     tolerance: float = 0.02) -> np.ndarray:
    """Self-occlusion visibility of joints in a perspective camera.

    Args:
        joints (np.ndarray): ``(..., J, 3)`` joints in the camera frame, m
            (absolute: ``z`` is the distance along the optical axis).
        verts (np.ndarray): ``(..., V, 3)`` mesh vertices, same frame.
        faces (np.ndarray): ``(F, 3)`` triangles.
        focal (Sequence[float]): ``(f_x, f_y)`` pixels.
        princpt (Sequence[float]): ``(p_x, p_y)`` pixels.
        tolerance (float): Allowed depth (m) of the surface in front of a
            visible joint. Defaults to 0.02.

    Returns:
        np.ndarray: ``(..., J)`` bool, True where visible.
    """
    focal = np.asarray(focal, np.float64).reshape(2)
    princpt = np.asarray(princpt, np.float64).reshape(2)
    if np.any(joints[..., 2] <= 0) or np.any(verts[..., 2] <= 0):
        raise ValueError('joint_visibility: points must be in front of the '
                         'camera (z > 0); pass absolute camera coordinates, '
                         'not root-relative ones.')

    def project(x):
        return x[..., :2] / x[..., 2:] * focal + princpt

    proj_verts = np.concatenate([project(verts), verts[..., 2:]], axis=-1)
    depth = front_depth(project(joints), proj_verts, faces)
    return joints[..., 2] - depth <= tolerance


@TRANSFORMS.register_module()
class ComputeJointVisibility(BaseTransform):
    """Per-joint visibility (self-occlusion and truncation) of every step.

    The GT mesh (``gt_mesh_cam``, root-relative) is placed at the annotated
    absolute wrist (``ann_joints_cam[:, 0]``) and the annotated joints are
    tested against it with :func:`joint_visibility`. Steps without a MANO
    fit count as fully visible (no mesh to occlude). The result is
    multiplied by ``joints_2d_valid`` (inside the crop and depth range), so
    a truncated joint is not visible either. Mirroring and in-plane
    rotation do not change visibility, so one array serves the training
    targets and the evaluation ground truth.

    Required Keys:

        - ann_joints_cam (T, J, 3), focal, princpt
        - gt_mesh_cam (1, T, V, 3), gt_mesh_valid (1, T), joints_2d_valid
          (1, T, J) (from ``GenerateBlurHandTargets``)

    Added Keys:

        - joints_vis (1, T, J) float32, 1 = visible
        - gt_joints_vis (1, T, J) float32 (same values)

    Args:
        tolerance (float): See :func:`joint_visibility`. Defaults to 0.02 m.
        mano_cfg (dict, optional): Keyword arguments of ``ManoLayer`` whose
            ``faces`` triangulate the mesh. Defaults to the procedural hand.
    """

    def __init__(self,
                 tolerance: float = 0.02,
                 mano_cfg: Optional[dict] = None) -> None:
        self.tolerance = float(tolerance)
        self.mano_cfg = dict(model_path=None) if mano_cfg is None else dict(
            mano_cfg)
        self.mano_cfg.pop('type', None)
        self._faces = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state['_faces'] = None
        return state

    @property
    def faces(self) -> np.ndarray:
        """``(F, 3)`` triangles of the hand model."""
        if self._faces is None:
            from mmblurhand.models.mano import ManoLayer
            self._faces = ManoLayer(**self.mano_cfg).faces
        return self._faces

    def transform(self, results: Dict) -> Optional[dict]:
        """Add ``joints_vis`` and ``gt_joints_vis``.

        Args:
            results (dict): The result dict.

        Returns:
            dict: The result dict.
        """
        missing = [
            k for k in ('ann_joints_cam', 'gt_mesh_cam', 'gt_mesh_valid',
                        'joints_2d_valid', 'focal', 'princpt')
            if k not in results
        ]
        if missing:
            raise KeyError(f'ComputeJointVisibility: results lack {missing};'
                           ' put it after GenerateBlurHandTargets.')
        joints = np.asarray(results['ann_joints_cam'], np.float64)
        mesh = np.asarray(results['gt_mesh_cam'], np.float64)[0]
        has_mesh = np.asarray(results['gt_mesh_valid'])[0] > 0
        verts = mesh + joints[:, :1, :]
        vis = np.ones(joints.shape[:2], dtype=bool)
        if has_mesh.any():
            vis[has_mesh] = joint_visibility(joints[has_mesh],
                                             verts[has_mesh], self.faces,
                                             results['focal'],
                                             results['princpt'],
                                             self.tolerance)
        vis = vis[None].astype(np.float32) * np.asarray(
            results['joints_2d_valid'], np.float32)
        results['joints_vis'] = vis
        results['gt_joints_vis'] = vis.copy()
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(tolerance={self.tolerance}, '
                f'mano_cfg={self.mano_cfg})')


@TRANSFORMS.register_module()
class PackBlurHandInputsWithVisibility(PackBlurHandInputs):
    """:class:`PackBlurHandInputs` that also packs the joint visibility.

    ``joints_vis`` goes to ``gt_instance_labels`` (training) and
    ``gt_joints_vis`` to ``gt_instances.joints_vis`` (evaluation).

    Required Keys:

        - those of :class:`PackBlurHandInputs`
        - joints_vis, gt_joints_vis (skipped when missing)

    Added Keys:

        - inputs, data_samples
    """
    label_mapping_table = dict(PackBlurHandInputs.label_mapping_table,
                               joints_vis='joints_vis')
    instance_mapping_table = dict(PackBlurHandInputs.instance_mapping_table,
                                  gt_joints_vis='joints_vis')
