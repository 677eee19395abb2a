# Copyright (c) OpenMMLab. All rights reserved.
"""Evaluate multi-hypothesis models at several K, without retraining.

Each model is given as ``CONFIG CHECKPOINT``; its test dataloader and
``MHEntropyMetric`` (best-of-K, top-n, PJD on visible / occluded joints,
RD; see projects/mhentropy/README.md) are used. A flow model
(``FlowHypothesisHead``) is sampled at every ``--ks`` value from the same
features, and each sample set is ranked both by the flow's likelihood and by
the model's ``selector``; a fixed-K model (the embedding generator) is
evaluated at its own K with its selector. Samples are seeded per batch and
K, so runs repeat exactly.

Example (repository root)::

    PYTHONPATH=. python projects/mhentropy/tools/sweep_k.py \
        --model flow-nll CONFIG_A CKPT_A \
        --model gen-k16 CONFIG_B CKPT_B \
        --ks 1 2 4 8 16 32 64 --out work_dirs/mhentropy/sweep.json
"""
import argparse
import json
import os
import os.path as osp
from collections import OrderedDict

import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import load_checkpoint

#: Columns of the printed table (averaged over the time steps).
TABLE_KEYS = ('MPJPE_oracle-seq', 'MPJPE_oracle-step', 'MPJPE_top1',
              'MPJPE_top4', 'PJD', 'PJD-vis', 'PJD-occ', 'PJD2d-vis', 'RD')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--model',
        nargs=3,
        action='append',
        required=True,
        metavar=('NAME', 'CONFIG', 'CHECKPOINT'),
        help='a model to evaluate (repeatable)')
    parser.add_argument(
        '--ks',
        type=int,
        nargs='+',
        default=[1, 2, 4, 8, 16, 32, 64],
        help='K values for flow models')
    parser.add_argument(
        '--max-images',
        type=int,
        default=None,
        help='evaluate only the first N test images')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', required=True, help='output .json')
    return parser.parse_args()


def build_model(config: str, checkpoint: str):
    """Model (eval mode, checkpoint loaded strictly) and its config."""
    from mmblurhand.registry import MODELS
    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model)
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'sweep_k: checkpoint "{checkpoint}" does '
                                'not exist.')
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    model.eval()
    if not hasattr(model, 'pack'):
        raise TypeError(f'sweep_k: {config} must build an MHEntropyNet '
                        f'(got {type(model).__name__}).')
    return cfg, model


def step_mean(metrics: dict, key: str) -> float:
    """Mean of ``{key}_{step}`` over the time steps (NaN if absent)."""
    values = [
        v for k, v in metrics.items()
        if k.startswith(key + '_') and '/' not in k
        and k[len(key) + 1:] in ('past', 'middle', 'future')
    ]
    return float(np.mean(values)) if values else float('nan')


def main():
    args = parse_args()
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmengine.utils import ProgressBar

    from mmblurhand.registry import METRICS
    from mmblurhand.utils import register_all_modules
    register_all_modules()
    init_default_scope('mmblurhand')
    import projects.mhentropy.mhentropy  # noqa: F401

    models = OrderedDict()
    for name, config, checkpoint in args.model:
        models[name] = build_model(config, checkpoint)
    first_cfg = next(iter(models.values()))[0]
    loader_cfg = dict(first_cfg.test_dataloader)
    loader_cfg.update(persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg)
    metric_cfg = dict(first_cfg.test_evaluator)

    runs = OrderedDict()  # (model, K, ranking) -> metric
    for name, (_, model) in models.items():
        sampling = hasattr(model.head, 'sample')
        ks = args.ks if sampling else [model.head.num_hypotheses]
        rankings = ('likelihood', 'selector') if sampling else ('selector', )
        for k in ks:
            for ranking in rankings:
                runs[(name, k, ranking)] = METRICS.build(metric_cfg)

    num_images = len(loader.dataset) if args.max_images is None else min(
        args.max_images, len(loader.dataset))
    progress = ProgressBar(num_images)
    seen = 0
    with torch.no_grad():
        for batch_idx, batch in enumerate(loader):
            if seen >= num_images:
                break
            for name, (_, model) in models.items():
                data = model.data_preprocessor(batch, False)
                inputs, samples = data['inputs'], data['data_samples']
                feats = model.extract_feat(inputs)
                for (run_name, k, ranking), metric in runs.items():
                    if run_name != name:
                        continue
                    if ranking == 'selector' and (name, k, 'likelihood') in \
                            runs:
                        preds = cached  # same samples, other ranking
                    else:
                        torch.manual_seed(args.seed + 1000 * batch_idx + k)
                        preds = model.head.predict(
                            feats, samples, test_cfg=dict(num_hypotheses=k))
                        cached = preds
                    model.test_cfg['ranking'] = ranking
                    packed = model.pack(preds, model.rank(preds), samples)
                    metric.process(batch, [s.to_dict() for s in packed])
            step = len(batch['data_samples'])
            seen += step
            for _ in range(step):
                progress.update()

    results = OrderedDict()
    for (name, k, ranking), metric in runs.items():
        kept = metric.results[:num_images]
        values = metric.compute_metrics(kept)
        results[f'{name}|K={k}|{ranking}'] = values
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(dict(num_images=num_images, ks=args.ks, results=results),
                  f, indent=1)

    print(f'\n{num_images} test images; joint metrics in mm (mean of the '
          'time steps), PJD2d in image pixels, RD = PJD2d-vis / PJD-occ')
    print('| model | K | ranking | ' + ' | '.join(TABLE_KEYS) + ' |')
    print('|' + '---|' * (3 + len(TABLE_KEYS)))
    for key, values in results.items():
        name, k, ranking = key.split('|')
        cells = [f'{step_mean(values, c):.2f}' for c in TABLE_KEYS]
        print(f'| {name} | {k[2:]} | {ranking} | ' + ' | '.join(cells) + ' |')
    print(f'full metrics: {args.out}')


if __name__ == '__main__':
    main()
