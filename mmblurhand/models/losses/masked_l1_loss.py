# Copyright (c) OpenMMLab. All rights reserved.
"""Masked L1 loss over time sequences, with BlurHandNet's normalisation."""
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from mmblurhand.registry import MODELS

NORMALIZE_MODES = ('valid', 'all')


def expand_weight(weight: Optional[Tensor], pred: Tensor,
                  name: str) -> Tensor:
    """Broadcast a validity weight to the shape of ``pred``.

    The weight's dims are the leading dims of ``pred`` (e.g. ``(B, T, J)``
    for ``(B, T, J, 3)``); trailing singleton dims are added.

    Args:
        weight (Tensor, optional): Weights, ``None`` for all ones.
        pred (Tensor): The prediction.
        name (str): The caller, for error messages.

    Returns:
        Tensor: Weights with ``pred``'s shape and dtype.
    """
    if weight is None:
        return torch.ones_like(pred)
    if weight.dim() > pred.dim() or tuple(
            weight.shape) != tuple(pred.shape[:weight.dim()]):
        raise ValueError(
            f'{name}: the weight of shape {tuple(weight.shape)} must match '
            f'the leading dims of the prediction {tuple(pred.shape)}.')
    weight = weight.to(pred.dtype)
    weight = weight.view(*weight.shape, *([1] * (pred.dim() - weight.dim())))
    return weight.expand_as(pred)


def per_step_sums(values: Tensor, step_dim: Optional[int]) -> Tensor:
    """Sum over every dim but ``step_dim`` (over all dims when ``None``).

    Args:
        values (Tensor): Any shape.
        step_dim (int, optional): The dim that is kept.

    Returns:
        Tensor: ``(values.shape[step_dim],)`` or a 0-dim tensor.
    """
    if step_dim is None:
        return values.sum()
    return values.transpose(0, step_dim).flatten(1).sum(1)


def step_normalisers(weight: Tensor, step_dim: Optional[int],
                     normalize: str) -> Tensor:
    """Per-step denominators: valid element count or all elements.

    Args:
        weight (Tensor): Weights broadcast to the prediction's shape.
        step_dim (int, optional): See :class:`MaskedL1Loss`.
        normalize (str): ``'valid'`` or ``'all'``.

    Returns:
        Tensor: Denominators, never zero.
    """
    if normalize == 'valid':
        return per_step_sums(weight, step_dim).clamp(min=1e-6)
    count = weight.numel() if step_dim is None else (
        weight.numel() // weight.shape[step_dim])
    return weight.new_tensor(float(max(count, 1)))


def check_normalize(normalize: str, name: str) -> None:
    """Raise a clear error for an unknown normalisation mode."""
    if normalize not in NORMALIZE_MODES:
        raise ValueError(f'{name}: `normalize` must be one of '
                         f'{NORMALIZE_MODES}, got {normalize!r}.')


def check_pair(pred: Tensor, target: Tensor, name: str) -> Tuple[int]:
    """Raise a clear error when prediction and target shapes differ."""
    if pred.shape != target.shape:
        raise ValueError(f'{name}: prediction {tuple(pred.shape)} and target '
                         f'{tuple(target.shape)} must have the same shape.')
    return tuple(pred.shape)


@MODELS.register_module()
class MaskedL1Loss(nn.Module):
    """L1 loss with a validity mask, averaged per time step, summed over time.

    ``loss = loss_weight * sum_t sum_i w_ti |p_ti - g_ti| / N_t`` where ``i``
    runs over every element of step ``t`` (batch, joints, coordinates) and
    the denominator ``N_t`` is:

    - ``'valid'`` (default): the sum of the weights of step ``t``, i.e. a
      mean over valid elements, so the loss scale does not depend on how
      many joints are truncated;
    - ``'all'``: the number of elements of step ``t``, masked ones included
      (the official BlurHandNet ``.mean()``).

    Steps are summed, not averaged, because the official model sums one
    loss term per frame; with this the official weights (joint_cam 10,
    projection 2 in normalised units, pose/shape 1) keep their meaning.

    Args:
        loss_weight (float): Multiplier. Defaults to 1.
        normalize (str): ``'valid'`` or ``'all'``. Defaults to ``'valid'``.
        step_dim (int, optional): The time dim; ``None`` averages over all
            elements at once. Defaults to 1 (``(B, T, ...)``).
    """

    def __init__(self,
                 loss_weight: float = 1.,
                 normalize: str = 'valid',
                 step_dim: Optional[int] = 1):
        super().__init__()
        check_normalize(normalize, type(self).__name__)
        self.loss_weight = loss_weight
        self.normalize = normalize
        self.step_dim = step_dim

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): ``(B, T, ...)`` predictions.
            target (Tensor): Same shape as ``pred``.
            weight (Tensor, optional): Validity with the leading dims of
                ``pred`` (e.g. ``(B, T, J)`` for ``(B, T, J, 3)``).

        Returns:
            Tensor: The scalar loss.
        """
        name = type(self).__name__
        check_pair(pred, target, name)
        weight = expand_weight(weight, pred, name)
        errors = per_step_sums((pred - target).abs() * weight, self.step_dim)
        loss = errors / step_normalisers(weight, self.step_dim,
                                         self.normalize)
        return loss.sum() * self.loss_weight
