# Copyright (c) OpenMMLab. All rights reserved.
"""MHEntropyNet: a multi-hypothesis estimator whose K is chosen at test time.
"""
from typing import Sequence

import torch
from mmpose.utils.typing import ConfigType, OptConfigType, SampleList
from torch import Tensor

from mmblurhand.models.estimators.mh_blurhandnet import (TEST_CFG_KEYS,
                                                         MHBlurHandNet,
                                                         pack_hypotheses)
from mmblurhand.registry import MODELS

#: test_cfg keys added by :class:`MHEntropyNet`.
EXTRA_TEST_CFG_KEYS = ('num_hypotheses', 'ranking')
RANKINGS = ('selector', 'likelihood')


@MODELS.register_module()
class MHEntropyNet(MHBlurHandNet):
    """:class:`MHBlurHandNet` with a sampling head and frozen parts.

    The head is a :class:`FlowHypothesisHead` (any ``K`` at test time) or a
    ``MultiHypothesisHead`` (fixed ``K``; lets the embedding generator be
    evaluated with the same outputs). Predictions are those of
    :class:`MHBlurHandNet` (``hyp_joints_cam`` ``(1, K, T, J, 3)``,
    ``hyp_keypoints`` ``(1, K, T, J, 2)`` in image pixels, ``hyp_scores``,
    ``topn_indices``, ...), for whatever ``K`` was sampled.

    Args:
        frozen_modules (Sequence[str]): Sub-modules kept frozen (no
            gradients, eval mode so BatchNorm statistics stay), e.g.
            ``('backbone', 'neck', 'head.regressor')`` to train only the flow
            on top of a trained generator. When the backbone and neck are
            both frozen, features are extracted under ``torch.no_grad``.
        test_cfg (dict, optional): ``num_select``, ``aggregate`` (see
            :class:`MHBlurHandNet`), ``num_hypotheses`` (``K``; ``None`` =
            the head's default) and ``ranking``: ``'selector'`` (the
            ``selector`` module, e.g. ``ProjectiveSelector``) or
            ``'likelihood'`` (the flow's ``log p(theta | I)`` of each
            sample, flow heads only).
        Others: see :class:`MHBlurHandNet`.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: ConfigType,
                 head: ConfigType,
                 selector: ConfigType = dict(type='ProjectiveSelector'),
                 frozen_modules: Sequence[str] = (),
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptConfigType = None,
                 metainfo: OptConfigType = None):
        test_cfg = dict(test_cfg or {})
        extra = dict(num_hypotheses=None, ranking='selector')
        extra.update({
            k: test_cfg.pop(k)
            for k in EXTRA_TEST_CFG_KEYS if k in test_cfg
        })
        unknown = set(test_cfg) - set(TEST_CFG_KEYS)
        if unknown:
            raise KeyError(f'MHEntropyNet: unknown test_cfg keys '
                           f'{sorted(unknown)}; expected some of '
                           f'{TEST_CFG_KEYS + EXTRA_TEST_CFG_KEYS}.')
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            selector=selector,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg,
            metainfo=metainfo)
        self.test_cfg.update(extra)
        self.check_ranking()
        self.frozen_modules = tuple(frozen_modules)
        for name in self.frozen_modules:
            self._submodule(name).requires_grad_(False)

    def _submodule(self, name: str) -> torch.nn.Module:
        try:
            return self.get_submodule(name)
        except AttributeError as err:
            raise KeyError(f'MHEntropyNet: `frozen_modules` entry {name!r} '
                           'is not a sub-module (e.g. backbone, neck, '
                           'head.regressor).') from err

    def check_ranking(self) -> None:
        """Validate ``test_cfg.ranking`` and ``num_hypotheses``."""
        ranking = self.test_cfg['ranking']
        if ranking not in RANKINGS:
            raise ValueError(f'MHEntropyNet: test_cfg.ranking must be one of '
                             f'{RANKINGS}, got {ranking!r}.')
        sampling = hasattr(self.head, 'sample')
        if ranking == 'likelihood' and not sampling:
            raise ValueError(
                "MHEntropyNet: ranking='likelihood' needs a flow head "
                f'(FlowHypothesisHead), got {type(self.head).__name__}.')
        num = self.test_cfg['num_hypotheses']
        if num is not None and not sampling and \
                int(num) != self.head.num_hypotheses:
            raise ValueError(
                f'MHEntropyNet: {type(self.head).__name__} has a fixed K = '
                f'{self.head.num_hypotheses}; test_cfg.num_hypotheses='
                f'{num} needs a flow head.')

    def train(self, mode: bool = True) -> 'MHEntropyNet':
        """Set the mode; frozen sub-modules always stay in eval mode."""
        super().train(mode)
        for name in getattr(self, 'frozen_modules', ()):
            self._submodule(name).eval()
        return self

    def extract_feat(self, inputs: Tensor):
        """Backbone and neck features (no graph when both are frozen)."""
        frozen = set(getattr(self, 'frozen_modules', ()))
        if {'backbone', 'neck'} <= frozen:
            with torch.no_grad():
                return super().extract_feat(inputs)
        return super().extract_feat(inputs)

    def rank(self, preds: dict) -> Tensor:
        """Scores ``(B, K)`` (higher is better) by ``test_cfg.ranking``."""
        self.check_ranking()
        if self.test_cfg['ranking'] == 'likelihood':
            return preds['log_prob']
        return self.selector(preds['joints_2d'], preds['unfolder_joints'])

    def predict(self, inputs: Tensor, data_samples: SampleList) -> SampleList:
        """Sample, rank and pack ``K`` hypotheses per image.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` preprocessed images.
            data_samples (list[PoseDataSample]): Samples with the metainfo
                ``BlurHandNet.add_pred_to_datasample`` needs.

        Returns:
            list[PoseDataSample]: ``data_samples`` with ``pred_instances``.
        """
        feats = self.extract_feat(inputs)
        preds = self.head.predict(feats, data_samples, test_cfg=self.test_cfg)
        return self.pack(preds, self.rank(preds), data_samples)

    def pack(self, preds: dict, scores: Tensor,
             data_samples: SampleList) -> SampleList:
        """Pack ranked hypotheses into ``pred_instances``.

        Args:
            preds (dict[str, Tensor]): Head outputs ``(B, K, T, ...)``.
            scores (Tensor): ``(B, K)``, higher is better.
            data_samples (list[PoseDataSample]): The batch's samples.

        Returns:
            list[PoseDataSample]: Samples with ``pred_instances`` (see
            :func:`pack_hypotheses`; ``hyp_keypoints`` in image pixels).
        """
        instances = pack_hypotheses(self.head, preds, scores,
                                    self.test_cfg['num_select'],
                                    self.test_cfg['aggregate'])
        return self.add_pred_to_datasample(instances, data_samples)
