# Copyright (c) OpenMMLab. All rights reserved.
"""Draw learning curves from ``learning_curve.jsonl`` files.

    python tools/analysis_tools/plot_learning_curves.py \
        LABEL=WORK_DIR [LABEL=WORK_DIR ...] --out docs/images/curves.png \
        [--metrics MPJPE_middle PA-MPJPE_middle unfolder_2d_middle] \
        [--reference MPJPE_middle=97.9 ...]

Each ``WORK_DIR`` is a training run with the ``LearningCurveHook`` (it
writes ``learning_curve.jsonl``: one row per validation). One panel per
metric against iterations; per run, the test set solid and the training
subset dashed (``train_<metric>``). ``--reference KEY=VALUE`` draws a
horizontal line (e.g. the mean hand's error). Prints the last row of every
run as a table.
"""
import argparse
import json
import os.path as osp
import sys

DEFAULT_METRICS = ('MPJPE_middle', 'PA-MPJPE_middle', 'unfolder_2d_middle')
LABELS = {
    'MPJPE_middle': 'MPJPE middle (mm)',
    'PA-MPJPE_middle': 'PA-MPJPE middle (mm)',
    'unfolder_2d_middle': 'Unfolder 2D error middle (crop units)',
    'MPJPE_oracle-seq_middle': 'best of K, middle (mm)',
    'MPJPE_top1_middle': 'top-1 MPJPE middle (mm)',
    'MPJPE_top4_middle': 'top-4 MPJPE middle (mm)',
}


def load_curve(work_dir: str):
    """Rows of ``learning_curve.jsonl``, one per iteration (last wins)."""
    path = osp.join(work_dir, 'learning_curve.jsonl')
    if not osp.isfile(path):
        raise SystemExit(f'plot_learning_curves: no {path}; train with the '
                         'LearningCurveHook (see docs/training_recipe.md).')
    rows = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                rows[row['iter']] = row
    return [rows[k] for k in sorted(rows)]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('runs', nargs='+', help='LABEL=WORK_DIR')
    parser.add_argument('--out', required=True, help='PNG to write')
    parser.add_argument('--metrics', nargs='+', default=DEFAULT_METRICS)
    parser.add_argument('--reference', nargs='*', default=[],
                        help='KEY=VALUE horizontal reference lines')
    parser.add_argument('--title', default='')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    runs = []
    for item in args.runs:
        label, sep, path = item.partition('=')
        if not sep:
            label, path = osp.basename(item.rstrip('/')), item
        runs.append((label, load_curve(path)))
    refs = {}
    for item in args.reference:
        key, _, value = item.partition('=')
        refs[key] = float(value)
    fig, axes = plt.subplots(
        1, len(args.metrics), figsize=(4.2 * len(args.metrics), 3.6),
        squeeze=False)
    for ax, metric in zip(axes[0], args.metrics):
        for i, (label, rows) in enumerate(runs):
            color = f'C{i}'
            for key, style, suffix in ((metric, '-', 'test'),
                                       (f'train_{metric}', '--', 'train')):
                pts = [(r['iter'], r[key]) for r in rows if key in r]
                if pts:
                    ax.plot(*zip(*pts), style, color=color, marker='o', ms=3,
                            label=f'{label} {suffix}')
        if metric in refs:
            ax.axhline(refs[metric], color='k', lw=0.8, ls=':',
                       label='reference')
        ax.set_xlabel('iteration')
        ax.set_ylabel(LABELS.get(metric, metric))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    if args.title:
        fig.suptitle(args.title, fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f'wrote {args.out}')
    header = ['run', 'iter'] + list(args.metrics) + [
        f'train_{m}' for m in args.metrics]
    print('| ' + ' | '.join(header) + ' |')
    print('|' + '---|' * len(header))
    for label, rows in runs:
        last = rows[-1]
        cells = [label, str(last['iter'])] + [
            f'{last[k]:.3f}' if k in last else '-' for k in header[2:]]
        print('| ' + ' | '.join(cells) + ' |')


if __name__ == '__main__':
    sys.exit(main())
