# Copyright (c) OpenMMLab. All rights reserved.
from .checkpoint import install_checkpoint_loader, load_from_local
from .setup_env import register_all_modules

__all__ = [
    'install_checkpoint_loader', 'load_from_local', 'register_all_modules'
]
