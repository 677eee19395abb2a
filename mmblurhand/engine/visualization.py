# Copyright (c) OpenMMLab. All rights reserved.
"""``--show``/``--show-dir`` for ``tools/train.py`` and ``tools/test.py``."""
from typing import Optional

from mmengine.config import Config


def enable_visualization(cfg: Config, show: bool, show_dir: Optional[str],
                         interval: int, wait_time: float,
                         config_path: str) -> Config:
    """Enable the config's visualisation hook (``default_hooks.visualization``).

    Raises:
        RuntimeError: When the config has no visualisation hook, naming the
            config and the key to add.
    """
    hooks = cfg.get('default_hooks', {})
    if 'visualization' not in hooks:
        raise RuntimeError(
            f'--show/--show-dir need `default_hooks.visualization` in '
            f'{config_path}; inherit configs/_base_/default_runtime.py or '
            'add `visualization=dict(type=\'MeshVisualizationHook\')`.')
    vis = hooks.visualization
    vis.enable = True
    vis.interval = interval
    if show:
        vis.show = True
        vis.wait_time = wait_time
    if show_dir:
        vis.out_dir = show_dir
    return cfg
