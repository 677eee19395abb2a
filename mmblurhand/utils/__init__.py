# Copyright (c) OpenMMLab. All rights reserved.
from .checkpoint import (UntrustedCheckpointError, install_checkpoint_loader,
                         load_checkpoint_file, load_from_local, load_weights,
                         trusted_checkpoints)
from .setup_env import register_all_modules

__all__ = [
    'UntrustedCheckpointError', 'install_checkpoint_loader',
    'load_checkpoint_file', 'load_from_local', 'load_weights',
    'register_all_modules', 'trusted_checkpoints'
]
