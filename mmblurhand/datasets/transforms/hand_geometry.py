# Copyright (c) OpenMMLab. All rights reserved.
"""Geometry shared by the BlurHand transforms and by the models.

One convention everywhere:

* Image pixels follow OpenCV: ``x`` right, ``y`` down, pixel centres on
  integer coordinates. The camera frame follows OpenCV too (``x`` right,
  ``y`` down, ``z`` forward), so ``u = fx * x / z + cx``.
* A crop is described by ``center`` and ``scale`` (box width and height, both
  in *original* image pixels), an in-plane ``rotation`` in degrees
  (positive = the crop content appears rotated counter-clockwise, as
  ``cv2.getRotationMatrix2D``) and ``flip`` (the crop is mirrored left-right
  about the box centre, which is how left hands become right hands). The
  image point ``p`` goes to the crop point
  ``u = s * Rot(rotation) @ F(flip) @ (p - center) + output_size / 2``.
* In 3D the same augmentation acts on root-relative camera points as
  ``X' = Rz(rotation) @ M(flip) @ X`` with ``M = diag(-1, 1, 1)`` and ``Rz``
  the rotation about the optical axis whose ``x, y`` block equals the 2D
  ``Rot``. Axis-angle poses are mirrored by negating their ``y`` and ``z``
  components and rotated by left-multiplying the root rotation by ``Rz``.

Every function is pure numpy and broadcasts over leading dimensions.
"""
from typing import Sequence, Tuple, Union

import numpy as np
from scipy.spatial.transform import Rotation

ArrayLike = Union[np.ndarray, Sequence[float]]


def rotation_2d(rotation: float) -> np.ndarray:
    """2x2 matrix that rotates image offsets by ``rotation`` degrees.

    Positive angles rotate counter-clockwise as displayed (y points down).

    Args:
        rotation (float): Angle in degrees.

    Returns:
        np.ndarray: (2, 2) float64 matrix.
    """
    rad = np.deg2rad(rotation)
    c, s = np.cos(rad), np.sin(rad)
    return np.array([[c, s], [-s, c]], dtype=np.float64)


def rotation_matrix_z(rotation: float) -> np.ndarray:
    """3x3 rotation about the camera's optical axis matching
    :func:`rotation_2d`.

    Args:
        rotation (float): Angle in degrees.

    Returns:
        np.ndarray: (3, 3) float64 matrix.
    """
    rot = np.eye(3, dtype=np.float64)
    rot[:2, :2] = rotation_2d(rotation)
    return rot


