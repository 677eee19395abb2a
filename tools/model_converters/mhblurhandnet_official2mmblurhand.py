# Copyright (c) OpenMMLab. All rights reserved.
"""Convert official multi-hypothesis BlurHandNet checkpoints to mmblurhand.

``--generator`` is a checkpoint of the official generation stage (or of
the selection stage, which holds the generator too); the output then fits
``configs/mh_blurhandnet/mh-gen_r50_2xb24-30e_blurhand-256x256.py``. With
``--selector`` (a selection-stage checkpoint, possibly the same file) the
output is a selection model holding both, for
``configs/mh_blurhandnet/mh-sel_r50_2xb24-30e_blurhand-256x256.py``. Files
are read with ``torch.load(weights_only=True)``; ``--trust-source`` opts in
to full unpickling for these files only.

Usage::

    python tools/model_converters/mhblurhandnet_official2mmblurhand.py \\
        --generator experiments/k16t1/training_states/epoch_30.pth.tar \\
        work_dirs/mh_gen_official.pth
    python tools/model_converters/mhblurhandnet_official2mmblurhand.py \\
        --generator k16t1_n4/training_states/epoch_30.pth.tar \\
        --selector k16t1_n4/training_states/epoch_30.pth.tar \\
        work_dirs/mh_sel_official.pth
"""
import argparse
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from mmblurhand.utils.official_conversion_cli import (  # noqa: E402
    add_common_args, convert_files)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Official multi-hypothesis checkpoints -> mmblurhand.')
    parser.add_argument(
        '--generator', required=True, help='official generator checkpoint')
    parser.add_argument(
        '--selector', help='official selection-stage checkpoint (optional)')
    parser.add_argument('dst', help='output mmblurhand checkpoint (.pth)')
    add_common_args(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.selector:
        parts = [('generator', args.generator), ('selector', args.selector)]
        model = 'mh_selector'
    else:
        parts = [('generator', args.generator)]
        model = 'mh_generator'
    convert_files(
        model,
        parts,
        args.dst,
        trust_source=args.trust_source,
        check_model=not args.no_check)


if __name__ == '__main__':
    main()
