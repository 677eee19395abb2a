# Copyright (c) OpenMMLab. All rights reserved.
"""Per-sample comparisons of an ``evaluate_refinement.py`` run.

Example::

    python projects/hand_from_blur/tools/compare_results.py \\
        work_dirs/hand_from_blur/k16_64_model/results.json

Prints, for pairs of rows, on how many samples the second has the lower
MPJPE and the mean difference (mm); how often each selector picks the
oracle hypothesis; and the mean refinement loss before and after.
"""
import argparse
import json
from collections import defaultdict

import numpy as np

PAIRS = (('ccr', 'physics'), ('ccr', 'physics (image)'),
         ('ccr', 'ccr + physics'), ('ccr', 'ccr + refine (no matte)'),
         ('ccr + physics', 'ccr + physics + refine'),
         ('init', 'init + refine'))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('results', help='results.json of a run')
    args = parser.parse_args(argv)
    with open(args.results) as f:
        data = json.load(f)
    records = data['records']
    if not records:
        raise SystemExit(f'{args.results} holds no samples.')
    for first, second in PAIRS:
        if first not in records[0]['mpjpe'] or second not in records[0][
                'mpjpe']:
            continue
        a = np.array([r['mpjpe'][first] for r in records])
        b = np.array([r['mpjpe'][second] for r in records])
        print(f'{second} vs {first}: lower MPJPE on {int((b < a).sum())} of '
              f'{len(a)} samples, mean difference {np.mean(b - a):+.1f} mm')
    if 'oracle' in records[0]['chosen']:
        for name in records[0]['chosen']:
            if name == 'oracle':
                continue
            hits = np.mean([r['chosen'][name] == r['chosen']['oracle']
                            for r in records])
            print(f'{name}: picks the oracle hypothesis in {100 * hits:.0f} '
                  '% of the samples')
    losses = defaultdict(list)
    for run in data.get('loss_history', []):
        losses[run['name']].append((run['history'][0], run['history'][-1]))
    for name, pairs in losses.items():
        start, end = np.mean(pairs, axis=0)
        print(f'{name}: loss {start:.3f} -> {end:.3f} (mean over '
              f'{len(pairs)} batches)')


if __name__ == '__main__':
    main()
