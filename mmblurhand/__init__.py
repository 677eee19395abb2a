# Copyright (c) OpenMMLab. All rights reserved.
"""MMBlurHand: 3D hand mesh sequences from a single motion-blurred image.

Importing the package installs the torch>=2.6 checkpoint-loading fix
(:mod:`mmblurhand.utils.checkpoint`) and nothing heavier: models, datasets and
metrics register lazily through :mod:`mmblurhand.registry` ``locations`` or
eagerly through :func:`mmblurhand.utils.register_all_modules`.
"""
from .utils.checkpoint import install_checkpoint_loader
from .version import __version__, version_info

install_checkpoint_loader()

__all__ = ['__version__', 'version_info']
