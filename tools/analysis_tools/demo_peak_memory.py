# Copyright (c) OpenMMLab. All rights reserved.
"""Peak memory of ``demo/image_demo.py`` on one image of a given size.

    python tools/analysis_tools/demo_peak_memory.py CONFIG CHECKPOINT \
        --size 6000 --size 256 [--bbox-frac 0.1] [--demo demo/image_demo.py]

For every ``--size S`` it writes a blurry random ``S x S`` PNG to a
temporary folder and runs the demo's ``main`` on it in this process (the
OpenCV renderer, one hand box of ``--bbox-frac x S`` at the image centre;
``--bbox-frac 0`` for the whole image), inside
:func:`mmblurhand.utils.benchmark.measure_peak_memory`. The model is built
once before the first measurement (a warm-up run on a small image), so the
numbers are the process's peak resident memory for the image itself plus
the model. ``--demo`` measures another copy of the demo script (e.g. an
older revision) with the same method.
"""
import argparse
import importlib.util
import json
import os.path as osp
import sys
import tempfile

import cv2
import numpy as np


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--size', type=int, action='append', required=True,
                        help='image side in pixels (repeatable)')
    parser.add_argument('--bbox-frac', type=float, default=0.1,
                        help='hand box side as a fraction of the image')
    parser.add_argument('--demo', default=osp.join(
        osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
        'demo', 'image_demo.py'), help='the demo script to measure')
    parser.add_argument('--out', help='write the results to this JSON file')
    return parser.parse_args(argv)


def write_image(path, size, seed=0):
    """A blurred random ``size x size`` BGR image (a PNG)."""
    rng = np.random.default_rng(seed)
    tile = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    image = np.tile(tile, (size // 256 + 1, size // 256 + 1, 1))[:size, :size]
    cv2.imwrite(path, cv2.blur(image, (15, 1)))
    return path


def main(argv=None):
    args = parse_args(argv)
    from mmblurhand.utils.benchmark import measure_peak_memory
    spec = importlib.util.spec_from_file_location('measured_demo', args.demo)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    results = []
    with tempfile.TemporaryDirectory() as tmp:

        def run(size):
            image = write_image(osp.join(tmp, f'img{size}.png'), size)
            extra = []
            if args.bbox_frac > 0:
                half = size * args.bbox_frac / 2
                extra = ['--bbox'] + [
                    f'{v:g}' for v in (size / 2 - half, size / 2 - half,
                                       size / 2 + half, size / 2 + half)
                ]
            code = demo.main([
                args.config, args.checkpoint, image, '--out-dir',
                osp.join(tmp, f'out{size}'), '--render-backend', 'opencv'
            ] + extra)
            if code != 0:
                raise SystemExit(f'the demo failed on the {size} px image')

        run(64)  # warm-up: imports, model build, caches
        for size in args.size:
            with measure_peak_memory() as peak:
                run(size)
            results.append(dict(size=size, peak_mb=round(peak.peak_mb),
                                baseline_mb=round(peak.baseline_mb),
                                method=peak.method))
            print(f'{size} x {size}: peak {peak.peak_mb:.0f} MB '
                  f'(process before: {peak.baseline_mb:.0f} MB, '
                  f'{peak.method})', flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
