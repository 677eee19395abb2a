# Copyright (c) OpenMMLab. All rights reserved.
from .checkpoint_io import install_atomic_local_backend

# Every local file MMEngine writes (checkpoints, `last_checkpoint`) is
# written atomically from here on; see `checkpoint_io`.
install_atomic_local_backend()

from . import hooks  # noqa: F401,E402
from .resumable_train_loop import ResumableEpochBasedTrainLoop  # noqa: E402
