# Copyright (c) OpenMMLab. All rights reserved.
"""The virtual pin-hole camera of BlurHandNet.

The network never sees the real intrinsics: it predicts three numbers
``(c0, c1, c2)`` per hand and time step, read as the translation of the hand
in a fixed virtual camera placed in front of the crop (focal ``f``, principal
point at the crop centre by default):

- ``t_x = c0``, ``t_y = c1`` (metres);
- ``t_z = k * sigmoid(c2)`` with
  ``k = sqrt(f_x * f_y * camera_3d_size**2 / (W * H))``, the depth at which a
  ``camera_3d_size``-metre object fills the ``W x H`` crop.

With the official values (``f = 5000``, crop 256, ``camera_3d_size = 0.4``)
``k = 7.8125`` m.

No dataset annotates ``t_z``; :meth:`VirtualCamera.depth_from_targets`
derives it from the 3D and 2D joint targets, for an optional depth loss
(``loss_camera_depth`` of the heads). :func:`fit_translation` is the exact
perspective counterpart for any pinhole camera: the translation that
projects root-relative joints onto 2D joints.
"""
import math
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor


class VirtualCamera:
    """A fixed pin-hole camera looking at the input crop.

    Args:
        input_size (Sequence[int]): Crop size ``(W, H)`` in pixels.
        focal (Sequence[float]): Focal lengths ``(f_x, f_y)`` in pixels.
            Defaults to ``(5000., 5000.)``.
        princpt (Sequence[float], optional): Principal point ``(p_x, p_y)``
            in pixels. Defaults to the crop centre ``(W / 2, H / 2)``.
        camera_3d_size (float): Size in metres of the object that fills the
            crop at the largest depth ``k``. Defaults to ``0.4``.
        eps (float): Added to the depth before dividing. Defaults to
            ``1e-4``.
    """

    def __init__(self,
                 input_size: Sequence[int],
                 focal: Sequence[float] = (5000., 5000.),
                 princpt: Optional[Sequence[float]] = None,
                 camera_3d_size: float = 0.4,
                 eps: float = 1e-4):
        if len(input_size) != 2 or min(input_size) <= 0:
            raise ValueError('VirtualCamera: `input_size` must be (W, H) '
                             f'with positive values, got {input_size}.')
        if len(focal) != 2:
            raise ValueError('VirtualCamera: `focal` must be (f_x, f_y), '
                             f'got {focal}.')
        self.input_size = tuple(float(s) for s in input_size)
        self.focal = tuple(float(f) for f in focal)
        if princpt is None:
            princpt = (self.input_size[0] / 2., self.input_size[1] / 2.)
        if len(princpt) != 2:
            raise ValueError('VirtualCamera: `princpt` must be (p_x, p_y), '
                             f'got {princpt}.')
        self.princpt = tuple(float(p) for p in princpt)
        self.camera_3d_size = float(camera_3d_size)
        self.eps = float(eps)

    @property
    def max_depth(self) -> float:
        """float: ``k``, the largest depth ``t_z`` can take (metres)."""
        fx, fy = self.focal
        w, h = self.input_size
        return math.sqrt(fx * fy * self.camera_3d_size**2 / (w * h))

    def translation(self, cam_params: Tensor) -> Tensor:
        """Camera-frame translation of the hand from the raw parameters.

        Args:
            cam_params (Tensor): ``(..., 3)`` raw network outputs
                ``(c0, c1, c2)``.

        Returns:
            Tensor: ``(..., 3)`` translation ``(t_x, t_y, t_z)`` in metres.
        """
        if cam_params.shape[-1] != 3:
            raise ValueError('VirtualCamera.translation: expected (..., 3) '
                             f'parameters, got {tuple(cam_params.shape)}.')
        t_z = self.max_depth * torch.sigmoid(cam_params[..., 2:])
        return torch.cat([cam_params[..., :2], t_z], dim=-1)

    def depth_from_targets(self, joints_cam: Tensor, joints_2d: Tensor,
                           valid: Tensor, min_joints: int = 3
                           ) -> Tuple[Tensor, Tensor]:
        """The depth ``t_z`` at which this camera maps 3D joints onto 2D ones.

        A weak-perspective least-squares fit per hand: with ``s = 1 / t_z``,
        ``u = (f_x / W) s x + b_u`` and ``v = (f_y / H) s y + b_v`` over the
        valid joints (one shared ``s``, free offsets ``b``), so that

        ``s = (a_x cov(x, u) + a_y cov(y, v)) / (a_x^2 var x + a_y^2 var y)``

        with ``a = f / size``. Exact for joints in a plane parallel to the
        image; for a hand (a few cm deep, metres away) close to exact. It
        gives a depth target for the training data, whose real camera this
        virtual one never sees.

        Args:
            joints_cam (Tensor): ``(..., J, 3)`` root-relative 3D joints (m).
            joints_2d (Tensor): ``(..., J, 2)`` 2D joints in normalised crop
                coordinates (``u / W``, ``v / H``).
            valid (Tensor): ``(..., J)`` joints present in both.
            min_joints (int): Fewest valid joints for a fit. Defaults to 3.

        Returns:
            tuple[Tensor, Tensor]: ``(...,)`` depths (m, clamped to
            ``(0, max_depth]``) and ``(...,)`` bool: whether each fit is
            usable (enough joints and a positive slope).
        """
        if joints_cam.shape[-1] != 3 or joints_2d.shape[-1] < 2 or \
                joints_cam.shape[:-1] != joints_2d.shape[:-1] or \
                valid.shape != joints_cam.shape[:-1]:
            raise ValueError(
                'VirtualCamera.depth_from_targets: expected joints_cam '
                '(..., J, 3), joints_2d (..., J, 2) and valid (..., J), got '
                f'{tuple(joints_cam.shape)}, {tuple(joints_2d.shape)} and '
                f'{tuple(valid.shape)}.')
        w = valid.to(joints_cam.dtype)
        count = w.sum(-1, keepdim=True)
        scale = joints_cam.new_tensor([
            self.focal[0] / self.input_size[0],
            self.focal[1] / self.input_size[1]
        ])

        def centred(values: Tensor) -> Tensor:  # (..., J, 2)
            mean = (values * w[..., None]).sum(-2, keepdim=True) / \
                count[..., None].clamp(min=1)
            return (values - mean) * w[..., None]

        xy = centred(joints_cam[..., :2])
        uv = centred(joints_2d[..., :2])
        num = (scale * (xy * uv).sum(-2)).sum(-1)
        den = (scale**2 * (xy * xy).sum(-2)).sum(-1)
        usable = (count[..., 0] >= min_joints) & (num > 0) & (den > 0)
        # the projection adds eps to the depth; undo it for an exact inverse
        depth = den / torch.where(usable, num, torch.ones_like(num)) - self.eps
        depth = torch.where(usable, depth, torch.full_like(depth,
                                                           self.max_depth))
        return depth.clamp(min=self.eps, max=self.max_depth), usable

    def project(self,
                points: Tensor,
                translation: Tensor,
                normalize: bool = True) -> Tensor:
        """Perspective projection of translated points.

        Args:
            points (Tensor): ``(..., N, 3)`` points in metres (camera axes,
                before the translation).
            translation (Tensor): ``(..., 3)`` translation in metres
                (broadcast over ``N``).
            normalize (bool): Return normalised crop coordinates
                (``u / W``, ``v / H``) when True, pixels otherwise. Defaults
                to True.

        Returns:
            Tensor: ``(..., N, 2)`` projected ``(u, v)``.
        """
        if points.shape[-1] != 3 or translation.shape[-1] != 3:
            raise ValueError(
                'VirtualCamera.project: expected points (..., N, 3) and '
                f'translation (..., 3), got {tuple(points.shape)} and '
                f'{tuple(translation.shape)}.')
        cam_points = points + translation.unsqueeze(-2)
        depth = cam_points[..., 2:] + self.eps
        focal = cam_points.new_tensor(self.focal)
        princpt = cam_points.new_tensor(self.princpt)
        uv = cam_points[..., :2] / depth * focal + princpt
        if normalize:
            uv = uv / cam_points.new_tensor(self.input_size)
        return uv


