# Copyright (c) OpenMMLab. All rights reserved.
"""Procedural random backgrounds (no image downloads).

Each background mixes a colour gradient, multi-octave value noise and random
shapes (rectangles, ellipses, lines), then blurs it a little, so networks
cannot separate the hand by a flat colour or by texture statistics alone.
"""
from typing import Tuple

import cv2
import numpy as np


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    """A random RGB colour in [0, 1], biased away from pure saturation."""
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(0, 200),
                      rng.uniform(30, 240)]]], dtype=np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32) / 255


def value_noise(rng: np.random.Generator, size: Tuple[int, int],
                octaves: int = 4, base_cells: int = 3,
                persistence: float = 0.55) -> np.ndarray:
    """Smooth multi-octave noise in [0, 1].

    Args:
        rng (np.random.Generator): Random generator.
        size (Tuple[int, int]): ``(w, h)``.
        octaves (int): Number of octaves. Defaults to 4.
        base_cells (int): Grid cells of the coarsest octave. Defaults to 3.
        persistence (float): Amplitude ratio between octaves. Defaults to
            0.55.

    Returns:
        np.ndarray: (h, w) float32 noise.
    """
    w, h = size
    out = np.zeros((h, w), np.float32)
    amplitude, total = 1.0, 0.0
    for octave in range(octaves):
        cells = base_cells * 2**octave
        grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
        out += amplitude * cv2.resize(
            grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amplitude
        amplitude *= persistence
    out /= total
    return np.clip((out - out.min()) / max(np.ptp(out), 1e-6), 0, 1)


def random_background(rng: np.random.Generator,
                      size: Tuple[int, int]) -> np.ndarray:
    """A random procedural RGB background.

    Args:
        rng (np.random.Generator): Random generator (the only source of
            randomness, so a seeded generator gives the same image).
        size (Tuple[int, int]): ``(w, h)``.

    Returns:
        np.ndarray: (h, w, 3) float32 RGB in [0, 1].
    """
    w, h = size
    # Gradient between two colours along a random direction.
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = (np.cos(angle) * xs / w + np.sin(angle) * ys / h)
    ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-6)
    c0, c1 = _random_colour(rng), _random_colour(rng)
    img = c0 + (c1 - c0) * ramp[..., None]
    # Coloured value noise.
    noise = value_noise(rng, size, base_cells=int(rng.integers(2, 6)))
    img = img * (1 - 0.6 * rng.random()) + (
        noise[..., None] * _random_colour(rng)) * 0.6 * rng.random()
    # Random shapes.
    canvas = (np.clip(img, 0, 1) * 255).astype(np.uint8)
    for _ in range(int(rng.integers(3, 14))):
        colour = tuple(int(c) for c in (_random_colour(rng) * 255))
        kind = rng.integers(0, 3)
        x0, y0 = int(rng.integers(-w // 4, w)), int(rng.integers(-h // 4, h))
        if kind == 0:
            x1 = x0 + int(rng.integers(w // 10, w // 2))
            y1 = y0 + int(rng.integers(h // 10, h // 2))
            cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, -1)
        elif kind == 1:
            axes = (int(rng.integers(w // 20, w // 4)),
                    int(rng.integers(h // 20, h // 4)))
            cv2.ellipse(canvas, (x0, y0), axes, float(rng.uniform(0, 180)),
                        0, 360, colour, -1, cv2.LINE_AA)
        else:
            x1, y1 = int(rng.integers(0, w)), int(rng.integers(0, h))
            cv2.line(canvas, (x0, y0), (x1, y1), colour,
                     int(rng.integers(1, max(2, w // 40))), cv2.LINE_AA)
    sigma = rng.uniform(0.3, 2.0) * w / 256
    canvas = cv2.GaussianBlur(canvas, (0, 0), sigma)
    # Global illumination change.
    gain = rng.uniform(0.6, 1.2)
    return np.clip(canvas.astype(np.float32) / 255 * gain, 0, 1)
