# Copyright (c) OpenMMLab. All rights reserved.
"""MANO regression from joint features along the hand's kinematic tree.

Reference: Oh et al., CVPR 2023, Sec. 4.3 (after the kinematic-tree pose
decoding of Wan et al., "Encoder-decoder with multi-level attention for 3D
human shape and pose estimation", ICCV 2021).
"""
import math
from dataclasses import dataclass, fields
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmblurhand.registry import MODELS
from ..utils.camera import VirtualCamera
from ..utils.rotations import (matrix_to_axis_angle, matrix_to_rot6d,
                               rot6d_to_matrix)


#: Values of :class:`ManoRegressor`'s ``pose_init``.
POSE_INITS = ('normal', 'xavier_normal')


def kinematic_depths(parents: Sequence[int]) -> np.ndarray:
    """Depth of every joint in a kinematic tree (the root has depth 0).

    Args:
        parents (Sequence[int]): ``(P,)`` parent index of each joint, ``-1``
            (or any negative value) for the root; parents must come before
            their children.

    Returns:
        np.ndarray: ``(P,)`` int64 depths.
    """
    parents = np.asarray(parents, dtype=np.int64).reshape(-1)
    depths = np.zeros(len(parents), dtype=np.int64)
    for joint, parent in enumerate(parents):
        if parent >= joint:
            raise ValueError(
                f'Kinematic tree: joint {joint} has parent {parent}; parents '
                'must precede their children (got parents '
                f'{parents.tolist()}).')
        depths[joint] = 0 if parent < 0 else depths[parent] + 1
    if (parents < 0).sum() != 1 or parents[0] >= 0:
        raise ValueError('Kinematic tree: exactly one root (joint 0, parent '
                         f'-1) is required, got parents {parents.tolist()}.')
    return depths


