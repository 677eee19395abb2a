# Copyright (c) OpenMMLab. All rights reserved.
"""Compare mmblurhand with outputs dumped from the official code.

The official networks are built and run OUTSIDE this repository (their
code is not part of it; ``docs/official_checkpoints.md`` describes the
scratch script): for each model a folder holds

- ``<name>_official.pth.tar``: the official checkpoint
  (``{'network': state_dict}``, random weights);
- ``<name>_outputs.npz``: the fixed input ``img`` (``(B, 3, 256, 256)``
  RGB in [0, 1]) and the official outputs on it.

with ``<name>`` ``bh`` (BlurHandNet) or ``mh_sel`` (a selection-stage
training model: generator and selector; ``mh_gen`` compares its generator
part). This tool converts
the checkpoint with the repository's converters, builds the paper config,
runs it on the same input (CPU, fp32, MANO from ``MANO_MODEL_PATH``, which
must be the files the official run used), and prints the largest absolute
difference of every output; with ``--onnx`` also of the ONNX export
(ONNX Runtime). Exit status 1 if a difference exceeds ``--tol``.

Usage::

    MANO_MODEL_PATH=/path/to/mano python \\
        tools/analysis_tools/compare_official_outputs.py bh /path/to/dump \\
        [--onnx] [--tol 1e-5]
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile

import numpy as np
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from mmblurhand.utils.official_conversion_cli import (  # noqa: E402
    convert_parts)
from mmblurhand.utils.official_weights import PAPER_CONFIGS  # noqa: E402

MODELS = {
    'bh': ('blurhandnet', [('', 'bh_official.pth.tar')]),
    'mh_gen': ('mh_generator', [('generator', 'mh_sel_official.pth.tar')]),
    'mh_sel': ('mh_selector', [('generator', 'mh_sel_official.pth.tar'),
                               ('selector', 'mh_sel_official.pth.tar')]),
}
STEPS = ('e1', 'md', 'e2')
#: Outputs held to ``--tol`` (the others, e.g. projections in pixel-sized
#: units, are reported only).
CHECKED = ('joint_cam', 'joint_', 'verts', 'pose', 'score')


def build(model_name: str, state: dict, cfg_options=None, double=False):
    from mmengine.config import Config

    from mmblurhand.registry import MODELS as REG
    from mmblurhand.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, PAPER_CONFIGS[model_name]))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if model_name == 'mh_selector':
        cfg.model.generator_checkpoint = None
    net = REG.build(cfg.model)
    if double:
        net.double()
    net.load_state_dict(state, strict=True)
    return net.eval()


def mmblurhand_outputs(which: str, net, img: torch.Tensor) -> dict:
    """Outputs laid out as the official dump (see the module docstring)."""
    with torch.no_grad():
        if which == 'bh':
            out = net(img, None, mode='tensor')
            res = {}
            size = net.neck.heatmap_depth
            for t, tag in enumerate(STEPS):
                res[f'joint_img_{tag}'] = out['unfolder_joints'][:, t] * size
                res[f'joint_cam_{tag}'] = out['joints_cam'][:, t]
                res[f'verts_{tag}'] = out['vertices'][:, t]
                res[f'pose_{tag}'] = out['mano_pose'][:, t]
                res[f'shape_{tag}'] = out['mano_shape'][:, t]
                res[f'cam_trans_{tag}'] = out['cam_t'][:, t]
                res[f'proj_{tag}'] = out['joints_2d'][:, t] * size
            return res
        gen = net if which == 'mh_gen' else net.generator
        out = gen(img, None, mode='tensor')
        res = {
            'pose': out['mano_pose'].transpose(0, 1),
            'shape': out['mano_shape'].transpose(0, 1),
            'joint_hm': out['unfolder_joints'],
            'joint_proj': out['joints_2d'].transpose(0, 1),
            'joint': out['joints_cam'].transpose(0, 1),
            'verts': out['vertices'].transpose(0, 1),
        }
        if which == 'mh_sel':
            logits = net(img, None, mode='tensor')  # (B, K, 2)
            steps = res['pose'].shape[2]
            res['score'] = logits.transpose(0, 1)[:, :, None].expand(
                -1, -1, steps, -1)
        return res


def max_diffs(ours: dict, ref) -> dict:
    out = {}
    for key, value in ours.items():
        if key not in ref:
            continue
        theirs = ref[key]
        mine = value.detach().cpu().numpy()
        if mine.shape != theirs.shape:
            raise ValueError(f'{key}: mmblurhand {mine.shape} vs official '
                             f'{theirs.shape}')
        out[key] = float(np.abs(mine - theirs).max())
    return out


def onnx_outputs(net, img, workdir: str) -> dict:
    """Export with :mod:`mmblurhand.deployment` (no preprocessing: the
    input is already the network's) and run it in ONNX Runtime."""
    from mmblurhand.deployment import HandMeshExportWrapper, export_onnx
    from mmblurhand.deployment.onnx_export import OnnxRuntimeModel
    wrapper = HandMeshExportWrapper(net, with_preprocess=False).eval()
    path = osp.join(workdir, 'model.onnx')
    export_onnx(wrapper, path, input_size=(img.shape[3], img.shape[2]),
                batch_size=img.shape[0])
    return OnnxRuntimeModel(path)(img.numpy().astype(np.float32))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('which', choices=sorted(MODELS))
    parser.add_argument('dump_dir')
    parser.add_argument('--tol', type=float, default=1e-5)
    parser.add_argument('--cfg-options', nargs='*', default=[],
                        help='key=value overrides (value parsed as JSON '
                        'when possible)')
    parser.add_argument('--onnx', action='store_true')
    parser.add_argument(
        '--double',
        action='store_true',
        help='float64 on both sides (mh_gen only: reads '
        'mh_gen_official.pth.tar and mh_gen_outputs_fp64.npz, dumped by a '
        'float64 official run): separates rounding from real differences')
    parser.add_argument('--out', help='write the differences as JSON')
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, int(os.environ.get('OMP_NUM_THREADS', 1))))
    model_name, parts = MODELS[args.which]
    if args.double:
        if args.which != 'mh_gen':
            parser.error('--double is for mh_gen')
        parts = [('generator', 'mh_gen_official.pth.tar')]
    parts = [(role, osp.join(args.dump_dir, f)) for role, f in parts]
    state = convert_parts(model_name, parts)
    opts = {}
    for item in args.cfg_options:
        key, _, value = item.partition('=')
        try:
            opts[key] = json.loads(value)
        except json.JSONDecodeError:
            opts[key] = value
    net = build(model_name, state, opts, args.double)
    dump = 'bh' if args.which == 'bh' else 'mh_sel'
    if args.double:
        dump = 'mh_gen'
    ref = np.load(
        osp.join(args.dump_dir,
                 f'{dump}_outputs{"_fp64" if args.double else ""}.npz'))
    img = torch.from_numpy(ref['img'])
    diffs = max_diffs(mmblurhand_outputs(args.which, net, img), ref)
    report = {'model': args.which, 'cfg_options': opts,
              'dtype': str(img.dtype),
              'batch': int(img.shape[0]), 'pytorch': diffs}
    if args.onnx:
        with tempfile.TemporaryDirectory() as tmp:
            got = onnx_outputs(net, img, tmp)
        report['onnx'] = onnx_compare(args.which, got, ref)
    print(json.dumps(report, indent=1))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=1)
    checked = [v for k, v in diffs.items() if k.startswith(CHECKED)]
    checked += list(report.get('onnx', {}).values())
    worst = max(checked)
    print(f'largest |diff| of joints, vertices, pose and scores {worst:.3g} '
          f'(tolerance {args.tol:g})')
    return 0 if worst <= args.tol else 1


def onnx_compare(which: str, got: dict, ref) -> dict:
    """ONNX outputs ``(B, K, T, ...)`` vs the official dump."""
    out = {}
    pairs = dict(vertices='verts', joints='joint_cam' if which == 'bh'
                 else 'joint', pose='pose')
    for name, key in pairs.items():
        value = got[name]
        if which == 'bh':
            for t, tag in enumerate(STEPS):
                out[f'{name}[:, 0, {t}]'] = float(
                    np.abs(value[:, 0, t] - ref[f'{key}_{tag}']).max())
        else:
            out[name] = float(
                np.abs(np.swapaxes(value, 0, 1) - ref[key]).max())
    if which == 'mh_sel':
        logits = ref['score'][:, :, 0]  # (K, B, 2)
        prob = np.exp(logits - logits.max(-1, keepdims=True))
        prob = (prob / prob.sum(-1, keepdims=True))[..., 1]
        out['scores'] = float(np.abs(got['scores'].T - prob).max())
    return out


if __name__ == '__main__':
    sys.exit(main())
