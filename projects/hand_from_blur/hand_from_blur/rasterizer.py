# Copyright (c) OpenMMLab. All rights reserved.
"""A differentiable, windowed soft-silhouette rasteriser in pure torch.

Every triangle ``f`` has a signed squared distance ``q_f(p) = s d^2`` to
pixel ``p``, ``d`` the distance from the pixel centre to the triangle's
outline (pixels), ``s = +1`` inside and ``-1`` outside. Two aggregations:

- ``'prob'``: SoftRas (Liu et al. 2019), ``C = 1 - prod_f (1 - D_f)`` with
  ``D_f = sigmoid(q_f / sigma)``: every nearby face contributes, but many
  small faces (a hand's are 1-3 px) near an outline add up and dilate the
  silhouette by up to about ``sqrt(sigma)``.
- ``'union'`` (default): ``C`` as above for pixels inside some face, and
  ``sigmoid(max_f q_f / sigma)`` (the distance to the nearest face) for
  pixels outside all faces. The 0.5 level set is then exactly the mesh's
  outline, so the thresholded silhouette equals the hard one for any
  ``sigma``, and the soft edge does not grow with the number of faces.

Evaluating every pixel against every face is too slow and too large on a CPU
(``/work/shared/reference/ecosystem.md`` §4 measured 17 GB at 128 px), so a
face only touches the pixels of its bounding box grown by the distance at
which ``D`` falls below ``eps``. Faces are bucketed by window size (x and y
separately, about x1.25 steps), so one large face does not make every
face's window large; each bucket is one batched computation added into the
image with ``index_add`` (``log(1 - D)``) and, for ``'union'``, a
``scatter_reduce`` maximum. No Python loop runs over faces, vertices or
images; the loop runs over the (few) window-size buckets only.

The silhouette is what the refinement needs; there is no shaded
(z-buffered) rendering: :mod:`.image_formation` uses one colour per image.

Conventions: pixel ``(x, y)`` has its centre at integer coordinates
``x = 0 .. W-1`` (as ``cv2.warpAffine`` and the synthetic generator's
cameras), ``x`` to the right and ``y`` down.
"""
import math
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from mmblurhand.registry import MODELS


def project_points(points: Tensor, focal: Tensor, princpt: Tensor,
                   eps: float = 1e-6) -> Tuple[Tensor, Tensor]:
    """Pin-hole projection to pixels.

    Args:
        points (Tensor): ``(..., V, 3)`` camera-frame points, metres.
        focal (Tensor): ``(..., 2)`` focal lengths, pixels (broadcast over
            ``V``).
        princpt (Tensor): ``(..., 2)`` principal point, pixels.
        eps (float): Smallest depth divided by. Defaults to ``1e-6``.

    Returns:
        tuple[Tensor, Tensor]: ``(..., V, 2)`` pixel coordinates and
        ``(..., V)`` depths (metres).
    """
    depth = points[..., 2]
    uv = points[..., :2] / depth.clamp(min=eps)[..., None]
    return uv * focal[..., None, :] + princpt[..., None, :], depth


def _point_triangle_sq_distance(px: Tensor, py: Tensor,
                                tri: Tensor) -> Tuple[Tensor, Tensor]:
    """Squared distance from points to triangle outlines, and insideness.

    Args:
        px, py (Tensor): ``(M, P)`` point coordinates.
        tri (Tensor): ``(M, 3, 2)`` triangles (either winding).

    Returns:
        tuple[Tensor, Tensor]: ``(M, P)`` squared distance to the nearest
        edge and a bool ``(M, P)`` inside mask (False for degenerate
        triangles).
    """
    px = px[:, None]                                   # (M, 1, P)
    py = py[:, None]
    ax = tri[:, :, 0, None]                            # (M, 3, 1)
    ay = tri[:, :, 1, None]
    ex = tri.roll(-1, dims=1)[:, :, 0, None] - ax      # edge vectors
    ey = tri.roll(-1, dims=1)[:, :, 1, None] - ay
    rel_x = px - ax                                    # (M, 3, P)
    rel_y = py - ay
    inv_len = 1.0 / (ex * ex + ey * ey).clamp(min=1e-12)
    t = ((rel_x * ex + rel_y * ey) * inv_len).clamp(0.0, 1.0)
    dx = rel_x - t * ex
    dy = rel_y - t * ey
    dist = dx * dx + dy * dy
    dist_sq = torch.minimum(torch.minimum(dist[:, 0], dist[:, 1]), dist[:,
                                                                       2])
    cross = ex * rel_y - ey * rel_x                    # (M, 3, P)
    area = (ex[:, 0] * ey[:, 2] - ey[:, 0] * ex[:, 2]).neg()  # (M, 1)
    cross = cross * torch.sign(area).detach()[:, None]
    inside = (torch.minimum(torch.minimum(cross[:, 0], cross[:, 1]),
                            cross[:, 2]) >= 0) & (area.abs() > 1e-9)
    return dist_sq, inside


