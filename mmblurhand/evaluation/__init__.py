# Copyright (c) OpenMMLab. All rights reserved.
from . import functional, metrics  # noqa: F401
