# Copyright (c) OpenMMLab. All rights reserved.
"""Optical-flow video interpolation and frame averaging for blur synthesis.

BlurHand averages 33 frames interpolated from 5 sharp 30 fps frames
(240 fps); averaging the 5 frames alone gives stepped, ghosted "blur"
(BlurHandNet paper, Sec. 3). The paper interpolated with a learned network
(SepConv); here the interpolation is classical, with no weights to
download:

1. **Flow**: dense optical flow in both directions between neighbouring
   frames with OpenCV's DIS (Dense Inverse Search, Kroeger et al., ECCV
   2016; default) or Farneback (polynomial expansion, SCIA 2003).
2. **Flow projection** (the "flow reversal" of Baker et al., IJCV 2011,
   Middlebury interpolation): every pixel ``p`` of frame 0 is splatted to
   its position ``p + t F01(p)`` at time ``t`` (into the 4 pixels around
   it), carrying the flow ``-t F01(p)`` back to frame 0; where several
   pixels land on one target, the most photo-consistent one wins
   (``|I0(p) - I1(p + F01(p))|`` plus the forward-backward flow error), so
   a moving hand occludes the static background it slides over. The same
   is done from frame 1 with ``F10`` and ``1 - t``. Holes are filled from
   their neighbours (normalised convolution).
3. **Bidirectional warping**: both frames are backward-warped to time
   ``t`` with the projected flows and blended with weights ``(1 - t)`` and
   ``t``, each only where its frame saw the target pixel (so uncovered
   background comes from the frame where it is visible).

For a constant motion the projected flow is exact (``-t F01(p)`` is the
true displacement of every pixel), which the tests check on a translating
pattern.

All images are ``(H, W)`` or ``(H, W, C)`` arrays, pixels; flows are
``(H, W, 2)`` float32 ``(dx, dy)`` in pixels with ``I0(x) ~ I1(x + F01(x))``.
"""
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

#: Optical-flow methods of :func:`estimate_flow`.
FLOW_METHODS = ('dis', 'farneback')

_DIS_CACHE: Dict[int, object] = {}


def _to_grey(image: np.ndarray) -> np.ndarray:
    """uint8 single-channel version of an image (colour order ignored)."""
    image = np.asarray(image)
    if image.ndim == 3:
        image = image.mean(axis=2) if image.shape[2] != 1 else image[..., 0]
    if image.dtype != np.uint8:
        image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)


def estimate_flow(src: np.ndarray,
                  dst: np.ndarray,
                  method: str = 'dis') -> np.ndarray:
    """Dense optical flow from ``src`` to ``dst``.

    Args:
        src (np.ndarray): (H, W) or (H, W, C) image, 0-255.
        dst (np.ndarray): Image of the same size.
        method (str): ``'dis'`` (OpenCV DIS, ``PRESET_MEDIUM`` computed
            down to full resolution) or ``'farneback'``. Defaults to
            ``'dis'``.

    Returns:
        np.ndarray: (H, W, 2) float32 flow ``F`` in pixels with
        ``src(x) ~ dst(x + F(x))``.
    """
    if method not in FLOW_METHODS:
        raise ValueError(f'Unknown flow method {method!r}; use one of '
                         f'{FLOW_METHODS}.')
    if np.shape(src)[:2] != np.shape(dst)[:2]:
        raise ValueError('estimate_flow needs two images of the same size, '
                         f'got {np.shape(src)} and {np.shape(dst)}.')
    grey0, grey1 = _to_grey(src), _to_grey(dst)
    if method == 'dis':
        dis = _DIS_CACHE.get(0)
        if dis is None:
            dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
            # Refine down to full resolution (the preset stops at 1/2):
            # BlurHand-size images are small, and sub-pixel accuracy of the
            # finest level is what the interpolated positions rely on.
            dis.setFinestScale(0)
            _DIS_CACHE[0] = dis
        flow = dis.calc(grey0, grey1, None)
    else:
        flow = cv2.calcOpticalFlowFarneback(
            grey0, grey1, None, pyr_scale=0.5, levels=5, winsize=15,
            iterations=5, poly_n=7, poly_sigma=1.5, flags=0)
    return np.ascontiguousarray(flow, dtype=np.float32)


