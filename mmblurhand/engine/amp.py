# Copyright (c) OpenMMLab. All rights reserved.
"""``--amp`` for ``tools/train.py``: switch a config to mixed precision."""
from typing import Optional

import torch
from mmengine.config import Config


def enable_amp(cfg: Config, dtype: Optional[str] = None) -> Config:
    """Turn the config's optimiser wrapper into ``AmpOptimWrapper``.

    Args:
        cfg (Config): The full config; modified in place.
        dtype (str, optional): ``'float16'`` or ``'bfloat16'``. Defaults to
            float16 with a dynamic loss scale on CUDA and bfloat16 on CPU
            (CPU autocast supports bfloat16 only).

    Returns:
        Config: ``cfg``.
    """
    wrapper_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper_type not in ('OptimWrapper', 'AmpOptimWrapper'):
        raise ValueError(
            f'--amp only supports OptimWrapper, but the config uses '
            f'"{wrapper_type}"; set `optim_wrapper.type=\'AmpOptimWrapper\'` '
            'in the config instead.')
    if dtype is None:
        dtype = 'float16' if torch.cuda.is_available() else 'bfloat16'
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.dtype = dtype
    # bf16 has fp32's range: no loss scaling needed.
    cfg.optim_wrapper.loss_scale = 'dynamic' if dtype == 'float16' else 1.0
    return cfg
