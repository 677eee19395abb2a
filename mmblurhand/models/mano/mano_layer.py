# Copyright (c) OpenMMLab. All rights reserved.
"""``ManoLayer``: the MANO hand model as a batched torch module."""
import contextlib
import io
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Optional, Sequence

import numpy as np
import smplx
import torch
from torch import Tensor, nn

from mmblurhand.registry import MODELS
from .joint_orders import (MANO16_JOINT_NAMES, MANO21_JOINT_NAMES,
                           TIP_JOINT_NAMES)
from .mano_io import load_mano_arrays


@dataclass
class ManoOutput:
    """Result of :class:`ManoLayer`.

    Attributes:
        vertices (Tensor): ``(..., V, 3)`` mesh vertices, metres.
        joints (Tensor): ``(..., 21, 3)`` joints in MANO-21 order, metres,
            regressed from ``vertices`` with ``ManoLayer.joint_regressor``
            (fingertips are vertices).
    """
    vertices: Tensor
    joints: Tensor


@MODELS.register_module()
class ManoLayer(nn.Module):
    """MANO hand model (``smplx.MANO``) for inputs with any leading dims.

    The model arrays come from :func:`~.mano_io.load_mano_arrays` and are
    handed to ``smplx.MANO`` as a data structure, so smplx reads no file
    and does the linear blend skinning. ``model_path=None`` uses the
    procedural MANO-format hand (not MANO; see ``docs/hand_model.md``).

    Args:
        model_path (str, optional): ``None`` (procedural hand), a folder with
            ``MANO_RIGHT`` / ``MANO_LEFT`` ``.npz`` / ``.pkl``, or a file.
        side (str): ``'right'`` or ``'left'``.
        flat_hand_mean (bool): if False (default, as BlurHandNet), the
            model's mean pose ``hands_mean`` is added to ``hand_pose``, so
            zero pose is the relaxed mean hand. If True zero pose is the flat
            template.
        tip_vertex_ids (Sequence[int]): vertex ids of the thumb, index,
            middle, ring and pinky tips. Default: the BlurHandNet / InterHand
            ids (745, 317, 445, 556, 673); smplx uses (744, 320, 443, 554,
            671).
        num_betas (int): number of shape parameters. Default: 10.
        fix_left_shapedirs (bool): apply the MANO_LEFT shapedirs fix when
            loading the official left file. Default: True.

    Attributes:
        faces (np.ndarray): ``(F, 3)`` int64 triangles.
        faces_tensor (Tensor): buffer ``(F, 3)`` long.
        parents (np.ndarray): ``(16,)`` parent of each MANO-16 joint, -1 at
            the root.
        joint_regressor (Tensor): buffer ``(21, V)``: ``J_regressor`` rows in
            MANO-21 order plus one-hot fingertip rows.
        hands_mean (Tensor): buffer ``(45,)``, the model's mean hand pose
            (axis-angle, MANO-16 order without the wrist). It is added to
            ``hand_pose`` only when ``flat_hand_mean`` is False.
        num_vertices (int): ``V`` (778 for MANO).
        num_joints (int): 21.
    """

    def __init__(self,
                 model_path: Optional[str] = None,
                 side: str = 'right',
                 flat_hand_mean: bool = False,
                 tip_vertex_ids: Sequence[int] = (745, 317, 445, 556, 673),
                 num_betas: int = 10,
                 fix_left_shapedirs: bool = True):
        super().__init__()
        arrays = load_mano_arrays(
            model_path,
            side=side,
            num_betas=num_betas,
            fix_left_shapedirs=fix_left_shapedirs)
        self.model_path = model_path
        self.side = side
        self.flat_hand_mean = flat_hand_mean
        self.num_betas = num_betas
        num_v = arrays['v_template'].shape[0]
        tip_vertex_ids = tuple(int(i) for i in tip_vertex_ids)
        if len(tip_vertex_ids) != len(TIP_JOINT_NAMES):
            raise ValueError(
                f'tip_vertex_ids needs {len(TIP_JOINT_NAMES)} ids (thumb, '
                f'index, middle, ring, pinky), got {tip_vertex_ids}')
        if any(not 0 <= i < num_v for i in tip_vertex_ids):
            raise ValueError(f'tip_vertex_ids {tip_vertex_ids} must be in '
                             f'[0, {num_v})')
        self.tip_vertex_ids = tip_vertex_ids

        num_pose = arrays['hands_mean'].shape[0]
        struct = SimpleNamespace(**arrays)
        # smplx prints a warning about MANO having only 10 shape components.
        with contextlib.redirect_stdout(io.StringIO()):
            self.mano = smplx.MANO(
                model_path='',
                data_struct=struct,
                is_rhand=side == 'right',
                use_pca=False,
                num_pca_comps=num_pose,
                flat_hand_mean=flat_hand_mean,
                num_betas=num_betas,
                create_global_orient=False,
                create_body_pose=False,
                create_hand_pose=False,
                create_betas=False,
                create_transl=False)

        # The model arrays come from the model file, never from checkpoints:
        # MANO may not be redistributed inside them, and a checkpoint must
        # not swap the procedural hand for MANO or back.
        for module in self.mano.modules():
            module._non_persistent_buffers_set.update(
                name for name, _ in module.named_buffers(recurse=False))

        self.faces = np.asarray(arrays['f'], dtype=np.int64)
        parents = np.asarray(arrays['kintree_table'][0], dtype=np.int64)
        parents[0] = -1
        self.parents = parents
        self.num_vertices = num_v
        self.num_joints = len(MANO21_JOINT_NAMES)
        self.num_pose = num_pose
        self.register_buffer(
            'faces_tensor', torch.as_tensor(self.faces), persistent=False)
        self.register_buffer(
            'joint_regressor',
            torch.as_tensor(
                self._build_joint_regressor(arrays['J_regressor'],
                                            tip_vertex_ids),
                dtype=torch.float32),
            persistent=False)
        self.register_buffer(
            'hands_mean',
            torch.as_tensor(arrays['hands_mean'], dtype=torch.float32),
            persistent=False)

    @staticmethod
    def _build_joint_regressor(j_regressor: np.ndarray,
                               tip_vertex_ids: Sequence[int]) -> np.ndarray:
        """``(21, V)`` regressor in MANO-21 order with one-hot tip rows."""
        if j_regressor.shape[0] != len(MANO16_JOINT_NAMES):
            raise ValueError(
                f'J_regressor has {j_regressor.shape[0]} rows; the MANO-21 '
                f'joint order needs the {len(MANO16_JOINT_NAMES)} MANO '
                'joints.')
        rows = []
        for name in MANO21_JOINT_NAMES:
            if name in MANO16_JOINT_NAMES:
                rows.append(j_regressor[MANO16_JOINT_NAMES.index(name)])
            else:
                one_hot = np.zeros(j_regressor.shape[1])
                one_hot[tip_vertex_ids[TIP_JOINT_NAMES.index(name)]] = 1.0
                rows.append(one_hot)
        return np.stack(rows)

    def _check(self, x: Tensor, size: int, name: str) -> None:
        if not torch.is_tensor(x) or x.dim() < 1 or x.shape[-1] != size:
            shape = tuple(x.shape) if torch.is_tensor(x) else type(x)
            raise ValueError(f'ManoLayer: {name} must be a tensor of shape '
                             f'(..., {size}), got {shape}')

    def forward(self,
                global_orient: Tensor,
                hand_pose: Tensor,
                betas: Tensor,
                transl: Optional[Tensor] = None) -> ManoOutput:
        """Pose and shape the hand.

        Leading dimensions (e.g. ``K, B, T``) may differ between inputs as
        long as they broadcast; they are flattened into one smplx call.

        Args:
            global_orient (Tensor): ``(..., 3)`` wrist rotation, axis-angle.
            hand_pose (Tensor): ``(..., 45)`` finger joint rotations,
                axis-angle, MANO-16 order without the wrist, relative to the
                mean pose unless ``flat_hand_mean``.
            betas (Tensor): ``(..., num_betas)`` shape parameters.
            transl (Tensor, optional): ``(..., 3)`` translation, metres.

        Returns:
            ManoOutput: ``vertices (..., V, 3)`` and ``joints (..., 21, 3)``
            (MANO-21 order), metres.
        """
        self._check(global_orient, 3, 'global_orient')
        self._check(hand_pose, self.num_pose, 'hand_pose')
        self._check(betas, self.num_betas, 'betas')
        inputs = [global_orient, hand_pose, betas]
        if transl is not None:
            self._check(transl, 3, 'transl')
            inputs.append(transl)
        try:
            batch_shape = torch.broadcast_shapes(*(x.shape[:-1]
                                                   for x in inputs))
        except RuntimeError as err:
            raise ValueError(
                'ManoLayer: leading dims of the inputs do not broadcast: '
                f'{[tuple(x.shape) for x in inputs]}') from err
        dtype = self.joint_regressor.dtype
        flat = [
            x.to(dtype).expand(batch_shape + x.shape[-1:]).reshape(
                -1, x.shape[-1]) for x in inputs
        ]
        output = self.mano(
            betas=flat[2],
            global_orient=flat[0],
            hand_pose=flat[1],
            transl=flat[3] if transl is not None else None)
        vertices = output.vertices
        joints = torch.einsum('jv,bvc->bjc', self.joint_regressor, vertices)
        return ManoOutput(
            vertices=vertices.reshape(batch_shape + vertices.shape[-2:]),
            joints=joints.reshape(batch_shape + joints.shape[-2:]))

    def extra_repr(self) -> str:
        source = 'procedural (MANO-format, NOT MANO)' if (
            self.model_path is None) else repr(self.model_path)
        return (f'model={source}, side={self.side}, '
                f'flat_hand_mean={self.flat_hand_mean}, '
                f'tip_vertex_ids={self.tip_vertex_ids}')
