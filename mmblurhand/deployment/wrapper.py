# Copyright (c) OpenMMLab. All rights reserved.
"""A tensors-in, tensors-out view of an mmblurhand model (export, FLOPs).

MMPose estimators take data samples and return data samples or dicts; ONNX
export, ``torch.jit`` tracing (FLOP counting) and plain benchmarking need a
forward that maps an image batch to a fixed tuple of tensors.
"""
from typing import Tuple

import torch
from torch import Tensor, nn

#: Names of :class:`HandMeshExportWrapper`'s outputs, in order.
OUTPUT_NAMES = ('vertices', 'joints', 'pose', 'scores')
#: Name of its input.
INPUT_NAME = 'image'


def model_kind(model: nn.Module) -> str:
    """Which inference path a model takes.

    Args:
        model (nn.Module): A built mmblurhand estimator.

    Returns:
        str: ``'selector'`` (an ``MHSelector`` with its frozen generator),
        ``'generator'`` (``MHBlurHandNet``: K hypotheses and a parameter-free
        selector) or ``'single'`` (``BlurHandNet``: one sequence).
    """
    if hasattr(model, 'generator') and hasattr(model, 'score'):
        return 'selector'
    if hasattr(model, 'selector') and hasattr(model.head, 'num_hypotheses'):
        return 'generator'
    if hasattr(model, 'head') and hasattr(model, 'extract_feat'):
        return 'single'
    raise TypeError(
        f'{type(model).__name__} is not an mmblurhand estimator '
        '(BlurHandNet, MHBlurHandNet or MHSelector); cannot wrap it.')


class HandMeshExportWrapper(nn.Module):
    """Image batch -> meshes, joints, poses and hypothesis scores.

    The model's data preprocessor (channel order, mean and std) is part of
    the forward, so the input is the raw crop as OpenCV gives it.

    Input ``image``: float32 ``(B, 3, H, W)``, channel order and range as
    the model's data preprocessor expects (the mmblurhand configs: BGR,
    0-255), ``H x W`` = the config's ``input_size``.

    Outputs (``K = 1`` for BlurHandNet):

    - ``vertices``: ``(B, K, T, V, 3)`` root-relative mesh, metres;
    - ``joints``: ``(B, K, T, J, 3)`` root-relative joints, metres;
    - ``pose``: ``(B, K, T, 48)`` axis-angle MANO pose (relative to the
      MANO mean pose, right-hand camera frame);
    - ``scores``: ``(B, K)`` hypothesis scores, higher is better (the
      learned selector's probability, the parameter-free selector's score,
      or ones for BlurHandNet).

    Outputs are in the network's (right-hand) frame: a mirrored left-hand
    crop's 3D outputs need their x negated, as ``predict`` does.

    Args:
        model (nn.Module): A built BlurHandNet, MHBlurHandNet or MHSelector
            (in eval mode for export).
        with_preprocess (bool): Apply the model's data preprocessor
            normalisation inside the forward. Defaults to True.
    """

    def __init__(self, model: nn.Module, with_preprocess: bool = True):
        super().__init__()
        self.model = model
        self.kind = model_kind(model)
        self.with_preprocess = with_preprocess
        pre = getattr(model, 'data_preprocessor', None)
        self.bgr_to_rgb = bool(getattr(pre, '_channel_conversion', False))
        if with_preprocess and getattr(pre, '_enable_normalize', False):
            mean = pre.mean.detach().clone().float().view(1, -1, 1, 1)
            std = pre.std.detach().clone().float().view(1, -1, 1, 1)
        else:
            mean = torch.zeros(1, 1, 1, 1)
            std = torch.ones(1, 1, 1, 1)
        self.register_buffer('mean', mean, persistent=False)
        self.register_buffer('std', std, persistent=False)

    def preprocess(self, image: Tensor) -> Tensor:
        """Channel order and normalisation of the data preprocessor.

        Args:
            image (Tensor): ``(B, 3, H, W)`` raw crop.

        Returns:
            Tensor: ``(B, 3, H, W)`` network input.
        """
        if not self.with_preprocess:
            return image
        if self.bgr_to_rgb:
            image = image.flip(1)
        return (image - self.mean) / self.std

    def forward(self, image: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """Run the model (see the class docstring for shapes).

        Args:
            image (Tensor): ``(B, 3, H, W)``.

        Returns:
            tuple[Tensor, Tensor, Tensor, Tensor]: ``vertices``, ``joints``,
            ``pose``, ``scores``.
        """
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError('HandMeshExportWrapper: `image` must be '
                             f'(B, 3, H, W), got {tuple(image.shape)}.')
        inputs = self.preprocess(image)
        model = self.model
        if self.kind == 'selector':
            hyps = model.generator.head.forward(
                model.generator.extract_feat(inputs))
            logits, _ = model.score(inputs, hyps)
            scores = logits.softmax(dim=-1)[..., 1]
        elif self.kind == 'generator':
            hyps = model.head.forward(model.extract_feat(inputs))
            scores = model.selector(hyps['joints_2d'], hyps['unfolder_joints'])
        else:
            preds = model.head.forward(model.extract_feat(inputs))
            hyps = {
                key: preds[key].unsqueeze(1)
                for key in ('vertices', 'joints_cam', 'mano_pose')
            }
            scores = image.new_ones(image.shape[0], 1)
        return (hyps['vertices'], hyps['joints_cam'], hyps['mano_pose'],
                scores)
