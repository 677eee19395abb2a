# Copyright (c) OpenMMLab. All rights reserved.
"""Build the BlurHand dataset from InterHand2.6M (30 fps) sharp videos.

Example::

    python tools/dataset_converters/interhand_to_blurhand.py \\
        --interhand-root data/InterHand2.6M_30fps --out data/blurhand \\
        --split train --workers 8

Every blurry image averages 33 frames interpolated by optical flow from 5
consecutive sharp frames (BlurHandNet paper, Sec. 3); samples whose
neighbouring frames are missing are skipped and counted. Running the same
command again keeps the images already written (resume). See
``docs/blurhand_from_video.md``.
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
        description='Synthesise BlurHand blurry images and annotations from '
        'InterHand2.6M 30 fps sharp frames (optical-flow interpolation to '
        '240 fps, then averaging).')
    parser.add_argument(
        '--interhand-root',
        required=True,
        help='InterHand2.6M 30 fps root holding images/{split}/ and '
        'annotations/{split}/InterHand2.6M_{split}_*.json')
    parser.add_argument(
        '--out', required=True, help='BlurHand root to write')
    parser.add_argument(
        '--split', default='train', choices=['train', 'test'])
    parser.add_argument(
        '--num-frames',
        type=int,
        default=5,
        help='sharp frames per blurry image (odd; default: 5)')
    parser.add_argument(
        '--num-sub-frames',
        type=int,
        default=33,
        help='frames averaged after interpolation (default: 33, i.e. '
        '240 fps from 30 fps)')
    parser.add_argument(
        '--flow',
        default='dis',
        choices=['dis', 'farneback'],
        help='optical flow (default: dis, OpenCV Dense Inverse Search)')
    parser.add_argument(
        '--views-per-frame',
        type=int,
        default=1,
        help='camera views kept per time instant (camera view sampling; '
        '0 = all; default: 1)')
    parser.add_argument(
        '--frame-stride',
        type=int,
        default=1,
        help='use every N-th frame of a sequence as a middle frame '
        '(default: 1)')
    parser.add_argument(
        '--frame-step',
        type=int,
        default=None,
        help='frame-index gap of consecutive frames (default: inferred per '
        'sequence)')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of the view sampling')
    parser.add_argument(
        '--workers',
        type=int,
        default=None,
        help='worker processes (default: number of CPUs); the output does '
        'not depend on it')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace a split converted with other options')
    parser.add_argument(
        '--reference',
        default=None,
        help='a BlurHand root with reference blurry images at the same '
        'paths (e.g. the synthetic generator\'s own blur): print the PSNR '
        'of the converted images against them')
    parser.add_argument(
        '--quiet', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmblurhand.datasets.conversion import (ConversionConfig,
                                                compare_with_reference,
                                                convert_interhand_to_blurhand,
                                                format_conversion_summary)
    cfg = ConversionConfig(
        num_frames=args.num_frames,
        num_subframes=args.num_sub_frames,
        flow_method=args.flow,
        frame_step=args.frame_step,
        frame_stride=args.frame_stride,
        views_per_frame=args.views_per_frame,
        seed=args.seed)
    try:
        cfg.validate()
        summary = convert_interhand_to_blurhand(
            args.interhand_root,
            args.out,
            split=args.split,
            cfg=cfg,
            workers=args.workers if args.workers is not None else
            (os.cpu_count() or 1),
            overwrite=args.overwrite,
            progress=not args.quiet)
    except (FileExistsError, FileNotFoundError, ValueError, KeyError) as err:
        raise SystemExit(f'interhand_to_blurhand: {err}')
    print(format_conversion_summary(summary))
    if args.reference:
        psnr = compare_with_reference(args.out, args.reference, args.split)
        summary['reference'] = psnr
        lines = [f'PSNR against "{args.reference}" over '
                 f'{psnr["num_images"]} images (dB):']
        for key, label in (('psnr', 'whole image'), ('psnr_hand',
                                                     'hand region')):
            if psnr[key]:
                lines.append(
                    f'  {label}: mean {psnr[key]["mean"]:.2f}, median '
                    f'{psnr[key]["median"]:.2f}, 5th percentile '
                    f'{psnr[key]["p5"]:.2f}, min {psnr[key]["min"]:.2f}')
        by_rate = psnr.get('psnr_hand_by_blur_rate') or {}
        if by_rate:
            lines.append('  hand region by blur rate: ' + ', '.join(
                f'{b}: {v["mean"]:.2f} ({v["num_images"]})'
                for b, v in by_rate.items()))
        print('\n'.join(lines))
    return summary


if __name__ == '__main__':
    main()
