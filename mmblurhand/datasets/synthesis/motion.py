# Copyright (c) OpenMMLab. All rights reserved.
"""Smooth random hand motions for blur synthesis.

A motion is sampled the way BlurHand was built: ``K`` key frames at 30 fps
(default 5) are interpolated to ``(K - 1) * 8 + 1`` sub-frames (240 fps,
33 for 5 key frames) by cubic splines. Key frames follow a constant
acceleration path plus a little jitter, in three parts whose speeds are
drawn per sample, so blur ranges from slight to severe:

- finger articulation: flexion and spread angles of every joint, kept inside
  joint limits (:class:`HandArticulation`), with a curl shared by all fingers
  plus per-finger and per-joint variation;
- wrist rotation: an angular velocity and acceleration about random axes;
- wrist translation: a linear velocity and acceleration.

Everything is in the world frame of the hand model and in metres / radians;
all randomness comes from the ``numpy.random.Generator`` passed in.
"""
from dataclasses import dataclass
from typing import Dict, Sequence, Tuple

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.spatial.transform import Rotation

#: Flexion limits (rad, from the flat hand) of joints 1-3 of each finger.
FLEX_LIMITS = {
    'Thumb': ((-0.4, 0.9), (-0.3, 0.9), (-0.3, 1.3)),
    'finger': ((-0.3, 1.5), (-0.05, 1.8), (-0.1, 1.3)),
}
#: Spread (abduction) limits (rad) of joints 1-3 of each finger.
SPREAD_LIMITS = {
    'Thumb': ((-0.5, 0.5), (-0.15, 0.15), (0.0, 0.0)),
    'finger': ((-0.3, 0.3), (0.0, 0.0), (0.0, 0.0)),
}


def _unit(vec: np.ndarray) -> np.ndarray:
    return vec / np.maximum(np.linalg.norm(vec, axis=-1, keepdims=True),
                            1e-12)


