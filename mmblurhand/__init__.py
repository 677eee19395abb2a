# Copyright (c) OpenMMLab. All rights reserved.
"""MMBlurHand: 3D hand mesh sequences from a single motion-blurred image.

Importing the package does one thing to MMEngine: it registers
mmblurhand's safe checkpoint loaders as MMEngine's ``CheckpointLoader``
schemes (:func:`mmblurhand.utils.checkpoint.install_checkpoint_loader`):
checkpoints load with ``torch.load(weights_only=True)`` and an allow-list
of data types (numpy arrays, MMEngine ``HistoryBuffer``), so runner
checkpoints load on torch >= 2.6 and no checkpoint runs code; see
``docs/security.md``. Models, datasets and metrics register lazily through
:mod:`mmblurhand.registry` ``locations`` or eagerly through
:func:`mmblurhand.utils.register_all_modules`.
"""
from .utils.checkpoint import install_checkpoint_loader
from .version import __version__, version_info

# Configs import mmblurhand (`custom_imports`), so every runner built from
# them loads checkpoints through the allow-list (docs/security.md).
install_checkpoint_loader()

__all__ = ['__version__', 'version_info']
