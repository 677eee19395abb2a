# Copyright (c) OpenMMLab. All rights reserved.
"""Hand joint orders and conversions between them, matched by joint name.

Three orders are used around MANO:

* ``'mano21'`` (:data:`MANO21_JOINT_NAMES`): the order of every mmblurhand
  target and prediction. Wrist 0, then thumb 1-4, index 5-8, middle 9-12,
  ring 13-16, pinky 17-20; in each finger the joint nearest the palm comes
  first and the tip (``_4``) last.
* ``'mano16'`` (:data:`MANO16_JOINT_NAMES`): MANO's own kinematic order, used
  by the pose parameters, ``J_regressor``, ``weights`` and ``kintree_table``.
  Wrist, index 1-3, middle 1-3, **pinky** 1-3, **ring** 1-3, thumb 1-3; no
  tips.
* ``'interhand21'`` (:data:`INTERHAND21_JOINT_NAMES`): the InterHand2.6M and
  BlurHand annotation order, one hand. Thumb, index, middle, ring, pinky, each
  **tip first** (``_4`` .. ``_1``), wrist last (index 20).

Joint ``_1`` of the thumb is its carpometacarpal (CMC) joint, ``_2`` the MCP,
``_3`` the IP joint; for the other fingers ``_1`` is the MCP, ``_2`` the PIP,
``_3`` the DIP joint. ``_4`` is the fingertip.
"""
from typing import Dict, Optional, Tuple

import numpy as np
import torch

FINGER_NAMES = ('Thumb', 'Index', 'Middle', 'Ring', 'Pinky')

MANO21_JOINT_NAMES: Tuple[str, ...] = ('Wrist', ) + tuple(
    f'{finger}_{i}' for finger in FINGER_NAMES for i in range(1, 5))

MANO16_JOINT_NAMES: Tuple[str, ...] = ('Wrist', ) + tuple(
    f'{finger}_{i}' for finger in ('Index', 'Middle', 'Pinky', 'Ring',
                                   'Thumb') for i in range(1, 4))

INTERHAND21_JOINT_NAMES: Tuple[str, ...] = tuple(
    f'{finger}_{i}' for finger in FINGER_NAMES
    for i in range(4, 0, -1)) + ('Wrist', )

#: Fingertip joint names in the order of ``ManoLayer(tip_vertex_ids=...)``:
#: thumb, index, middle, ring, pinky.
TIP_JOINT_NAMES: Tuple[str, ...] = tuple(f'{f}_4' for f in FINGER_NAMES)

JOINT_ORDERS: Dict[str, Tuple[str, ...]] = {
    'mano21': MANO21_JOINT_NAMES,
    'mano16': MANO16_JOINT_NAMES,
    'interhand21': INTERHAND21_JOINT_NAMES,
}


def get_joint_names(order) -> Tuple[str, ...]:
    """Joint names of a named order, or the given sequence of names.

    Args:
        order (str | Sequence[str]): ``'mano21'``, ``'mano16'``,
            ``'interhand21'``, or an explicit sequence of joint names.

    Returns:
        tuple[str]: the joint names.
    """
    if isinstance(order, str):
        if order not in JOINT_ORDERS:
            raise ValueError(f'Unknown joint order {order!r}; use one of '
                             f'{sorted(JOINT_ORDERS)} or a sequence of '
                             'joint names.')
        return JOINT_ORDERS[order]
    names = tuple(order)
    if len(set(names)) != len(names):
        raise ValueError(f'Joint names must be unique, got {names}')
    return names


def joint_order_indices(src, dst) -> np.ndarray:
    """Index of every ``dst`` joint in ``src`` (-1 where ``src`` lacks it).

    Args:
        src (str | Sequence[str]): the order of the input.
        dst (str | Sequence[str]): the order wanted.

    Returns:
        np.ndarray: ``(len(dst),)`` int64 indices into ``src``.
    """
    src_names = get_joint_names(src)
    dst_names = get_joint_names(dst)
    position = {name: i for i, name in enumerate(src_names)}
    return np.array([position.get(name, -1) for name in dst_names],
                    dtype=np.int64)


def convert_joint_order(x,
                        src='interhand21',
                        dst='mano21',
                        axis: int = -2,
                        fill_value: Optional[float] = None):
    """Reorder the joint axis of an array from one joint order to another.

    Joints are matched by name, so any pair of orders works; e.g.
    ``convert_joint_order(j, 'interhand21', 'mano21')`` turns InterHand
    annotations ``(..., 21, 3)`` into MANO-21 order, and
    ``convert_joint_order(j, 'mano21', 'mano16')`` drops the tips.

    Args:
        x (np.ndarray | torch.Tensor): array whose dimension ``axis`` holds
            the joints of ``src``.
        src (str | Sequence[str]): order of ``x``: ``'mano21'``,
            ``'mano16'``, ``'interhand21'`` or a sequence of joint names.
        dst (str | Sequence[str]): order wanted, same choices.
        axis (int): the joint dimension. Default: -2 (``(..., J, C)``).
        fill_value (float, optional): value for ``dst`` joints that ``src``
            does not have (e.g. tips when converting from ``'mano16'``).
            ``None`` (default) raises an error instead.

    Returns:
        np.ndarray | torch.Tensor: same type, dtype and device as ``x``, with
        ``len(dst)`` joints along ``axis``.
    """
    src_names = get_joint_names(src)
    is_tensor = torch.is_tensor(x)
    if not is_tensor:
        x = np.asarray(x)
    ndim = x.dim() if is_tensor else x.ndim
    if not -ndim <= axis < ndim:
        raise ValueError(f'axis {axis} is out of range for an array with '
                         f'shape {tuple(x.shape)}')
    axis = axis % ndim
    if x.shape[axis] != len(src_names):
        raise ValueError(
            f'Expected {len(src_names)} joints ({src!r} order) along axis '
            f'{axis}, got shape {tuple(x.shape)}')
    index = joint_order_indices(src_names, dst)
    missing = index < 0
    if missing.any() and fill_value is None:
        names = [get_joint_names(dst)[i] for i in np.flatnonzero(missing)]
        raise ValueError(
            f'Joints {names} of the destination order are not in the source '
            'order; pass fill_value to fill them.')
    safe_index = np.where(missing, 0, index)
    if is_tensor:
        out = x.index_select(
            axis, torch.as_tensor(safe_index, device=x.device))
        if missing.any():
            shape = [1] * ndim
            shape[axis] = len(index)
            mask = torch.as_tensor(missing, device=x.device).view(shape)
            out = out.masked_fill(mask, fill_value)
        return out
    out = np.take(x, safe_index, axis=axis)
    if missing.any():
        shape = [1] * ndim
        shape[axis] = len(index)
        out = np.where(missing.reshape(shape), np.asarray(fill_value,
                                                          out.dtype), out)
    return out