def _pixel_grid(height: int, width: int) -> Tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return xs, ys


def warp_backward(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample ``image`` at ``x + flow(x)`` (bilinear, borders replicated).

    Args:
        image (np.ndarray): (H, W) or (H, W, C) image.
        flow (np.ndarray): (H, W, 2) flow, pixels.

    Returns:
        np.ndarray: float32 image of the same shape as ``image``.
    """
    xs, ys = _pixel_grid(*flow.shape[:2])
    return cv2.remap(
        np.asarray(image, dtype=np.float32),
        xs + flow[..., 0],
        ys + flow[..., 1],
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE)


def splat_cost(image0: np.ndarray, image1: np.ndarray, flow01: np.ndarray,
               flow10: np.ndarray, consistency_weight: float = 4.0
               ) -> np.ndarray:
    """How badly each pixel of frame 0 is explained by its flow.

    ``mean_c |I0(p) - I1(p + F01(p))| + w |F01(p) + F10(p + F01(p))|``
    (grey levels; the flow term in pixels times ``w``). Occluded pixels
    (e.g. background about to be covered by the hand) score high, so they
    lose the splatting contest against the pixels that occlude them.

    Args:
        image0 (np.ndarray): (H, W[, C]) frame 0, 0-255.
        image1 (np.ndarray): Frame 1.
        flow01 (np.ndarray): (H, W, 2) flow 0 -> 1.
        flow10 (np.ndarray): (H, W, 2) flow 1 -> 0.
        consistency_weight (float): Grey levels per pixel of
            forward-backward error. Defaults to 4.

    Returns:
        np.ndarray: (H, W) float32 cost.
    """
    im0 = np.asarray(image0, dtype=np.float32)
    warped = warp_backward(image1, flow01)
    photo = np.abs(im0 - warped)
    if photo.ndim == 3:
        photo = photo.mean(axis=2)
    back = warp_backward(flow10, flow01)
    fb_error = np.linalg.norm(flow01 + back, axis=-1)
    return (photo + consistency_weight * fb_error).astype(np.float32)


def cost_ranks(cost: np.ndarray) -> np.ndarray:
    """Rank of every pixel by ``cost`` (0 = lowest; ties by pixel index).

    Args:
        cost (np.ndarray): (H, W) cost.

    Returns:
        np.ndarray: (H * W,) int64 ranks.
    """
    order = np.argsort(cost.reshape(-1), kind='stable')
    ranks = np.empty_like(order)
    ranks[order] = np.arange(order.size)
    return ranks


def project_flow(flow: np.ndarray,
                 t: float,
                 cost: np.ndarray,
                 ranks: Optional[np.ndarray] = None
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """Flow from time ``t`` back to the frame ``flow`` starts from.

    Every pixel ``p`` moves to ``p + t flow(p)``; it is splatted into the
    four pixels around that point, carrying ``-t flow(p)``. Per target
    pixel the candidate with the lowest ``cost`` wins (ties: the lower
    pixel index). Pixels nobody reaches get the flow of their neighbours
    and ``covered = False``.

    Args:
        flow (np.ndarray): (H, W, 2) flow from this frame to the other one.
        t (float): Time in (0, 1) as a fraction of the frame interval.
        cost (np.ndarray): (H, W) cost of each source pixel (lower wins),
            from :func:`splat_cost`.
        ranks (np.ndarray, optional): :func:`cost_ranks` of ``cost``
            (computed when ``None``; pass it to reuse it for several
            ``t``).

    Returns:
        tuple: ``flow_t`` (H, W, 2) float32, from time ``t`` to this frame;
        ``covered`` (H, W) bool, where some pixel of this frame landed.
    """
    height, width = flow.shape[:2]
    num = height * width
    if ranks is None:
        ranks = cost_ranks(cost)
    xs, ys = _pixel_grid(height, width)
    x0 = np.floor(xs + t * flow[..., 0]).astype(np.int64).reshape(-1)
    y0 = np.floor(ys + t * flow[..., 1]).astype(np.int64).reshape(-1)
    # Lowest rank per target pixel over the 4 splat positions, O(H W).
    best = np.full(num, num, dtype=np.int64)
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        cx, cy = x0 + dx, y0 + dy
        inside = (cx >= 0) & (cx < width) & (cy >= 0) & (cy < height)
        np.minimum.at(best, (cy * width + cx)[inside], ranks[inside])
    covered = best < num
    order = np.empty_like(ranks)
    order[ranks] = np.arange(num)
    winners = order[best[covered]]
    flow_t = np.zeros((num, 2), np.float32)
    flow_t[covered] = -t * flow.reshape(-1, 2)[winners]
    flow_t = flow_t.reshape(height, width, 2)
    covered = covered.reshape(height, width)
    return fill_holes(flow_t, covered), covered


def fill_holes(values: np.ndarray, valid: np.ndarray,
               max_iters: int = 64) -> np.ndarray:
    """Fill invalid pixels from valid neighbours (normalised convolution).

    Each pass spreads the valid values by one 3x3 neighbourhood; after
    ``max_iters`` passes what is still empty becomes 0.

    Args:
        values (np.ndarray): (H, W, C) float32.
        valid (np.ndarray): (H, W) bool.
        max_iters (int): Passes. Defaults to 64.

    Returns:
        np.ndarray: (H, W, C) float32, unchanged where ``valid``.
    """
    if valid.all():
        return values
    out = values * valid[..., None]
    weight = valid.astype(np.float32)
    filled = valid.copy()
    for _ in range(max_iters):
        if filled.all():
            break
        num = cv2.blur(out * weight[..., None], (3, 3),
                       borderType=cv2.BORDER_REPLICATE)
        den = cv2.blur(weight, (3, 3), borderType=cv2.BORDER_REPLICATE)
        if num.ndim == 2:
            num = num[..., None]
        grow = (~filled) & (den > 1e-6)
        if not grow.any():
            break
        out[grow] = num[grow] / den[grow][:, None]
        weight = np.where(grow, 1.0, weight).astype(np.float32)
        filled |= grow
    return out


class FramePairInterpolator:
    """Interpolates frames between two sharp frames.

    Computes both flows and the splatting costs once; :meth:`__call__`
    then makes the frame at any time ``t`` in [0, 1].

    Args:
        image0 (np.ndarray): (H, W[, C]) first frame, 0-255 (uint8 or
            float).
        image1 (np.ndarray): Second frame, same shape.
        method (str): Flow method (:data:`FLOW_METHODS`). Defaults to
            ``'dis'``.
        flows (tuple, optional): Precomputed ``(flow01, flow10)``.
    """

    def __init__(self,
                 image0: np.ndarray,
                 image1: np.ndarray,
                 method: str = 'dis',
                 flows: Optional[Tuple[np.ndarray, np.ndarray]] = None):
        if np.shape(image0) != np.shape(image1):
            raise ValueError('Frames to interpolate must have the same '
                             f'shape, got {np.shape(image0)} and '
                             f'{np.shape(image1)}.')
        self.image0 = np.asarray(image0, dtype=np.float32)
        self.image1 = np.asarray(image1, dtype=np.float32)
        if flows is None:
            flows = (estimate_flow(image0, image1, method),
                     estimate_flow(image1, image0, method))
        self.flow01, self.flow10 = flows
        self.cost0 = splat_cost(self.image0, self.image1, self.flow01,
                                self.flow10)
        self.cost1 = splat_cost(self.image1, self.image0, self.flow10,
                                self.flow01)
        self.ranks0 = cost_ranks(self.cost0)
        self.ranks1 = cost_ranks(self.cost1)

    def flows_at(self, t: float) -> Tuple[np.ndarray, np.ndarray,
                                          np.ndarray, np.ndarray]:
        """``(flow_t0, covered0, flow_t1, covered1)`` at time ``t``."""
        flow_t0, cov0 = project_flow(self.flow01, t, self.cost0, self.ranks0)
        flow_t1, cov1 = project_flow(self.flow10, 1.0 - t, self.cost1,
                                     self.ranks1)
        return flow_t0, cov0, flow_t1, cov1

    def __call__(self, t: float) -> np.ndarray:
        """The frame at time ``t`` (0 = first frame, 1 = second).

        Returns:
            np.ndarray: float32 image of the frames' shape, 0-255.
        """
        if not 0.0 <= t <= 1.0:
            raise ValueError(f'Interpolation time must be in [0, 1], got '
                             f'{t}.')
        if t == 0.0:
            return self.image0.copy()
        if t == 1.0:
            return self.image1.copy()
        flow_t0, cov0, flow_t1, cov1 = self.flows_at(t)
        warped0 = warp_backward(self.image0, flow_t0)
        warped1 = warp_backward(self.image1, flow_t1)
        w0 = (1.0 - t) * cov0.astype(np.float32)
        w1 = t * cov1.astype(np.float32)
        total = w0 + w1
        # Seen by neither frame: plain temporal blend.
        none = total <= 0
        w0 = np.where(none, 1.0 - t, w0)
        w1 = np.where(none, t, w1)
        total = w0 + w1
        if warped0.ndim == 3:
            w0, w1, total = w0[..., None], w1[..., None], total[..., None]
        return (w0 * warped0 + w1 * warped1) / total


def interpolate_frames(frames: Sequence[np.ndarray],
                       num_subframes: int = 33,
                       method: str = 'dis') -> np.ndarray:
    """Interpolate ``N`` sharp frames to ``num_subframes`` evenly spaced ones.

    Sub-frame ``k * (S - 1) / (N - 1)`` is key frame ``k`` itself.

    Args:
        frames (Sequence[np.ndarray]): ``N >= 2`` frames (H, W[, C]),
            0-255, equally spaced in time.
        num_subframes (int): ``S``; ``S - 1`` must be a multiple of
            ``N - 1`` (33 for 5 frames = 8 sub-frames per 30 fps interval,
            i.e. 240 fps). ``S = N`` returns the frames.
        method (str): Flow method. Defaults to ``'dis'``.

    Returns:
        np.ndarray: (S, H, W[, C]) float32, 0-255.
    """
    frames = [np.asarray(f) for f in frames]
    num = len(frames)
    if num < 2:
        raise ValueError(f'Need at least 2 frames to interpolate, got {num}.')
    if num_subframes < num or (num_subframes - 1) % (num - 1):
        raise ValueError(
            f'num_subframes - 1 ({num_subframes - 1}) must be a positive '
            f'multiple of the number of intervals ({num - 1}); e.g. 33 '
            'for 5 frames.')
    for f in frames[1:]:
        if f.shape != frames[0].shape:
            raise ValueError('All frames must have the same shape, got '
                             f'{frames[0].shape} and {f.shape}.')
    per_interval = (num_subframes - 1) // (num - 1)
    out = [frames[0].astype(np.float32)]
    for i in range(num - 1):
        if per_interval > 1:
            pair = FramePairInterpolator(frames[i], frames[i + 1], method)
            out.extend(pair(j / per_interval) for j in range(1, per_interval))
        out.append(frames[i + 1].astype(np.float32))
    return np.stack(out)


def average_frames(frames: np.ndarray) -> np.ndarray:
    """Average (S, H, W[, C]) frames (0-255) into one uint8 image."""
    mean = np.asarray(frames, dtype=np.float32).mean(axis=0)
    return np.clip(np.floor(mean + 0.5), 0, 255).astype(np.uint8)


def blur_from_frames(frames: Sequence[np.ndarray],
                     num_subframes: int = 33,
                     method: str = 'dis') -> np.ndarray:
    """Synthesise motion blur from sharp frames (BlurHand recipe).

    Args:
        frames (Sequence[np.ndarray]): ``N`` consecutive sharp frames
            (H, W[, C]), uint8.
        num_subframes (int): Frames averaged after interpolation. Defaults
            to 33 (5 frames at 30 fps -> 240 fps).
        method (str): Flow method. Defaults to ``'dis'``.

    Returns:
        np.ndarray: uint8 blurry image of the frames' shape.
    """
    return average_frames(interpolate_frames(frames, num_subframes, method))