class KinematicTreePoseHeads(nn.Module):
    """One linear pose head per joint, each conditioned on its ancestors.

    Joint ``p`` predicts its rotation (6D) from a feature vector ``f`` and
    the 6D outputs of all its ancestors, root first:
    ``r_p = W_p [f; r_root; ...; r_parent] + b_p``. This is the same set of
    per-joint linear heads as the official regressor (same parameter count:
    ``(F + 6 * depth_p) * 6 + 6`` for joint ``p``), computed without a loop
    over joints: the feature part of all heads is one matrix product, and
    the ancestor part is one batched product per tree depth (4 for MANO),
    with the weights of the joints at that depth stacked as
    ``(n_depth, 6 * depth, 6)``.

    With ``identity_offset=True`` (default) the heads predict an offset
    from the identity rotation's 6D vector (ancestors are fed these
    offsets), so zero weights give the identity rotation, i.e. a zero pose
    relative to the MANO mean pose, and a small initialisation starts
    training near the mean hand. With ``identity_offset=False`` (the
    official regressor) the heads predict the 6D vector itself and
    ancestors are fed it; zero weights then give a degenerate 6D vector.

    Args:
        in_features (int): Size ``F`` of the shared feature vector.
        parents (Sequence[int]): ``(P,)`` kinematic tree, parents before
            children, root ``-1`` first (MANO's ``parents``).
        identity_offset (bool): Predict offsets from the identity 6D vector.
            Defaults to True.
    """

    rot_dims = 6

    def __init__(self,
                 in_features: int,
                 parents: Sequence[int],
                 identity_offset: bool = True):
        super().__init__()
        self.identity_offset = bool(identity_offset)
        depths = kinematic_depths(parents)
        parents = np.asarray(parents, dtype=np.int64).reshape(-1)
        self.num_joints = len(parents)
        self.in_features = in_features
        self.depths = tuple(int(d) for d in depths)
        r = self.rot_dims
        self.feature_heads = nn.Linear(in_features, self.num_joints * r)
        self.ancestor_weights = nn.ParameterList()
        groups = [np.flatnonzero(depths == d) for d in range(depths.max() + 1)]
        # Position of each joint inside its depth group.
        position = np.zeros(self.num_joints, dtype=np.int64)
        for group in groups:
            position[group] = np.arange(len(group))
        for depth, group in enumerate(groups):
            self.register_buffer(
                f'joints_depth{depth}', torch.as_tensor(group),
                persistent=False)
            if depth == 0:
                continue
            self.ancestor_weights.append(
                nn.Parameter(torch.zeros(len(group), r * depth, r)))
            self.register_buffer(
                f'parent_pos_depth{depth}',
                torch.as_tensor(position[parents[group]]),
                persistent=False)
        order = np.concatenate(groups)
        self.register_buffer(
            'depth_to_joint', torch.as_tensor(np.argsort(order)),
            persistent=False)
        self.num_depths = len(groups)
        self.register_buffer(
            'identity_rot6d', matrix_to_rot6d(torch.eye(3)), persistent=False)
        self.reset_parameters()

    def reset_parameters(self, std: float = 0.01,
                         mode: str = 'normal') -> None:
        """Initialise the heads; biases are zero.

        Args:
            std (float): Std of ``mode='normal'``. Defaults to 0.01.
            mode (str): ``'normal'`` (default): N(0, ``std``) weights (the
                official BlurHandNet init); ``'xavier_normal'``: each
                joint's head ``W_p`` (``6 x (F + 6 depth_p)``) is
                Xavier-normal over its own fans, std
                ``sqrt(2 / (F + 6 depth_p + 6))`` (the official
                multi-hypothesis init of its per-joint ``nn.Linear``).
        """
        if mode not in POSE_INITS:
            raise ValueError(f'KinematicTreePoseHeads: `mode` must be one of '
                             f'{POSE_INITS}, got {mode!r}.')
        nn.init.zeros_(self.feature_heads.bias)
        r = self.rot_dims
        if mode == 'normal':
            nn.init.normal_(self.feature_heads.weight, std=std)
            for weight in self.ancestor_weights:
                nn.init.normal_(weight, std=std)
            return
        depth_std = [
            math.sqrt(2.0 / (self.in_features + r * depth + r))
            for depth in range(self.num_depths)
        ]
        weight = self.feature_heads.weight
        row_std = torch.tensor([depth_std[d] for d in self.depths],
                               dtype=weight.dtype, device=weight.device)
        with torch.no_grad():
            nn.init.normal_(weight)
            weight.mul_(row_std.repeat_interleave(r).unsqueeze(1))
        for depth, ancestor in enumerate(self.ancestor_weights, start=1):
            nn.init.normal_(ancestor, std=depth_std[depth])

    def forward(self, features: Tensor) -> Tensor:
        """Predict every joint's 6D rotation.

        Args:
            features (Tensor): ``(N, F)``.

        Returns:
            Tensor: ``(N, P, 6)`` 6D rotations in the order of ``parents``.
        """
        n, r = features.shape[0], self.rot_dims
        base = self.feature_heads(features).view(n, self.num_joints, r)
        rot = base.index_select(1, self.joints_depth0)
        chain = base.new_zeros(n, rot.shape[1], 0)
        per_depth = [rot]
        for depth in range(1, self.num_depths):
            parent_pos = getattr(self, f'parent_pos_depth{depth}')
            chain = torch.cat([chain, rot], dim=-1).index_select(1, parent_pos)
            rot = base.index_select(1, getattr(
                self, f'joints_depth{depth}')) + torch.einsum(
                    'nka,kao->nko', chain, self.ancestor_weights[depth - 1])
            per_depth.append(rot)
        raw = torch.cat(per_depth, dim=1).index_select(1, self.depth_to_joint)
        return raw + self.identity_rot6d if self.identity_offset else raw


