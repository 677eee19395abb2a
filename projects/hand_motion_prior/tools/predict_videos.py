# Copyright (c) OpenMMLab. All rights reserved.
"""Per-frame predictions of synthetic blurry videos, saved for fitting.

With an mmblurhand model (the final evaluation)::

    RUN=work_dirs/demo/mh-sel_e2-1_eb85ae9d
    CFG=mh-sel_r18_1xb16-10e_blurhand-synthetic-128x128.py
    python projects/hand_motion_prior/tools/predict_videos.py \\
        --videos data/hand_motion_prior_videos --split test \\
        --model-config $RUN/$CFG \\
        --checkpoint $RUN/epoch_1.pth \\
        --hmp-config projects/hand_motion_prior/configs/<hmp config>.py \\
        --out work_dirs/hand_motion_prior/preds.npz

The per-joint confidence comes from the HMP config's ``confidence``
(N augmented views per frame); ``--num-views 0`` skips it (all ones).
``--simulate`` makes noisy-GT predictions instead (development only).
"""
import argparse
import os
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
sys.path.insert(0, REPO)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--videos', required=True,
                        help='root written by synthesize_blurhand.py --video')
    parser.add_argument('--split', default='test')
    parser.add_argument('--out', required=True, help='output .npz')
    parser.add_argument('--model-config', help='mmblurhand model config')
    parser.add_argument('--checkpoint', help='mmblurhand checkpoint')
    parser.add_argument('--hmp-config', help='HMP config (`confidence`)')
    parser.add_argument('--num-views', type=int, default=None,
                        help='override the augmented views (0 = none)')
    parser.add_argument('--simulate', action='store_true',
                        help='noisy-GT predictions instead of a model')
    parser.add_argument('--max-clips', type=int, default=None)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import json

    import numpy as np
    from mmengine.config import Config
    from tqdm import tqdm

    from mmblurhand.datasets.synthesis.video import load_video_clip
    from mmblurhand.utils import register_all_modules
    register_all_modules()
    from projects.hand_motion_prior.hand_motion_prior.evaluation import \
        stack_observations
    from projects.hand_motion_prior.hand_motion_prior.observations import (
        predict_clip, simulate_predictions)
    clips_file = osp.join(args.videos, args.split, 'clips.json')
    if not osp.isfile(clips_file):
        raise SystemExit(
            f'"{clips_file}" does not exist: make videos with '
            '`python tools/dataset_converters/synthesize_blurhand.py --video '
            f'--out {args.videos}`.')
    with open(clips_file) as f:
        clips = json.load(f)[:args.max_clips]
    rng = np.random.default_rng(args.seed)
    model = confidence = hand_model = None
    if args.simulate:
        from mmblurhand.models.mano import ManoLayer
        hand_model = ManoLayer(model_path=None).eval()
    else:
        if not (args.model_config and args.checkpoint):
            raise SystemExit('give --model-config and --checkpoint (or '
                             '--simulate).')
        from mmblurhand.apis import init_model
        from mmblurhand.registry import TASK_UTILS
        model = init_model(args.model_config, args.checkpoint,
                           device=args.device)
        if args.hmp_config and args.num_views != 0:
            cfg = Config.fromfile(args.hmp_config).confidence
            if args.num_views is not None:
                cfg.num_views = args.num_views
            confidence = TASK_UTILS.build(cfg)
    observations = []
    for rec in tqdm(clips, desc='clips'):
        clip = load_video_clip(osp.join(args.videos, rec['annotation']))
        if bool(clip['is_left']):
            print(f'skipping left-hand clip {rec["name"]} (the fitter works '
                  'on right hands)')
            continue
        if args.simulate:
            observations.append(
                simulate_predictions(clip, 3, hand_model, rng))
        else:
            observations.append(
                predict_clip(clip, model, confidence, rng=rng))
    stacked = stack_observations(observations)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    np.savez_compressed(
        args.out,
        **stacked,
        clip_names=np.array([r['name'] for r in clips][:len(observations)]),
        source=np.array('simulated' if args.simulate else
                        f'{args.model_config} {args.checkpoint}'))
    print(f'wrote {args.out}: {len(observations)} clips, joints '
          f'{stacked["joints_cam"].shape}')


if __name__ == '__main__':
    main()