def get_crop_matrix(center: ArrayLike,
                    scale: ArrayLike,
                    rotation: float,
                    output_size: Sequence[int],
                    flip: bool = False) -> np.ndarray:
    """Affine matrix from original image pixels to crop pixels.

    Args:
        center (ArrayLike): (2,) box centre ``(x, y)`` in image pixels.
        scale (ArrayLike): (2,) box size ``(w, h)`` in image pixels. Its aspect
            ratio should equal that of ``output_size``; otherwise the crop is
            stretched anisotropically.
        rotation (float): In-plane rotation in degrees.
        output_size (Sequence[int]): Crop size ``(w, h)``.
        flip (bool): Mirror the crop left-right about the box centre.
            Defaults to ``False``.

    Returns:
        np.ndarray: (2, 3) float64 matrix for ``cv2.warpAffine``.
    """
    center = np.asarray(center, dtype=np.float64).reshape(2)
    scale = np.asarray(scale, dtype=np.float64).reshape(2)
    out_w, out_h = output_size
    linear = np.diag([out_w / scale[0], out_h / scale[1]]) @ rotation_2d(
        rotation)
    if flip:
        linear = linear @ np.diag([-1.0, 1.0])
    offset = np.array([out_w / 2.0, out_h / 2.0]) - linear @ center
    return np.concatenate([linear, offset[:, None]], axis=1)


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Invert a (2, 3) affine matrix.

    Args:
        matrix (np.ndarray): (2, 3) affine matrix.

    Returns:
        np.ndarray: (2, 3) inverse.
    """
    linear_inv = np.linalg.inv(matrix[:, :2])
    return np.concatenate([linear_inv, -linear_inv @ matrix[:, 2:]], axis=1)


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine matrix to points.

    Args:
        points (np.ndarray): (..., 2) points.
        matrix (np.ndarray): (2, 3) affine matrix.

    Returns:
        np.ndarray: (..., 2) transformed points (float64).
    """
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def project_points(points_cam: np.ndarray, focal: ArrayLike,
                   princpt: ArrayLike) -> np.ndarray:
    """Pinhole projection of camera-frame points.

    Args:
        points_cam (np.ndarray): (..., 3) points in the camera frame (any
            length unit; only ratios matter).
        focal (ArrayLike): (2,) ``(fx, fy)`` in pixels.
        princpt (ArrayLike): (2,) ``(cx, cy)`` in pixels.

    Returns:
        np.ndarray: (..., 2) image pixels. Points with ``z <= 0`` give
        non-finite or meaningless values; mask them with their validity.
    """
    points_cam = np.asarray(points_cam, dtype=np.float64)
    depth = points_cam[..., 2:3]
    safe_depth = np.where(np.abs(depth) < 1e-8, 1e-8, depth)
    return points_cam[..., :2] / safe_depth * np.asarray(
        focal, dtype=np.float64) + np.asarray(princpt, dtype=np.float64)


def mirror_points_3d(points: np.ndarray) -> np.ndarray:
    """Mirror camera-frame points left-right (negate ``x``).

    Args:
        points (np.ndarray): (..., 3) points.

    Returns:
        np.ndarray: (..., 3) mirrored copy.
    """
    out = np.array(points, copy=True)
    out[..., 0] *= -1
    return out


def mirror_axis_angle(pose: np.ndarray) -> np.ndarray:
    """Mirror axis-angle rotations left-right (negate ``y`` and ``z``).

    ``M R M`` with ``M = diag(-1, 1, 1)`` keeps the angle and maps the axis
    ``(a, b, c)`` to ``(a, -b, -c)``. Applied to every joint of a MANO pose
    this turns a left-hand pose into the mirror-image right-hand pose.

    Args:
        pose (np.ndarray): (..., 3 * N) stacked axis-angle vectors.

    Returns:
        np.ndarray: (..., 3 * N) mirrored copy.
    """
    pose = np.asarray(pose)
    if pose.shape[-1] % 3:
        raise ValueError('mirror_axis_angle expects a last dimension that is '
                         f'a multiple of 3, got shape {pose.shape}.')
    out = pose.reshape(pose.shape[:-1] + (-1, 3)).copy()
    out[..., 1:] *= -1
    return out.reshape(pose.shape)


def left_multiply_root(pose: np.ndarray, rotmat: np.ndarray) -> np.ndarray:
    """Left-multiply the root rotation of axis-angle poses by ``rotmat``.

    Args:
        pose (np.ndarray): (..., 3 * N) axis-angle pose whose first three
            numbers are the root (global) orientation.
        rotmat (np.ndarray): (3, 3) rotation, or (..., 3, 3) broadcastable
            with the pose's leading dimensions.

    Returns:
        np.ndarray: (..., 3 * N) copy with ``root <- rotmat @ root``.
    """
    pose = np.array(pose, dtype=np.float64, copy=True)
    lead = pose.shape[:-1]
    root = Rotation.from_rotvec(pose[..., :3].reshape(-1, 3)).as_matrix()
    rotmat = np.broadcast_to(np.asarray(rotmat, dtype=np.float64),
                             lead + (3, 3)).reshape(-1, 3, 3)
    merged = Rotation.from_matrix(rotmat @ root).as_rotvec()
    pose[..., :3] = merged.reshape(lead + (3, ))
    return pose


