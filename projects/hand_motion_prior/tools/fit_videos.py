# Copyright (c) OpenMMLab. All rights reserved.
"""Fit the motion prior to per-frame predictions and compare the methods.

Example::

    python projects/hand_motion_prior/tools/fit_videos.py \\
        projects/hand_motion_prior/configs/hmp_vae_synthetic-30fps-49f.py \\
        work_dirs/hand_motion_prior/vae/epoch_12.pth \\
        --preds work_dirs/hand_motion_prior/preds_r18s.npz \\
        --out work_dirs/hand_motion_prior/results_r18s.json

Prints Markdown tables (PA-MPJPE, root-aligned MPJPE, acceleration error;
per-frame, per-frame + SLERP, stage I, stage II) and writes them as JSON.
"""
import argparse
import os
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
sys.path.insert(0, REPO)


def main(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='HMP config')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='motion prior checkpoint (omit: stage I only)')
    parser.add_argument('--preds', required=True,
                        help='.npz from predict_videos.py')
    parser.add_argument('--out', help='results .json')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='key=value overrides of the config, e.g. '
                        'fitter.stage2.weights.mp=100')
    args = parser.parse_args(argv)
    import json

    import numpy as np
    from mmengine.config import Config

    from mmblurhand.registry import TASK_UTILS
    from mmblurhand.utils import register_all_modules
    register_all_modules()
    from projects.hand_motion_prior.hand_motion_prior.evaluation import (
        evaluate_methods, format_table, recompute_confidence)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if not osp.isfile(args.preds):
        raise SystemExit(f'"{args.preds}" does not exist; run '
                         'predict_videos.py first.')
    with np.load(args.preds) as data:
        obs = {k: data[k] for k in data.files}
    obs['exposure'] = float(obs['exposure'])
    source = str(obs.pop('source', ''))
    obs.pop('clip_names', None)
    if 'confidence' in cfg and 'view_keypoints' in obs:
        obs = recompute_confidence(obs, cfg.confidence.gamma)
    fitter_cfg = cfg.fitter.copy()
    if args.checkpoint:
        fitter_cfg['prior'] = cfg.model
        fitter_cfg['prior_checkpoint'] = args.checkpoint
    fitter = TASK_UTILS.build(fitter_cfg)
    results = evaluate_methods(
        obs, fitter, cfg.get('slerp_smoothing'),
        with_prior=args.checkpoint is not None, progress=True)
    results.update(preds=args.preds, source=source, config=args.config,
                   checkpoint=args.checkpoint)
    lines = [
        f'{results["num_clips"]} clips x {results["num_frames"]} frames '
        f'({results["num_steps"]} steps each); predictions: {source}',
        f'step order resolved correctly: '
        f'{100 * results["order_accuracy"]:.1f} % of frames', ''
    ]
    lines += format_table(results['middle'], 'middle key frames (7.5 fps)')
    lines.append('')
    lines += format_table(results['dense'], 'all key frames (30 fps)')
    print('\n'.join(lines))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
