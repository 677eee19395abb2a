# Copyright (c) OpenMMLab. All rights reserved.
"""Differentiable soft-argmax over 2D or 3D heatmaps.

Coordinate convention (used by every mmblurhand module that reads or writes
normalised coordinates, see ``docs/data_contract.md``): the crop is the unit
square ``[0, 1]^2`` and a heatmap of ``S`` cells along an axis splits it into
``S`` equal cells, so cell ``i`` covers ``[i / S, (i + 1) / S]`` and its
centre is ``(i + 0.5) / S``. The soft-argmax returns the probability-weighted
mean of the cell centres, which is exactly the point
:func:`torch.nn.functional.grid_sample` reads with ``align_corners=False`` at
``2 * u - 1``. Depth uses the same convention over the ``D`` depth bins.

The official BlurHandNet and multi-hypothesis code use cell *indices*
``0 .. S-1`` (no ``+0.5``) while their targets are continuous
``x / input_w * S``, a built-in half-cell offset, and sample features with
``align_corners=True`` at ``index / (S - 1) * 2 - 1``. That is the
``'official'`` convention below, in normalised units ``index / S``; official
weights need it. ``'cell_centre'`` (the default) is the consistent one.
"""
import torch
from torch import Tensor

#: Names of the coordinate conventions (see the module docstring).
COORD_CONVENTIONS = ('cell_centre', 'official')


def check_coord_convention(convention: str, owner: str) -> str:
    """Validate a coordinate convention name.

    Args:
        convention (str): ``'cell_centre'`` or ``'official'``.
        owner (str): Name used in the error message.

    Returns:
        str: ``convention``.
    """
    if convention not in COORD_CONVENTIONS:
        raise ValueError(f'{owner}: `coord_convention` must be one of '
                         f'{COORD_CONVENTIONS}, got {convention!r}.')
    return convention


def heatmap_cell_centres(num_cells: int,
                         device=None,
                         dtype=torch.float32,
                         convention: str = 'cell_centre') -> Tensor:
    """Normalised positions of the ``num_cells`` cells of ``[0, 1]``.

    Args:
        num_cells (int): Number of cells ``S``.
        device (torch.device, optional): Device of the result.
        dtype (torch.dtype): Dtype of the result. Defaults to float32.
        convention (str): ``'cell_centre'`` (default): ``(i + 0.5) / S``;
            ``'official'``: ``i / S`` (the official cell index over ``S``).

    Returns:
        Tensor: ``(S,)`` cell positions.
    """
    offset = 0.5 if check_coord_convention(
        convention, 'heatmap_cell_centres') == 'cell_centre' else 0.
    return (torch.arange(num_cells, device=device, dtype=dtype) +
            offset) / num_cells


def soft_argmax(heatmaps: Tensor,
                num_spatial_dims: int,
                convention: str = 'cell_centre') -> Tensor:
    """Soft-argmax of unnormalised heatmaps (logits).

    A softmax runs over all ``H*W`` (2D) or ``D*H*W`` (3D) cells of each
    heatmap; the result is the expected normalised cell centre along each
    axis (see the module docstring for the convention).

    Args:
        heatmaps (Tensor): Logits of shape ``(..., H, W)`` when
            ``num_spatial_dims == 2`` or ``(..., D, H, W)`` when it is 3.
            Leading dimensions are arbitrary (e.g. B, T, J).
        num_spatial_dims (int): 2 or 3.
        convention (str): ``'cell_centre'`` (default) or ``'official'``
            (expected cell index over ``S``), see the module docstring.

    Returns:
        Tensor: Coordinates of shape ``(..., num_spatial_dims)`` ordered
        ``(x, y)`` or ``(x, y, z)`` (x along W, y along H, z along D), each
        normalised to ``[0, 1]``.
    """
    if num_spatial_dims not in (2, 3):
        raise ValueError('soft_argmax: `num_spatial_dims` must be 2 or 3, '
                         f'got {num_spatial_dims}.')
    if heatmaps.dim() < num_spatial_dims:
        raise ValueError(
            f'soft_argmax: heatmaps of shape {tuple(heatmaps.shape)} have '
            f'fewer than {num_spatial_dims} spatial dimensions.')
    spatial = heatmaps.shape[-num_spatial_dims:]
    lead = heatmaps.shape[:-num_spatial_dims]
    probs = heatmaps.flatten(-num_spatial_dims).softmax(dim=-1)
    probs = probs.view(*lead, *spatial)
    coords = []
    # Spatial axes are (D,) H, W; outputs are ordered x (W), y (H), z (D).
    for axis in range(num_spatial_dims):
        dim = probs.dim() - 1 - axis
        other = tuple(d for d in range(probs.dim() - num_spatial_dims,
                                       probs.dim()) if d != dim)
        marginal = probs.sum(dim=other)
        centres = heatmap_cell_centres(
            probs.shape[dim],
            device=probs.device,
            dtype=probs.dtype,
            convention=convention)
        coords.append(marginal @ centres)
    return torch.stack(coords, dim=-1)


def normalized_to_grid(coords: Tensor,
                       size=None,
                       convention: str = 'cell_centre') -> Tensor:
    """Map normalised ``[0, 1]`` coordinates to ``grid_sample``'s ``[-1, 1]``.

    Args:
        coords (Tensor): ``(..., 2)`` normalised x, y.
        size (Sequence[int], optional): ``(W, H)`` of the sampled map;
            needed by the ``'official'`` convention.
        convention (str): ``'cell_centre'`` (default): ``2 u - 1`` for
            ``grid_sample(..., align_corners=False)``; ``'official'``: the
            cell index ``u S`` mapped to ``u S / (S - 1) * 2 - 1`` for
            ``grid_sample(..., align_corners=True)``.

    Returns:
        Tensor: ``(..., 2)`` grid coordinates.
    """
    if check_coord_convention(convention,
                              'normalized_to_grid') == 'cell_centre':
        return coords * 2. - 1.
    if size is None:
        raise ValueError("normalized_to_grid: the 'official' convention "
                         'needs the map size (W, H).')
    width, height = size
    scale = coords.new_tensor([
        width / max(width - 1, 1), height / max(height - 1, 1)
    ])
    return coords * scale * 2. - 1.