def augment_points_3d(points: np.ndarray, rotation: float,
                      flip: bool) -> np.ndarray:
    """Apply the crop's mirror and rotation to root-relative 3D points.

    Args:
        points (np.ndarray): (..., 3) root-relative camera-frame points.
        rotation (float): In-plane rotation in degrees.
        flip (bool): Whether the crop is mirrored.

    Returns:
        np.ndarray: (..., 3) points in the augmented frame (float64).
    """
    points = np.asarray(points, dtype=np.float64)
    if flip:
        points = mirror_points_3d(points)
    return points @ rotation_matrix_z(rotation).T


def restore_points_3d(points: np.ndarray, rotation: float,
                      flip: bool) -> np.ndarray:
    """Invert :func:`augment_points_3d` (e.g. mirror predictions back).

    Args:
        points (np.ndarray): (..., 3) points in the augmented frame.
        rotation (float): In-plane rotation in degrees.
        flip (bool): Whether the crop is mirrored.

    Returns:
        np.ndarray: (..., 3) points in the original camera frame.
    """
    points = np.asarray(points, dtype=np.float64) @ rotation_matrix_z(
        rotation)
    return mirror_points_3d(points) if flip else points


def augment_mano_pose(pose: np.ndarray, rotation: float,
                      flip: bool) -> np.ndarray:
    """Apply the crop's mirror and rotation to camera-frame MANO poses.

    Args:
        pose (np.ndarray): (..., 48) axis-angle pose, root in camera frame.
        rotation (float): In-plane rotation in degrees.
        flip (bool): Whether the crop is mirrored.

    Returns:
        np.ndarray: (..., 48) pose in the augmented frame.
    """
    if flip:
        pose = mirror_axis_angle(pose)
    if rotation == 0:
        return np.array(pose, dtype=np.float64)
    return left_multiply_root(pose, rotation_matrix_z(rotation))


def restore_mano_pose(pose: np.ndarray, rotation: float,
                      flip: bool) -> np.ndarray:
    """Invert :func:`augment_mano_pose`.

    Args:
        pose (np.ndarray): (..., 48) pose in the augmented frame.
        rotation (float): In-plane rotation in degrees.
        flip (bool): Whether the crop is mirrored.

    Returns:
        np.ndarray: (..., 48) pose in the original camera frame.
    """
    pose = np.array(pose, dtype=np.float64)
    if rotation != 0:
        pose = left_multiply_root(pose, rotation_matrix_z(rotation).T)
    return mirror_axis_angle(pose) if flip else pose


def normalise_depth(z_rel: np.ndarray, bbox_3d_size: float) -> np.ndarray:
    """Map root-relative depth (m) to [0, 1] over ``+-bbox_3d_size / 2``.

    Args:
        z_rel (np.ndarray): Root-relative depth in metres.
        bbox_3d_size (float): Depth range in metres.

    Returns:
        np.ndarray: ``(z_rel / (bbox_3d_size / 2) + 1) / 2``.
    """
    return (np.asarray(z_rel) / (bbox_3d_size / 2.0) + 1.0) / 2.0


def denormalise_depth(z_norm: np.ndarray, bbox_3d_size: float) -> np.ndarray:
    """Invert :func:`normalise_depth`.

    Args:
        z_norm (np.ndarray): Normalised depth.
        bbox_3d_size (float): Depth range in metres.

    Returns:
        np.ndarray: Root-relative depth in metres.
    """
    return (np.asarray(z_norm) * 2.0 - 1.0) * (bbox_3d_size / 2.0)


