# Copyright (c) OpenMMLab. All rights reserved.
"""Direct supervision of the Unfolder's heatmaps with Gaussian targets.

Not in the papers: BlurHandNet and the multi-hypothesis generator supervise
only the soft-argmax *mean* of each heatmap (an L1 loss on coordinates,
"integral regression"). From a random initialisation that signal is weak:
with a flat heatmap every cell holds ``1 / (H W)`` of the mass and the L1
gradient on one logit is that small fraction of the coordinate error, so the
2D joints stay near the crop centre for a long time (the learning-curve
study in ``docs/training_recipe.md``). The KL divergence to a Gaussian placed
at the ground-truth joint gives every cell a target from the first step, as
heatmap regression does in MMPose's top-down models.
"""
from typing import Optional

import torch
from torch import Tensor, nn

from mmblurhand.registry import MODELS


def gaussian_axis_targets(coords: Tensor, num_cells: int, sigma: float,
                          cell_offset: float) -> Tensor:
    """Unnormalised 1D Gaussian weights of every cell along one axis.

    Args:
        coords (Tensor): ``(...)`` normalised target coordinates (the crop is
            ``[0, 1]``).
        num_cells (int): Cells ``S`` along the axis.
        sigma (float): Standard deviation in cells.
        cell_offset (float): Position of cell ``i`` is
            ``(i + cell_offset) / S`` (0.5: cell centres, the mmblurhand
            convention; 0: the official index convention).

    Returns:
        Tensor: ``(..., S)`` log-weights ``-d^2 / (2 sigma^2)``, ``d`` in
        cells.
    """
    cells = torch.arange(num_cells, device=coords.device,
                         dtype=coords.dtype) + cell_offset
    dist = coords.unsqueeze(-1) * num_cells - cells
    return -0.5 * (dist / sigma)**2


@MODELS.register_module()
class HeatmapKLLoss(nn.Module):
    """KL divergence from a Gaussian target to the softmax heatmap.

    For each joint the target is a separable Gaussian (``sigma`` cells)
    centred at the ground-truth position, normalised over the heatmap;
    the prediction is the softmax of the logits over all cells (the
    distribution whose mean is the soft-argmax joint). The loss is
    ``KL(q || p) = sum_c q_c (log q_c - log p_c)`` averaged over the valid
    joints: zero exactly when the heatmap equals the target.

    Args:
        sigma (float): Target standard deviation in heatmap cells.
            Defaults to 1.
        cell_offset (float): Cell position convention, see
            :func:`gaussian_axis_targets`. Defaults to 0.5 (cell centres).
        loss_weight (float): Multiplier. Defaults to 1.
    """

    def __init__(self,
                 sigma: float = 1.0,
                 cell_offset: float = 0.5,
                 loss_weight: float = 1.0):
        super().__init__()
        if not sigma > 0:
            raise ValueError(f'HeatmapKLLoss: `sigma` must be positive, got '
                             f'{sigma}.')
        self.sigma = float(sigma)
        self.cell_offset = float(cell_offset)
        self.loss_weight = float(loss_weight)

    def target_log_probs(self, coords: Tensor, spatial_shape) -> Tensor:
        """Log-probabilities of the Gaussian target over every cell.

        Args:
            coords (Tensor): ``(N, C)`` normalised ``x, y`` (and ``z``)
                targets, ``C = len(spatial_shape)``.
            spatial_shape (tuple[int]): ``(H, W)`` or ``(D, H, W)``.

        Returns:
            Tensor: ``(N, prod(spatial_shape))`` log-probabilities.
        """
        dims = len(spatial_shape)
        # coords are ordered x (W), y (H), z (D); spatial axes are (D,) H, W.
        log_q = None
        for axis in range(dims):
            size = spatial_shape[dims - 1 - axis]
            axis_log = gaussian_axis_targets(coords[:, axis], size,
                                             self.sigma, self.cell_offset)
            axis_log = axis_log - axis_log.logsumexp(-1, keepdim=True)
            view = [coords.shape[0]] + [1] * dims
            view[dims - axis] = size
            axis_log = axis_log.view(view)
            log_q = axis_log if log_q is None else log_q + axis_log
        return log_q.flatten(1)

    def forward(self,
                heatmaps: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            heatmaps (Tensor): ``(..., H, W)`` or ``(..., D, H, W)`` logits
                with leading dims ``L`` (e.g. B, T, J).
            target (Tensor): ``(*L, C)`` normalised target coordinates,
                ``C`` = the number of spatial dims (extra trailing
                coordinates are ignored).
            weight (Tensor, optional): ``(*L)`` validity; ``None`` for all
                valid.

        Returns:
            Tensor: Scalar loss (0 when no joint is valid).
        """
        lead = target.shape[:-1]
        dims = heatmaps.dim() - len(lead)
        if dims not in (2, 3) or tuple(heatmaps.shape[:len(lead)]) != tuple(
                lead) or target.shape[-1] < dims:
            raise ValueError(
                f'HeatmapKLLoss: heatmaps {tuple(heatmaps.shape)} and '
                f'targets {tuple(target.shape)} must share the leading dims '
                'and the targets need one coordinate per heatmap axis.')
        spatial = tuple(heatmaps.shape[-dims:])
        logits = heatmaps.reshape(-1, int(torch.tensor(spatial).prod()))
        coords = target[..., :dims].reshape(-1, dims).to(logits.dtype)
        log_p = logits.float().log_softmax(-1)
        log_q = self.target_log_probs(coords.float(), spatial)
        kl = (log_q.exp() * (log_q - log_p)).sum(-1)
        if weight is None:
            valid = torch.ones_like(kl)
        else:
            valid = weight.reshape(-1).to(kl.dtype)
        count = valid.sum().clamp(min=1.)
        return self.loss_weight * (kl * valid).sum() / count
