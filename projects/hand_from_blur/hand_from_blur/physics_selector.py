# Copyright (c) OpenMMLab. All rights reserved.
"""Physics-based hypothesis selection: how well does a reblurred hypothesis
explain the blurry image?

Each of the K hypothesis sequences becomes a polynomial motion (wrists
fitted to the Unfolder's 2D joints), is reblurred with the image-formation
model, and scored by the negative weighted sum of its image and matting
losses (higher is better, like the CCR selector's score). The score is
blind to the direction of time: a sequence and its reverse reblur to the
same image.
"""
from typing import Dict, Optional

import torch
from torch import Tensor, nn

from mmblurhand.registry import MODELS
from .refiner import BlurMotionRefiner


def standardise(scores: Tensor, eps: float = 1e-6) -> Tensor:
    """Z-scores over the last (hypothesis) axis."""
    mean = scores.mean(-1, keepdim=True)
    std = scores.std(-1, keepdim=True, unbiased=False)
    return (scores - mean) / (std + eps)


def combine_scores(physics: Tensor, learned: Tensor,
                   weight: float = 1.0) -> Tensor:
    """Sum of z-scored physics and learned (e.g. CCR) scores.

    Args:
        physics (Tensor): ``(B, K)`` physics scores (higher is better).
        learned (Tensor): ``(B, K)`` selector scores (higher is better).
        weight (float): Weight of the physics score. Defaults to 1.

    Returns:
        Tensor: ``(B, K)``.
    """
    if physics.shape != learned.shape:
        raise ValueError(f'combine_scores: physics scores '
                         f'{tuple(physics.shape)} and learned scores '
                         f'{tuple(learned.shape)} differ in shape.')
    return weight * standardise(physics) + standardise(learned)


@MODELS.register_module()
class PhysicsSelector(nn.Module):
    """Score hypotheses by their reblur error.

    Args:
        refiner (dict): :class:`BlurMotionRefiner` config (its image
            formation and loss functions are used; no optimisation unless
            ``num_iters > 0``).
        weights (dict): Weights of the score terms: ``image`` and
            ``matting``. Defaults to ``dict(image=10., matting=1.)``.
        num_iters (int): Refinement steps per hypothesis before scoring.
            Defaults to 0.
        chunk (int): Hypotheses reblurred at once (memory). Defaults to 4.
    """

    def __init__(self,
                 refiner: dict = dict(type='BlurMotionRefiner'),
                 weights: Optional[dict] = None,
                 num_iters: int = 0,
                 chunk: int = 4):
        super().__init__()
        self.refiner = MODELS.build(refiner) if isinstance(
            refiner, dict) else refiner
        if not isinstance(self.refiner, BlurMotionRefiner):
            raise TypeError('PhysicsSelector: `refiner` must build a '
                            'BlurMotionRefiner.')
        self.weights = dict(dict(image=10.0, matting=1.0), **(weights or {}))
        unknown = set(self.weights) - {'image', 'matting'}
        if unknown:
            raise KeyError(f'PhysicsSelector: unknown score terms '
                           f'{sorted(unknown)}; use image and matting.')
        self.num_iters = int(num_iters)
        self.chunk = int(chunk)

    def score(self, hypotheses: Dict[str, Tensor],
              obs: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Score every hypothesis.

        Args:
            hypotheses (dict[str, Tensor]): ``mano_pose (B, K, T, 48)``,
                ``mano_shape (B, K or 1, T, B_s)``, ``joints_cam (B, K, T, J,
                3)`` (root-relative, right-hand frame, as the generator
                outputs them).
            obs (dict): Observations (:meth:`BlurMotionRefiner.losses`).

        Returns:
            dict[str, Tensor]: ``scores (B, K)`` and the per-term losses
            ``image`` / ``matting`` ``(B, K)`` (absent terms are zeros).
        """
        pose = hypotheses['mano_pose']
        num_hyps = pose.shape[1]
        betas = hypotheses['mano_shape'].mean(-2).expand(
            *pose.shape[:2], hypotheses['mano_shape'].shape[-1])
        parts = dict(image=[], matting=[])
        for start in range(0, num_hyps, self.chunk):
            sl = slice(start, start + self.chunk)
            motion = self.refiner.init_motion(pose[:, sl], betas[:, sl],
                                              hypotheses['joints_cam'][:, sl],
                                              obs)
            if self.num_iters > 0:
                motion = self.refiner.refine(
                    motion, obs, num_iters=self.num_iters)['motion']
            with torch.no_grad():
                losses = self.refiner.losses(motion, obs)
            for key in parts:
                parts[key].append(
                    losses.get(key, pose.new_zeros(pose.shape[0],
                                                   motion.pose_coeffs.shape[1])
                               ).detach())
        terms = {k: torch.cat(v, dim=1) for k, v in parts.items()}
        scores = -sum(self.weights[k] * terms[k] for k in terms)
        return dict(terms, scores=scores)