def crop_to_image_points(points: np.ndarray,
                         input_center: ArrayLike,
                         input_scale: ArrayLike,
                         input_size: Sequence[int],
                         rotation: float = 0.0,
                         flip: bool = False,
                         normalised: bool = True) -> np.ndarray:
    """Map crop points back to original image pixels.

    Args:
        points (np.ndarray): (..., 2) crop points, normalised to [0, 1] by
            ``input_size`` when ``normalised`` is ``True``, else crop pixels.
        input_center (ArrayLike): (2,) crop centre in image pixels.
        input_scale (ArrayLike): (2,) crop size in image pixels.
        input_size (Sequence[int]): Network input size ``(w, h)``.
        rotation (float): In-plane rotation in degrees. Defaults to 0.
        flip (bool): Whether the crop is mirrored. Defaults to ``False``.
        normalised (bool): Whether ``points`` are normalised. Defaults to
            ``True``.

    Returns:
        np.ndarray: (..., 2) points in original image pixels.
    """
    points = np.asarray(points, dtype=np.float64)
    if normalised:
        points = points * np.asarray(input_size, dtype=np.float64)
    matrix = get_crop_matrix(
        np.asarray(input_center).reshape(-1)[:2],
        np.asarray(input_scale).reshape(-1)[:2], rotation, input_size, flip)
    return apply_affine(points, invert_affine(matrix))


def fix_aspect_ratio(scale: np.ndarray, aspect_ratio: float) -> np.ndarray:
    """Grow box sizes so that ``w / h == aspect_ratio``.

    Args:
        scale (np.ndarray): (..., 2) box sizes ``(w, h)``.
        aspect_ratio (float): Target ``w / h``.

    Returns:
        np.ndarray: (..., 2) enlarged sizes.
    """
    scale = np.asarray(scale, dtype=np.float64)
    w, h = scale[..., 0], scale[..., 1]
    return np.stack([
        np.where(w > h * aspect_ratio, w, h * aspect_ratio),
        np.where(w > h * aspect_ratio, w / aspect_ratio, h)
    ], axis=-1)


def tight_hand_bbox(points: np.ndarray, valid: np.ndarray,
                    image_size: Tuple[int, int],
                    expand: float = 1.2,
                    padding: float = 1.25,
                    aspect_ratio: float = 1.0) -> Union[np.ndarray, None]:
    """BlurHand's crop box from the valid 2D joints of one hand.

    The tight joint box is scaled by ``expand`` about its centre, clipped to
    the image, grown to ``aspect_ratio`` and scaled by ``padding`` (about 1.5
    times the tight box for the defaults).

    Args:
        points (np.ndarray): (J, 2) joints in image pixels.
        valid (np.ndarray): (J,) joint validity.
        image_size (Tuple[int, int]): Image ``(w, h)``.
        expand (float): Scale of the tight box. Defaults to 1.2.
        padding (float): Scale after the aspect fix. Defaults to 1.25.
        aspect_ratio (float): Box ``w / h``. Defaults to 1 (square).

    Returns:
        np.ndarray | None: (4,) box ``x1, y1, x2, y2`` in pixels, or ``None``
        when no joint is valid or the clipped box is degenerate.
    """
    valid = np.asarray(valid) > 0
    if not valid.any():
        return None
    pts = np.asarray(points, dtype=np.float64)[valid]
    x_min, y_min = pts.min(axis=0)
    x_max, y_max = pts.max(axis=0)
    center = np.array([(x_min + x_max) / 2, (y_min + y_max) / 2])
    size = np.array([x_max - x_min, y_max - y_min]) * expand
    # Clip the box itself (the official code clips x1 and then measures the
    # width from the clipped x1, which shifts boxes that leave the image).
    x1, y1 = center - size / 2
    x2, y2 = center + size / 2
    width, height = image_size
    x1, y1 = max(0.0, x1), max(0.0, y1)
    x2, y2 = min(width - 1.0, x2), min(height - 1.0, y2)
    if x2 <= x1 or y2 <= y1:
        return None
    center = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
    size = fix_aspect_ratio(np.array([x2 - x1, y2 - y1]), aspect_ratio)
    size = size * padding
    return np.concatenate([center - size / 2, center + size / 2])