def soft_silhouette(verts_2d: Tensor,
                    faces: Tensor,
                    image_size: Sequence[int],
                    sigma: float = 0.5,
                    eps: float = 1e-4,
                    face_valid: Optional[Tensor] = None,
                    max_window: Optional[int] = None,
                    aggregate: str = 'union') -> Tensor:
    """Soft silhouettes of triangle meshes, batched over leading dims.

    Args:
        verts_2d (Tensor): ``(..., V, 2)`` vertex pixel coordinates.
        faces (Tensor): ``(F, 3)`` long vertex indices.
        image_size (Sequence[int]): ``(W, H)`` pixels.
        sigma (float): Edge sharpness in squared pixels (SoftRas' sigma):
            a pixel ``sqrt(sigma)`` outside a face is covered with
            probability ``sigmoid(-1) = 0.27``. Defaults to 0.5.
        eps (float): Coverage below which a pixel is skipped; sets the
            window margin ``sqrt(sigma * log(1 / eps))``. Defaults to 1e-4.
        face_valid (Tensor, optional): ``(..., F)`` bool; False drops a face
            (e.g. one behind the camera).
        max_window (int, optional): Largest window side; bigger faces are
            clipped to it (their far parts are lost). ``None`` allows the
            whole image.
        aggregate (str): ``'union'`` or ``'prob'`` (see the module
            docstring). Defaults to ``'union'``.

    Returns:
        Tensor: ``(..., H, W)`` coverage in [0, 1].
    """
    if verts_2d.shape[-1] != 2 or verts_2d.dim() < 2:
        raise ValueError('soft_silhouette: verts_2d must be (..., V, 2), got '
                         f'{tuple(verts_2d.shape)}.')
    if faces.dim() != 2 or faces.shape[1] != 3:
        raise ValueError(f'soft_silhouette: faces must be (F, 3), got '
                         f'{tuple(faces.shape)}.')
    if sigma <= 0:
        raise ValueError(f'soft_silhouette: sigma must be > 0, got {sigma}.')
    if aggregate not in ('union', 'prob'):
        raise ValueError("soft_silhouette: aggregate must be 'union' or "
                         f"'prob', got {aggregate!r}.")
    width, height = int(image_size[0]), int(image_size[1])
    lead = verts_2d.shape[:-2]
    flat = verts_2d.reshape(-1, *verts_2d.shape[-2:])
    batch, num_faces = flat.shape[0], faces.shape[0]
    device = flat.device
    tri = flat[:, faces.to(device)]                    # (B, F, 3, 2)
    margin = math.sqrt(sigma * math.log(1.0 / eps))
    with torch.no_grad():
        low = torch.floor(tri.amin(dim=2) - margin)    # (B, F, 2)
        high = torch.ceil(tri.amax(dim=2) + margin)
        limit = torch.tensor([width - 1, height - 1], device=device,
                             dtype=low.dtype)
        low = torch.maximum(low, torch.zeros_like(low))
        high = torch.minimum(high, limit)
        size = (high - low + 1).long()                 # (B, F, 2)
        keep = (size > 0).all(-1) & torch.isfinite(tri).all(dim=-1).all(
            dim=-1)
        if face_valid is not None:
            keep &= face_valid.reshape(batch, num_faces).to(device)
        if max_window is not None:
            size = size.clamp(max=max_window)
        # window sides are rounded up to a few sizes (about x1.25 steps);
        # faces with the same (x, y) bucket are processed together
        sides = torch.tensor(_bucket_sides(max(width, height)),
                             device=device)
        bucket = torch.bucketize(size.clamp(min=1), sides)  # (B, F, 2)
        key = bucket[..., 0] * len(sides) + bucket[..., 1]
    # sum of log(1 - D_f), and ('union') the max of q_f / sigma, starting at
    # a value whose sigmoid is below eps.
    floor = math.log(eps) - 1.0
    log_empty = flat.new_zeros(batch * height * width)
    tri = tri.reshape(batch * num_faces, 3, 2)
    low = low.reshape(-1, 2).long()
    high = high.reshape(-1, 2).long()
    keep = keep.reshape(-1)
    key = key.reshape(-1)
    image_of_face = torch.arange(batch, device=device).repeat_interleave(
        num_faces)
    union_terms, union_pixels = [], []
    counts = torch.bincount(key[keep], minlength=len(sides)**2)
    for value in torch.nonzero(counts).squeeze(1).tolist():
        idx = torch.nonzero(keep & (key == value), as_tuple=False).squeeze(1)
        kx = int(sides[value // len(sides)])
        ky = int(sides[value % len(sides)])
        oy, ox = torch.meshgrid(
            torch.arange(ky, device=device),
            torch.arange(kx, device=device),
            indexing='ij')
        px = low[idx, 0, None] + ox.reshape(1, -1)     # (M, kx*ky)
        py = low[idx, 1, None] + oy.reshape(1, -1)
        inside_window = (px <= high[idx, 0, None]) & (py <= high[idx, 1,
                                                                  None])
        dist_sq, inside = _point_triangle_sq_distance(
            px.to(flat.dtype), py.to(flat.dtype), tri[idx])
        signed = torch.where(inside, dist_sq, -dist_sq) / sigma
        pixel = (image_of_face[idx, None] * height + py.clamp(
            max=height - 1)) * width + px.clamp(max=width - 1)
        pixel = pixel[inside_window]
        signed = signed[inside_window]
        # log(1 - sigmoid(x)) = -softplus(x)
        log_empty = log_empty.index_add(0, pixel,
                                        -nn.functional.softplus(signed))
        if aggregate == 'union':
            union_terms.append(signed)
            union_pixels.append(pixel)
    coverage = 1.0 - torch.exp(log_empty)
    if aggregate == 'union':
        nearest = _scatter_max(
            torch.cat(union_terms) if union_terms else flat.new_zeros(0),
            torch.cat(union_pixels) if union_pixels else torch.zeros(
                0, dtype=torch.long, device=device), batch * height * width,
            floor)
        coverage = torch.where(nearest >= 0, coverage, torch.sigmoid(nearest))
    return coverage.view(*lead, height, width)


def _bucket_sides(largest: int) -> list:
    """Window sides 1, 2, 3, 4, 5, 6, 8, 10, 12, 16, ... up to ``largest``."""
    sides, side = [1, 2, 3, 4, 5, 6], 8
    while sides[-1] < largest:
        sides += [side, side * 5 // 4, side * 3 // 2]
        side *= 2
    return sorted({min(s, largest) for s in sides})


def _scatter_max(values: Tensor, index: Tensor, size: int,
                 floor: float) -> Tensor:
    """Per-bin maximum of ``values`` (``floor`` for empty bins).

    The maximum is found without autograd; the gradient flows to the
    maximal entries (shared among ties), which is cheaper than autograd's
    ``scatter_reduce`` backward.
    """
    with torch.no_grad():
        best = values.new_full((size, ), floor).scatter_reduce(
            0, index, values, reduce='amax', include_self=True)
        is_max = values >= best[index]
        ties = values.new_zeros(size).index_add(0, index, is_max.to(
            values.dtype))
    chosen = torch.where(is_max, values, torch.zeros_like(values))
    total = values.new_zeros(size).index_add(0, index, chosen)
    return torch.where(ties > 0, total / ties.clamp(min=1.0),
                       torch.full_like(total, floor))


def hard_silhouette(verts_2d: Tensor, faces: Tensor,
                    image_size: Sequence[int]) -> Tensor:
    """Binary silhouette: pixel centres inside any face (reference).

    Dense over pixels and faces: for tests and small images only.

    Args:
        verts_2d (Tensor): ``(..., V, 2)`` pixel coordinates.
        faces (Tensor): ``(F, 3)`` long.
        image_size (Sequence[int]): ``(W, H)``.

    Returns:
        Tensor: ``(..., H, W)`` bool.
    """
    width, height = int(image_size[0]), int(image_size[1])
    lead = verts_2d.shape[:-2]
    flat = verts_2d.reshape(-1, *verts_2d.shape[-2:])
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=flat.dtype),
        torch.arange(width, dtype=flat.dtype),
        indexing='ij')
    out = []
    for mesh in flat:  # reference code: a loop over meshes is fine here
        tri = mesh[faces]                               # (F, 3, 2)
        _, inside = _point_triangle_sq_distance(
            xs.reshape(1, -1).expand(len(tri), -1),
            ys.reshape(1, -1).expand(len(tri), -1), tri)
        out.append(inside.any(dim=0).view(height, width))
    return torch.stack(out).view(*lead, height, width)


@MODELS.register_module()
class SoftSilhouetteRasterizer(nn.Module):
    """Soft silhouettes of camera-frame meshes (see :func:`soft_silhouette`).

    Args:
        sigma (float): Edge sharpness, squared pixels. Defaults to 0.5.
        eps (float): Skipped coverage. Defaults to 1e-4.
        near (float): Faces with a vertex closer than this (metres) are
            dropped. Defaults to 0.01.
        max_window (int, optional): See :func:`soft_silhouette`.
        aggregate (str): ``'union'`` or ``'prob'``. Defaults to
            ``'union'``.
        cull_backfaces (bool): Rasterise only the faces whose normal
            points towards the camera. For a closed surface (MANO's is
            closed but for the wrist opening) every silhouette pixel is
            covered by a front face, so the silhouette is unchanged while
            half the faces are skipped. Needs a consistent outward winding.
            Defaults to True.
    """

    def __init__(self,
                 sigma: float = 0.5,
                 eps: float = 1e-4,
                 near: float = 0.01,
                 max_window: Optional[int] = None,
                 aggregate: str = 'union',
                 cull_backfaces: bool = True):
        super().__init__()
        self.cull_backfaces = cull_backfaces
        if aggregate not in ('union', 'prob'):
            raise ValueError("SoftSilhouetteRasterizer: aggregate must be "
                             f"'union' or 'prob', got {aggregate!r}.")
        self.aggregate = aggregate
        self.sigma = float(sigma)
        self.eps = float(eps)
        self.near = float(near)
        self.max_window = max_window

    def forward(self, vertices: Tensor, faces: Tensor, focal: Tensor,
                princpt: Tensor, image_size: Sequence[int]) -> Tensor:
        """Render.

        Args:
            vertices (Tensor): ``(..., V, 3)`` camera-frame vertices, m.
            faces (Tensor): ``(F, 3)`` long.
            focal (Tensor): ``(..., 2)`` pixels (broadcast to ``...``).
            princpt (Tensor): ``(..., 2)`` pixels.
            image_size (Sequence[int]): ``(W, H)``.

        Returns:
            Tensor: ``(..., H, W)`` coverage in [0, 1].
        """
        lead = vertices.shape[:-2]
        focal = focal.expand(*lead, 2)
        princpt = princpt.expand(*lead, 2)
        uv, depth = project_points(vertices, focal, princpt)
        face_valid = (depth[..., faces] > self.near).all(dim=-1)
        if self.cull_backfaces:
            with torch.no_grad():
                tri = vertices[..., faces, :]           # (..., F, 3, 3)
                normal = torch.cross(tri[..., 1, :] - tri[..., 0, :],
                                     tri[..., 2, :] - tri[..., 0, :],
                                     dim=-1)
                face_valid &= (normal * tri[..., 0, :]).sum(-1) < 0
        return soft_silhouette(uv, faces, image_size, self.sigma, self.eps,
                               face_valid, self.max_window, self.aggregate)

    def extra_repr(self) -> str:
        return (f'sigma={self.sigma}, eps={self.eps}, near={self.near}, '
                f'aggregate={self.aggregate!r}, '
                f'cull_backfaces={self.cull_backfaces}')
