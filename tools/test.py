# Copyright (c) OpenMMLab. All rights reserved.
"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [...]``.

The flags mirror MMPose's ``tools/test.py``; see ``docs/train_test.md``.
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

import mmengine  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dist import is_main_process  # noqa: E402
from mmengine.runner import Runner  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description='Evaluate a mmblurhand checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load CHECKPOINT with torch.load(weights_only=False), which '
        'runs any code the file holds; only for a file you trust that the '
        'safe loader refuses (docs/security.md)')
    parser.add_argument(
        '--work-dir', help='the directory to save evaluation results')
    parser.add_argument(
        '--out', help='save the metric results to this json/yaml file')
    parser.add_argument(
        '--dump',
        type=str,
        help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument(
        '--show-dir',
        help='directory (inside the work dir) where prediction-vs-GT '
        'pictures are saved')
    parser.add_argument(
        '--show', action='store_true', help='display prediction pictures')
    parser.add_argument(
        '--interval', type=int, default=1, help='visualisation interval')
    parser.add_argument(
        '--wait-time', type=float, default=1, help='display time (s)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, e.g. '
        'test_dataloader.batch_size=8')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg, args):
    """Merge command-line arguments into the config."""
    cfg.launcher = args.launcher
    cfg.load_from = args.checkpoint
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.show or args.show_dir:
        from mmblurhand.engine.visualization import enable_visualization
        enable_visualization(cfg, args.show, args.show_dir, args.interval,
                             args.wait_time, args.config)

    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise ValueError(
                f'--dump must end with .pkl or .pickle, got "{args.dump}".')
        dump_metric = dict(type='DumpResults', out_file_path=args.dump)
        evaluator = cfg.test_evaluator
        if isinstance(evaluator, (list, tuple)):
            cfg.test_evaluator = [*evaluator, dump_metric]
        else:
            cfg.test_evaluator = [evaluator, dump_metric]

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    from mmblurhand.engine.distributed import use_gloo_without_gpu
    use_gloo_without_gpu(cfg)
    return cfg


def main():
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'error: checkpoint "{args.checkpoint}" does not '
                         'exist. Pass the .pth written by tools/train.py '
                         '(e.g. work_dirs/<config>/epoch_N.pth).')
    from mmblurhand.utils import register_all_modules
    register_all_modules(init_default_scope=False)

    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)
    from mmblurhand.engine.distributed import (finish_distributed,
                                               init_cpu_distributed)
    init_cpu_distributed(cfg)

    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        from mmblurhand.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    # Checkpoints load with weights_only=True and mmblurhand's allow-list;
    # --trust-checkpoint lifts it for CHECKPOINT only (docs/security.md).
    from mmblurhand.utils.checkpoint import (UntrustedCheckpointError,
                                             install_checkpoint_loader,
                                             trusted_checkpoints)
    install_checkpoint_loader()
    try:
        with trusted_checkpoints(
                args.checkpoint if args.trust_checkpoint else None):
            metrics = runner.test()
    except UntrustedCheckpointError as err:
        raise SystemExit(f'error: {err}') from None
    if args.out and is_main_process():
        mmengine.mkdir_or_exist(osp.dirname(osp.abspath(args.out)))
        mmengine.dump(metrics, args.out, indent=2)
        print(f'metrics written to {args.out}')
    finish_distributed()


if __name__ == '__main__':
    main()
