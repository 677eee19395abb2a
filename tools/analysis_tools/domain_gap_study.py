# Copyright (c) OpenMMLab. All rights reserved.
"""The blur domain-gap study on synthetic data (BlurHandNet paper, Table 1).

    python tools/analysis_tools/domain_gap_study.py \\
        [--work-dir work_dirs/domain_gap] [--reuse-dir work_dirs/studies] \\
        [--only bhn_sharp ...] [--tables-only]

Trains the study-size BlurHandNet and the single-frame baseline (no
Unfolder) on **sharp** middle frames and on **blurry** images of
``data/domain_gap_synthetic`` (configs under
``configs/studies/domain_gap/``) and tests every model on both the blurry
and the sharp test images. A blurry-trained model whose checkpoint already
exists under ``--reuse-dir`` (the accuracy studies train the same configs)
is reused instead of retrained when the accuracy studies' data
(``data/blurhand_synthetic``) holds the same blurry images (same
generator options). Finished
steps (a metrics file exists) are skipped, so an interrupted run continues
where it stopped. Writes ``results.json`` and ``tables.md`` (with the
command behind every number) into ``--work-dir``.

Needs ``data/domain_gap_synthetic`` with sharp frames::

    python tools/dataset_converters/synthesize_blurhand.py \\
        --out data/domain_gap_synthetic --num-train 1600 --num-test 320 \\
        --img-size 128 --seed 0 --save-sharp
"""
import argparse
import json
import os
import os.path as osp
import shlex
import subprocess
import sys

# the shared runner of the accuracy studies (same folder)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from accuracy_studies import run_command, save_study  # noqa: E402

CONFIG_DIR = 'configs/studies/domain_gap'
DATA_ROOT = 'data/domain_gap_synthetic/'
#: Data of the accuracy studies whose checkpoints may be reused.
REUSE_DATA_ROOT = 'data/blurhand_synthetic/'
#: Generator options that add files without changing the blurry images.
EXTRA_KEYS = ('summary', 'save_sharp', 'output_format', 'save_background',
              'save_alpha')


def _stem(model: str, train: str, test: str) -> str:
    return f'{model}_r18s_train-{train}_test-{test}_study-synthetic-64x64'


def _step(label: str, model: str, train: str, reusable: bool) -> tuple:
    """(label, training set, training config stem, stem of the accuracy
    study config that trains the same model (reusable checkpoint) or None,
    test set -> test config stem)."""
    return (label, 'sharp' if train == 'sharp' else 'blurry',
            _stem(model, train, 'blur'),
            f'{model}_r18s_study-synthetic-64x64' if reusable else None,
            dict(
                blur=_stem(model, train, 'blur'),
                sharp=_stem(model, train, 'sharp')))


SINGLE = 'single-frame baseline (no Unfolder)'
STEPS = {
    'bhn_sharp': _step('BlurHandNet', 'blurhandnet', 'sharp', False),
    'bhn_blur': _step('BlurHandNet', 'blurhandnet', 'blur', True),
    'sf_sharp': _step(SINGLE, 'singleframe', 'sharp', False),
    'sf_blur': _step(SINGLE, 'singleframe', 'blur', True),
}
#: Epochs of the study configs (their final checkpoint).
MAX_EPOCHS = 3  # of the study configs


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train on sharp vs blurry synthetic hands, test on '
        'both (the blur domain gap).')
    parser.add_argument('--work-dir', default='work_dirs/domain_gap')
    parser.add_argument(
        '--reuse-dir',
        default='work_dirs/studies',
        help='where blurry-trained study checkpoints may already exist '
        '(read only)')
    parser.add_argument(
        '--only', nargs='+', choices=list(STEPS), help='run these steps')
    parser.add_argument(
        '--tables-only',
        action='store_true',
        help='only rebuild results.json / tables.md from finished steps')
    parser.add_argument(
        '--python', default=sys.executable, help='interpreter for the tools')
    return parser.parse_args(argv)


def _display(cmd) -> str:
    """The command as documented (``python`` for the interpreter)."""
    return shlex.join(['python'] + list(cmd[1:]))


def final_checkpoint(run_dir: str):
    """``epoch_{MAX_EPOCHS}.pth`` of a finished run, else ``None``."""
    path = osp.join(run_dir, f'epoch_{MAX_EPOCHS}.pth')
    return path if osp.isfile(path) else None


