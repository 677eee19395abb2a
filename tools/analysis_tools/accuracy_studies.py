# Copyright (c) OpenMMLab. All rights reserved.
"""Run the accuracy studies on synthetic BlurHand and tabulate them.

    python tools/analysis_tools/accuracy_studies.py \
        [--work-dir work_dirs/studies] [--only NAME ...] [--tables-only]

Trains (``tools/train.py``) and evaluates (``tools/test.py``) the study
configs under ``configs/studies/`` one after another, then writes
``results.json`` and ``tables.md`` (Markdown, with the command behind each
row) into ``--work-dir``. Finished steps (a test metrics file exists) are
skipped, so an interrupted run continues where it stopped. CPU time (user +
system, training and data workers included) is recorded per step.

The studies (the shapes of the multi-hypothesis paper's Tables II-IV):

- best-of-K MPJPE for generators trained with K = 1, 4, 16, 32;
- top-n MPJPE, n = 1..4, of the K = 16 generator (one model);
- selection strategies for the K = 16 generator: random, projective, the
  selection model with the pair-wise loss and with the CCR loss;
- learned hypothesis embeddings vs noise (K = 16);
- multi-hypothesis vs BlurHandNet vs a single-frame baseline (no temporal
  unfolding);
- every metric per blur-rate bin.

Needs the synthetic data (``tools/dataset_converters/synthesize_blurhand.py``
writes ``data/blurhand_synthetic``).
"""
import argparse
import json
import os
import os.path as osp
import resource
import shlex
import subprocess
import sys
import time

STUDY_DIR = 'configs/studies'
GEN = 'mh-gen_r18s_k{}_study-synthetic-64x64'
#: (name, config stem, needs training, checkpoint source). Order matters:
#: selectors need the K = 16 generator; the costliest run (K = 32) is last.
STEPS = [
    ('k1', GEN.format(1), True, None),
    ('k4', GEN.format(4), True, None),
    ('k16', GEN.format(16), True, None),
    ('k16_random', GEN.format('16-randsel'), False, 'k16'),
    ('sel_ccr', 'mh-sel-ccr_r18s_k16_study-synthetic-64x64', True, None),
    ('blurhandnet', 'blurhandnet_r18s_study-synthetic-64x64', True, None),
    ('singleframe', 'singleframe_r18s_study-synthetic-64x64', True, None),
    ('k16_noise', GEN.format('16-noise'), True, None),
    ('sel_pairwise', 'mh-sel-pairwise_r18s_k16_study-synthetic-64x64', True,
     None),
    ('k32', GEN.format(32), True, None),
]
DATA_ROOT = 'data/blurhand_synthetic/'
#: Blur-rate bins of the metrics (their default).
BLUR_BINS = (0., 0.2, 0.4, 0.6, 0.8, float('inf'))
STEP_NAMES = [s[0] for s in STEPS]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train and evaluate the synthetic accuracy studies.')
    parser.add_argument('--work-dir', default='work_dirs/studies')
    parser.add_argument(
        '--only', nargs='+', choices=STEP_NAMES, help='run these steps only')
    parser.add_argument(
        '--tables-only',
        action='store_true',
        help='only rebuild results.json / tables.md from finished steps')
    parser.add_argument(
        '--python', default=sys.executable, help='interpreter for the tools')
    return parser.parse_args(argv)


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_command(cmd, log_file) -> dict:
    """Run ``cmd`` (list) with output to ``log_file``; wall and CPU time."""
    os.makedirs(osp.dirname(osp.abspath(log_file)), exist_ok=True)
    cpu0, wall0 = children_cpu_s(), time.time()
    with open(log_file, 'w') as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f'command failed ({proc.returncode}), see '
                           f'{log_file}:\n  {shlex.join(cmd)}')
    return dict(wall_s=time.time() - wall0, cpu_s=children_cpu_s() - cpu0)