@dataclass
class ManoRegressorOutput:
    """Outputs of :class:`ManoRegressor` (leading dims ``...``, T steps).

    Attributes:
        mano_pose (Tensor): ``(..., T, 3P)`` axis-angle pose relative to the
            MANO mean pose (global orient first), camera frame.
        mano_shape (Tensor): ``(..., T, B_s)`` betas.
        cam_params (Tensor): ``(..., T, 3)`` raw camera outputs.
        cam_t (Tensor): ``(..., T, 3)`` virtual-camera translation (m) of the
            MANO mesh (MANO's own origin, not the wrist).
        vertices (Tensor): ``(..., T, V, 3)`` mesh, root-relative at the
            predicted wrist, metres.
        joints_cam (Tensor): ``(..., T, J, 3)`` MANO joints, root-relative,
            metres.
        joints_2d (Tensor): ``(..., T, J, 2)`` joints projected with the
            virtual camera, normalised crop coordinates.
    """
    mano_pose: Tensor
    mano_shape: Tensor
    cam_params: Tensor
    cam_t: Tensor
    vertices: Tensor
    joints_cam: Tensor
    joints_2d: Tensor

    def to_dict(self) -> Dict[str, Tensor]:
        """The fields as a plain dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@MODELS.register_module()
class ManoRegressor(BaseModule):
    """MANO pose, shape and camera from joint and global features.

    - **Shape and camera** (per time step) come from the globally pooled
      backbone feature through two linear layers (``Cg -> T * B_s`` and
      ``Cg -> T * 3``), as in the official model.
    - **Pose** (per time step, heads shared over time steps and any
      hypotheses): the step's ``J`` joint features concatenated with the
      step's (detached, by default root-relative) joint coordinates are
      flattened into one vector of ``J * (C + D_c)`` numbers, and
      :class:`KinematicTreePoseHeads` predict a 6D rotation per MANO joint
      along MANO's kinematic tree. The 6D rotations become axis-angle pose
      parameters (relative to the MANO mean pose).
    - The MANO layer (built from ``mano_cfg``) gives the mesh and joints,
      which are projected with :class:`~..utils.camera.VirtualCamera`.

    With the paper setting (C=512, D_c=3, Cg=2048, T=3, J=21) the regressor
    has 1,119,327 parameters, like the official one.

    Args:
        in_channels (int): Joint-feature size ``C``. Defaults to 512.
        coord_dims (int): Joint-coordinate size ``D_c`` (3 for BlurHandNet,
            2 for 2D heatmaps). Defaults to 3.
        global_channels (int): Pooled backbone feature size ``Cg``.
            Defaults to 2048.
        num_steps (int): Time steps ``T``. Defaults to 3.
        num_joints (int): Joints ``J`` per step in the input. Defaults to 21.
        num_betas (int): Shape parameters ``B_s``. Defaults to 10.
        root_index (int): Index of the wrist in the MANO layer's joints,
            used to make joints and vertices root-relative. Defaults to 0.
        detach_coords (bool): Stop gradients from the pose heads into the
            joint coordinates (official). Defaults to True.
        coord_mode (str): How the pose heads see the joint coordinates:
            ``'root_relative'`` (default) subtracts each step's root joint
            (wrist), so the heads see the hand's shape and orientation but
            not where it sits in the crop; ``'absolute'`` feeds them as they
            are (official). With absolute coordinates the heads first have
            to learn to take differences of nearly constant inputs, which
            made learning the hand orientation far slower (see
            ``configs/blurhandnet/README.md``).
        coord_scale (float): Multiplier of the (normalised) coordinates fed
            to the pose heads; the heatmap size gives the official heatmap
            units. Defaults to 32.
        pose_init_std (float): Std of the normal init of the pose heads'
            weights (zero outputs = the MANO mean pose). Defaults to 0.01
            (official BlurHandNet).
        pose_init (str): ``'normal'`` (default, N(0, ``pose_init_std``)) or
            ``'xavier_normal'`` (the official multi-hypothesis init: each
            joint's head Xavier-normal over its own fans, see
            :meth:`KinematicTreePoseHeads.reset_parameters`). The shape and
            camera linears follow ``init_cfg``.
        pose_identity_offset (bool): The pose heads predict offsets from
            the identity rotation's 6D vector (default, see
            :class:`KinematicTreePoseHeads`); ``False`` is the official
            regressor (the 6D vector itself), needed by official weights.
        mano_cfg (dict): Config of the MANO layer. Defaults to
            ``dict(type='ManoLayer', model_path=None)`` (procedural hand;
            point ``model_path`` at real MANO files for real use).
        camera_cfg (dict): Keyword arguments of
            :class:`~..utils.camera.VirtualCamera` (``input_size`` required).
            Defaults to the official 256x256 crop, focal 5000 and
            ``camera_3d_size=0.4``.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to N(0, 0.01) linears with zero bias (official).
    """

    def __init__(self,
                 in_channels: int = 512,
                 coord_dims: int = 3,
                 global_channels: int = 2048,
                 num_steps: int = 3,
                 num_joints: int = 21,
                 num_betas: int = 10,
                 root_index: int = 0,
                 detach_coords: bool = True,
                 coord_mode: str = 'root_relative',
                 coord_scale: float = 32.,
                 pose_init_std: float = 0.01,
                 pose_init: str = 'normal',
                 pose_identity_offset: bool = True,
                 mano_cfg: dict = dict(type='ManoLayer', model_path=None),
                 camera_cfg: dict = dict(
                     input_size=(256, 256),
                     focal=(5000., 5000.),
                     camera_3d_size=0.4),
                 init_cfg: Optional[dict] = dict(
                     type='Normal', layer='Linear', std=0.01, bias=0.)):
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.coord_dims = coord_dims
        self.global_channels = global_channels
        self.num_steps = num_steps
        self.num_joints = num_joints
        self.num_betas = num_betas
        self.root_index = root_index
        self.detach_coords = detach_coords
        if coord_mode not in ('root_relative', 'absolute'):
            raise ValueError(
                "ManoRegressor: `coord_mode` must be 'root_relative' or "
                f"'absolute', got {coord_mode!r}.")
        self.coord_mode = coord_mode
        self.coord_scale = coord_scale
        self.pose_init_std = pose_init_std
        if pose_init not in POSE_INITS:
            raise ValueError(f'ManoRegressor: `pose_init` must be one of '
                             f'{POSE_INITS}, got {pose_init!r}.')
        self.pose_init = pose_init
        self.mano = MODELS.build(mano_cfg)
        # The MANO layer's tensors are fixed model data, not parameters.
        for param in self.mano.parameters():
            param.requires_grad_(False)
        self.camera = VirtualCamera(**camera_cfg)
        parents = self.mano.parents
        if torch.is_tensor(parents):
            parents = parents.detach().cpu().numpy()
        self.pose_heads = KinematicTreePoseHeads(
            num_joints * (in_channels + coord_dims),
            parents,
            identity_offset=pose_identity_offset)
        self.shape_head = nn.Linear(global_channels, num_steps * num_betas)
        self.camera_head = nn.Linear(global_channels, num_steps * 3)

    def init_weights(self) -> None:
        """Initialise the linears, then reset the pose heads' ancestor
        weights (plain parameters that ``init_cfg`` does not reach)."""
        super().init_weights()
        self.pose_heads.reset_parameters(self.pose_init_std, self.pose_init)

    def regress_pose(self, joint_feats: Tensor, joints: Tensor) -> Tensor:
        """Axis-angle MANO pose per step from joint features and coords.

        Args:
            joint_feats (Tensor): ``(..., T, J, C)``.
            joints (Tensor): ``(..., T, J, D_c)`` normalised coordinates.

        Returns:
            Tensor: ``(..., T, 3P)`` axis-angle pose (global orient first).
        """
        if joint_feats.shape[-2:] != (self.num_joints, self.in_channels):
            raise ValueError(
                'ManoRegressor: expected joint features (..., J, C) = '
                f'(..., {self.num_joints}, {self.in_channels}), got '
                f'{tuple(joint_feats.shape)}.')
        if joints.shape[-2:] != (self.num_joints, self.coord_dims):
            raise ValueError(
                'ManoRegressor: expected joint coordinates (..., J, D_c) = '
                f'(..., {self.num_joints}, {self.coord_dims}), got '
                f'{tuple(joints.shape)}.')
        if self.detach_coords:
            joints = joints.detach()
        if self.coord_mode == 'root_relative':
            root = self.root_index
            joints = joints - joints[..., root:root + 1, :]
        joints = joints * self.coord_scale
        lead = torch.broadcast_shapes(joint_feats.shape[:-2],
                                      joints.shape[:-2])
        x = torch.cat([
            joint_feats.expand(*lead, *joint_feats.shape[-2:]),
            joints.expand(*lead, *joints.shape[-2:])
        ],
                      dim=-1)
        rot6d = self.pose_heads(x.reshape(-1, x.shape[-2] * x.shape[-1]))
        pose = matrix_to_axis_angle(rot6d_to_matrix(rot6d))
        return pose.reshape(*lead, -1)

    def regress_shape_camera(self, global_feat: Tensor):
        """Per-step betas and raw camera parameters from the pooled feature.

        Args:
            global_feat (Tensor): ``(B, Cg)``.

        Returns:
            tuple[Tensor, Tensor]: betas ``(B, T, B_s)`` and raw camera
            parameters ``(B, T, 3)``.
        """
        if global_feat.dim() != 2 or global_feat.shape[1] != (
                self.global_channels):
            raise ValueError(
                'ManoRegressor: expected the pooled feature (B, Cg) = '
                f'(B, {self.global_channels}), got '
                f'{tuple(global_feat.shape)}.')
        batch = global_feat.shape[0]
        shape = self.shape_head(global_feat).view(batch, self.num_steps,
                                                  self.num_betas)
        cam = self.camera_head(global_feat).view(batch, self.num_steps, 3)
        return shape, cam

    def mano_forward(self, pose: Tensor, shape: Tensor,
                     cam_params: Tensor) -> ManoRegressorOutput:
        """Run MANO and the virtual camera.

        Leading dimensions of the three inputs are broadcast together
        (right-aligned), so e.g. a pose ``(B, K, T, 48)`` goes with a shape
        ``(B, 1, T, 10)`` shared by the K hypotheses.

        Args:
            pose (Tensor): ``(..., 3P)`` axis-angle pose.
            shape (Tensor): ``(..., B_s)`` betas.
            cam_params (Tensor): ``(..., 3)`` raw camera parameters.

        Returns:
            ManoRegressorOutput: Everything with the broadcast leading dims.
        """
        lead = torch.broadcast_shapes(pose.shape[:-1], shape.shape[:-1],
                                      cam_params.shape[:-1])
        pose = pose.expand(*lead, pose.shape[-1])
        shape = shape.expand(*lead, shape.shape[-1])
        cam_params = cam_params.expand(*lead, 3)
        flat = (-1, )
        mano_out = self.mano(
            global_orient=pose[..., :3].reshape(*flat, 3),
            hand_pose=pose[..., 3:].reshape(*flat, pose.shape[-1] - 3),
            betas=shape.reshape(*flat, shape.shape[-1]))
        vertices = mano_out.vertices.view(*lead, -1, 3)
        joints = mano_out.joints.view(*lead, -1, 3)
        cam_t = self.camera.translation(cam_params)
        joints_2d = self.camera.project(joints, cam_t)
        root = joints[..., self.root_index:self.root_index + 1, :]
        return ManoRegressorOutput(
            mano_pose=pose,
            mano_shape=shape,
            cam_params=cam_params,
            cam_t=cam_t,
            vertices=vertices - root,
            joints_cam=joints - root,
            joints_2d=joints_2d)

    def forward(self, joint_feats: Tensor, joints: Tensor,
                global_feat: Tensor) -> ManoRegressorOutput:
        """Regress MANO parameters, meshes and projected joints.

        Batch first: extra dims (e.g. ``K`` hypotheses) sit between the
        batch and the time axis, and share the per-image shape and camera.

        Args:
            joint_feats (Tensor): ``(B, ..., T, J, C)`` refined joint
                features (e.g. from :class:`KTFormer`).
            joints (Tensor): ``(B, ..., T, J, D_c)`` normalised joint
                coordinates (Unfolder soft-argmax), broadcastable to
                ``joint_feats``'s leading dims (e.g. ``(B, 1, T, J, D_c)``
                for coordinates shared by all hypotheses).
            global_feat (Tensor): ``(B, Cg)`` pooled backbone feature.

        Returns:
            ManoRegressorOutput: Fields with leading dims ``(B, ..., T)``.
        """
        pose = self.regress_pose(joint_feats, joints)
        if pose.dim() < 3 or pose.shape[-2] != self.num_steps:
            raise ValueError(
                'ManoRegressor: joint features must be (B, ..., T, J, C) '
                f'with T = num_steps = {self.num_steps}, got '
                f'{tuple(joint_feats.shape)}.')
        shape, cam_params = self.regress_shape_camera(global_feat)
        if pose.shape[0] != shape.shape[0]:
            raise ValueError(
                f'ManoRegressor: joint features have batch size '
                f'{pose.shape[0]} but the pooled feature has '
                f'{shape.shape[0]}; put the batch axis first.')
        extra = (1, ) * (pose.dim() - 3)
        shape = shape.view(shape.shape[0], *extra, *shape.shape[1:])
        cam_params = cam_params.view(cam_params.shape[0], *extra,
                                     *cam_params.shape[1:])
        return self.mano_forward(pose, shape, cam_params)
