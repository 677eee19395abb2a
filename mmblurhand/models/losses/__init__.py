# Copyright (c) OpenMMLab. All rights reserved.
from .best_of_k import (BestOfKAssigner, gather_hypotheses,
                        hypothesis_errors, select_best_hypotheses,
                        sequence_errors)
from .ccr_loss import CCRLoss
from .diversity_loss import DiversityLoss
from .heatmap_loss import HeatmapKLLoss
from .masked_l1_loss import MaskedL1Loss
from .pairwise_rank_loss import PairwiseRankLoss
from .temporal_order_invariant_loss import (TemporalOrderInvariantLoss,
                                            apply_temporal_order)

__all__ = [
    'MaskedL1Loss', 'TemporalOrderInvariantLoss', 'apply_temporal_order',
    'BestOfKAssigner', 'gather_hypotheses', 'hypothesis_errors',
    'select_best_hypotheses', 'sequence_errors', 'CCRLoss', 'DiversityLoss',
    'PairwiseRankLoss', 'HeatmapKLLoss'
]
