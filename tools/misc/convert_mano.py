# Copyright (c) OpenMMLab. All rights reserved.
"""Convert the official MANO pickles into plain numpy ``.npz`` files.

The official ``MANO_RIGHT.pkl`` / ``MANO_LEFT.pkl`` hold ``chumpy`` objects,
which do not import on Python >= 3.11. This tool reads them without chumpy,
applies the known MANO_LEFT ``shapedirs`` sign fix when both hands are
given, and writes ``MANO_RIGHT.npz`` / ``MANO_LEFT.npz`` with the nine arrays
``ManoLayer`` needs. ``ManoLayer(model_path='data/mano')`` then prefers the
``.npz`` files.

Usage::

    python tools/misc/convert_mano.py data/mano            # writes next to
    python tools/misc/convert_mano.py MANO_RIGHT.pkl --out-dir data/mano

The output is still MANO data under the MANO licence (non-commercial
research only, no redistribution): keep it out of git and out of releases.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from mmblurhand.models.mano.mano_io import (  # noqa: E402
    MANO_INSTALL_HELP, MANOModelNotFoundError, left_shapedirs_need_fix,
    read_mano_file, save_npz_atomic, validate_mano_arrays)


def _inputs(src: str) -> dict:
    """``{'right': path, 'left': path}`` of the pkl files found in ``src``."""
    if osp.isfile(src):
        side = 'left' if 'LEFT' in osp.basename(src).upper() else 'right'
        return {side: src}
    if not osp.isdir(src):
        raise MANOModelNotFoundError(
            f'{src!r} is neither a MANO .pkl nor a folder.\n'
            f'{MANO_INSTALL_HELP}')
    found = {}
    for side in ('right', 'left'):
        for folder in (src, osp.join(src, 'mano')):
            path = osp.join(folder, f'MANO_{side.upper()}.pkl')
            if osp.isfile(path):
                found[side] = path
                break
    if not found:
        raise MANOModelNotFoundError(
            f'No MANO_RIGHT.pkl or MANO_LEFT.pkl in {src!r}.\n'
            f'{MANO_INSTALL_HELP}')
    return found


def parse_args(argv: Optional[List[str]] = None):
    parser = argparse.ArgumentParser(
        description='Convert official MANO .pkl files (chumpy) to .npz.')
    parser.add_argument(
        'src', help='folder with MANO_RIGHT.pkl / MANO_LEFT.pkl, or one pkl')
    parser.add_argument(
        '--out-dir',
        default=None,
        help='where to write the .npz files (default: next to the input)')
    parser.add_argument(
        '--force', action='store_true', help='overwrite existing .npz files')
    parser.add_argument(
        '--no-left-fix',
        action='store_true',
        help='do not negate MANO_LEFT shapedirs[:, 0, :] even if it equals '
        "the right hand's (the known bug of the released file)")
    return parser, parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> List[str]:
    """Run the conversion; returns the written file paths."""
    parser, args = parse_args(argv)
    inputs = _inputs(args.src)
    arrays = {}
    for side, path in inputs.items():
        arrays[side] = validate_mano_arrays(read_mano_file(path), path)

    written = []
    for side, path in inputs.items():
        out_dir = args.out_dir or osp.dirname(osp.abspath(path))
        out_path = osp.join(out_dir, f'MANO_{side.upper()}.npz')
        if osp.exists(out_path) and not args.force:
            parser.error(f'{out_path} exists; pass --force to overwrite it.')
        data = dict(arrays[side])
        meta = dict(
            source=f'MANO, converted from {osp.basename(path)}',
            side=side,
            converter='mmblurhand tools/misc/convert_mano.py',
            licence='MANO licence: non-commercial research only, do not '
            'redistribute')
        if side == 'left':
            checked = 'right' in arrays and not args.no_left_fix
            fixed = checked and left_shapedirs_need_fix(
                data['shapedirs'], arrays['right']['shapedirs'])
            if fixed:
                data['shapedirs'] = data['shapedirs'].copy()
                data['shapedirs'][:, 0, :] *= -1
            if 'right' not in arrays:
                print(f'WARNING: {path} converted without MANO_RIGHT.pkl, so '
                      'the MANO_LEFT shapedirs bug was not checked. Convert '
                      'the folder holding both files instead.')
            meta.update(
                left_shapedirs_checked=bool(checked),
                left_shapedirs_fixed=bool(fixed))
        save_npz_atomic(out_path, data, meta)
        print(f'{path} -> {out_path}')
        written.append(out_path)
    return written


if __name__ == '__main__':
    main()
