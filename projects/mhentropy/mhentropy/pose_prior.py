# Copyright (c) OpenMMLab. All rights reserved.
"""A Gaussian prior over MANO hand poses (the ``p(theta)`` of MHEntropy)."""
import os.path as osp
from typing import Optional

import numpy as np
import torch
from torch import Tensor, nn

from mmblurhand.registry import MODELS


@MODELS.register_module()
class GaussianPosePrior(nn.Module):
    """Multivariate normal prior over the finger part of a MANO pose.

    ``log p(theta) = log N(theta[first:] ; mu, Sigma)`` for every time step
    (steps are independent under the prior). The global orientation (the
    first ``first = 3`` numbers) is left out by default: in the camera frame
    any orientation is plausible, as HMR-style priors leave out the root.

    The statistics are either an isotropic ``N(0, std^2 I)`` or read from an
    ``.npz`` with ``mean`` ``(P,)`` and ``cov`` ``(P, P)`` over the prior's
    dims (``tools/fit_pose_prior.py`` fits one on the training poses). A
    ridge ``eps * I`` keeps the covariance invertible.

    Args:
        pose_dims (int): Pose size per step (48 for MANO, axis-angle).
        first (int): Index of the first dim under the prior. Defaults to 3
            (skip the global orientation); 0 puts every dim under it.
        std (float): Std (rad) of the isotropic prior used without
            ``stats_file``. Defaults to 0.5.
        stats_file (str, optional): ``.npz`` with ``mean`` and ``cov``.
        eps (float): Ridge added to the covariance. Defaults to 1e-4.
    """

    def __init__(self,
                 pose_dims: int = 48,
                 first: int = 3,
                 std: float = 0.5,
                 stats_file: Optional[str] = None,
                 eps: float = 1e-4) -> None:
        super().__init__()
        if not 0 <= first < pose_dims:
            raise ValueError('GaussianPosePrior: `first` must be in '
                             f'[0, pose_dims={pose_dims}), got {first}.')
        dims = pose_dims - first
        if stats_file is None:
            if std <= 0:
                raise ValueError(
                    f'GaussianPosePrior: `std` must be positive, got {std}.')
            mean = np.zeros(dims)
            cov = np.eye(dims) * float(std)**2
        else:
            if not osp.isfile(stats_file):
                raise FileNotFoundError(
                    f'GaussianPosePrior: stats file "{stats_file}" does not '
                    'exist; fit one with projects/mhentropy/tools/'
                    'fit_pose_prior.py or set `stats_file=None`.')
            stats = np.load(stats_file)
            mean, cov = stats['mean'], stats['cov']
            if mean.shape != (dims, ) or cov.shape != (dims, dims):
                raise ValueError(
                    f'GaussianPosePrior: "{stats_file}" has mean '
                    f'{mean.shape} and cov {cov.shape}; expected ({dims},) '
                    f'and ({dims}, {dims}) for pose_dims={pose_dims}, '
                    f'first={first}.')
        cov = np.asarray(cov, np.float64) + np.eye(dims) * eps
        self.pose_dims = pose_dims
        self.first = first
        self.register_buffer(
            'mean', torch.as_tensor(mean, dtype=torch.float32),
            persistent=False)
        self.register_buffer(
            'scale_tril',
            torch.as_tensor(np.linalg.cholesky(cov), dtype=torch.float32),
            persistent=False)

    def log_prob(self, pose: Tensor) -> Tensor:
        """Log density of poses.

        Args:
            pose (Tensor): ``(..., pose_dims)`` axis-angle poses.

        Returns:
            Tensor: ``(...)`` log densities (nats).
        """
        if pose.shape[-1] != self.pose_dims:
            raise ValueError(
                f'GaussianPosePrior: expected poses (..., {self.pose_dims}), '
                f'got {tuple(pose.shape)}.')
        dist = torch.distributions.MultivariateNormal(
            self.mean, scale_tril=self.scale_tril)
        return dist.log_prob(pose[..., self.first:])

    def extra_repr(self) -> str:
        return f'pose_dims={self.pose_dims}, first={self.first}'
