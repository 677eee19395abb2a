# Copyright (c) OpenMMLab. All rights reserved.
"""Convert an official BlurHandNet checkpoint to an mmblurhand checkpoint.

The official checkpoint (BlurHand_RELEASE, ``experiments/<name>/
training_states/epoch_XX.pth.tar``: ``{'network': state_dict, ...}``) is
read with ``torch.load(weights_only=True)``; a file that needs more is
refused unless ``--trust-source`` is given for it. The output is an
MMEngine checkpoint for
``configs/blurhandnet/blurhandnet_r50_2xb24-13e_blurhand-256x256.py``
(``meta`` records the source's SHA-256 and that config).

Usage::

    python tools/model_converters/blurhandnet_official2mmblurhand.py \\
        epoch_13.pth.tar work_dirs/blurhandnet_official.pth
"""
import argparse
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from mmblurhand.utils.official_conversion_cli import (  # noqa: E402
    add_common_args, convert_files)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Official BlurHandNet checkpoint -> mmblurhand.')
    parser.add_argument('src', help='official checkpoint (.pth.tar)')
    parser.add_argument('dst', help='output mmblurhand checkpoint (.pth)')
    add_common_args(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    convert_files(
        'blurhandnet', [('', args.src)],
        args.dst,
        trust_source=args.trust_source,
        check_model=not args.no_check)


if __name__ == '__main__':
    main()