def same_blurry_data(root_a: str, root_b: str) -> bool:
    """Whether two synthetic datasets hold the same blurry images and
    annotations (same generator options, except the extra outputs)."""
    metas = []
    for root in (root_a, root_b):
        path = osp.join(root, 'synthesis_meta.json')
        if not osp.isfile(path):
            return False
        with open(path) as f:
            meta = json.load(f)
        metas.append({k: v for k, v in meta.items() if k not in EXTRA_KEYS})
    return metas[0] == metas[1]


def run_step(args, name: str) -> None:
    _, _, train_stem, reuse_stem, tests = STEPS[name]
    metrics_dir = osp.join(args.work_dir, 'metrics')
    logs = osp.join(args.work_dir, 'logs')
    timing_file = osp.join(metrics_dir, f'{name}_timing.json')
    timing = dict(commands=[])
    if osp.isfile(timing_file):
        with open(timing_file) as f:
            timing = json.load(f)
    run_dir = osp.join(args.work_dir, train_stem)
    ckpt = final_checkpoint(run_dir)
    if ckpt is None and reuse_stem is not None:
        reuse = final_checkpoint(osp.join(args.reuse_dir, reuse_stem))
        if reuse is not None and same_blurry_data(REUSE_DATA_ROOT,
                                                  DATA_ROOT):
            print(f'[{name}] reusing {reuse}')
            ckpt = timing['checkpoint_from'] = reuse
        elif reuse is not None:
            print(f'[{name}] not reusing {reuse}: {REUSE_DATA_ROOT} was '
                  f'generated with other options than {DATA_ROOT}')
    if ckpt is None:
        cmd = [
            args.python, 'tools/train.py',
            osp.join(CONFIG_DIR, train_stem + '.py'), '--work-dir', run_dir,
            '--cfg-options', 'train_cfg.val_interval=1000'
        ]
        print(f'[{name}] training: {shlex.join(cmd)}', flush=True)
        timing['train'] = run_command(cmd, osp.join(logs, f'{name}_train.log'))
        timing['commands'].append(_display(cmd))
        ckpt = final_checkpoint(run_dir)
        if ckpt is None:
            raise RuntimeError(f'[{name}] training finished without '
                               f'epoch_{MAX_EPOCHS}.pth in {run_dir}')
    for test_set, stem in tests.items():
        out = osp.join(metrics_dir, f'{name}_test-{test_set}.json')
        if osp.isfile(out):
            print(f'[{name}] test on {test_set} done already ({out})')
            continue
        os.makedirs(metrics_dir, exist_ok=True)
        cmd = [
            args.python, 'tools/test.py',
            osp.join(CONFIG_DIR, stem + '.py'), ckpt, '--work-dir',
            osp.join(args.work_dir, stem), '--out', out
        ]
        print(f'[{name}] testing on {test_set}: {shlex.join(cmd)}',
              flush=True)
        timing[f'test_{test_set}'] = run_command(
            cmd, osp.join(logs, f'{name}_test-{test_set}.log'))
        timing['commands'].append(_display(cmd))
    with open(timing_file, 'w') as f:
        json.dump(timing, f, indent=2)


def mean_hand(work_dir: str, python: str = sys.executable):
    """Metrics of always predicting the mean training hand (no image) on
    ``DATA_ROOT`` (``tools/analysis_tools/mean_pose_baseline.py``, pooled
    like the study metrics); the same for both test sets."""
    if not osp.isdir(DATA_ROOT):
        return None
    out_file = osp.join(work_dir, 'metrics', 'mean_pose.json')
    if not osp.isfile(out_file):
        os.makedirs(osp.dirname(out_file), exist_ok=True)
        config = osp.join(CONFIG_DIR,
                          _stem('blurhandnet', 'blur', 'blur') + '.py')
        subprocess.run([
            python, 'tools/analysis_tools/mean_pose_baseline.py', config,
            '--json', out_file
        ],
                       check=True)
    with open(out_file) as f:
        return json.load(f)['metrics']['pooled']


