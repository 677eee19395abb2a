# Copyright (c) OpenMMLab. All rights reserved.
"""Conversions between 3D rotation representations, batched and stable.

Every function takes tensors with any number of leading dimensions ``...``
and keeps them. Conventions:

* **Axis-angle** ``(..., 3)``: the rotation axis scaled by the angle in
  radians (the MANO / SMPL pose convention). Angles returned by
  :func:`matrix_to_axis_angle` and :func:`quaternion_to_axis_angle` lie in
  ``[0, pi]``.
* **Matrix** ``(..., 3, 3)``: rotates column vectors, ``x' = R @ x``.
* **Quaternion** ``(..., 4)``: ``(w, x, y, z)``, real part first. Quaternions
  returned by this module are unit length with ``w >= 0``.
* **6D** ``(..., 6)``: the first two columns of the rotation matrix, read as a
  3x2 matrix stored in row-major order. Column 1 is elements ``(0, 2, 4)`` and
  column 2 is elements ``(1, 3, 5)``. :func:`rot6d_to_matrix` orthonormalises
  them by Gram-Schmidt and sets ``b3 = b1 x b2`` (Zhou et al., CVPR 2019; the
  same reading as the BlurHandNet regressor).

All functions are differentiable with finite gradients everywhere, including
the identity (angle 0) and half turns (angle pi): small-angle terms use Taylor
series and every ``torch.where`` branch is evaluated on safe inputs so that no
NaN reaches the backward pass.
"""
import torch
import torch.nn.functional as F
from torch import Tensor

# Below this squared angle (rad^2) the Taylor series are used. The series are
# accurate to ~1e-13 there; the closed forms are accurate above it in float32.
_SMALL_ANGLE_SQ = 1e-4


def _check_last_dims(x: Tensor, dims: tuple, name: str) -> None:
    """Raise a ValueError when the trailing dimensions of ``x`` are wrong."""
    if not torch.is_tensor(x):
        raise TypeError(f'{name} must be a torch.Tensor, got {type(x)}')
    if tuple(x.shape[x.dim() - len(dims):]) != dims or x.dim() < len(dims):
        raise ValueError(
            f'{name} must have shape (..., {", ".join(map(str, dims))}), '
            f'got {tuple(x.shape)}')


def _skew(v: Tensor) -> Tensor:
    """Cross-product matrices ``[v]_x`` of vectors ``(..., 3)``."""
    x, y, z = v.unbind(-1)
    zero = torch.zeros_like(x)
    return torch.stack([
        torch.stack([zero, -z, y], -1),
        torch.stack([z, zero, -x], -1),
        torch.stack([-y, x, zero], -1),
    ], -2)


def _rodrigues_coefficients(theta_sq: Tensor):
    """``sin(t)/t`` and ``(1 - cos(t))/t^2`` as functions of ``t^2``.

    Args:
        theta_sq (Tensor): squared angles ``(...)`` in rad^2.

    Returns:
        tuple[Tensor, Tensor]: the two coefficients, shape ``(...)``.
    """
    small = theta_sq < _SMALL_ANGLE_SQ
    safe_sq = torch.where(small, torch.ones_like(theta_sq), theta_sq)
    theta = safe_sq.sqrt()
    a_big = torch.sin(theta) / theta
    b_big = (1 - torch.cos(theta)) / safe_sq
    a_small = 1 - theta_sq / 6 + theta_sq**2 / 120
    b_small = 0.5 - theta_sq / 24 + theta_sq**2 / 720
    return (torch.where(small, a_small, a_big),
            torch.where(small, b_small, b_big))


