# Copyright (c) OpenMMLab. All rights reserved.
"""Motion-blur synthesis by sub-frame averaging, and the blur rate."""
from typing import Tuple

import numpy as np


def composite_frame(premultiplied: np.ndarray, alpha: np.ndarray,
                    background: np.ndarray) -> np.ndarray:
    """Composite one render over a background.

    Args:
        premultiplied (np.ndarray): (H, W, 3) colour times coverage, [0, 1].
        alpha (np.ndarray): (H, W) coverage in [0, 1].
        background (np.ndarray): (H, W, 3) colour in [0, 1].

    Returns:
        np.ndarray: (H, W, 3) float32 image.
    """
    return premultiplied + background * (1.0 - alpha[..., None])


def average_blur(premultiplied: np.ndarray, alpha: np.ndarray,
                 background: np.ndarray) -> np.ndarray:
    """Average sharp sub-frames over a static background into a blur.

    This is how BlurHand (and GoPro-style deblurring sets) approximate a long
    exposure: the sensor integrates light over the exposure, i.e. the mean
    of densely sampled sharp frames
    ``mean_i(P_i + (1 - a_i) B) = mean_i(P_i) + (1 - mean_i(a_i)) B`` with
    ``P_i`` the premultiplied renders and ``B`` the background.

    Args:
        premultiplied (np.ndarray): (N, H, W, 3) colour times coverage.
        alpha (np.ndarray): (N, H, W) coverage.
        background (np.ndarray): (H, W, 3) colour in [0, 1].

    Returns:
        np.ndarray: (H, W, 3) float32 blurry image.
    """
    return composite_frame(
        premultiplied.mean(axis=0, dtype=np.float32),
        alpha.mean(axis=0, dtype=np.float32), background)


def blur_rate(alpha: np.ndarray, threshold: float = 0.5) -> float:
    """Blur rate (Human from Blur, Rozumnyi et al., eq. 12).

    ``|union_i S_i| / |S_1| - 1`` with ``S_i`` the sub-frame silhouettes:
    0 for a still object, above 1 when it moves further than its own size.

    Args:
        alpha (np.ndarray): (N, H, W) coverage of the sub-frames, first
            sub-frame first.
        threshold (float): Coverage above which a pixel is in a silhouette.
            Defaults to 0.5.

    Returns:
        float: The blur rate, NaN when the first silhouette is empty.
    """
    masks = np.asarray(alpha) > threshold
    first = int(masks[0].sum())
    if first == 0:
        return float('nan')
    return float(np.logical_or.reduce(masks, axis=0).sum()) / first - 1.0


def quantise(image: np.ndarray, rng: np.random.Generator,
             noise_std: float = 0.0) -> np.ndarray:
    """Add Gaussian sensor noise and quantise an RGB image to uint8.

    Args:
        image (np.ndarray): (H, W, 3) float in [0, 1].
        rng (np.random.Generator): Random generator for the noise.
        noise_std (float): Noise standard deviation in [0, 1] units.
            Defaults to 0.

    Returns:
        np.ndarray: (H, W, 3) uint8.
    """
    if noise_std > 0:
        image = image + rng.normal(0.0, noise_std, image.shape).astype(
            np.float32)
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def silhouette_bbox(alpha: np.ndarray,
                    threshold: float = 0.5) -> Tuple[float, ...]:
    """Tight box ``(x, y, w, h)`` of the union of silhouettes.

    Args:
        alpha (np.ndarray): (N, H, W) or (H, W) coverage.
        threshold (float): Silhouette threshold. Defaults to 0.5.

    Returns:
        tuple: ``(x, y, w, h)`` in pixels, zeros when empty.
    """
    mask = np.asarray(alpha) > threshold
    if mask.ndim == 3:
        mask = mask.any(axis=0)
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return (0.0, 0.0, 0.0, 0.0)
    return (float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
            float(ys.max() - ys.min() + 1))
