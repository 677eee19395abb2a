# Copyright (c) OpenMMLab. All rights reserved.
from . import transforms  # noqa: F401