def load_results(work_dir: str) -> dict:
    results = {}
    for name in STEPS:
        entry = dict(metrics={}, timing={})
        for test_set in ('blur', 'sharp'):
            path = osp.join(work_dir, 'metrics',
                            f'{name}_test-{test_set}.json')
            if osp.isfile(path):
                with open(path) as f:
                    entry['metrics'][test_set] = json.load(f)
        timing = osp.join(work_dir, 'metrics', f'{name}_timing.json')
        if osp.isfile(timing):
            with open(timing) as f:
                entry['timing'] = json.load(f)
        if entry['metrics']:
            results[name] = entry
    if results:
        baseline = mean_hand(work_dir)
        if baseline:
            config = osp.join(CONFIG_DIR,
                              _stem('blurhandnet', 'blur', 'blur') + '.py')
            results['mean_hand'] = dict(
                metrics=dict(blur=baseline, sharp=baseline),
                timing=dict(commands=[
                    f'python tools/analysis_tools/mean_pose_baseline.py '
                    f'{config} --json {work_dir}/metrics/mean_pose.json'
                ]))
    return results


def _fmt(value) -> str:
    return 'n/a' if value is None else f'{value:.2f}'


def tables(results: dict) -> str:
    """Markdown tables: the paper's Table 1 shape, then per blur rate."""
    lines = [
        '| model | train set | MPJPE middle, test sharp (mm) | '
        'MPJPE middle, test blurry (mm) | PA-MPJPE middle, sharp / blurry '
        '(mm) | MPJPE past / future, test blurry (mm) | commands |',
        '|---|---|---|---|---|---|---|'
    ]
    rows = [(name, step[0], step[1]) for name, step in STEPS.items()]
    rows.insert(0, ('mean_hand', 'mean training hand (ignores the image)',
                    '-'))
    for name, label, train_set in rows:
        if name not in results:
            continue
        metrics = results[name]['metrics']

        def get(test_set, key):
            return metrics.get(test_set, {}).get(key)

        def pair(key, sets=('sharp', 'blur')):
            values = [get(test_set, key) for test_set in sets]
            if all(v is None for v in values):
                return '-'
            return ' / '.join(_fmt(v) for v in values)

        ends = '-' if get('blur', 'MPJPE_past') is None else (
            f'{_fmt(get("blur", "MPJPE_past"))} / '
            f'{_fmt(get("blur", "MPJPE_future"))}')
        timing = results[name]['timing']
        cmds = [f'`{c}`' for c in timing.get('commands', [])]
        if 'checkpoint_from' in timing:
            cmds.insert(0, f'checkpoint reused: `{timing["checkpoint_from"]}`')
        lines.append(
            f'| {label} | {train_set} | '
            f'{_fmt(get("sharp", "MPJPE_middle"))} | '
            f'{_fmt(get("blur", "MPJPE_middle"))} | '
            f'{pair("PA-MPJPE_middle")} | '
            f'{ends} | ' + '<br>'.join(cmds) + ' |')
    lines += blur_table(results, rows, 'blur')
    lines += blur_table(results, rows, 'sharp')
    return '\n'.join(lines) + '\n'


def blur_table(results: dict, rows, test_set: str) -> list:
    """MPJPE middle on one test set (``'blur'`` or ``'sharp'``) per
    blur-rate bin of the samples."""
    bins = set()
    for entry in results.values():
        for key in entry['metrics'].get(test_set, {}):
            if key.startswith('MPJPE_middle/blur_'):
                bins.add(key.split('/blur_')[1])
    if not bins:
        return []
    order = sorted(bins, key=lambda b: float(b.split('-')[0]))
    counts = next((e['metrics'][test_set] for n, e in results.items()
                   if n != 'mean_hand' and test_set in e['metrics']), {})
    images = 'blurry' if test_set == 'blur' else 'sharp'
    lines = [
        '', f'MPJPE middle (mm) on the {images} test images by the blur rate '
        'of their sample (hands per bin in brackets):', '',
        '| model | train set | ' +
        ' | '.join(f'{b} ({int(counts.get("num_samples/blur_" + b, 0))})'
                   for b in order) + ' |', '|---|---|' + '---|' * len(order)
    ]
    for name, label, train_set in rows:
        if name not in results:
            continue
        metrics = results[name]['metrics'].get(test_set, {})
        lines.append(f'| {label} | {train_set} | ' + ' | '.join(
            _fmt(metrics.get(f'MPJPE_middle/blur_{b}')) for b in order) +
                     ' |')
    return lines


def main(argv=None):
    args = parse_args(argv)
    if not args.tables_only:
        for name in STEPS:
            if args.only and name not in args.only:
                continue
            run_step(args, name)
    results = load_results(args.work_dir)
    save_study(args.work_dir, results, tables(results))


if __name__ == '__main__':
    main()