def step_paths(work_dir, name, stem):
    run_dir = osp.join(work_dir, stem)
    return dict(
        run_dir=run_dir,
        metrics=osp.join(work_dir, 'metrics', f'{name}.json'),
        timing=osp.join(work_dir, 'metrics', f'{name}_timing.json'),
        train_log=osp.join(work_dir, 'logs', f'{name}_train.log'),
        test_log=osp.join(work_dir, 'logs', f'{name}_test.log'))


def last_checkpoint(run_dir) -> str:
    ckpts = [f for f in os.listdir(run_dir) if f.startswith('epoch_')]
    if not ckpts:
        raise FileNotFoundError(f'no epoch_*.pth in {run_dir}')
    ckpts.sort(key=lambda f: int(f[len('epoch_'):-len('.pth')]))
    return osp.join(run_dir, ckpts[-1])


def run_step(args, name, stem, train, source) -> None:
    paths = step_paths(args.work_dir, name, stem)
    if osp.isfile(paths['metrics']):
        print(f'[{name}] done already ({paths["metrics"]})')
        return
    for key in ('metrics', 'train_log'):
        os.makedirs(osp.dirname(paths[key]), exist_ok=True)
    config = osp.join(STUDY_DIR, stem + '.py')
    timing = dict(commands=[])
    if train:
        # validation is the same test set: evaluate once, after training
        cmd = [
            args.python, 'tools/train.py', config, '--work-dir',
            paths['run_dir'], '--cfg-options', 'train_cfg.val_interval=1000'
        ]
        print(f'[{name}] training: {shlex.join(cmd)}', flush=True)
        timing['train'] = run_command(cmd, paths['train_log'])
        timing['commands'].append(shlex.join(['python'] + cmd[1:]))
        ckpt = last_checkpoint(paths['run_dir'])
    else:
        src_stem = dict((s[0], s[1]) for s in STEPS)[source]
        ckpt = last_checkpoint(osp.join(args.work_dir, src_stem))
    cmd = [
        args.python, 'tools/test.py', config, ckpt, '--work-dir',
        paths['run_dir'], '--out', paths['metrics']
    ]
    print(f'[{name}] testing: {shlex.join(cmd)}', flush=True)
    timing['test'] = run_command(cmd, paths['test_log'])
    timing['commands'].append(shlex.join(['python'] + cmd[1:]))
    with open(paths['timing'], 'w') as f:
        json.dump(timing, f, indent=2)


def mean_hand_baseline(work_dir) -> dict:
    """MPJPE of always predicting the mean training hand (no image).

    ``tools/analysis_tools/mean_pose_baseline.py`` on the K = 16 study
    config: the mean root-relative training joint sequence (right-hand
    frame, mirrored back for left hands) scored by ``BlurHandMetric`` with
    pooled averaging, i.e. like the study metrics (mm, per step and per
    blur-rate bin, past/future order chosen per sample). A model that does
    not beat it has learned nothing from the image.
    """
    out_file = osp.join(work_dir, 'metrics', 'mean_hand.json')
    if not osp.isfile(out_file):
        config = osp.join(STUDY_DIR, GEN.format(16) + '.py')
        cmd = [
            sys.executable, 'tools/analysis_tools/mean_pose_baseline.py',
            config, '--json', out_file
        ]
        subprocess.run(cmd, check=True)
    with open(out_file) as f:
        return json.load(f)['metrics']['pooled']


def load_results(work_dir) -> dict:
    results = {}
    for name, stem, _, _ in STEPS:
        paths = step_paths(work_dir, name, stem)
        if not osp.isfile(paths['metrics']):
            continue
        with open(paths['metrics']) as f:
            metrics = json.load(f)
        timing = {}
        if osp.isfile(paths['timing']):
            with open(paths['timing']) as f:
                timing = json.load(f)
        results[name] = dict(config=stem, metrics=metrics, timing=timing)
    if osp.isdir(DATA_ROOT):
        results['mean_hand'] = dict(
            config=None,
            metrics=mean_hand_baseline(work_dir),
            timing=dict(commands=[
                'python tools/analysis_tools/mean_pose_baseline.py '
                f'{STUDY_DIR}/{GEN.format(16)}.py'
            ]))
    return results


