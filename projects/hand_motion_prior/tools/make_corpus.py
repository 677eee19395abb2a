# Copyright (c) OpenMMLab. All rights reserved.
"""Sample the synthetic hand-motion corpus the motion prior trains on.

Example (from the repository root)::

    python projects/hand_motion_prior/tools/make_corpus.py \\
        --out data/hand_motion_prior_corpus/train.npz --num 4000 \\
        --length 64 --seed 0

The motions come from the blurry-video generator's sampler
(``mmblurhand.datasets.synthesis.video.sample_motion_corpus``) on the
procedural MANO-format hand (not MANO). A real prior would instead export
MANO hand poses of hand mocap (GRAB, TCDHands, SAMP in AMASS) at 30 fps into
the same ``hand_pose (N, L, 45)`` layout (see the project README).
"""
import argparse
import os
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
sys.path.insert(0, REPO)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='output .npz')
    parser.add_argument('--num', type=int, default=4000,
                        help='sequences (default 4000)')
    parser.add_argument('--length', type=int, default=64,
                        help='key frames per sequence (default 64)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--mano-path', default=None,
                        help='MANO model (default: procedural hand)')
    args = parser.parse_args(argv)
    if args.num < 1 or args.length < 2:
        raise SystemExit('--num must be >= 1 and --length >= 2.')
    import numpy as np

    from mmblurhand.datasets.synthesis import SynthesisConfig
    from mmblurhand.datasets.synthesis.video import (VideoSynthesisConfig,
                                                     sample_motion_corpus)
    cfg = VideoSynthesisConfig(image=SynthesisConfig(mano_path=args.mano_path))
    corpus = sample_motion_corpus(args.num, args.length, args.seed, cfg,
                                  progress=True)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    np.savez_compressed(args.out, **corpus)
    print(f'wrote {args.out}: hand_pose {corpus["hand_pose"].shape} at '
          f'{float(corpus["fps"]):g} fps')


if __name__ == '__main__':
    main()
