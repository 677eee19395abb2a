# Copyright (c) OpenMMLab. All rights reserved.
"""Generate a synthetic blurry-hand dataset in the official BlurHand layout.

Example::

    python tools/dataset_converters/synthesize_blurhand.py \\
        --out data/blurhand_synthetic --num-train 1000 --num-test 200 \\
        --seed 0 --workers 2 --img-size 256 --save-sharp

Running it again with the same options does nothing, so Makefile targets
can call it cheaply. See ``docs/datasets.md``.
"""
import argparse
import os
import sys

# Allow running from a source checkout without installing the package.
sys.path.insert(
    0, os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Render moving hands, average 33 sub-frames into blurry '
        'images and write them with BlurHand annotations.')
    parser.add_argument(
        '--out',
        default='data/blurhand_synthetic',
        help='dataset root to write (default: data/blurhand_synthetic)')
    parser.add_argument(
        '--num-train', type=int, default=1000, help='training images')
    parser.add_argument('--num-test', type=int, default=200, help='test '
                        'images')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--workers',
        type=int,
        default=None,
        help='worker processes (default: number of CPUs); the output does '
        'not depend on it')
    parser.add_argument(
        '--img-size', type=int, default=256, help='square image side')
    parser.add_argument(
        '--save-sharp',
        action='store_true',
        help='also write the sharp middle frame under sharp_images/ and '
        'its hand mask under sharp_masks/')
    parser.add_argument(
        '--save-background',
        action='store_true',
        help='also write the clean background of every blurry image under '
        'backgrounds/ (for reblur-based refinement, projects/hand_from_blur)')
    parser.add_argument(
        '--save-alpha',
        action='store_true',
        help='also write the blurred alpha matte (mean sub-frame coverage, '
        '16-bit PNG) of every blurry image under blur_alphas/')
    parser.add_argument(
        '--format',
        default='blurhand',
        choices=['blurhand', 'interhand'],
        help='interhand: also write every sample\'s 5 sharp key frames as '
        'an InterHand2.6M 30 fps sequence (images/, annotations/*/'
        'InterHand2.6M_*.json) for interhand_to_blurhand.py (default: '
        'blurhand only)')
    parser.add_argument(
        '--mano-path',
        default=None,
        help='MANO model folder or file (default: the procedural '
        'MANO-format hand, no download needed)')
    parser.add_argument(
        '--interacting-prob',
        type=float,
        default=0.1,
        help='probability of a two-hand image (default: 0.1)')
    parser.add_argument(
        '--backend',
        default='auto',
        choices=['auto', 'moderngl', 'pyrender', 'opencv'],
        help='mesh renderer (default: auto = moderngl, pyrender, then '
        'OpenCV)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace a dataset made with other options')
    parser.add_argument(
        '--quiet', action='store_true', help='no progress bar')
    parser.add_argument(
        '--video',
        action='store_true',
        help='write blurry videos instead: --num-train/--num-test clips of '
        '--num-frames consecutive blurry frames of one motion, with GT of '
        'every sub-frame (mmblurhand/datasets/synthesis/video.py)')
    parser.add_argument(
        '--num-frames', type=int, default=12,
        help='--video: blurry frames per clip (default: 12)')
    parser.add_argument(
        '--frame-stride', type=int, default=None,
        help='--video: key-frame intervals between consecutive frames '
        '(default: the exposure, back-to-back frames)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmblurhand.datasets.synthesis import (SynthesisConfig,
                                               format_summary,
                                               synthesize_blurhand)
    if args.img_size < 32:
        raise SystemExit(f'--img-size must be at least 32, got '
                         f'{args.img_size}.')
    if not 0 <= args.interacting_prob <= 1:
        raise SystemExit('--interacting-prob must be in [0, 1], got '
                         f'{args.interacting_prob}.')
    workers = args.workers if args.workers is not None else (
        os.cpu_count() or 1)
    cfg = SynthesisConfig(
        image_size=args.img_size,
        save_sharp=args.save_sharp,
        save_background=args.save_background,
        save_alpha=args.save_alpha,
        mano_path=args.mano_path,
        output_format=args.format,
        backend=args.backend,
        interacting_prob=args.interacting_prob)
    if args.video:
        from mmblurhand.datasets.synthesis.video import (
            VideoSynthesisConfig, format_video_summary,
            synthesize_blurhand_videos)
        try:
            cfg = VideoSynthesisConfig(
                image=cfg,
                num_frames=args.num_frames,
                frame_stride=args.frame_stride)
        except ValueError as err:
            raise SystemExit(str(err))
        synthesize, report, what = (synthesize_blurhand_videos,
                                    format_video_summary,
                                    'these synthetic videos')
    else:
        synthesize, report, what = (synthesize_blurhand, format_summary,
                                    'this synthetic BlurHand dataset')
    try:
        summary = synthesize(
            args.out,
            args.num_train,
            args.num_test,
            seed=args.seed,
            workers=workers,
            cfg=cfg,
            overwrite=args.overwrite,
            progress=not args.quiet)
    except FileExistsError as err:
        raise SystemExit(str(err))
    if summary.get('skipped'):
        print(f'"{args.out}" already holds {what} (same options and seed); '
              'nothing to do.')
        return summary
    print(report(summary))
    return summary

if __name__ == '__main__':
    main()
