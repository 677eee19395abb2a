# Copyright (c) OpenMMLab. All rights reserved.
"""Random cameras, skin tones and lights for synthetic BlurHand samples."""
from typing import Dict, Optional, Tuple

import numpy as np
from scipy.spatial.transform import Rotation

#: Skin albedo anchors (linear-ish RGB in [0, 1]), light to dark.
SKIN_TONES = np.array([
    [0.96, 0.80, 0.69],
    [0.90, 0.70, 0.57],
    [0.78, 0.57, 0.44],
    [0.62, 0.42, 0.30],
    [0.45, 0.30, 0.21],
    [0.32, 0.21, 0.15],
])


def sample_camera(rng: np.random.Generator,
                  image_size: Tuple[int, int],
                  target_world: np.ndarray,
                  hand_extent: float,
                  focal_range: Tuple[float, float] = (1.4, 2.6),
                  fill_range: Tuple[float, float] = (0.3, 0.6),
                  rotation: Optional[Rotation] = None
                  ) -> Dict[str, np.ndarray]:
    """A pinhole camera that sees ``target_world`` at a random place.

    The focal length is ``U(focal_range) * image width``; the distance makes
    the hand (``hand_extent`` metres) span ``U(fill_range)`` of the image;
    the target projects to a random point of the central half of the image.

    Args:
        rng (np.random.Generator): Random generator.
        image_size (Tuple[int, int]): ``(w, h)``.
        target_world (np.ndarray): (3,) point to look at, world metres.
        hand_extent (float): Hand size, metres.
        focal_range (Tuple[float, float]): Focal length range in image
            widths. Defaults to ``(1.4, 2.6)``.
        fill_range (Tuple[float, float]): Fraction of the image the hand
            spans. Defaults to ``(0.3, 0.6)``.
        rotation (Rotation, optional): World-to-camera rotation; random when
            ``None``.

    Returns:
        dict: ``rot`` (3, 3) and ``trans`` (3,) metres with
        ``X_cam = rot @ X_world + trans``; ``focal`` (2,), ``princpt`` (2,)
        pixels; ``campos`` (3,) camera centre, world metres.
    """
    w, h = image_size
    focal = rng.uniform(*focal_range) * w
    fx = focal * rng.uniform(0.98, 1.02)
    fy = focal
    princpt = np.array([(w - 1) / 2 + rng.normal(0, 0.01 * w),
                        (h - 1) / 2 + rng.normal(0, 0.01 * h)])
    depth = focal * hand_extent / (rng.uniform(*fill_range) * w)
    u = rng.uniform(0.25, 0.75) * w
    v = rng.uniform(0.25, 0.75) * h
    target_cam = np.array([(u - princpt[0]) / fx * depth,
                           (v - princpt[1]) / fy * depth, depth])
    if rotation is None:
        quat = rng.normal(size=4)
        rotation = Rotation.from_quat(quat / np.linalg.norm(quat))
    rot = rotation.as_matrix()
    trans = target_cam - rot @ target_world
    return dict(
        rot=rot,
        trans=trans,
        focal=np.array([fx, fy]),
        princpt=princpt,
        campos=-rot.T @ trans)


def sample_skin_colour(rng: np.random.Generator) -> np.ndarray:
    """A random skin albedo between the :data:`SKIN_TONES` anchors.

    Returns:
        np.ndarray: (3,) RGB in [0, 1].
    """
    pos = rng.uniform(0, len(SKIN_TONES) - 1)
    low = int(np.floor(pos))
    high = min(low + 1, len(SKIN_TONES) - 1)
    colour = SKIN_TONES[low] + (SKIN_TONES[high] - SKIN_TONES[low]) * (
        pos - low)
    colour = colour * rng.uniform(0.92, 1.08, size=3)
    return np.clip(colour, 0.0, 1.0)


def vertex_colour_variation(rng: np.random.Generator,
                            rest_vertices: np.ndarray,
                            base_colour: np.ndarray,
                            strength: float = 0.08) -> np.ndarray:
    """Per-vertex albedo: the base colour with smooth blotches.

    Args:
        rng (np.random.Generator): Random generator.
        rest_vertices (np.ndarray): (V, 3) rest-pose vertices, metres
            (positions drive the smooth pattern).
        base_colour (np.ndarray): (3,) RGB in [0, 1].
        strength (float): Relative amplitude. Defaults to 0.08.

    Returns:
        np.ndarray: (V, 3) float32 RGB in [0, 1].
    """
    freqs = rng.normal(0, 60.0, size=(4, 3))
    phases = rng.uniform(0, 2 * np.pi, size=4)
    pattern = np.sin(rest_vertices @ freqs.T + phases).mean(axis=1)
    tint = 1.0 + strength * pattern[:, None] * np.array([1.0, 1.1, 1.2])
    return np.clip(base_colour * tint, 0.0, 1.0).astype(np.float32)


def sample_lighting(rng: np.random.Generator) -> Dict[str, object]:
    """A random directional light (camera frame) and shading weights.

    Returns:
        dict: ``light_dir`` (3,) direction the light travels (into the
        scene), ``ambient``, ``diffuse``, ``specular``.
    """
    direction = rng.normal(size=3)
    direction[2] = abs(direction[2]) + 0.5
    direction /= np.linalg.norm(direction)
    return dict(
        light_dir=direction,
        ambient=float(rng.uniform(0.2, 0.5)),
        diffuse=float(rng.uniform(0.5, 0.9)),
        specular=float(rng.uniform(0.0, 0.15)))
