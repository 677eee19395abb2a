# Copyright (c) OpenMMLab. All rights reserved.
"""The blur image-formation model (Human from Blur, eq. 2).

``I = (1 - mean_i S_i) B + mean_i S_i F_i``: N sub-frame renders of the
moving hand (silhouettes ``S_i``, appearance ``F_i``) averaged and
composited over the known background ``B``.

The appearance model is a single skin colour per image (unshaded): with
the silhouettes fixed, the colour that best explains the image has a
closed form (:func:`best_foreground_colour`), so it is not a parameter.
"""
from typing import Dict, Optional, Sequence

import torch
from torch import Tensor, nn

from mmblurhand.registry import MODELS
from .motion import PolynomialMotion, pose_hand
from .rasterizer import SoftSilhouetteRasterizer


def subframe_times(num_subframes: int, dtype=torch.float32,
                   device=None) -> Tensor:
    """``(N,)`` evenly spaced sub-frame times covering ``[-1, 1]``."""
    if num_subframes < 1:
        raise ValueError(f'num_subframes must be >= 1, got {num_subframes}.')
    if num_subframes == 1:
        return torch.zeros(1, dtype=dtype, device=device)
    return torch.linspace(-1.0, 1.0, num_subframes, dtype=dtype,
                          device=device)


def best_foreground_colour(image: Tensor, background: Tensor,
                           alpha: Tensor, eps: float = 1e-6) -> Tensor:
    """Least-squares constant foreground colour for a given alpha.

    Minimises ``|I - (1 - a) B - a c|^2`` over ``c``:
    ``c = sum a (I - (1 - a) B) / sum a^2`` per channel, clipped to [0, 1].

    Args:
        image, background (Tensor): ``(..., 3, H, W)`` in [0, 1].
        alpha (Tensor): ``(..., H, W)``.

    Returns:
        Tensor: ``(..., 3)``.
    """
    a = alpha.unsqueeze(-3)
    num = (a * (image - (1 - a) * background)).sum((-1, -2))
    den = (a * a).sum((-1, -2)).clamp(min=eps)
    return (num / den).clamp(0.0, 1.0)


def composite(alpha: Tensor, background: Tensor,
              foreground: Tensor) -> Tensor:
    """Eq. 2 with a constant foreground: ``(1 - a) B + a c``.

    Args:
        alpha (Tensor): ``(..., H, W)`` blurred alpha (mean silhouette).
        background (Tensor): ``(..., 3, H, W)``.
        foreground (Tensor): ``(..., 3)`` colour (or ``(..., 3, H, W)``
            already multiplied by alpha, see ``premultiplied``).

    Returns:
        Tensor: ``(..., 3, H, W)``.
    """
    a = alpha.unsqueeze(-3)
    return (1 - a) * background + a * foreground[..., :, None, None]


@MODELS.register_module()
class BlurImageFormation(nn.Module):
    """Render a polynomial hand motion into a blurry image.

    Args:
        mano_cfg (dict): Hand model config. Defaults to the procedural
            hand.
        rasterizer (dict): :class:`SoftSilhouetteRasterizer` config.
        num_subframes (int): N, sub-frames rendered over the exposure.
            Defaults to 8.
        root_index (int): Wrist joint index. Defaults to 0.
    """

    def __init__(self,
                 mano_cfg: dict = dict(type='ManoLayer', model_path=None),
                 rasterizer: dict = dict(
                     type='SoftSilhouetteRasterizer', sigma=0.5),
                 num_subframes: int = 8,
                 root_index: int = 0):
        super().__init__()
        self.mano = MODELS.build(mano_cfg) if isinstance(mano_cfg,
                                                        dict) else mano_cfg
        for param in self.mano.parameters():
            param.requires_grad_(False)
        self.rasterizer = MODELS.build(rasterizer) if isinstance(
            rasterizer, dict) else rasterizer
        if not isinstance(self.rasterizer, SoftSilhouetteRasterizer):
            raise TypeError('BlurImageFormation: `rasterizer` must build a '
                            'SoftSilhouetteRasterizer.')
        self.num_subframes = int(num_subframes)
        if self.num_subframes < 1:
            raise ValueError('BlurImageFormation: num_subframes must be >= 1, '
                             f'got {num_subframes}.')
        self.root_index = root_index
        self.register_buffer(
            'faces',
            torch.as_tensor(self.mano.faces, dtype=torch.long),
            persistent=False)

    def pose(self, motion: PolynomialMotion,
             tau: Tensor) -> Dict[str, Tensor]:
        """Camera-frame meshes of ``motion`` at times ``tau`` (``(N,)``):
        see :func:`~.motion.pose_hand`."""
        state = motion(tau)
        return pose_hand(self.mano, state['hand_pose'], state['betas'],
                         state['rotation'], state['transl'], self.root_index)

    def forward(self,
                motion: PolynomialMotion,
                focal: Tensor,
                princpt: Tensor,
                image_size: Sequence[int],
                background: Optional[Tensor] = None,
                image: Optional[Tensor] = None,
                tau: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Reblur.

        Args:
            motion (PolynomialMotion): Leading dims ``...``.
            focal, princpt (Tensor): ``(..., 2)`` crop camera, pixels.
            image_size (Sequence[int]): ``(W, H)``.
            background (Tensor, optional): ``(..., 3, H, W)`` in [0, 1].
            image (Tensor, optional): ``(..., 3, H, W)`` observed image; with
                ``background`` it sets the foreground colour
                (:func:`best_foreground_colour`).
            tau (Tensor, optional): ``(N,)`` sub-frame times; N evenly
                spaced in ``[-1, 1]`` by default.

        Returns:
            dict[str, Tensor]: ``silhouettes (..., N, H, W)``, ``alpha (...,
            H, W)`` (their mean), ``vertices (..., N, V, 3)``, ``joints
            (..., N, J, 3)`` (camera frame) and, with a background,
            ``image (..., 3, H, W)`` and ``colour (..., 3)``.
        """
        if tau is None:
            tau = subframe_times(self.num_subframes, focal.dtype,
                                 focal.device)
        posed = self.pose(motion, tau)
        silhouettes = self.rasterizer(posed['vertices'], self.faces,
                                      focal.unsqueeze(-2),
                                      princpt.unsqueeze(-2), image_size)
        alpha = silhouettes.mean(dim=-3)
        out = dict(silhouettes=silhouettes, alpha=alpha,
                   vertices=posed['vertices'], joints=posed['joints'])
        if background is not None:
            if image is not None:
                colour = best_foreground_colour(image, background, alpha)
            else:
                colour = background.new_full((*alpha.shape[:-2], 3), 0.5)
            out['colour'] = colour
            out['image'] = composite(alpha, background, colour)
        return out