def axis_angle_to_matrix(axis_angle: Tensor) -> Tensor:
    """Rotation matrices from axis-angle vectors (Rodrigues' formula).

    Args:
        axis_angle (Tensor): ``(..., 3)`` axis times angle, radians.

    Returns:
        Tensor: ``(..., 3, 3)`` rotation matrices.
    """
    _check_last_dims(axis_angle, (3, ), 'axis_angle')
    theta_sq = (axis_angle * axis_angle).sum(-1)
    a, b = _rodrigues_coefficients(theta_sq)
    k = _skew(axis_angle)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def axis_angle_to_quaternion(axis_angle: Tensor) -> Tensor:
    """Unit quaternions ``(w, x, y, z)`` from axis-angle vectors.

    Args:
        axis_angle (Tensor): ``(..., 3)`` axis times angle, radians.

    Returns:
        Tensor: ``(..., 4)`` unit quaternions. ``w >= 0`` for angles up to pi.
    """
    _check_last_dims(axis_angle, (3, ), 'axis_angle')
    theta_sq = (axis_angle * axis_angle).sum(-1, keepdim=True)
    small = theta_sq < _SMALL_ANGLE_SQ
    safe_sq = torch.where(small, torch.ones_like(theta_sq), theta_sq)
    theta = safe_sq.sqrt()
    # sin(t/2)/t and cos(t/2), with their Taylor series near t = 0.
    sinc_half = torch.where(small,
                            0.5 - theta_sq / 48 + theta_sq**2 / 3840,
                            torch.sin(theta / 2) / theta)
    cos_half = torch.where(small, 1 - theta_sq / 8 + theta_sq**2 / 384,
                           torch.cos(theta / 2))
    return torch.cat([cos_half, axis_angle * sinc_half], dim=-1)


def quaternion_to_axis_angle(quaternion: Tensor) -> Tensor:
    """Axis-angle vectors from quaternions ``(w, x, y, z)``.

    The quaternion need not be normalised; ``q`` and ``-q`` give the same
    result, with the angle in ``[0, pi]``.

    Args:
        quaternion (Tensor): ``(..., 4)`` quaternions, real part first.

    Returns:
        Tensor: ``(..., 3)`` axis times angle, radians.
    """
    _check_last_dims(quaternion, (4, ), 'quaternion')
    # Choose the sign with w >= 0 so that the angle is at most pi.
    sign = torch.where(quaternion[..., :1] < 0, -torch.ones_like(
        quaternion[..., :1]), torch.ones_like(quaternion[..., :1]))
    q = quaternion * sign
    w, xyz = q[..., :1], q[..., 1:]
    s_sq = (xyz * xyz).sum(-1, keepdim=True)
    # Relative test: a quaternion scaled by c has s^2 scaled by c^2.
    norm_sq = s_sq + w * w
    small = s_sq < _SMALL_ANGLE_SQ * norm_sq
    safe_s = torch.where(small, torch.ones_like(s_sq), s_sq).sqrt()
    # angle / sin(angle / 2) = 2 * atan2(s, w) / s. Near s = 0 (then w > 0):
    # 2 / w * (1 - s^2 / (3 w^2) + s^4 / (5 w^4)).
    safe_w = torch.where(small, w, torch.ones_like(w))
    ratio_sq = s_sq / (safe_w * safe_w)
    factor_small = 2 / safe_w * (1 - ratio_sq / 3 + ratio_sq**2 / 5)
    factor_big = 2 * torch.atan2(safe_s, w) / safe_s
    return xyz * torch.where(small, factor_small, factor_big)


def quaternion_to_matrix(quaternion: Tensor) -> Tensor:
    """Rotation matrices from quaternions ``(w, x, y, z)``.

    The quaternion is normalised first, so any non-zero scale is accepted.

    Args:
        quaternion (Tensor): ``(..., 4)`` quaternions, real part first.

    Returns:
        Tensor: ``(..., 3, 3)`` rotation matrices.
    """
    _check_last_dims(quaternion, (4, ), 'quaternion')
    w, x, y, z = F.normalize(quaternion, dim=-1, eps=1e-12).unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)
    ], -1).reshape(quaternion.shape[:-1] + (3, 3))


def _safe_sqrt_positive(x: Tensor) -> Tensor:
    """``sqrt(max(x, 0))`` with a zero (not infinite) gradient at 0."""
    positive = x > 0
    return torch.where(positive,
                       torch.where(positive, x, torch.ones_like(x)).sqrt(),
                       torch.zeros_like(x))


