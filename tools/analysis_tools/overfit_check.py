# Copyright (c) OpenMMLab. All rights reserved.
"""Overfitting check: train a config's model on a few training images.

    python tools/analysis_tools/overfit_check.py CONFIG \
        --data-root data/blurhand_synthetic/ [--num-images 32] \
        [--max-iters 3000] [--eval-interval 100] [--work-dir DIR] \
        [--freeze neck] [--cfg-options KEY=VALUE ...]

Trains on the first ``--num-images`` training images with the test pipeline
(no augmentation) and evaluates on the same images with the config's
evaluator every ``--eval-interval`` iterations, until the criterion holds:

- BlurHandNet: ``MPJPE_middle`` < 3 mm;
- multi-hypothesis generator: best of K (``MPJPE_oracle-seq_middle``) < 3 mm;
- selector: ``top1_hit`` >= 0.9 (its top-1 is the true best hypothesis);
  give the overfitted generator with ``--cfg-options
  model.generator_checkpoint=WORK_DIR_OF_THE_GENERATOR/model.pth``.

It also fails when the parameters of a module (``backbone.layer1``,
``neck.deconvs``, ``head.ktformer``, ...) never changed: gradients do not
reach it. Writes ``overfit.json`` (the curve), ``overfit.png`` and ``model.pth`` (an
MMEngine-style checkpoint of the final weights) to ``--work-dir``. Exits 1
when the budget ran out before the criterion held. ``--freeze MODULE``
(repeatable) freezes a submodule, to show that the check fails when
gradients do not reach it. Results: ``docs/training_recipe.md``.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config, DictAction  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument(
        '--data-root', help='dataset root (default: the config\'s)')
    parser.add_argument('--num-images', type=int, default=32)
    parser.add_argument('--max-iters', type=int, default=3000)
    parser.add_argument('--eval-interval', type=int, default=100)
    parser.add_argument('--batch-size', type=int, default=None)
    parser.add_argument('--metric', help='criterion metric key')
    parser.add_argument('--target', type=float, help='criterion target')
    parser.add_argument('--rule', choices=['less', 'greater'])
    parser.add_argument(
        '--freeze', action='append', default=[],
        help='submodule to freeze (repeatable), e.g. neck, head.regressor')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--lr-decay-at', type=float, default=0.6,
        help='learning rate x0.1 after this fraction of --max-iters '
        '(default 0.6; negative: constant)')
    parser.add_argument(
        '--work-dir', help='output folder (default: work_dirs/overfit/'
        '<config name>)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. '
        'model.generator_checkpoint=PATH')
    return parser.parse_args(argv)


def plot_curve(result, path: str, title: str) -> None:
    """Training loss and the criterion's metric against iterations."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    iters = [row['iter'] for row in result.curve]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax1.plot(iters, [row['loss'] for row in result.curve])
    ax1.set_yscale('log')
    ax1.set_xlabel('iteration')
    ax1.set_ylabel('training loss')
    ax2.plot(iters, [row[result.metric] for row in result.curve],
             label=result.metric)
    ax2.axhline(result.target, color='k', ls='--', lw=0.8,
                label=f'target {result.target:g}')
    if result.rule == 'less':
        ax2.set_yscale('log')
    ax2.set_xlabel('iteration')
    ax2.set_ylabel(result.metric)
    ax2.legend()
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    import torch

    from mmblurhand.engine.overfit import run_overfit_check
    from mmblurhand.utils import register_all_modules
    register_all_modules()
    if not osp.isfile(args.config):
        raise SystemExit(f'overfit_check: no config at {args.config}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.data_root:
        root = args.data_root.rstrip('/') + '/'
        cfg.train_dataloader.dataset.data_root = root
    work_dir = args.work_dir or osp.join(
        'work_dirs', 'overfit', osp.splitext(osp.basename(args.config))[0])
    os.makedirs(work_dir, exist_ok=True)

    def progress(row):
        shown = {k: v for k, v in row.items() if k in (
            'iter', 'loss', 'MPJPE_middle', 'PA-MPJPE_middle',
            'MPJPE_oracle-seq_middle', 'MPJPE_top1_middle', 'top1_hit')}
        print('  ' + '  '.join(
            f'{k} {v:.4g}' if isinstance(v, float) else f'{k} {v}'
            for k, v in shown.items()), flush=True)

    try:
        result = run_overfit_check(
            cfg,
            num_images=args.num_images,
            max_iters=args.max_iters,
            eval_interval=args.eval_interval,
            batch_size=args.batch_size,
            metric=args.metric,
            target=args.target,
            rule=args.rule,
            freeze=args.freeze,
            seed=args.seed,
            lr_decay_at=args.lr_decay_at if args.lr_decay_at >= 0 else None,
            progress=progress)
    except (KeyError, ValueError) as err:
        raise SystemExit(f'overfit_check: {err}')
    summary = dict(
        config=args.config,
        num_images=args.num_images,
        metric=result.metric,
        target=result.target,
        rule=result.rule,
        reached=result.reached,
        passed=result.passed,
        stuck_modules=result.stuck_modules,
        final=result.final,
        iterations=result.iterations,
        seconds=round(result.seconds, 1),
        frozen=result.frozen,
        curve=result.curve)
    with open(osp.join(work_dir, 'overfit.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    torch.save(
        dict(
            state_dict=result.model.state_dict(),
            meta=dict(config=args.config, overfit_images=args.num_images,
                      iterations=result.iterations)),
        osp.join(work_dir, 'model.pth'))
    plot_curve(result, osp.join(work_dir, 'overfit.png'),
               f'{osp.basename(args.config)}: {args.num_images} images')
    verdict = 'reached' if result.reached else 'NOT reached'
    print(f'{result.metric} = {result.final:.4g} after {result.iterations} '
          f'iterations ({result.seconds:.0f} s): target '
          f'{"<" if result.rule == "less" else ">="} {result.target:g} '
          f'{verdict}. Curve: {work_dir}/overfit.json, overfit.png')
    if result.stuck_modules:
        print('FAILED: no parameter of these modules changed (gradients do '
              f'not reach them): {", ".join(result.stuck_modules)}')
    return 0 if result.passed else 1


if __name__ == '__main__':
    sys.exit(main())
