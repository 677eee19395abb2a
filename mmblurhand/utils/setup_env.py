# Copyright (c) OpenMMLab. All rights reserved.
import datetime
import warnings

from mmengine import DefaultScope

# MMPose modules our registries' parents need populated. ``mmpose.apis`` and
# ``mmpose.visualization`` are left out on purpose: both import torchvision.
_MMPOSE_MODULES = ('mmpose.codecs', 'mmpose.datasets', 'mmpose.engine',
                   'mmpose.evaluation', 'mmpose.models')
_MMBLURHAND_MODULES = ('mmblurhand.codecs', 'mmblurhand.datasets',
                       'mmblurhand.engine', 'mmblurhand.evaluation',
                       'mmblurhand.models', 'mmblurhand.visualization')


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register MMPose's and MMBlurHand's modules in their registries.

    Args:
        init_default_scope (bool): Whether to set the default scope to
            ``'mmblurhand'`` so that registries build our classes (and,
            through the parents, MMPose's and MMEngine's) without a prefix.
            Defaults to ``True``.
    """
    import importlib
    for name in _MMPOSE_MODULES + _MMBLURHAND_MODULES:
        importlib.import_module(name)

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created(
            'mmblurhand'):
        DefaultScope.get_instance('mmblurhand', scope_name='mmblurhand')
    elif current.scope_name != 'mmblurhand':
        warnings.warn(f'The current default scope "{current.scope_name}" is '
                      'not "mmblurhand"; `register_all_modules` will force '
                      'it to "mmblurhand".')
        new_name = f'mmblurhand-{datetime.datetime.now()}'
        DefaultScope.get_instance(new_name, scope_name='mmblurhand')