def matrix_to_quaternion(matrix: Tensor) -> Tensor:
    """Unit quaternions ``(w, x, y, z)`` with ``w >= 0`` from rotations.

    Shepperd's method: of the four algebraically equivalent formulas, each
    element uses the one whose divisor (``4 |w|``, ``4 |x|``, ``4 |y|`` or
    ``4 |z|``) is largest, which is at least 1, so the result is well
    conditioned for every rotation, half turns included.

    Args:
        matrix (Tensor): ``(..., 3, 3)`` rotation matrices.

    Returns:
        Tensor: ``(..., 4)`` unit quaternions.
    """
    _check_last_dims(matrix, (3, 3), 'matrix')
    m = matrix.reshape(matrix.shape[:-2] + (9, ))
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = m.unbind(-1)
    # 4 * |q_i|^2 for i = w, x, y, z.
    four_sq = torch.stack([
        1 + m00 + m11 + m22,
        1 + m00 - m11 - m22,
        1 - m00 + m11 - m22,
        1 - m00 - m11 + m22,
    ], -1)
    two_abs = _safe_sqrt_positive(four_sq)  # 2 |q_i|
    # Row i: 4 * q_i * q, derived with q_i taken positive.
    candidates = torch.stack([
        torch.stack([four_sq[..., 0], m21 - m12, m02 - m20, m10 - m01], -1),
        torch.stack([m21 - m12, four_sq[..., 1], m10 + m01, m02 + m20], -1),
        torch.stack([m02 - m20, m10 + m01, four_sq[..., 2], m12 + m21], -1),
        torch.stack([m10 - m01, m20 + m02, m21 + m12, four_sq[..., 3]], -1),
    ], -2)
    # Divide by 4 q_i; the chosen row has 4 q_i >= 1, the clamp only guards
    # the rows that are discarded.
    candidates = candidates / (2 * two_abs.clamp_min(0.1))[..., None]
    best = four_sq.argmax(-1, keepdim=True)
    index = best[..., None].expand(best.shape[:-1] + (1, 4))
    quat = candidates.gather(-2, index).squeeze(-2)
    quat = F.normalize(quat, dim=-1, eps=1e-12)
    return torch.where(quat[..., :1] < 0, -quat, quat)


def matrix_to_axis_angle(matrix: Tensor) -> Tensor:
    """Axis-angle vectors (angle in ``[0, pi]``) from rotation matrices.

    Computed through :func:`matrix_to_quaternion`, which stays accurate near
    half turns where the trace-based formula loses the axis.

    Args:
        matrix (Tensor): ``(..., 3, 3)`` rotation matrices.

    Returns:
        Tensor: ``(..., 3)`` axis times angle, radians.
    """
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def rot6d_to_matrix(rot6d: Tensor) -> Tensor:
    """Rotation matrices from the 6D representation (Gram-Schmidt).

    The 6 numbers are a 3x2 matrix in row-major order: column 1 is
    ``rot6d[..., (0, 2, 4)]`` and column 2 is ``rot6d[..., (1, 3, 5)]``.
    ``b1`` is column 1 normalised, ``b2`` is column 2 minus its projection on
    ``b1``, normalised, and ``b3 = b1 x b2``. The result has columns
    ``(b1, b2, b3)``.

    Args:
        rot6d (Tensor): ``(..., 6)`` unconstrained network outputs.

    Returns:
        Tensor: ``(..., 3, 3)`` rotation matrices.
    """
    _check_last_dims(rot6d, (6, ), 'rot6d')
    cols = rot6d.reshape(rot6d.shape[:-1] + (3, 2))
    a1, a2 = cols[..., 0], cols[..., 1]
    b1 = F.normalize(a1, dim=-1, eps=1e-8)
    b2 = F.normalize(
        a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1, eps=1e-8)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def matrix_to_rot6d(matrix: Tensor) -> Tensor:
    """The 6D representation of rotation matrices (inverse of
    :func:`rot6d_to_matrix` on rotations).

    Args:
        matrix (Tensor): ``(..., 3, 3)`` rotation matrices.

    Returns:
        Tensor: ``(..., 6)``, the first two columns in row-major order
        ``(R00, R01, R10, R11, R20, R21)``.
    """
    _check_last_dims(matrix, (3, 3), 'matrix')
    return matrix[..., :2].reshape(matrix.shape[:-2] + (6, ))
