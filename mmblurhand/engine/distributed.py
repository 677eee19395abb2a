# Copyright (c) OpenMMLab. All rights reserved.
"""Distributed settings that adapt to the machine."""
import torch
from mmengine.config import Config
from mmengine.logging import print_log


def use_gloo_without_gpu(cfg: Config) -> Config:
    """Switch ``env_cfg.dist_cfg.backend`` from NCCL to gloo without a GPU.

    NCCL needs CUDA; gloo runs distributed training and evaluation on CPU
    (how CI tests ``tools/dist_train.sh``). Nothing changes when a GPU is
    visible or the launcher is ``none``.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return cfg
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') == 'nccl':
        dist_cfg['backend'] = 'gloo'
        print_log('No GPU visible: distributed backend nccl -> gloo.',
                  logger='current')
    return cfg