def fit_translation(joints_rel: Tensor,
                    uv: Tensor,
                    focal: Tensor,
                    princpt: Tensor,
                    weights: Tensor = None,
                    min_depth: Optional[float] = 0.05,
                    ridge: float = 1e-9) -> Tuple[Tensor, Tensor]:
    """Translation that projects root-relative joints onto 2D joints.

    Solves ``(X + t_x) / (Z + t_z) = (u - p_x) / f_x`` (and the same in
    ``y``) in the least-squares sense; linear in ``t``, so one batched 3x3
    solve. Exact when the 2D joints are the perspective projection.

    Args:
        joints_rel (Tensor): ``(..., J, 3)`` root-relative joints, m.
        uv (Tensor): ``(..., J, 2)`` 2D joints, pixels.
        focal (Tensor): ``(..., 2)`` pixels.
        princpt (Tensor): ``(..., 2)`` pixels.
        weights (Tensor, optional): ``(..., J)`` joint weights.
        min_depth (float, optional): Smallest ``t_z``, m; ``None`` leaves
            ``t_z`` unclamped. Defaults to 0.05.
        ridge (float): Tikhonov term. Defaults to 1e-9.

    Returns:
        tuple[Tensor, Tensor]: ``(..., 3)`` translation (m) and ``(..., )``
        mean reprojection error (pixels).
    """
    ray = (uv - princpt[..., None, :]) / focal[..., None, :]    # (..., J, 2)
    x, y, z = joints_rel.unbind(-1)
    zeros = torch.zeros_like(x)
    ones = torch.ones_like(x)
    # rows: [1, 0, -a] t = a Z - X ; [0, 1, -b] t = b Z - Y
    rows_x = torch.stack([ones, zeros, -ray[..., 0]], dim=-1)
    rows_y = torch.stack([zeros, ones, -ray[..., 1]], dim=-1)
    lhs = torch.cat([rows_x, rows_y], dim=-2)                   # (..., 2J, 3)
    rhs = torch.cat([ray[..., 0] * z - x, ray[..., 1] * z - y], dim=-1)
    if weights is None:
        weights = torch.ones_like(x)
    w = torch.cat([weights, weights], dim=-1)[..., None]
    normal = (lhs * w).transpose(-1, -2) @ lhs
    normal = normal + ridge * torch.eye(3, dtype=lhs.dtype, device=lhs.device)
    transl = torch.linalg.solve(normal, ((lhs * w) * rhs[..., None]).sum(-2))
    if min_depth is not None:
        transl = torch.cat(
            [transl[..., :2], transl[..., 2:].clamp(min=min_depth)], dim=-1)
    return transl, reprojection_error(joints_rel, transl, uv, focal, princpt,
                                      weights)


def reprojection_error(joints_rel: Tensor, transl: Tensor, uv: Tensor,
                       focal: Tensor, princpt: Tensor,
                       weights: Tensor) -> Tensor:
    """Weighted mean distance (pixels) between ``joints_rel + transl``
    projected by a pinhole camera and the 2D joints ``uv``.

    Shapes as :func:`fit_translation`; ``transl`` is ``(..., 3)``.

    Returns:
        Tensor: ``(...)`` errors, pixels.
    """
    points = joints_rel + transl[..., None, :]
    proj = points[..., :2] / points[..., 2:].clamp(min=1e-6) * focal[
        ..., None, :] + princpt[..., None, :]
    err = (proj - uv).norm(dim=-1)
    return (err * weights).sum(-1) / weights.sum(-1).clamp(min=1e-9)
