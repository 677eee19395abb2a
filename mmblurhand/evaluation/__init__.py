# Copyright (c) OpenMMLab. All rights reserved.
from . import metrics  # noqa: F401