def fmt(value) -> str:
    return 'n/a' if value is None else f'{value:.2f}'


def tables(results) -> str:
    """Markdown tables of the finished studies."""

    def metric(name, key):
        return results.get(name, {}).get('metrics', {}).get(key)

    def cmds(*names):
        out = []
        for name in names:
            for cmd in results.get(name, {}).get('timing', {}).get(
                    'commands', []):
                out.append(f'`{cmd}`')
        return '<br>'.join(out)

    lines = []
    steps = ('past', 'middle', 'future')
    lines += [
        '### Best-of-K MPJPE against K (Table II, left)', '',
        'best of K chosen per time step (the official evaluation) and with '
        'one hypothesis per sequence (seq.); PJD: spread of the K '
        'hypotheses.', '',
        '| K | ' + ' | '.join(f'best-of-K {s} (mm)' for s in steps) +
        ' | best-of-K seq. middle (mm) | PJD middle (mm) | commands |',
        '|---|---|---|---|---|---|---|'
    ]
    for k in (1, 4, 16, 32):
        name = f'k{k}'
        if name not in results:
            continue
        row = [str(k)] + [
            fmt(metric(name, f'MPJPE_oracle-step_{s}')) for s in steps
        ] + [
            fmt(metric(name, 'MPJPE_oracle-seq_middle')),
            fmt(metric(name, 'PJD_middle')),
            cmds(name)
        ]
        lines.append('| ' + ' | '.join(row) + ' |')
    lines += [
        '', '### Top-n MPJPE against n, K = 16 (Table II, right)', '',
        '| selector | n=1 | n=2 | n=3 | n=4 | hit rate (top-4) |',
        '|---|---|---|---|---|---|'
    ]
    selectors = (('k16_random', 'random'), ('k16', 'projective'),
                 ('sel_pairwise', 'selection model, pair-wise loss'),
                 ('sel_ccr', 'selection model, CCR loss'))
    for name, label in selectors:
        if name not in results:
            continue
        row = [label] + [
            fmt(metric(name, f'MPJPE_top{n}_middle')) for n in (1, 2, 3, 4)
        ] + [fmt(metric(name, 'hit_rate'))]
        lines.append('| ' + ' | '.join(row) + ' |')
    lines += [
        '', '### Selection strategies, n = 4 of K = 16 (Table III)', '',
        '| method | top-4 MPJPE middle (mm) | top-1 MPJPE middle (mm) | '
        'commands |', '|---|---|---|---|'
    ]
    for name, label in selectors:
        if name not in results:
            continue
        lines.append(f'| {label} | {fmt(metric(name, "MPJPE_top4_middle"))} '
                     f'| {fmt(metric(name, "MPJPE_top1_middle"))} | '
                     f'{cmds(name)} |')
    lines += [
        '', '### Hypothesis codes, K = 16 (Table IV)', '',
        '| codes | ' + ' | '.join(f'best-of-K {s} (mm)' for s in steps) +
        ' | PJD middle (mm) | commands |', '|---|---|---|---|---|---|'
    ]
    for name, label in (('k16_noise', 'noise N(0, 1/E)'),
                        ('k16', 'learned embeddings')):
        if name not in results:
            continue
        row = [label] + [
            fmt(metric(name, f'MPJPE_oracle-step_{s}')) for s in steps
        ] + [fmt(metric(name, 'PJD_middle')),
             cmds(name)]
        lines.append('| ' + ' | '.join(row) + ' |')
    lines += [
        '', '### Multi-hypothesis vs BlurHandNet vs single frame', '',
        '| model | MPJPE middle (mm) | MPJPE past / future (mm) | '
        'commands |', '|---|---|---|---|'
    ]
    rows = (
        ('mean_hand', 'mean training hand (ignores the image)', 'MPJPE'),
        ('singleframe', 'single-frame baseline (no unfolding)', 'MPJPE'),
        ('blurhandnet', 'BlurHandNet', 'MPJPE'),
        ('k16', 'multi-hypothesis K=16, top-1 (projective)', 'MPJPE_top1'),
        ('sel_ccr', 'multi-hypothesis K=16, top-1 (CCR selector)',
         'MPJPE_top1'),
        ('sel_ccr', 'multi-hypothesis K=16, best of top-4 (CCR selector)',
         'MPJPE_top4'),
        ('k16', 'multi-hypothesis K=16, best of K (oracle, per step)',
         'MPJPE_oracle-step'),
    )
    for name, label, prefix in rows:
        if name not in results:
            continue
        ends = ' / '.join(
            fmt(metric(name, f'{prefix}_{s}')) for s in ('past', 'future'))
        lines.append(f'| {label} | {fmt(metric(name, prefix + "_middle"))} '
                     f'| {ends} | {cmds(name)} |')
    lines += blur_table(results)
    total = sum(
        r.get('timing', {}).get(part, {}).get('cpu_s', 0.)
        for r in results.values() for part in ('train', 'test'))
    lines += ['', f'Total CPU time of these runs: {total / 60:.1f} min.']
    return '\n'.join(lines) + '\n'


