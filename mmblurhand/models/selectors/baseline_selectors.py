# Copyright (c) OpenMMLab. All rights reserved.
"""Parameter-free hypothesis selectors: the paper's Table III baselines.

A baseline selector maps the generator's hypotheses to one score per image
and hypothesis, shape ``(B, K)``, higher is better, like the learned
:class:`~mmblurhand.models.selectors.HypothesisScoreDecoder`. Inputs are
batch-first: ``(B, K, T, J, 2)`` projected hypothesis joints and
``(B, T, J, 2)`` Unfolder joints, both in normalised crop coordinates.
"""
from typing import Optional

import torch
import torch.nn as nn
from torch import Tensor

from mmblurhand.registry import MODELS


def _check_joints(name: str, hyp_joints_2d: Tensor, joints_2d: Tensor) -> None:
    if hyp_joints_2d.dim() != 5 or joints_2d.dim() != 4 or \
            hyp_joints_2d.shape[:1] + hyp_joints_2d.shape[2:] != \
            joints_2d.shape:
        raise ValueError(
            f'{name}: expected `hyp_joints_2d` of shape (B, K, T, J, 2) and '
            '`joints_2d` of shape (B, T, J, 2) with matching B, T, J; got '
            f'{tuple(hyp_joints_2d.shape)} and {tuple(joints_2d.shape)}.')


@MODELS.register_module()
class RandomSelector(nn.Module):
    """Rank hypotheses at random ("Random Selection" of Table III).

    Args:
        seed (int, optional): Seed of the selector's own generator, so that a
            test run is reproducible without touching the global RNG.
            Defaults to ``None`` (global RNG).
    """

    def __init__(self, seed: Optional[int] = None) -> None:
        super().__init__()
        self.seed = seed
        self._generator: Optional[torch.Generator] = None

    def forward(self, hyp_joints_2d: Tensor, joints_2d: Tensor) -> Tensor:
        """Draw scores.

        Args:
            hyp_joints_2d (Tensor): Shape ``(B, K, T, J, 2)``; only its shape
                and device are used.
            joints_2d (Tensor): Shape ``(B, T, J, 2)``; unused.

        Returns:
            Tensor: Uniform scores in ``[0, 1)``, shape ``(B, K)``.
        """
        _check_joints('RandomSelector', hyp_joints_2d, joints_2d)
        if self.seed is not None and self._generator is None:
            self._generator = torch.Generator()
            self._generator.manual_seed(self.seed)
        scores = torch.rand(hyp_joints_2d.shape[:2], generator=self._generator)
        return scores.to(hyp_joints_2d.device)


@MODELS.register_module()
class ProjectiveSelector(nn.Module):
    """Rank hypotheses by agreement with the Unfolder's 2D joints.

    "Projective Selection" of Table III: the score of hypothesis ``k`` is the
    negative mean distance between its projected joints and the joints the
    Unfolder regressed from the heatmaps, over all time steps and joints.
    """

    def forward(self, hyp_joints_2d: Tensor, joints_2d: Tensor) -> Tensor:
        """Compute scores.

        Args:
            hyp_joints_2d (Tensor): Projected hypothesis joints, shape
                ``(B, K, T, J, 2)``, normalised crop coordinates.
            joints_2d (Tensor): Unfolder joints, shape ``(B, T, J, 2)``, same
                units.

        Returns:
            Tensor: Negative mean 2D distance, shape ``(B, K)``.
        """
        _check_joints('ProjectiveSelector', hyp_joints_2d, joints_2d)
        dist = torch.linalg.vector_norm(
            hyp_joints_2d - joints_2d.unsqueeze(1), dim=-1)
        return -dist.mean(dim=(2, 3))
