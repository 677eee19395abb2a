# Copyright (c) OpenMMLab. All rights reserved.
from .blurhand_metric import BlurHandMetric
from .multi_hypothesis_metric import MultiHypothesisMetric
