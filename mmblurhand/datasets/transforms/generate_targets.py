# Copyright (c) OpenMMLab. All rights reserved.
from typing import Dict, Optional

import numpy as np
from mmcv.transforms import BaseTransform

from mmblurhand.registry import TRANSFORMS
from .hand_geometry import (apply_affine, augment_mano_pose,
                            augment_points_3d, left_multiply_root,
                            normalise_depth, project_points)


@TRANSFORMS.register_module()
class GenerateBlurHandTargets(BaseTransform):
    """Training targets and evaluation ground truth for T time steps.

    Targets (``(1, ...)`` arrays, the mirrored and augmented frame of the
    crop, MANO-21 joint order) follow ``docs/data_contract.md``:

    - ``joints_2d`` (1, T, J, 3): x, y in normalised crop coordinates,
      z = root-relative depth normalised over ``bbox_3d_size``
    - ``joints_2d_valid`` (1, T, J): validity x truncation (x, y, z in
      [0, 1))
    - ``joints_cam`` (1, T, J, 3): root-relative camera joints, metres;
      ``joints_cam_valid`` (1, T, J): annotation x wrist validity
    - ``mano_joints_cam`` (1, T, J, 3): joints of the GT MANO mesh,
      root-relative, metres; ``mano_joints_valid`` (1, T, J): fit exists x
      truncation
    - ``mano_pose`` (1, T, 48): camera rotation merged into the root, then
      mirrored and rotated like the crop; ``mano_shape`` (1, T, 10): zeroed
      where any ``abs(beta) > shape_limit``; ``mano_valid`` (1, T)

    Evaluation ground truth (original frame: not mirrored, not augmented):

    - ``gt_joints_cam`` (1, T, J, 3) and ``gt_joints_cam_valid`` (1, T, J)
    - ``gt_mesh_cam`` (1, T, V, 3): MANO mesh of the annotated hand side,
      root-relative at the MANO wrist, metres (zeros without a fit);
      ``gt_mesh_valid`` (1, T)
    - ``gt_blur_rate`` (1,) and ``is_left`` (1,) bool

    Required Keys:

        - ann_joints_cam, ann_joints_img, ann_joints_valid
        - ann_mano_pose, ann_mano_shape, ann_mano_trans, ann_mano_valid
        - cam_rot, cam_trans, focal, princpt, hand_type
        - crop_matrix, input_size, rotation, flip (from
          :class:`BlurHandTopdownAffine` and :class:`MirrorLeftHand`)
        - blur_rate (optional)

    Added Keys:

        - the targets and ground truth listed above

    Args:
        bbox_3d_size (float): Depth range (m) mapped to [0, 1]. Defaults to
            0.3.
        shape_limit (float): Betas of a time step are zeroed when any
            exceeds this in magnitude. Defaults to 3.
        mano_cfg (dict, optional): Keyword arguments of
            :class:`~mmblurhand.models.mano.ManoLayer` (``side`` is set per
            hand). It must describe the hand model the annotations were
            fitted with: the official MANO files for the real BlurHand, the
            default procedural hand (``model_path=None``) for data made by
            ``synthesize_blurhand.py`` without ``--mano-path``. Defaults to
            ``dict(model_path=None)``.
        mesh_betas (str): Betas of ``gt_mesh_cam``: ``'annotated'``
            (default, the fit as annotated) or ``'target'`` (those of the
            ``mano_shape`` target, zeroed where any exceeds ``shape_limit``,
            as the official BlurHandNet evaluation builds its MPVPE ground
            truth).
    """

    def __init__(self,
                 bbox_3d_size: float = 0.3,
                 shape_limit: float = 3.0,
                 mano_cfg: Optional[dict] = None,
                 mesh_betas: str = 'annotated') -> None:
        if bbox_3d_size <= 0:
            raise ValueError(f'bbox_3d_size must be positive, got '
                             f'{bbox_3d_size}.')
        self.bbox_3d_size = float(bbox_3d_size)
        self.shape_limit = float(shape_limit)
        if mesh_betas not in ('annotated', 'target'):
            raise ValueError("mesh_betas must be 'annotated' or 'target', "
                             f'got {mesh_betas!r}.')
        self.mesh_betas = mesh_betas
        self.mano_cfg = dict(model_path=None) if mano_cfg is None else dict(
            mano_cfg)
        # The side follows each sample; a registry ``type`` is allowed so
        # the model's ``mano_cfg`` can be reused verbatim.
        self.mano_cfg.pop('side', None)
        self.mano_cfg.pop('type', None)
        self._layers: Dict[str, object] = {}

    def __getstate__(self) -> dict:
        # MANO layers are rebuilt lazily in every worker process.
        state = self.__dict__.copy()
        state['_layers'] = {}
        return state

    def _mano_layer(self, side: str):
        if side not in self._layers:
            from mmblurhand.models.mano import ManoLayer
            self._layers[side] = ManoLayer(side=side, **self.mano_cfg)
        return self._layers[side]

    def _mano_forward(self, side: str, pose: np.ndarray, shape: np.ndarray,
                      trans: np.ndarray):
        """World-frame MANO vertices and joints (metres), numpy float64."""
        import torch
        layer = self._mano_layer(side)
        dtype = torch.float32
        with torch.no_grad():
            out = layer(
                global_orient=torch.as_tensor(pose[:, :3], dtype=dtype),
                hand_pose=torch.as_tensor(pose[:, 3:], dtype=dtype),
                betas=torch.as_tensor(shape, dtype=dtype),
                transl=torch.as_tensor(trans, dtype=dtype))
        return (out.vertices.double().numpy(), out.joints.double().numpy())

    def _normalise_2d(self, points_img: np.ndarray, z_rel: np.ndarray,
                      results: dict) -> np.ndarray:
        """Image pixels + root-relative depth -> normalised crop (x, y, z)."""
        crop = apply_affine(points_img, results['crop_matrix'].astype(
            np.float64)) / np.asarray(results['input_size'], np.float64)
        return np.concatenate(
            [crop, normalise_depth(z_rel, self.bbox_3d_size)[..., None]],
            axis=-1)

    @staticmethod
    def _inside(coords: np.ndarray) -> np.ndarray:
        return np.all((coords >= 0) & (coords < 1), axis=-1)

    def transform(self, results: Dict) -> Optional[dict]:
        """Compute targets and ground truth.

        Args:
            results (dict): The result dict.

        Returns:
            dict: The result dict.
        """
        rotation = float(results['rotation'])
        flip = bool(results.get('flip', False))
        f64 = np.float64

        # Annotated joints.
        joints_abs = np.asarray(results['ann_joints_cam'], f64)
        valid = np.asarray(results['ann_joints_valid'], f64)
        joints_rel = joints_abs - joints_abs[..., :1, :]
        joints_aug = augment_points_3d(joints_rel, rotation, flip)
        joints_2d = self._normalise_2d(results['ann_joints_img'],
                                       joints_aug[..., 2], results)
        joints_2d_valid = valid * self._inside(joints_2d)

        # MANO fits: world frame -> camera frame (metres).
        side = results['hand_type']
        mano_valid = np.asarray(results['ann_mano_valid'], f64)
        has_fit = mano_valid > 0
        pose_world = np.asarray(results['ann_mano_pose'], f64)
        shape = np.where(has_fit[:, None],
                         np.asarray(results['ann_mano_shape'], f64), 0.0)
        vertices, mano_joints = self._mano_forward(
            side, np.where(has_fit[:, None], pose_world, 0.0), shape,
            np.where(has_fit[:, None], results['ann_mano_trans'], 0.0))
        cam_rot = np.asarray(results['cam_rot'], f64)
        cam_trans = np.asarray(results['cam_trans'], f64)
        vertices = vertices @ cam_rot.T + cam_trans
        mano_joints = mano_joints @ cam_rot.T + cam_trans
        mano_root = mano_joints[..., :1, :]
        mano_joints_aug = augment_points_3d(mano_joints - mano_root,
                                            rotation, flip)
        mano_joints_2d = self._normalise_2d(
            project_points(mano_joints, results['focal'], results['princpt']),
            mano_joints_aug[..., 2], results)
        mano_joints_valid = mano_valid[:, None] * self._inside(mano_joints_2d)
        mesh_cam = np.where(has_fit[:, None, None], vertices - mano_root, 0.0)

        pose_cam = left_multiply_root(pose_world, cam_rot)
        pose_aug = np.where(has_fit[:, None],
                            augment_mano_pose(pose_cam, rotation, flip), 0.0)
        outlier = np.any(np.abs(shape) > self.shape_limit, axis=-1)
        shape = np.where(outlier[:, None], 0.0, shape)
        if self.mesh_betas == 'target' and outlier.any():
            # the mesh of the zeroed betas, at its own MANO wrist
            verts0, joints0 = self._mano_forward(
                side, np.where(has_fit[:, None], pose_world, 0.0), shape,
                np.where(has_fit[:, None], results['ann_mano_trans'], 0.0))
            root0 = joints0[..., :1, :] @ cam_rot.T + cam_trans
            mesh_cam = np.where(outlier[:, None, None],
                                verts0 @ cam_rot.T + cam_trans - root0,
                                mesh_cam)

        f32 = np.float32
        blur_rate = results.get('blur_rate', float('nan'))
        results.update(
            joints_2d=joints_2d[None].astype(f32),
            joints_2d_valid=joints_2d_valid[None].astype(f32),
            joints_cam=joints_aug[None].astype(f32),
            joints_cam_valid=valid[None].astype(f32),
            mano_joints_cam=mano_joints_aug[None].astype(f32),
            mano_joints_valid=mano_joints_valid[None].astype(f32),
            mano_pose=pose_aug[None].astype(f32),
            mano_shape=shape[None].astype(f32),
            mano_valid=mano_valid[None].astype(f32),
            gt_joints_cam=joints_rel[None].astype(f32),
            gt_joints_cam_valid=valid[None].astype(f32),
            gt_mesh_cam=mesh_cam[None].astype(f32),
            gt_mesh_valid=mano_valid[None].astype(f32),
            gt_blur_rate=np.array([blur_rate], dtype=f32),
            is_left=np.array([side == 'left']))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(bbox_3d_size='
                f'{self.bbox_3d_size}, shape_limit={self.shape_limit}, '
                f'mano_cfg={self.mano_cfg}, mesh_betas={self.mesh_betas!r})')
