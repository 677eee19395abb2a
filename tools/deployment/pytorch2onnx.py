# Copyright (c) OpenMMLab. All rights reserved.
"""Export an mmblurhand model to ONNX and check it against PyTorch.

    python tools/deployment/pytorch2onnx.py CONFIG [CKPT] --out model.onnx \
        [--opset 17] [--check-images IMG_OR_DIR ...] [--num-check 4] \
        [--trust-checkpoint]

``CKPT`` is read without running code from it (``weights_only=True`` and
mmblurhand's allow-list; ``--trust-checkpoint`` lifts that for ``CKPT``, see
``docs/security.md``); a checkpoint of another config stops the tool with a
short list of the differing keys.

Works for the three model kinds (see ``mmblurhand.deployment``):

- ``MHBlurHandNet`` (generator): K hypotheses and the config's
  parameter-free selector's scores (``ProjectiveSelector``; the
  ``RandomSelector`` draws random numbers and is not exportable);
- ``MHSelector``: the frozen generator and the learned selector in one
  graph (scores = the selector's probability);
- ``BlurHandNet``: one sequence (``K = 1``, scores = 1).

Graph: input ``image`` float32 ``(B, 3, H, W)``, the crop as OpenCV reads it
(BGR, 0-255; the model's normalisation is inside the graph); outputs
``vertices (B, K, T, V, 3)`` and ``joints (B, K, T, J, 3)`` (root-relative,
metres, right-hand frame), ``pose (B, K, T, 48)`` and ``scores (B, K)``. The
batch axis is dynamic.

After export the model runs in onnxruntime on ``--check-images`` (image
files or folders, resized to the input size; e.g. crops of the synthetic
dataset) or, without them, on random images, and every output must agree
with PyTorch within ``--atol`` (defaults: 1e-4 m for vertices and joints,
1e-3 rad for the pose, 1e-4 for the scores). The exit status is 1 when it
does not.
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys

import numpy as np
import torch

from mmblurhand.deployment import (DEFAULT_ATOL, DEFAULT_OPSET,
                                   HandMeshExportWrapper, OnnxRuntimeModel,
                                   build_inference_model, compare_with_torch,
                                   config_input_size, export_onnx)

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export an mmblurhand model to ONNX (dynamic batch) '
        'and check onnxruntime against PyTorch.')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        help='checkpoint; without it the config\'s random initialisation '
        'is exported (for testing the export only)')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load CHECKPOINT with torch.load(weights_only=False), which '
        'runs any code the file holds; only for a file you trust that the '
        'safe loader refuses (docs/security.md)')
    parser.add_argument('--out', required=True, help='output .onnx file')
    parser.add_argument(
        '--opset', type=int, default=DEFAULT_OPSET, help='ONNX opset (>=17)')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=2,
        help='batch size of the check (the export is dynamic)')
    parser.add_argument(
        '--check-images',
        nargs='+',
        help='images or folders of images for the check (random images '
        'when omitted)')
    parser.add_argument(
        '--num-check', type=int, default=4, help='images to check at most')
    parser.add_argument(
        '--atol',
        nargs='+',
        metavar='NAME=VALUE',
        help='tolerances, e.g. vertices=1e-4 pose=1e-3 (defaults: '
        f'{DEFAULT_ATOL})')
    parser.add_argument(
        '--skip-check', action='store_true', help='export only')
    parser.add_argument(
        '--report', help='write the check results to this JSON file')
    return parser.parse_args(argv)


def load_check_images(paths, size, limit):
    """Read up to ``limit`` images, resized to ``size``, as (N, 3, H, W)."""
    import cv2
    files = []
    for path in paths:
        if osp.isdir(path):
            for ext in IMAGE_EXTENSIONS:
                files.extend(
                    sorted(
                        glob.glob(
                            osp.join(path, '**', f'*{ext}'), recursive=True)))
        elif osp.isfile(path):
            files.append(path)
        else:
            raise FileNotFoundError(f'--check-images: "{path}" does not '
                                    'exist.')
    if not files:
        raise FileNotFoundError(
            f'--check-images: no {IMAGE_EXTENSIONS} images in {paths}.')
    images = []
    for file in files[:limit]:
        image = cv2.imread(file, cv2.IMREAD_COLOR)
        if image is None:
            raise OSError(f'--check-images: cannot read "{file}".')
        image = cv2.resize(image, tuple(size), interpolation=cv2.INTER_AREA)
        images.append(image.transpose(2, 0, 1))
    return torch.from_numpy(np.stack(images).astype(np.float32)), files[:limit]


def parse_atol(items):
    atol = dict(DEFAULT_ATOL)
    for item in items or ():
        name, _, value = item.partition('=')
        if name not in atol or not value:
            raise ValueError(f'--atol: expected NAME=VALUE with NAME in '
                             f'{sorted(atol)}, got "{item}".')
        atol[name] = float(value)
    return atol


def load_model(cfg, checkpoint, trust=False):
    """The config's model with every weight from ``checkpoint`` (random
    initialisation without one), in eval mode on the CPU.

    The checkpoint is read with ``weights_only=True`` and mmblurhand's
    allow-list (``trust`` lifts it for this file); one that does not fit
    the config, or that the allow-list refuses, stops the tool with a
    one-paragraph error instead of MMEngine's key dump.
    """
    from mmblurhand.engine.checkpoint_check import CheckpointMismatchError
    from mmblurhand.utils.checkpoint import (UntrustedCheckpointError,
                                             load_weights)
    if checkpoint is None:
        return build_inference_model(cfg, None, 'cpu')
    if not osp.isfile(checkpoint):
        raise SystemExit(f'error: checkpoint "{checkpoint}" does not exist; '
                         'pass a .pth written by tools/train.py.')
    model = build_inference_model(cfg, None, 'cpu', init_weights=False)
    try:
        load_weights(
            model,
            checkpoint,
            trust=trust,
            advice=f'Export it with the config it was trained with (stored '
            "in the checkpoint: mmblurhand.utils.load_checkpoint_file(path)"
            "['meta']['cfg']), not {cfg.filename}.")
    except (CheckpointMismatchError, UntrustedCheckpointError,
            RuntimeError) as err:
        raise SystemExit(f'error: {err}') from None
    return model.eval()


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    size = config_input_size(cfg)
    model = load_model(cfg, args.checkpoint, args.trust_checkpoint)
    wrapper = HandMeshExportWrapper(model).eval()
    if wrapper.kind == 'generator' and (type(model.selector).__name__
                                        == 'RandomSelector'):
        raise ValueError(
            f'{args.config}: model.selector is a RandomSelector, which draws '
            'random scores and cannot be exported. Set '
            "`model.selector = dict(type='ProjectiveSelector')` in the "
            'config, or export a selection model (MHSelector) config.')
    out_dir = osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    export_onnx(wrapper, args.out, size, opset=args.opset)
    print(f'exported {wrapper.kind} model ({args.config}) to {args.out} '
          f'(opset {args.opset}, dynamic batch, input {size[0]}x{size[1]})')
    if args.skip_check:
        return 0

    atol = parse_atol(args.atol)
    if args.check_images:
        images, files = load_check_images(args.check_images, size,
                                          args.num_check)
        source = f'{len(files)} images from {args.check_images}'
    else:
        generator = torch.Generator().manual_seed(0)
        images = torch.rand(
            args.num_check, 3, size[1], size[0], generator=generator) * 255.
        source = f'{args.num_check} random images'
    runtime = OnnxRuntimeModel(args.out)
    reports = []
    for start in range(0, len(images), args.batch_size):
        reports.append(
            compare_with_torch(wrapper, runtime,
                               images[start:start + args.batch_size], atol))
    summary = {
        name: dict(
            max_abs_diff=max(r[name]['max_abs_diff'] for r in reports),
            atol=atol[name],
            ok=all(r[name]['ok'] for r in reports))
        for name in atol
    }
    ok = all(v['ok'] for v in summary.values())
    print(f'onnxruntime vs PyTorch on {source} (batches of '
          f'{args.batch_size}):')
    for name, value in summary.items():
        print(f'  {name:9s} max |diff| {value["max_abs_diff"]:.3e} '
              f'(atol {value["atol"]:.0e}) {"ok" if value["ok"] else "FAIL"}')
    if args.report:
        with open(args.report, 'w') as f:
            json.dump(dict(source=source, outputs=summary, all_ok=ok), f,
                      indent=2)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
