# Copyright (c) OpenMMLab. All rights reserved.
"""Hypothesis selectors: the learned score decoder and the baselines."""
from .baseline_selectors import ProjectiveSelector, RandomSelector
from .score_decoder import HypothesisScoreDecoder

__all__ = ['HypothesisScoreDecoder', 'ProjectiveSelector', 'RandomSelector']
