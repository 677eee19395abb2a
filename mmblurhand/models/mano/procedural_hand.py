# Copyright (c) OpenMMLab. All rights reserved.
"""A procedural, MANO-format hand model built from geometric primitives.

This is **MANO-format, NOT MANO**: a hand mesh with the same arrays, shapes
and conventions as the MANO model files (778 vertices, 1538 faces with an
open wrist, 16 joints with MANO's kinematic tree, 10 shape and 135 pose
blend-shape dimensions, a 45x45 pose basis and a mean pose), generated from
tubes, superellipses and capsules with analytic rules. Nothing here is fitted
to, sampled from or derived from MANO data. It lets the whole pipeline run
without the licensed model; numbers computed with it are not MANO results.

Generation (:func:`build_procedural_mano`) is deterministic and takes about
2 s on one CPU core:

1. **Skeleton** (:class:`HandSkeleton`): an adult right hand in metres, wrist
   joint at the origin, in MANO-like axes: fingers along ``-x``, back of the
   hand ``+y`` (palm facing ``-y``), thumb side ``+z``.
2. **Shape**: an implicit surface, the smooth union of a swept superellipse
   palm, thenar and hypothenar pads and tapered capsules for the phalanges.
3. **Topology**: a palm tube that starts at a 16-edge wrist opening (its
   lower rings trace the hand's cross-section, thenar included), splits off
   the thumb tube, and ends in a knuckle ring joined by quads to four finger
   tubes; every tube ends in a rounded tip whose apex is a fingertip vertex.
   The surface is a disc (one boundary loop), so ``F = 2 V - 18``. Ring sizes
   are solved so that ``V`` is exactly 778. The rings are projected onto the
   implicit surface and relaxed.
4. **Rig**: ``J_regressor`` rows are convex combinations of vertices around
   each joint, ``weights`` blend smoothly across each joint along the finger,
   ``shapedirs`` are analytic bone-length and girth changes, ``posedirs`` are
   knuckle-bulge correctives driven by flexion, ``hands_components`` an
   orthonormal synergy basis and ``hands_mean`` a relaxed curl.
5. **Indexing**: vertices are permuted so that the fingertip apexes sit at the
   ids BlurHandNet / InterHand use for MANO (thumb 745, index 317, middle 445,
   ring 556, pinky 673) and smplx's tip ids (744, 320, 443, 554, 671) lie on
   the fingertip pads.

The left hand is the mirror image of the right (``x`` negated, faces
flipped), as MANO's left model relates to its right model.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
from scipy.optimize import nnls

from .joint_orders import MANO16_JOINT_NAMES

#: Bumped whenever the generated arrays change; part of the cache key.
PROCEDURAL_MANO_VERSION = 'procedural-hand-v2'

#: MANO's 16-joint kinematic tree (parent of each joint, -1 for the root).
MANO16_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)

FINGERS = ('thumb', 'index', 'middle', 'ring', 'pinky')

# Design frame: u distal (towards the fingertips), v radial (towards the
# thumb), n dorsal (back of the hand). MANO-like output axes: x = -u, y = n,
# z = v (a proper rotation).
_DESIGN_TO_MANO = np.array([[-1., 0., 0.], [0., 0., 1.], [0., 1., 0.]])


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


@dataclass
class FingerSpec:
    """One digit of the skeleton, in the design frame (metres).

    Attributes:
        base (tuple): position of the first joint (MCP; CMC for the thumb).
        directions (tuple): unit-ish direction of each of the 3 bones.
        lengths (tuple): bone lengths; the last one ends at the fingertip.
        radii (tuple): skin radius at the 3 joints and at the tip.
        twist (tuple): rotation (rad) of the nail about the bone axis at the
            first joint and at the tip (the thumb's opposition).
        web (float): axial station (fraction of bone 1) of the first ring,
            where the tube leaves the palm.
        ring_size (int): vertices around the tube.
        num_rings (int): rings from the first one to the start of the
            rounded tip (two more rings and the apex close the tip); rings
            sit on the joints and in the widest gaps between them.
    """
    base: Tuple[float, float, float]
    directions: Tuple[Tuple[float, float, float], ...]
    lengths: Tuple[float, float, float]
    radii: Tuple[float, float, float, float]
    twist: Tuple[float, float] = (0.0, 0.0)
    web: float = 0.15
    ring_size: int = 10
    num_rings: int = 8


@dataclass
class HandSkeleton:
    """Adult right-hand proportions (metres, design frame, wrist at 0).

    Bone lengths follow typical adult anthropometry: palm (wrist to middle
    MCP) about 9 cm, palm width at the knuckles about 8 cm, index phalanges
    4.0 / 2.5 / 2.1 cm (the last to the fingertip), middle 4.5 / 2.9 / 2.2,
    ring 4.2 / 2.7 / 2.2, pinky 3.3 / 2.0 / 2.0, thumb metacarpal 4.2 cm in
    opposition and phalanges 3.2 / 2.7 cm.
    """
    fingers: Dict[str, FingerSpec] = field(default_factory=lambda: {
        'thumb': FingerSpec(
            base=(0.024, 0.019, -0.011),
            directions=((0.60, 0.74, -0.30), (0.78, 0.56, -0.28),
                        (0.86, 0.44, -0.25)),
            lengths=(0.042, 0.032, 0.027),
            radii=(0.016, 0.0115, 0.0098, 0.0088),
            twist=(0.3, -0.8), web=0.85, num_rings=8),
        'index': FingerSpec(
            base=(0.086, 0.024, 0.0),
            directions=((1.0, 0.10, 0.0), ) * 3,
            lengths=(0.040, 0.025, 0.021),
            radii=(0.0098, 0.0088, 0.0080, 0.0072)),
        'middle': FingerSpec(
            base=(0.090, 0.003, 0.001),
            directions=((1.0, 0.0, 0.0), ) * 3,
            lengths=(0.045, 0.029, 0.022),
            radii=(0.0100, 0.0091, 0.0082, 0.0074)),
        'ring': FingerSpec(
            base=(0.085, -0.016, 0.0),
            directions=((1.0, -0.09, 0.0), ) * 3,
            lengths=(0.042, 0.027, 0.022),
            radii=(0.0095, 0.0086, 0.0078, 0.0070)),
        'pinky': FingerSpec(
            base=(0.077, -0.033, -0.002),
            directions=((1.0, -0.22, 0.0), ) * 3,
            lengths=(0.033, 0.020, 0.020),
            radii=(0.0086, 0.0077, 0.0070, 0.0063), num_rings=7),
    })
    # Palm cross-sections: (u, v_min, v_max, n_min, n_max) from the wrist
    # opening to the knuckles; interpolated linearly in u.
    palm_sections: Tuple[Tuple[float, float, float, float, float], ...] = (
        (-0.030, -0.029, 0.027, -0.017, 0.016),
        (0.000, -0.029, 0.027, -0.016, 0.015),
        (0.030, -0.037, 0.031, -0.015, 0.014),
        (0.060, -0.042, 0.034, -0.013, 0.013),
        (0.085, -0.043, 0.035, -0.011, 0.012),
    )
    palm_exponent: float = 2.6
    # Palm rings as (u, relative size) from the wrist opening to below the
    # thumb and from above the thumb to below the knuckles; last comes the
    # knuckle ring (built under the four finger bases). The wrist ring has
    # ``wrist_edges`` vertices (the boundary); the other sizes are scaled so
    # that the mesh has exactly ``num_vertices`` vertices.
    wrist_edges: int = 16
    palm_rings_below: Tuple = ((-0.010, 16), (0.006, 24), (0.020, 30),
                               (0.034, 34))
    palm_rings_above: Tuple = ((0.046, 36), (0.056, 40), (0.066, 44))
    # How far the knuckle ring lies below the finger joints.
    knuckle_drop: float = 0.004
    # The thenar eminence: an ellipsoid along the thumb metacarpal, blended
    # into the palm.
    thenar_radii: Tuple[float, float, float] = (0.015, 0.010, 0.008)
    thenar_blend: float = 0.008
    # Laplacian relaxation steps after projecting onto the surface.
    relax_iterations: int = 8
    # Blend radius (m) of each digit into the palm: the first web space
    # between thumb and index is a broad fold, the others are narrow.
    web_blend: Dict[str, float] = field(default_factory=lambda: {
        'thumb': 0.014, 'index': 0.008, 'middle': 0.008, 'ring': 0.008,
        'pinky': 0.008})


def finger_joint_positions(spec: FingerSpec) -> np.ndarray:
    """Joint positions ``(4, 3)`` of a digit: 3 joints and the tip."""
    points = [np.asarray(spec.base, dtype=np.float64)]
    for direction, length in zip(spec.directions, spec.lengths):
        points.append(points[-1] + _unit(direction) * length)
    return np.stack(points)


# --------------------------------------------------------------------------
# Topology
# --------------------------------------------------------------------------
class _MeshBuilder:
    """Collects vertices (with labels) and faces of the hand surface."""

    def __init__(self):
        self.points: List[np.ndarray] = []
        self.part: List[int] = []  # -1 palm, else index in FINGERS
        self.axial: List[float] = []  # arc length from the digit's base
        self.faces: List[Tuple[int, int, int]] = []

    def add(self, points: np.ndarray, part: int, axial) -> np.ndarray:
        start = len(self.points)
        points = np.atleast_2d(points)
        self.points.extend(points)
        self.part.extend([part] * len(points))
        self.axial.extend(np.broadcast_to(axial, (len(points), )).tolist())
        return np.arange(start, start + len(points))

    def zip_chains(self, lower: np.ndarray, upper: np.ndarray) -> None:
        """Triangulate the strip between two open chains.

        Both chains run the same way round; the outward side is the one for
        which ``(lower[i], lower[i+1], upper[j])`` is counter-clockwise,
        i.e. ``lower`` is proximal and runs in the ring's increasing-angle
        direction. Each step adds the triangle whose new edge across the
        strip is the shorter one.
        """
        pts = np.asarray(self.points)
        i = j = 0
        while i < len(lower) - 1 or j < len(upper) - 1:
            if j == len(upper) - 1:
                advance_lower = True
            elif i == len(lower) - 1:
                advance_lower = False
            else:
                across_lower = np.linalg.norm(pts[lower[i + 1]] -
                                              pts[upper[j]])
                across_upper = np.linalg.norm(pts[lower[i]] -
                                              pts[upper[j + 1]])
                advance_lower = across_lower <= across_upper
            if advance_lower:
                self.faces.append((lower[i], lower[i + 1], upper[j]))
                i += 1
            else:
                self.faces.append((lower[i], upper[j + 1], upper[j]))
                j += 1

    def zip_rings(self, lower: np.ndarray, upper: np.ndarray) -> None:
        """Join two closed rings (vertex 0 of both at the same angle)."""
        self.zip_chains(np.append(lower, lower[0]), np.append(upper, upper[0]))

    def junction(self, lower: np.ndarray, children: Sequence[np.ndarray]):
        """Branch one ring into several rings side by side.

        ``lower`` and each child ring have an even size; vertex 0 is the
        radial extreme and vertex ``size // 2`` the ulnar extreme, the first
        half runs over the back of the hand. Children are ordered from the
        radial to the ulnar side. Adjacent children share one web edge.
        """
        half = len(lower) // 2
        dorsal_lower = lower[:half + 1]
        dorsal_upper = np.concatenate([c[:len(c) // 2 + 1] for c in children])
        palmar_lower = np.append(lower[half:], lower[0])
        palmar_upper = np.concatenate([
            np.append(c[len(c) // 2:], c[0]) for c in children[::-1]
        ])
        self.zip_chains(dorsal_lower, dorsal_upper)
        self.zip_chains(palmar_lower, palmar_upper)


def _ring_points(center, e1, e2, radius1, radius2, size, phase=0.0):
    """Points of an elliptic ring ``center + r1 cos(a) e1 + r2 sin(a) e2``."""
    angles = 2 * np.pi * (np.arange(size) + phase) / size
    return (np.asarray(center)[None] +
            radius1 * np.cos(angles)[:, None] * np.asarray(e1)[None] +
            radius2 * np.sin(angles)[:, None] * np.asarray(e2)[None])


def _palm_section(skel: HandSkeleton, u: float):
    """Centre ``(v, n)`` and half extents ``(w, h)`` of the palm at ``u``."""
    table = np.asarray(skel.palm_sections)
    vmin, vmax, nmin, nmax = (np.interp(u, table[:, 0], table[:, k])
                              for k in range(1, 5))
    return ((vmin + vmax) / 2, (nmin + nmax) / 2, (vmax - vmin) / 2,
            (nmax - nmin) / 2)


def _superellipse_ring(skel, u, size):
    """Palm ring at ``u``: vertex 0 radial, then over the back."""
    cv, cn, w, h = _palm_section(skel, u)
    angles = 2 * np.pi * np.arange(size) / size
    c, s = np.cos(angles), np.sin(angles)
    e = 2.0 / skel.palm_exponent
    v = cv + w * np.sign(c) * np.abs(c)**e
    n = cn + h * np.sign(s) * np.abs(s)**e
    return np.stack([np.full(size, u), v, n], axis=1)


def _digit_frames(spec: FingerSpec, axial: np.ndarray):
    """Centre, axis, and ring frame (e1 radial-ish, e2 nail side) per
    axial station of a digit (arc length from its base joint)."""
    joints = finger_joint_positions(spec)
    bounds = np.concatenate([[0.0], np.cumsum(spec.lengths)])
    dirs = _unit(np.asarray(spec.directions))
    # Smooth the axis across joints over +-4 mm.
    centers, axes = [], []
    for s in axial:
        k = int(np.clip(np.searchsorted(bounds, s, side='right') - 1, 0, 2))
        centers.append(joints[k] + dirs[k] * (s - bounds[k]))
        weights = np.array([
            np.clip(0.5 - (s - bounds[b + 1]) / 0.008, 0, 1) -
            (np.clip(0.5 - (s - bounds[b]) / 0.008, 0, 1) if b else 0.0)
            for b in range(3)
        ])
        weights = np.clip(weights, 0, None)
        axes.append(_unit((weights[:, None] * dirs).sum(0)))
    centers, axes = np.stack(centers), np.stack(axes)
    total = bounds[-1]
    twist = np.interp(axial, [0.0, total], spec.twist)
    dorsal = np.array([0.0, 0.0, 1.0])
    e2 = _unit(dorsal[None] - (axes @ dorsal)[:, None] * axes)
    e1 = np.cross(e2, axes)
    # Rotate the ring frame about the axis by the twist (opposition).
    c, s = np.cos(twist)[:, None], np.sin(twist)[:, None]
    e1, e2 = c * e1 + s * e2, -s * e1 + c * e2
    return centers, axes, e1, e2


def _digit_radius(spec: FingerSpec, axial: np.ndarray) -> np.ndarray:
    bounds = np.concatenate([[0.0], np.cumsum(spec.lengths)])
    return np.interp(axial, bounds, spec.radii)


def _ring_stations(spec: FingerSpec, start: float, end: float):
    """Axial positions of a digit's rings: ``start``, every joint inside,
    ``end``, and the remaining rings in the middle of the widest gaps."""
    joints = np.cumsum(spec.lengths)[:2]
    stations = [start] + [s for s in joints if start < s < end] + [end]
    if len(stations) > spec.num_rings:
        raise ValueError(f'{spec.num_rings} rings cannot hold the joints')
    while len(stations) < spec.num_rings:
        gaps = np.diff(stations)
        k = int(np.argmax(gaps))
        stations.insert(k + 1, stations[k] + gaps[k] / 2)
    return np.asarray(stations)


def _add_ring_under(mesh: _MeshBuilder, children: Sequence[np.ndarray],
                    place, web_gap: float = 0.004) -> np.ndarray:
    """Add the ring that :meth:`_MeshBuilder.junction` joins to
    ``children`` with one vertex per child-chain vertex, so the junction is
    a band of quads. ``place(index, point)`` positions the vertex under the
    child vertex ``index``; the two copies under a web edge are
    ``web_gap`` metres apart."""
    dorsal = np.concatenate([c[:len(c) // 2 + 1] for c in children])
    palmar = np.concatenate(
        [np.append(c[len(c) // 2:], c[0]) for c in children[::-1]])
    above = np.concatenate([dorsal, palmar[1:-1]])
    points = np.asarray(mesh.points)
    placed = np.stack([place(int(i), points[i]) for i in above])
    # A web vertex is under two ring vertices (one on each side of the
    # hand): move the back-of-hand copy up and the palm copy down so that
    # they do not coincide.
    side = np.concatenate([np.ones(len(dorsal)), -np.ones(len(palmar) - 2)])
    count = {}
    for i in above:
        count[int(i)] = count.get(int(i), 0) + 1
    twice = np.array([count[int(i)] > 1 for i in above])
    placed[twice, 2] += side[twice] * web_gap / 2
    return mesh.add(placed, -1, 0.)


def _solve_ring_sizes(below_w, above_w, budget: int, wrist: int):
    """Palm ring sizes proportional to the weights, adding up to
    ``budget``, with the wrist ring fixed and the two rings beside the thumb
    (the last lower and the first upper one) even."""
    weights = np.array(list(below_w[1:]) + list(above_w), dtype=np.float64)
    even = (len(below_w) - 2, len(below_w) - 1)
    rest = budget - wrist
    share = weights * rest / weights.sum()
    sizes = np.floor(share).astype(int)
    for k in even:
        sizes[k] -= sizes[k] % 2
    # Add the remainder to the rings furthest below their share: two at a
    # time on the even rings.
    while sizes.sum() < rest:
        gap = share - sizes
        if sizes.sum() == rest - 1:
            gap[list(even)] = -np.inf
        k = int(np.argmax(gap))
        sizes[k] += 2 if k in even else 1
    if sizes.sum() != rest or sizes.min() < 8:
        raise ValueError(f'Cannot size the palm rings for {budget} vertices')
    sizes = [wrist] + sizes.tolist()
    return sizes[:len(below_w)], sizes[len(below_w):]


def _section_ring(sdf, skel: HandSkeleton, u: float, size: int,
                  samples: int = 360) -> np.ndarray:
    """Ring of the hand's cross-section at ``u`` (thenar and hypothenar
    included), evenly spaced by arc length, vertex 0 at the radial extreme
    and then over the back of the hand.

    Rays from the palm section's centre find the first surface crossing.
    """
    cv, cn, _, _ = _palm_section(skel, u)
    angles = 2 * np.pi * np.arange(samples) / samples
    dirs = np.stack([np.zeros(samples), np.cos(angles), np.sin(angles)], 1)
    center = np.array([u, cv, cn])
    steps = np.linspace(0.0, 0.09, 91)
    pts = center[None, None] + steps[None, :, None] * dirs[:, None]
    with torch.no_grad():
        values = sdf(torch.as_tensor(pts.reshape(-1, 3))).numpy()
    values = values.reshape(samples, len(steps))
    first = np.argmax(values > 0, axis=1)  # first outside sample
    t0, t1 = steps[first - 1], steps[first]
    v0 = values[np.arange(samples), first - 1]
    v1 = values[np.arange(samples), first]
    radius = t0 + (t1 - t0) * v0 / (v0 - v1)
    contour = center[None] + radius[:, None] * dirs
    seg = np.linalg.norm(np.diff(np.vstack([contour, contour[:1]]), axis=0),
                         axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    targets = np.arange(size) * cum[-1] / size
    closed = np.vstack([contour, contour[:1]])
    return np.stack(
        [np.interp(targets, cum, closed[:, k]) for k in range(3)], 1)


def _build_topology(skel: HandSkeleton, num_vertices: int, sdf):
    """Vertices (initial positions), labels and faces of the hand surface."""
    mesh = _MeshBuilder()
    digits = {n: s for n, s in skel.fingers.items() if n != 'thumb'}
    digit_count = sum(
        spec.ring_size * (spec.num_rings + 2) + 1
        for spec in skel.fingers.values())
    # Rings built under several tubes have one vertex per tube-ring vertex,
    # the two lateral vertices of each web counted on both sides.
    knuckle_size = sum(spec.ring_size + 2 for spec in digits.values()) - 2
    below_u, below_w = map(list, zip(*skel.palm_rings_below))
    above_u, above_w = map(list, zip(*skel.palm_rings_above))
    budget = num_vertices - digit_count - knuckle_size
    below_sizes, above_sizes = _solve_ring_sizes(below_w, above_w, budget,
                                                 skel.wrist_edges)

    below = [
        mesh.add(_section_ring(sdf, skel, u, n), -1, 0.)
        for u, n in zip(below_u, below_sizes)
    ]
    above = [
        mesh.add(_superellipse_ring(skel, u, n), -1, 0.)
        for u, n in zip(above_u, above_sizes)
    ]

    digit_rings = {}
    digit_apex = {}
    for part, name in enumerate(FINGERS):
        spec = skel.fingers[name]
        total = float(np.sum(spec.lengths))
        r_tip = spec.radii[-1]
        start = spec.web * spec.lengths[0]
        cap_start = total - r_tip
        stations = _ring_stations(spec, start, cap_start)
        # Two cap rings on the rounded tip, then the apex.
        cap_angles = np.array([np.pi / 6, np.pi / 3])
        cap_axial = cap_start + r_tip * np.sin(cap_angles)
        axial = np.concatenate([stations, cap_axial])
        radius = _digit_radius(spec, axial)
        radius[-2:] = r_tip * np.cos(cap_angles)
        centers, axes, e1, e2 = _digit_frames(spec, axial)
        rings = []
        for k in range(len(axial)):
            pts = _ring_points(centers[k], e1[k], e2[k], radius[k], radius[k],
                               spec.ring_size)
            rings.append(mesh.add(pts, part, axial[k]))
        apex = finger_joint_positions(spec)[-1]
        digit_apex[name] = int(mesh.add(apex, part, total)[0])
        digit_rings[name] = rings

    # The knuckle ring: under the four finger bases, on the knuckle line.
    bases = [digit_rings[f][0] for f in FINGERS[1:]]
    knuckle_u = np.array(
        [skel.fingers[f].base[0] for f in FINGERS[1:]]) - skel.knuckle_drop
    knuckle_v = np.array([skel.fingers[f].base[1] for f in FINGERS[1:]])
    order = np.argsort(knuckle_v)

    def under_knuckles(index, point):
        point = point.copy()
        point[0] = np.interp(point[1], knuckle_v[order], knuckle_u[order])
        return point

    knuckle_ring = _add_ring_under(mesh, bases, under_knuckles)

    # Wrist -> lower palm -> junction (thumb, upper palm) -> upper palm ->
    # knuckle ring -> junction (four fingers) -> finger tubes.
    for a, b in zip(below[:-1], below[1:]):
        mesh.zip_rings(a, b)
    mesh.junction(below[-1], [digit_rings['thumb'][0], above[0]])
    upper = above + [knuckle_ring]
    for a, b in zip(upper[:-1], upper[1:]):
        mesh.zip_rings(a, b)
    mesh.junction(knuckle_ring, bases)
    palm_rings = below + upper
    for name in FINGERS:
        rings = digit_rings[name]
        for a, b in zip(rings[:-1], rings[1:]):
            mesh.zip_rings(a, b)
        last = rings[-1]
        for k in range(len(last)):
            mesh.faces.append(
                (last[k], last[(k + 1) % len(last)], digit_apex[name]))

    return dict(
        points=np.asarray(mesh.points),
        part=np.asarray(mesh.part),
        axial=np.asarray(mesh.axial),
        faces=np.asarray(mesh.faces, dtype=np.int64),
        apex=digit_apex,
        digit_rings=digit_rings,
        palm_rings=palm_rings,
    )


# --------------------------------------------------------------------------
# Implicit surface
# --------------------------------------------------------------------------
def _smin(a: torch.Tensor, b: torch.Tensor, k: float) -> torch.Tensor:
    """Polynomial smooth minimum (blend radius ``k`` metres)."""
    h = torch.clamp(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b * (1 - h) + a * h - k * h * (1 - h)


def _round_cone(p, a, b, ra, rb):
    """Signed distance to a capsule tapering from radius ``ra`` at ``a`` to
    ``rb`` at ``b`` (exact for small tapers)."""
    ab = b - a
    length_sq = (ab * ab).sum()
    t = torch.clamp(((p - a) @ ab) / length_sq, 0.0, 1.0)
    closest = a + t[:, None] * ab
    return (p - closest).norm(dim=-1) - (ra + (rb - ra) * t)


def _ellipsoid(p, center, axes, radii):
    """Approximate signed distance to an ellipsoid with orthonormal axes."""
    local = (p - center) @ axes.T / radii
    k = local.norm(dim=-1)
    return (k - 1.0) * radii.min()


def _hand_sdf(skel: HandSkeleton):
    """Implicit function of the hand (negative inside), torch, design
    frame."""
    t = lambda x: torch.as_tensor(np.asarray(x), dtype=torch.float64)  # noqa
    table = t(np.asarray(skel.palm_sections))
    knuckles = np.stack([
        finger_joint_positions(skel.fingers[f])[0] for f in FINGERS[1:]
    ])
    order = np.argsort(knuckles[:, 1])
    knuckle_v = t(knuckles[order, 1])
    knuckle_u = t(knuckles[order, 0])
    exponent = skel.palm_exponent

    def interp(x, xp, fp):
        xp, fp = xp.contiguous(), fp.contiguous()
        x = x.clamp(xp[0], xp[-1])
        idx = torch.clamp(torch.searchsorted(xp, x.contiguous()) - 1, 0,
                          len(xp) - 2)
        x0, x1 = xp[idx], xp[idx + 1]
        w = (x - x0) / (x1 - x0)
        return fp[idx] * (1 - w) + fp[idx + 1] * w

    digits = []
    for name in FINGERS:
        spec = skel.fingers[name]
        joints = t(finger_joint_positions(spec))
        radii = list(spec.radii)
        tip_dir = joints[3] - joints[2]
        tip_dir = tip_dir / tip_dir.norm()
        tip_center = joints[3] - tip_dir * radii[3]
        digits.append([(joints[0], joints[1], radii[0], radii[1]),
                       (joints[1], joints[2], radii[1], radii[2]),
                       (joints[2], tip_center, radii[2], radii[3])])
    thumb = skel.fingers['thumb']
    thumb_axis = _unit(thumb.directions[0])
    thenar_axes = np.stack([
        thumb_axis,
        _unit(np.cross([0, 0, 1.0], thumb_axis)),
        [0, 0, 1.0],
    ])
    thenar_axes[2] = _unit(np.cross(thenar_axes[0], thenar_axes[1]))
    thenar_center = t(np.asarray(thumb.base) + thumb_axis * 0.012 +
                      np.array([0.0, -0.004, -0.002]))
    thenar_axes = t(thenar_axes)
    hypothenar_center = t([0.040, -0.028, -0.004])

    def sdf(p: torch.Tensor) -> torch.Tensor:
        u, v, n = p.unbind(-1)
        vmin, vmax = interp(u, table[:, 0], table[:, 1]), interp(
            u, table[:, 0], table[:, 2])
        nmin, nmax = interp(u, table[:, 0], table[:, 3]), interp(
            u, table[:, 0], table[:, 4])
        cv, cn = (vmin + vmax) / 2, (nmin + nmax) / 2
        w, h = (vmax - vmin) / 2, (nmax - nmin) / 2
        q = ((v - cv).abs() / w)**exponent + ((n - cn).abs() / h)**exponent
        rho = (q + 1e-12)**(1 / exponent)
        section = (rho - 1) * torch.minimum(w, h)
        top = u - (interp(v, knuckle_v, knuckle_u) + 0.002)
        palm = -_smin(-section, -top, 0.010)
        palm = _smin(
            palm,
            _ellipsoid(p, thenar_center, thenar_axes,
                       t(skel.thenar_radii)), skel.thenar_blend)
        palm = _smin(
            palm,
            _ellipsoid(p, hypothenar_center, t(np.eye(3)),
                       t([0.030, 0.011, 0.011])), 0.008)
        result = palm
        for name, segments in zip(FINGERS, digits):
            digit = None
            for a, b, ra, rb in segments:
                d = _round_cone(p, a, b, ra, rb)
                digit = d if digit is None else torch.minimum(digit, d)
            result = _smin(result, digit, skel.web_blend[name])
        return result

    return sdf


def _project_to_surface(points: np.ndarray, sdf, iterations: int = 6):
    """Newton steps along the gradient onto the zero level set."""
    p = torch.as_tensor(points, dtype=torch.float64)
    for _ in range(iterations):
        p = p.detach().requires_grad_(True)
        value = sdf(p)
        (grad, ) = torch.autograd.grad(value.sum(), p)
        step = value[:, None] * grad / (grad * grad).sum(-1,
                                                         keepdim=True).clamp(
                                                             min=1e-12)
        p = p - step.clamp(-0.01, 0.01)
    return p.detach().numpy()


def _vertex_neighbours(faces: np.ndarray, num_vertices: int):
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]],
                            faces[:, [2, 0]]])
    edges = np.concatenate([edges, edges[:, ::-1]])
    edges = np.unique(edges, axis=0)
    adjacency = np.zeros((num_vertices, num_vertices))
    adjacency[edges[:, 0], edges[:, 1]] = 1.0
    return adjacency


def _relax(points, faces, sdf, movable, iterations=8, step=0.5):
    """Laplacian relaxation of ``movable`` vertices, re-projected each
    time."""
    adjacency = _vertex_neighbours(faces, len(points))
    adjacency /= adjacency.sum(1, keepdims=True)
    points = points.copy()
    for _ in range(iterations):
        target = adjacency @ points
        points[movable] += step * (target[movable] - points[movable])
        points[movable] = _project_to_surface(points[movable], sdf, 4)
    return points


def _folded_faces(points, faces, sdf, threshold=0.2) -> np.ndarray:
    """Faces whose normal disagrees with the surface normal (folds)."""
    tri = points[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True),
                         1e-15)
    center = torch.as_tensor(tri.mean(1)).requires_grad_(True)
    (grad, ) = torch.autograd.grad(sdf(center).sum(), center)
    grad = grad.numpy()
    grad /= np.maximum(np.linalg.norm(grad, axis=1, keepdims=True), 1e-15)
    return np.flatnonzero((normal * grad).sum(1) < threshold)


def _untangle(points, faces, sdf, movable, iterations=6, step=0.5):
    """Local relaxation around folded faces: their vertices and the
    vertices next to them move towards their neighbours' mean and back
    onto the surface, until no fold is left or ``iterations`` run out."""
    adjacency = _vertex_neighbours(faces, len(points))
    adjacency /= adjacency.sum(1, keepdims=True)
    points = points.copy()
    for _ in range(iterations):
        folded = _folded_faces(points, faces, sdf)
        if not len(folded):
            break
        near = np.zeros(len(points), dtype=bool)
        near[faces[folded].ravel()] = True
        near |= (adjacency[:, near] > 0).any(1)
        near &= movable
        target = adjacency @ points
        points[near] += step * (target[near] - points[near])
        points[near] = _project_to_surface(points[near], sdf, 4)
    return points


# --------------------------------------------------------------------------
# Rig
# --------------------------------------------------------------------------
def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _mano16_index(finger: str, k: int) -> int:
    """MANO-16 index of joint ``k`` (1..3) of ``finger``."""
    return MANO16_JOINT_NAMES.index(f'{finger.capitalize()}_{k}')


def _joint_digit(j: int) -> Tuple[str, int]:
    """Digit name and bone index (0..2) of MANO-16 joint ``j >= 1``."""
    finger, number = MANO16_JOINT_NAMES[j].split('_')
    return finger.lower(), int(number) - 1


def _skinning_weights(skel, points, part, axial, num_joints):
    """LBS weights ``(V, J)``: each digit vertex blends the bones on both
    sides of the nearest joint; palm vertices near the knuckles and the
    thenar eminence follow the first bone of the nearby digit."""
    num = len(points)
    weights = np.zeros((num, num_joints))
    transition = {'thumb': (0.018, 0.010, 0.008),
                  'index': (0.012, 0.008, 0.007),
                  'middle': (0.012, 0.008, 0.007),
                  'ring': (0.012, 0.008, 0.007),
                  'pinky': (0.011, 0.007, 0.006)}

    def chain_weights(s, name):
        """Weights of (wrist, bone1, bone2, bone3) along a digit."""
        spec = skel.fingers[name]
        bounds = np.concatenate([[0.0], np.cumsum(spec.lengths)])
        steps = [
            _smoothstep((s - bounds[k]) / (2 * transition[name][k]) + 0.5)
            for k in range(3)
        ]
        return np.stack([1 - steps[0], steps[0] - steps[1],
                         steps[1] - steps[2], steps[2]], -1)

    joints_of = {
        name: [0] + [_mano16_index(name, k) for k in (1, 2, 3)]
        for name in FINGERS
    }
    for idx, name in enumerate(FINGERS):
        mask = part == idx
        weights[np.ix_(mask, joints_of[name])] = chain_weights(
            axial[mask], name)

    # Palm vertices: soft assignment to the nearby fingers' first bones.
    palm = np.flatnonzero(part == -1)
    pts = points[palm]
    affinity = []
    signed_axial = []
    for name in FINGERS:
        spec = skel.fingers[name]
        base = np.asarray(spec.base)
        axis = _unit(spec.directions[0])
        rel = pts - base
        s = rel @ axis
        radial = np.linalg.norm(rel - s[:, None] * axis, axis=1)
        if name == 'thumb':
            # Thenar skin follows the metacarpal it covers.
            scale = 0.016
        else:
            scale = 0.009
        affinity.append(np.exp(-(radial / scale)**2))
        signed_axial.append(s)
    affinity = np.stack(affinity, 1)
    share = affinity / np.maximum(affinity.sum(1, keepdims=True), 1e-9)
    for idx, name in enumerate(FINGERS):
        chain = chain_weights(signed_axial[idx], name)
        strength = share[:, idx] * np.clip(affinity[:, idx] * 1.5, 0, 1)
        for col, joint in enumerate(joints_of[name][1:], start=1):
            weights[palm, joint] += strength * chain[:, col]
    weights[palm, 0] = 1 - weights[palm].sum(1) + weights[palm, 0]
    weights = np.clip(weights, 0, None)
    return weights / weights.sum(1, keepdims=True)


def _joint_regressor(points, candidates: List[np.ndarray],
                     targets: np.ndarray) -> np.ndarray:
    """Sparse convex combinations of ``candidates`` reproducing ``targets``.

    Solves a non-negative least-squares problem per joint with a heavy
    sum-to-one row and a mild pull towards uniform weights (so the joint is
    spread over a ring of vertices rather than a few).
    """
    regressor = np.zeros((len(targets), len(points)))
    for j, (cand, target) in enumerate(zip(candidates, targets)):
        x = points[cand].T * 1e3  # (3, K), millimetres
        k = len(cand)
        ridge = 0.02
        a = np.concatenate([x, 10.0 * np.ones((1, k)), ridge * np.eye(k)])
        b = np.concatenate([target * 1e3, [10.0], ridge * np.full(k, 1.0 / k)])
        w, _ = nnls(a, b)
        regressor[j, cand] = w / w.sum()
    return regressor


def _design_joints(skel) -> np.ndarray:
    """MANO-16 joint positions ``(16, 3)`` in the design frame."""
    joints = np.zeros((len(MANO16_JOINT_NAMES), 3))
    for name in FINGERS:
        pos = finger_joint_positions(skel.fingers[name])
        for k in (1, 2, 3):
            joints[_mano16_index(name, k)] = pos[k - 1]
    return joints


# --------------------------------------------------------------------------
# Shape space
# --------------------------------------------------------------------------
#: The 10 analytic shape directions, in order: (name, relative change per
#: unit beta). Bones of a digit scale along their axis for lengths and across
#: it for girth.
SHAPE_DIRECTIONS = (
    ('overall size', 0.035),
    ('finger length', 0.045),
    ('palm width', 0.045),
    ('hand thickness', 0.05),
    ('thumb length', 0.05),
    ('palm length', 0.04),
    ('finger girth', 0.06),
    ('index vs ring length', 0.04),
    ('pinky length', 0.06),
    ('palm pad fullness', 0.12),
)


def _shape_factors(k: int, beta: float):
    """Per-part scale factors for shape direction ``k`` at value ``beta``."""
    f = dict(size=1.0, palm_u=1.0, palm_v=1.0, palm_n=1.0, pad=1.0,
             length={n: 1.0 for n in FINGERS},
             girth={n: 1.0 for n in FINGERS})
    step = SHAPE_DIRECTIONS[k][1] * beta
    if k == 0:
        f['size'] += step
    elif k == 1:
        for n in FINGERS[1:]:
            f['length'][n] += step
    elif k == 2:
        f['palm_v'] += step
    elif k == 3:
        f['palm_n'] += step
        for n in FINGERS:
            f['girth'][n] += step
    elif k == 4:
        f['length']['thumb'] += step
    elif k == 5:
        f['palm_u'] += step
    elif k == 6:
        for n in FINGERS:
            f['girth'][n] += step
    elif k == 7:
        f['length']['index'] += step
        f['length']['ring'] -= step
    elif k == 8:
        f['length']['pinky'] += step
    elif k == 9:
        f['pad'] += step
    return f


def _shaped_points(skel, points, weights, factors):
    """Vertices after applying per-bone affine changes, blended by
    ``weights``. Joints move with their parent bones."""
    palm_scale = np.diag([factors['palm_u'], factors['palm_v'],
                          factors['palm_n']])
    joints = _design_joints(skel)
    new_joints = joints.copy()
    transforms = {0: palm_scale}
    for name in FINGERS:
        spec = skel.fingers[name]
        pos = finger_joint_positions(spec)
        ids = [_mano16_index(name, k) for k in (1, 2, 3)]
        new_joints[ids[0]] = palm_scale @ pos[0]
        for k in range(3):
            axis = _unit(spec.directions[k])
            along = factors['length'][name]
            across = factors['girth'][name]
            m = across * np.eye(3) + (along - across) * np.outer(axis, axis)
            transforms[ids[k]] = m
            if k < 2:
                new_joints[ids[k + 1]] = new_joints[ids[k]] + m @ (pos[k + 1] -
                                                                   pos[k])
    out = np.zeros_like(points)
    for j, m in transforms.items():
        out += weights[:, j:j + 1] * (new_joints[j] + (points - joints[j]) @
                                      m.T)
    # Palm pads: the palmar side of the palm gets fuller.
    palmar = np.clip(-(points[:, 2] + 0.004) / 0.012, 0, 1) * weights[:, 0]
    out[:, 2] -= (factors['pad'] - 1) * 0.01 * palmar
    return out * factors['size']


def _shapedirs(skel, points, weights):
    """``(V, 3, 10)`` shape directions (design frame)."""
    dirs = []
    for k in range(len(SHAPE_DIRECTIONS)):
        plus = _shaped_points(skel, points, weights, _shape_factors(k, 1.0))
        minus = _shaped_points(skel, points, weights, _shape_factors(k, -1.0))
        dirs.append((plus - minus) / 2)
    return np.stack(dirs, -1)


# --------------------------------------------------------------------------
# Pose space
# --------------------------------------------------------------------------
def _bone_frames(skel):
    """Per MANO-16 joint (except the wrist): bone axis ``d`` and palmar
    direction ``p`` (nail side negated), design frame."""
    frames = {}
    for name in FINGERS:
        spec = skel.fingers[name]
        lengths = np.cumsum(spec.lengths)
        axial = np.array([0.0, lengths[0], lengths[1]]) + 1e-4
        _, axes, _, e2 = _digit_frames(spec, axial)
        for k in range(3):
            frames[_mano16_index(name, k + 1)] = (axes[k], -e2[k])
    return frames


def _flexion_axes(skel) -> np.ndarray:
    """Unit flexion axis ``(15, 3)`` of every non-root joint: a positive
    rotation about it bends the bone towards the palm."""
    frames = _bone_frames(skel)
    return np.stack([
        _unit(np.cross(frames[j][0], frames[j][1]))
        for j in range(1, len(MANO16_JOINT_NAMES))
    ])


def _spread_axes(skel) -> np.ndarray:
    """Unit abduction axis ``(15, 3)`` (the nail direction)."""
    frames = _bone_frames(skel)
    return np.stack(
        [-frames[j][1] for j in range(1, len(MANO16_JOINT_NAMES))])


def _posedirs(skel, points, part, axial):
    """Knuckle correctives ``(V, 3, 9 * 15)``: when a joint flexes by
    ``theta`` the skin over its back bulges out and the crease on the palm
    side sinks in, both by ``~ sin(theta)`` millimetres."""
    frames = _bone_frames(skel)
    num_pose = len(MANO16_JOINT_NAMES) - 1
    posedirs = np.zeros((len(points), 3, 9 * num_pose))
    for j in range(1, len(MANO16_JOINT_NAMES)):
        d, p = frames[j]
        # Flexion measure p^T (R - I) d = sum_kl p_k d_l (R - I)_kl.
        feature = np.outer(p, d).reshape(9)
        name, k = _joint_digit(j)
        idx = FINGERS.index(name)
        spec = skel.fingers[name]
        s_joint = np.concatenate([[0.0], np.cumsum(spec.lengths)])[k]
        center = finger_joint_positions(spec)[k]
        if k == 0:
            # The first joint sits in the palm: use distance to it.
            dist = np.linalg.norm(points - center, axis=1)
            near = np.exp(-(dist / 0.014)**2)
        else:
            near = np.exp(-((axial - s_joint) / 0.006)**2) * (part == idx)
        rel = points - center
        rel -= (rel @ d)[:, None] * d
        radial = _unit(rel + 1e-12)
        dorsalness = -(radial @ p)
        offset = np.where(dorsalness > 0, 0.0015 * dorsalness,
                          0.0010 * dorsalness)
        posedirs[:, :, (j - 1) * 9:j * 9] = (
            (near * offset)[:, None, None] * radial[:, :, None] *
            feature[None, None, :])
    return posedirs


def _hands_mean(skel) -> np.ndarray:
    """A relaxed curl (axis-angle ``(45,)``), growing towards the pinky."""
    curl = {'thumb': (0.10, 0.15, 0.12), 'index': (0.18, 0.28, 0.14),
            'middle': (0.22, 0.32, 0.16), 'ring': (0.26, 0.34, 0.17),
            'pinky': (0.32, 0.36, 0.18)}
    axes = _flexion_axes(skel)
    mean = np.zeros((len(MANO16_JOINT_NAMES) - 1, 3))
    for name, angles in curl.items():
        for k, angle in enumerate(angles):
            j = _mano16_index(name, k + 1)
            mean[j - 1] = angle * axes[j - 1]
    return mean.reshape(-1)


def _hands_components(skel) -> np.ndarray:
    """Orthonormal ``(45, 45)`` pose basis, rows ordered as synergies:
    whole-hand flexion, thumb opposition, finger spread, MCP vs PIP/DIP,
    index-to-pinky flexion gradient, then the remaining single-joint
    directions (orthonormalised)."""
    flex = _flexion_axes(skel)
    spread = _spread_axes(skel)
    num = len(flex)

    def vec(fn):
        out = np.zeros((num, 3))
        for name in FINGERS:
            for k in (1, 2, 3):
                j = _mano16_index(name, k)
                out[j - 1] = fn(name, k, j - 1)
        return out.reshape(-1)

    order = {n: i for i, n in enumerate(FINGERS)}
    synergies = [
        vec(lambda n, k, i: flex[i] * (n != 'thumb')),
        vec(lambda n, k, i: flex[i] * (n == 'thumb')),
        vec(lambda n, k, i: spread[i] * (k == 1) * (2.0 - order[n]) *
            (n != 'thumb')),
        vec(lambda n, k, i: flex[i] * (1.0 if k == 1 else -0.5) *
            (n != 'thumb')),
        vec(lambda n, k, i: flex[i] * (order[n] - 2.5) * (n != 'thumb')),
    ]
    single = [vec(lambda n, k, i, jj=jj, ax=ax: ax[i] * (i == jj))
              for ax in (flex, spread) for jj in range(num)]
    basis = np.eye(3 * num)
    candidates = np.concatenate([np.stack(synergies), np.stack(single),
                                 basis])
    rows = []
    for c in candidates:
        for r in rows:
            c = c - (c @ r) * r
        norm = np.linalg.norm(c)
        if norm > 1e-6:
            rows.append(c / norm)
        if len(rows) == 3 * num:
            break
    return np.stack(rows)


#: Named poses as (flexion, spread) angles in radians for the 3 joints of
#: each digit; positive flexion bends towards the palm, positive spread
#: turns the digit about its nail axis towards the thumb side.
NAMED_POSES = {
    'flat': {},
    'fist': {
        'thumb': ((0.35, -0.55), (0.55, 0.0), (0.75, 0.0)),
        'index': ((1.45, 0.0), (1.65, 0.0), (0.95, 0.0)),
        'middle': ((1.5, 0.0), (1.65, 0.0), (0.95, 0.0)),
        'ring': ((1.5, 0.0), (1.65, 0.0), (0.95, 0.0)),
        'pinky': ((1.5, 0.0), (1.6, 0.0), (0.95, 0.0)),
    },
    'pinch': {
        'thumb': ((0.08, -0.43), (0.15, 0.0), (0.8, 0.0)),
        'index': ((0.77, -0.1), (1.0, 0.0), (0.58, 0.0)),
        'middle': ((0.35, 0.0), (0.45, 0.0), (0.25, 0.0)),
        'ring': ((0.45, 0.0), (0.5, 0.0), (0.25, 0.0)),
        'pinky': ((0.55, 0.0), (0.5, 0.0), (0.25, 0.0)),
    },
    'point': {
        'thumb': ((0.35, -0.55), (0.55, 0.0), (0.75, 0.0)),
        'middle': ((1.5, 0.0), (1.65, 0.0), (0.95, 0.0)),
        'ring': ((1.5, 0.0), (1.65, 0.0), (0.95, 0.0)),
        'pinky': ((1.5, 0.0), (1.6, 0.0), (0.95, 0.0)),
    },
}


def procedural_hand_pose(name: str, side: str = 'right') -> np.ndarray:
    """A named hand pose of the procedural hand, axis-angle ``(45,)``.

    The pose is absolute (use it with ``flat_hand_mean=True``, or subtract
    ``hands_mean`` for the default ``flat_hand_mean=False``). ``'relaxed'``
    is the model's ``hands_mean``. Flexion axes are those of the procedural
    skeleton; on real MANO the same numbers give a similar, not identical,
    pose.

    Args:
        name (str): ``'flat'``, ``'relaxed'``, ``'fist'``, ``'pinch'`` or
            ``'point'``.
        side (str): ``'right'`` or ``'left'`` (mirrored axes).

    Returns:
        np.ndarray: ``(45,)`` MANO-16 order without the wrist.
    """
    skel = HandSkeleton()
    if name == 'relaxed':
        pose = _hands_mean(skel)
    elif name in NAMED_POSES:
        flex, spread = _flexion_axes(skel), _spread_axes(skel)
        pose = np.zeros_like(flex)
        for digit, angles in NAMED_POSES[name].items():
            for k, (bend, turn) in enumerate(angles):
                j = _mano16_index(digit, k + 1) - 1
                pose[j] = bend * flex[j] + turn * spread[j]
        pose = pose.reshape(-1)
    else:
        raise ValueError(f'Unknown pose {name!r}; choose from '
                         f'{["relaxed"] + sorted(NAMED_POSES)}')
    pose = (pose.reshape(-1, 3) @ _DESIGN_TO_MANO.T)
    if side == 'left':
        pose = pose * np.array([1.0, -1.0, -1.0])
    elif side != 'right':
        raise ValueError(f"side must be 'right' or 'left', got {side!r}")
    return pose.reshape(-1)


def _design_to_mano_vectors(x: np.ndarray) -> np.ndarray:
    """Rotate ``(..., 3)`` design-frame vectors into MANO-like axes."""
    return x @ _DESIGN_TO_MANO.T


# --------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------
def _place_ids(num_vertices: int, placements: Dict[int, int]) -> np.ndarray:
    """``new_to_old`` permutation putting old vertex ``o`` at new id ``n``
    for each ``{n: o}`` and keeping everything else in order."""
    new_to_old = np.full(num_vertices, -1, dtype=np.int64)
    for new, old in placements.items():
        new_to_old[new] = old
    rest = np.setdiff1d(np.arange(num_vertices), list(placements.values()))
    new_to_old[new_to_old < 0] = rest
    return new_to_old


def build_procedural_mano(
    num_vertices: int = 778,
    tip_vertex_ids: Sequence[int] = (745, 317, 445, 556, 673),
    pad_vertex_ids: Sequence[int] = (744, 320, 443, 554, 671),
    num_betas: int = 10,
    skeleton: HandSkeleton = None,
) -> Dict[str, np.ndarray]:
    """Generate the right-hand procedural MANO-format model.

    Args:
        num_vertices (int): vertex count (MANO: 778).
        tip_vertex_ids (Sequence[int]): ids of the fingertip apexes, thumb,
            index, middle, ring, pinky (BlurHandNet's MANO tips).
        pad_vertex_ids (Sequence[int]): ids given to a vertex of each
            fingertip's last ring (smplx's MANO tips), same finger order.
        num_betas (int): number of shape directions (at most 10).
        skeleton (HandSkeleton, optional): proportions; default adult hand.

    Returns:
        dict: MANO's nine keys (``v_template``, ``f``, ``J_regressor``,
        ``weights``, ``kintree_table``, ``shapedirs``, ``posedirs``,
        ``hands_components``, ``hands_mean``), float64 / int arrays, in
        MANO-like axes and metres.
    """
    skel = skeleton or HandSkeleton()
    if num_betas > len(SHAPE_DIRECTIONS):
        raise ValueError(f'The procedural hand has {len(SHAPE_DIRECTIONS)} '
                         f'shape directions, {num_betas} were requested.')
    # The implicit-surface steps work on ~800 points: thread start-up costs
    # more than it saves, and much more on a busy machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _build(skel, num_vertices, tip_vertex_ids, pad_vertex_ids,
                      num_betas)
    finally:
        torch.set_num_threads(threads)


def _build(skel, num_vertices, tip_vertex_ids, pad_vertex_ids, num_betas):
    """The body of :func:`build_procedural_mano`."""
    sdf = _hand_sdf(skel)
    topo = _build_topology(skel, num_vertices, sdf)
    points, part, axial, faces = (topo['points'], topo['part'],
                                  topo['axial'], topo['faces'])
    apex = np.array([topo['apex'][f] for f in FINGERS])
    movable = np.ones(len(points), dtype=bool)
    movable[apex] = False
    points[movable] = _project_to_surface(points[movable], sdf)
    # The wrist opening stays a planar ring (relaxing it would pull it
    # towards the palm).
    movable[topo['palm_rings'][0]] = False
    points = _relax(points, faces, sdf, movable, skel.relax_iterations)
    points = _untangle(points, faces, sdf, movable)

    num_joints = len(MANO16_JOINT_NAMES)
    joints = _design_joints(skel)
    weights = _skinning_weights(skel, points, part, axial, num_joints)

    # Regressor candidates: vertices near each joint (digit vertices of the
    # same digit when the joint is on the digit).
    candidates = []
    for j, name in enumerate(MANO16_JOINT_NAMES):
        dist = np.linalg.norm(points - joints[j], axis=1)
        if name == 'Wrist':
            cand = np.concatenate(topo['palm_rings'][:2])
        else:
            finger = name.split('_')[0].lower()
            same = part == FINGERS.index(finger)
            if name.endswith('_1'):
                same = same | (part == -1)
            cand = np.flatnonzero(same & (dist < 0.03))
            cand = cand[np.argsort(dist[cand])][:24]
        candidates.append(cand)
    j_regressor = _joint_regressor(points, candidates, joints)

    shapedirs = _shapedirs(skel, points, weights)[:, :, :num_betas]
    posedirs = _posedirs(skel, points, part, axial)
    hands_mean = _hands_mean(skel)
    hands_components = _hands_components(skel)

    # Vertex ids: apexes and pad vertices at MANO's tip ids.
    placements = {}
    for k, name in enumerate(FINGERS):
        last_ring = topo['digit_rings'][name][-1]
        spec = skel.fingers[name]
        # The palmar-most vertex of the last ring (the pad).
        pad = last_ring[(3 * spec.ring_size) // 4]
        placements[int(tip_vertex_ids[k])] = int(topo['apex'][name])
        placements[int(pad_vertex_ids[k])] = int(pad)
    new_to_old = _place_ids(len(points), placements)
    old_to_new = np.argsort(new_to_old)

    kintree = np.stack([np.array(MANO16_PARENTS, dtype=np.int64),
                        np.arange(num_joints, dtype=np.int64)])
    kintree[0, 0] = np.iinfo(np.uint32).max  # as in MANO files

    to_mano = _design_to_mano_vectors
    posedirs_mano = np.einsum('ab,vbf->vaf', _DESIGN_TO_MANO, posedirs)
    # Pose features are (R - I) in the design frame; in MANO axes a
    # rotation is Q R Q^T, so features transform as Q F Q^T.
    q = _DESIGN_TO_MANO
    pd = posedirs_mano.reshape(len(points), 3, num_joints - 1, 3, 3)
    pd = np.einsum('vcjkl,ak,bl->vcjab', pd, q, q)
    return dict(
        v_template=to_mano(points)[new_to_old],
        f=old_to_new[faces].astype(np.uint32),
        J_regressor=j_regressor[:, new_to_old],
        weights=weights[new_to_old],
        kintree_table=kintree,
        shapedirs=np.einsum('ab,vbk->vak', q, shapedirs)[new_to_old],
        posedirs=pd.reshape(len(points), 3, -1)[new_to_old],
        hands_components=(hands_components.reshape(-1, num_joints - 1, 3) @
                          q.T).reshape(len(hands_components), -1),
        hands_mean=(hands_mean.reshape(-1, 3) @ q.T).reshape(-1),
    )


def mirror_mano_arrays(arrays: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """The other hand: mirror through the ``x = 0`` plane.

    Vertex and shape ``x`` components are negated, faces are flipped to keep
    the outward winding, axis-angle vectors ``(a, b, c)`` become
    ``(a, -b, -c)`` (rotations conjugated by the reflection), and pose blend
    shapes are mirrored on both the offset and the pose-feature side.

    Args:
        arrays (dict): MANO-format arrays of one hand.

    Returns:
        dict: the arrays of the mirrored hand (new arrays).
    """
    reflect = np.array([-1.0, 1.0, 1.0])
    axial_reflect = np.array([1.0, -1.0, -1.0])
    out = dict(arrays)
    out['v_template'] = arrays['v_template'] * reflect
    out['f'] = arrays['f'][:, ::-1].copy()
    out['shapedirs'] = arrays['shapedirs'] * reflect[None, :, None]
    num_vertices = arrays['posedirs'].shape[0]
    pd = arrays['posedirs'].reshape(num_vertices, 3, -1, 3, 3)
    pd = pd * reflect[None, :, None, None, None] * reflect[
        None, None, None, :, None] * reflect[None, None, None, None, :]
    out['posedirs'] = pd.reshape(arrays['posedirs'].shape)
    mean = arrays['hands_mean'].reshape(-1, 3) * axial_reflect
    out['hands_mean'] = mean.reshape(-1)
    comps = arrays['hands_components']
    out['hands_components'] = (comps.reshape(len(comps), -1, 3) *
                               axial_reflect).reshape(comps.shape)
    return out


def procedural_mano_arrays(side: str = 'right') -> Dict[str, np.ndarray]:
    """The procedural model of one hand (``'right'`` or ``'left'``)."""
    if side not in ('right', 'left'):
        raise ValueError(f"side must be 'right' or 'left', got {side!r}")
    arrays = build_procedural_mano()
    return arrays if side == 'right' else mirror_mano_arrays(arrays)


__all__ = [
    'PROCEDURAL_MANO_VERSION', 'MANO16_PARENTS', 'HandSkeleton', 'FingerSpec',
    'build_procedural_mano', 'mirror_mano_arrays', 'procedural_mano_arrays',
    'SHAPE_DIRECTIONS', 'NAMED_POSES', 'procedural_hand_pose'
]