@dataclass
class HandArticulation:
    """Joint axes and limits of a MANO-format hand, per finger joint.

    Attributes:
        finger_names (tuple): Finger of each of the ``P`` posed joints
            (MANO-16 order without the wrist).
        joint_numbers (tuple): 1, 2 or 3 along the finger, per joint.
        flex_axes (np.ndarray): (P, 3) unit flexion axes (rest frame).
        spread_axes (np.ndarray): (P, 3) unit abduction axes.
        flex_limits (np.ndarray): (P, 2) flexion range, rad.
        spread_limits (np.ndarray): (P, 2) spread range, rad.
        hands_mean (np.ndarray): (3 * P,) the model's mean pose.
    """
    finger_names: Tuple[str, ...]
    joint_numbers: Tuple[int, ...]
    flex_axes: np.ndarray
    spread_axes: np.ndarray
    flex_limits: np.ndarray
    spread_limits: np.ndarray
    hands_mean: np.ndarray

    @property
    def num_joints(self) -> int:
        """Number of posed (non-wrist) joints ``P``."""
        return len(self.finger_names)

    @classmethod
    def from_layer(cls, layer) -> 'HandArticulation':
        """Derive axes from a :class:`~mmblurhand.models.mano.ManoLayer`.

        The flexion axis of a joint is the axis of the model's mean pose
        there (MANO's mean, and the procedural hand's, is a relaxed curl);
        where the mean is near zero it is the axis perpendicular to the bone
        and the palm normal, signed like the mean curl of the fingers. The
        spread axis is perpendicular to the bone and the flexion axis.

        Args:
            layer (ManoLayer): The hand model (either side).

        Returns:
            HandArticulation: Axes and limits for that model.
        """
        import torch

        from mmblurhand.models.mano import MANO16_JOINT_NAMES
        from mmblurhand.models.mano import MANO21_JOINT_NAMES
        mean = layer.hands_mean.detach().cpu().double().numpy()
        num_pose = mean.shape[0] // 3
        with torch.no_grad():
            flat = layer(
                torch.zeros(1, 3), -layer.hands_mean[None],
                torch.zeros(1, layer.num_betas)).joints[0].double().numpy()
        names21 = list(MANO21_JOINT_NAMES)
        posed = MANO16_JOINT_NAMES[1:1 + num_pose]
        bones = []
        for name in posed:
            finger, k = name.split('_')
            child = f'{finger}_{int(k) + 1}'
            bones.append(flat[names21.index(child)] -
                         flat[names21.index(name)])
        bones = _unit(np.stack(bones))
        wrist = flat[names21.index('Wrist')]
        palm_normal = _unit(
            np.cross(flat[names21.index('Middle_1')] - wrist,
                     flat[names21.index('Index_1')] -
                     flat[names21.index('Pinky_1')]))
        geometric = _unit(np.cross(palm_normal, bones))
        mean_axes = mean.reshape(num_pose, 3)
        is_finger = np.array([not n.startswith('Thumb') for n in posed])
        sign = np.sign(
            np.sum(geometric[is_finger] * mean_axes[is_finger])) or 1.0
        geometric = geometric * sign
        mean_norm = np.linalg.norm(mean_axes, axis=1, keepdims=True)
        flex_axes = np.where(mean_norm > 1e-3, _unit(mean_axes), geometric)
        spread_axes = _unit(np.cross(flex_axes, bones))
        finger_names = tuple(n.split('_')[0] for n in posed)
        joint_numbers = tuple(int(n.split('_')[1]) for n in posed)

        def table(limits):
            return np.array([
                limits['Thumb' if f == 'Thumb' else 'finger'][k - 1]
                for f, k in zip(finger_names, joint_numbers)
            ])

        return cls(finger_names, joint_numbers, flex_axes, spread_axes,
                   table(FLEX_LIMITS), table(SPREAD_LIMITS), mean)

    def clip(self, flex: np.ndarray,
             spread: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Clip angles (..., P) to the joint limits."""
        return (np.clip(flex, self.flex_limits[:, 0], self.flex_limits[:, 1]),
                np.clip(spread, self.spread_limits[:, 0],
                        self.spread_limits[:, 1]))

    def hand_pose(self, flex: np.ndarray, spread: np.ndarray) -> np.ndarray:
        """MANO ``hand_pose`` (relative to the mean) from joint angles.

        Args:
            flex (np.ndarray): (..., P) flexion, rad from the flat hand.
            spread (np.ndarray): (..., P) spread, rad.

        Returns:
            np.ndarray: (..., 3 * P) axis-angle pose minus the mean pose
            (``flat_hand_mean=False`` convention).
        """
        full = flex[..., None] * self.flex_axes + \
            spread[..., None] * self.spread_axes
        return full.reshape(flex.shape[:-1] + (-1, )) - self.hands_mean


def random_rotation(rng: np.random.Generator) -> Rotation:
    """A uniformly distributed random rotation."""
    quat = rng.normal(size=4)
    return Rotation.from_quat(quat / np.linalg.norm(quat))


def _random_direction(rng: np.random.Generator, size: int = 3) -> np.ndarray:
    vec = rng.normal(size=size)
    return vec / max(np.linalg.norm(vec), 1e-12)


def sample_articulation(rng: np.random.Generator,
                        art: HandArticulation) -> Tuple[np.ndarray,
                                                        np.ndarray]:
    """A random static hand configuration within the joint limits.

    A global curl in [0, 1] is shared by all fingers, each finger deviates
    from it, and each joint a little more; spread shrinks as fingers curl.

    Args:
        rng (np.random.Generator): Random generator.
        art (HandArticulation): Axes and limits.

    Returns:
        tuple: ``flex`` and ``spread``, each (P,) rad.
    """
    fingers = sorted(set(art.finger_names))
    curl = rng.uniform(0.0, 1.0)
    finger_curl = {
        f: np.clip(curl + rng.normal(0, 0.3), 0.0, 1.0)
        for f in fingers
    }
    c = np.array([finger_curl[f] for f in art.finger_names])
    c = np.clip(c + rng.normal(0, 0.08, size=c.shape), 0.0, 1.0)
    lo, hi = art.flex_limits[:, 0], art.flex_limits[:, 1]
    # Zero curl is the flat hand, not the hyper-extended limit.
    flex = c * hi + rng.normal(0, 0.05, c.shape) * (hi - lo)
    spread = rng.normal(0, 0.5, c.shape) * (1 - c) * art.spread_limits[:, 1]
    return art.clip(flex, spread)


def subframe_times(num_keyframes: int = 5,
                   fps: float = 30.0,
                   subframes_per_interval: int = 8) -> np.ndarray:
    """Times (s) of the sub-frames, centred on the middle key frame.

    Args:
        num_keyframes (int): Key frames. Defaults to 5.
        fps (float): Key-frame rate. Defaults to 30.
        subframes_per_interval (int): Sub-frames between two key frames.
            Defaults to 8 (240 fps).

    Returns:
        np.ndarray: ``((K - 1) * subframes_per_interval + 1,)`` times; key
        frame ``k`` is sub-frame ``k * subframes_per_interval``.
    """
    half = (num_keyframes - 1) / 2 / fps
    return np.linspace(-half, half,
                       (num_keyframes - 1) * subframes_per_interval + 1)


def sample_hand_motion(rng: np.random.Generator,
                       art: HandArticulation,
                       speeds: Dict[str, float],
                       orientation: Rotation,
                       translation: np.ndarray,
                       num_keyframes: int = 5,
                       fps: float = 30.0,
                       subframes_per_interval: int = 8
                       ) -> Dict[str, np.ndarray]:
    """Sample one hand's motion and interpolate it to sub-frames.

    Args:
        rng (np.random.Generator): Random generator.
        art (HandArticulation): Axes and limits of the hand model.
        speeds (dict): ``articulation`` (curl per second), ``rotation``
            (rad/s) and ``translation`` (m/s) speed scales.
        orientation (Rotation): Wrist orientation at the middle key frame
            (world frame).
        translation (np.ndarray): (3,) MANO ``transl`` at the middle key
            frame, metres.
        num_keyframes (int): Key frames. Defaults to 5.
        fps (float): Key-frame rate. Defaults to 30.
        subframes_per_interval (int): Sub-frames per key-frame interval.
            Defaults to 8.

    Returns:
        dict: ``global_orient`` (S, 3), ``hand_pose`` (S, 3 * P),
        ``transl`` (S, 3) for the ``S`` sub-frames (world frame), and
        ``keyframe_index`` (K,) the sub-frame of each key frame.
    """
    times = subframe_times(num_keyframes, fps, subframes_per_interval)
    key_idx = np.arange(num_keyframes) * subframes_per_interval
    key_t = times[key_idx]
    num_pose = art.num_joints

    # Articulation: shared curl velocity + per-finger + per-joint parts.
    flex0, spread0 = sample_articulation(rng, art)
    fingers = sorted(set(art.finger_names))
    finger_vel = {f: rng.normal() for f in fingers}
    vel = rng.normal() + np.array([finger_vel[f] for f in art.finger_names
                                   ]) * 0.7 + rng.normal(size=num_pose) * 0.3
    acc = rng.normal(size=num_pose) * 10.0
    span = art.flex_limits[:, 1] - art.flex_limits[:, 0]
    rate = speeds['articulation'] * span
    flex_key = flex0 + rate * (vel * key_t[:, None] +
                               0.5 * acc * key_t[:, None]**2)
    spread_vel = rng.normal(size=num_pose) * art.spread_limits[:, 1]
    spread_key = spread0 + speeds['articulation'] * spread_vel * key_t[:,
                                                                       None]
    jitter = rng.normal(size=(num_keyframes, num_pose)) * 0.01
    flex_key, spread_key = art.clip(flex_key + jitter, spread_key)

    # Wrist rotation about random axes, and translation.
    omega = _random_direction(rng) * speeds['rotation']
    alpha = _random_direction(rng) * speeds['rotation'] * rng.uniform(0, 10)
    rot_key = omega * key_t[:, None] + 0.5 * alpha * key_t[:, None]**2
    vel_t = _random_direction(rng) * speeds['translation']
    acc_t = _random_direction(rng) * speeds['translation'] * rng.uniform(
        0, 10)
    trans_key = translation + vel_t * key_t[:, None] + \
        0.5 * acc_t * key_t[:, None]**2
    trans_key = trans_key + rng.normal(size=trans_key.shape) * 5e-4

    def spline(values):
        return CubicSpline(key_t, values, axis=0)(times)

    flex, spread = art.clip(spline(flex_key), spline(spread_key))
    rotation = Rotation.from_rotvec(spline(rot_key)) * orientation
    return dict(
        global_orient=rotation.as_rotvec(),
        hand_pose=art.hand_pose(flex, spread),
        transl=spline(trans_key),
        keyframe_index=key_idx)


def sample_speeds(rng: np.random.Generator,
                  max_speeds: Sequence[float] = (5.0, 6.0, 0.8)
                  ) -> Dict[str, float]:
    """Per-sample speed scales, from nearly still to fast.

    An overall level ``u ** 1.5`` (``u`` uniform) is split between the
    three kinds of motion by Dirichlet weights, so some samples mostly move
    the fingers, some rotate the wrist and some translate the hand.

    Args:
        rng (np.random.Generator): Random generator.
        max_speeds (Sequence[float]): Top speeds of articulation (curl/s),
            rotation (rad/s) and translation (m/s). Defaults to
            ``(5, 6, 0.8)``, which gives a median blur rate of about 0.3 and
            a tail above 1.

    Returns:
        dict: ``articulation``, ``rotation``, ``translation`` speeds.
    """
    level = rng.uniform() ** 1.5
    weights = rng.dirichlet((1.0, 1.0, 1.0)) * 3 / 2
    keys = ('articulation', 'rotation', 'translation')
    return {
        k: float(level * min(w, 1.0) * m)
        for k, w, m in zip(keys, weights, max_speeds)
    }
