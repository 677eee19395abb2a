# Copyright (c) OpenMMLab. All rights reserved.
"""Train a model from a config: ``python tools/train.py CONFIG [options]``.

The flags mirror MMPose's ``tools/train.py``; see ``docs/train_test.md``.
"""
import argparse
import os
import os.path as osp
import sys

# The projects (projects/<name>/) are imported by their configs'
# ``custom_imports`` as ``projects.<name>.<package>``: run from anywhere
# without PYTHONPATH.
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Train a mmblurhand model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If a checkpoint is given, resume from it; with no value, '
        'resume from the latest checkpoint in the work dir.')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load the checkpoints this run names (--resume PATH, '
        'load_from, model.generator_checkpoint) with torch.load('
        'weights_only=False), which runs any code they hold; only for '
        'files you trust that the safe loader refuses (docs/security.md)')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic mixed precision training')
    parser.add_argument(
        '--amp-dtype',
        choices=['float16', 'bfloat16'],
        default=None,
        help='autocast dtype for --amp (default: float16 on CUDA, '
        'bfloat16 on CPU)')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual / base batch size')
    parser.add_argument(
        '--show-dir',
        help='directory (inside the work dir) where validation pictures '
        'are saved')
    parser.add_argument(
        '--show', action='store_true', help='display validation pictures')
    parser.add_argument(
        '--interval', type=int, default=1, help='visualisation interval')
    parser.add_argument(
        '--wait-time', type=float, default=1, help='display time (s)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, e.g. '
        'train_dataloader.batch_size=8 model.backbone.depth=18')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank (torch>=2.0)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg, args):
    """Merge command-line arguments into the config."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        from mmblurhand.engine.amp import enable_amp
        enable_amp(cfg, args.amp_dtype)

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or \
                'base_batch_size' not in cfg.auto_scale_lr:
            raise RuntimeError(
                f'--auto-scale-lr needs `auto_scale_lr = dict('
                f'enable=False, base_batch_size=...)` in {args.config}.')
        cfg.auto_scale_lr.enable = True

    if args.show or args.show_dir:
        from mmblurhand.engine.visualization import enable_visualization
        enable_visualization(cfg, args.show, args.show_dir, args.interval,
                             args.wait_time, args.config)

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    from mmblurhand.engine.distributed import use_gloo_without_gpu
    use_gloo_without_gpu(cfg)
    from mmblurhand.engine.resumable_train_loop import select_train_loop
    select_train_loop(cfg)
    return cfg


def named_checkpoints(cfg):
    """The checkpoint files a run names: ``load_from`` (also set by
    ``--resume PATH``) and the selector's ``model.generator_checkpoint``."""
    names = [cfg.get('load_from')]
    model = cfg.get('model') or {}
    names.append(model.get('generator_checkpoint'))
    return [name for name in dict.fromkeys(names) if name]


def main():
    args = parse_args()
    from mmblurhand.utils import register_all_modules
    register_all_modules(init_default_scope=False)

    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)
    from mmblurhand.engine.distributed import (finish_distributed,
                                               init_cpu_distributed)
    init_cpu_distributed(cfg)

    trusted = named_checkpoints(cfg) if args.trust_checkpoint else []
    if args.trust_checkpoint and not trusted:
        raise SystemExit(
            'error: --trust-checkpoint trusts the checkpoints a run names '
            '(--resume PATH, load_from, model.generator_checkpoint), and '
            'this run names none.')
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        from mmblurhand.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    # Checkpoints load with weights_only=True and mmblurhand's allow-list;
    # --trust-checkpoint lifts it for the named files only
    # (docs/security.md).
    from mmblurhand.utils.checkpoint import (UntrustedCheckpointError,
                                             install_checkpoint_loader,
                                             trusted_checkpoints)
    install_checkpoint_loader()
    if trusted:
        runner.logger.warning('--trust-checkpoint: loading with '
                              'weights_only=False (code in them runs): ' +
                              ', '.join(trusted))
    try:
        with trusted_checkpoints(*trusted):
            runner.train()
    except UntrustedCheckpointError as err:
        raise SystemExit(f'error: {err}') from None
    finish_distributed()


if __name__ == '__main__':
    main()