def blur_table(results):
    """Middle-frame MPJPE per blur-rate bin."""
    names = (('mean_hand', 'mean training hand', 'MPJPE_middle'),
             ('singleframe', 'single frame', 'MPJPE_middle'),
             ('blurhandnet', 'BlurHandNet', 'MPJPE_middle'),
             ('k16', 'MH K=16 top-1 (projective)', 'MPJPE_top1_middle'),
             ('sel_ccr', 'MH K=16 top-1 (CCR)', 'MPJPE_top1_middle'),
             ('k16', 'MH K=16 best of K', 'MPJPE_oracle-step_middle'))
    bins = set()
    for name, _, key in names:
        for metric in results.get(name, {}).get('metrics', {}):
            if metric.startswith(key + '/blur_'):
                bins.add(metric.split('/blur_')[1])
    if not bins:
        return []
    order = sorted(bins, key=lambda b: float(b.split('-')[0]))
    counts = results.get('k16', results.get('blurhandnet', {})).get(
        'metrics', {})
    lines = [
        '', '### Middle-frame MPJPE (mm) by blur rate', '',
        '| model | ' + ' | '.join(
            f'{b} ({int(counts.get("num_samples/blur_" + b, 0))} imgs)'
            for b in order) + ' |', '|---|' + '---|' * len(order)
    ]
    for name, label, key in names:
        if name not in results:
            continue
        metrics = results[name]['metrics']
        lines.append(f'| {label} | ' + ' | '.join(
            fmt(metrics.get(f'{key}/blur_{b}')) for b in order) + ' |')
    return lines


def save_study(work_dir: str, results: dict, text: str) -> None:
    """Write ``results.json`` and ``tables.md`` to ``work_dir`` and print
    the tables (shared with ``domain_gap_study.py``)."""
    os.makedirs(work_dir, exist_ok=True)
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)
    with open(osp.join(work_dir, 'tables.md'), 'w') as f:
        f.write(text)
    print(text)


def main(argv=None):
    args = parse_args(argv)
    if not args.tables_only:
        steps = [s for s in STEPS if not args.only or s[0] in args.only]
        for name, stem, train, source in steps:
            run_step(args, name, stem, train, source)
    results = load_results(args.work_dir)
    save_study(args.work_dir, results, tables(results))


if __name__ == '__main__':
    main()
