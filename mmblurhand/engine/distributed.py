# Copyright (c) OpenMMLab. All rights reserved.
"""Distributed settings that adapt to the machine."""
import logging

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel

from mmblurhand.registry import MODEL_WRAPPERS


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


def init_cpu_distributed(cfg: Config) -> bool:
    """Start a CPU (gloo) distributed run that MMEngine 0.10.7 cannot start.

    MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` even for gloo,
    which fails on a machine without CUDA, and its ``wrap_model`` passes
    ``device_ids=[LOCAL_RANK]`` to DDP, which DDP refuses for a CPU model.
    Without a GPU and with ``--launcher pytorch`` (``tools/dist_train.sh``,
    torchrun's environment variables) this function initialises the gloo
    process group itself (so the Runner skips ``init_dist``), wraps the
    model with :class:`CPUCompatibleDistributedDataParallel` and drops
    ``sync_bn`` (torch's SyncBatchNorm needs GPUs) with a warning. It does
    nothing with a GPU or without a launcher.

    Args:
        cfg (Config): The full config; ``model_wrapper_cfg`` is set in
            place.

    Returns:
        bool: Whether a CPU process group was initialised.

    Raises:
        RuntimeError: For ``--launcher slurm/mpi`` without a GPU.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher != 'pytorch':
        raise RuntimeError(
            f'--launcher {launcher} needs GPUs; without a GPU run distributed '
            'jobs with `--launcher pytorch` (tools/dist_train.sh, '
            'tools/dist_test.sh).')
    if cfg.get('sync_bn') is not None:
        # torch's SyncBatchNorm refuses CPU tensors in distributed training
        print_log(
            f'sync_bn={cfg.sync_bn!r} ignored: SyncBatchNorm needs GPUs; '
            'this CPU run keeps per-process BatchNorm statistics.',
            logger='current',
            level=logging.WARNING)
        cfg.sync_bn = None
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper_type = wrapper.get('type', 'MMDistributedDataParallel')
    if wrapper_type in ('MMDistributedDataParallel',
                        'CPUCompatibleDistributedDataParallel'):
        # `Runner.wrap_model` looks the type up in MMEngine's root registry,
        # which finds mmblurhand's node (a grandchild) through mmpose's
        wrapper['type'] = \
            'mmpose.mmblurhand.CPUCompatibleDistributedDataParallel'
        cfg.model_wrapper_cfg = wrapper
    import torch.distributed as torch_dist
    if not torch_dist.is_initialized():
        dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
        dist_cfg['backend'] = 'gloo'
        timeout = dist_cfg.pop('timeout', None)
        if timeout is not None:
            import datetime
            dist_cfg['timeout'] = datetime.timedelta(seconds=timeout)
        torch_dist.init_process_group(**dist_cfg)
    return True


@MODEL_WRAPPERS.register_module()
class CPUCompatibleDistributedDataParallel(MMDistributedDataParallel):
    """:class:`MMDistributedDataParallel` that also wraps CPU models.

    The Runner passes ``device_ids=[LOCAL_RANK]``; DDP accepts device ids
    only for a GPU module, so they are dropped when the module's parameters
    are on the CPU. On a GPU it is exactly ``MMDistributedDataParallel``.
    """

    def __init__(self, module, device_ids=None, **kwargs):
        on_cpu = all(p.device.type == 'cpu' for p in module.parameters())
        if on_cpu:
            device_ids = None
            kwargs.pop('output_device', None)
        super().__init__(module=module, device_ids=device_ids, **kwargs)


def finish_distributed() -> None:
    """End a distributed run cleanly: wait for every rank, then destroy the
    process group.

    Without it, a gloo process still holding its communication threads at
    interpreter exit may abort (``terminate called without an active
    exception``, SIGABRT) after the work is done, failing ``torchrun`` at
    random. Does nothing outside a distributed run.
    """
    import torch.distributed as torch_dist
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
