# Copyright (c) OpenMMLab. All rights reserved.
"""Run an official research network for side-by-side timing.

Started by ``tools/analysis_tools/benchmark.py --official-src SRC`` as a
child process (any Python with the official code's dependencies: torch,
pyyaml and whatever the official modules import). It needs nothing of
mmblurhand and contains no official code: the official modules are
imported from ``SRC`` at run time (``SRC/src`` on ``sys.path``, as the
official training scripts run), built with random weights
(``weight_init=False``: PyTorch's default layer initialisation; timing does
not depend on the values) and put in eval mode. The official code has no
CPU mode: ``SRC`` must be a checkout whose ``.cuda()`` calls were removed
(``docs/official_checkpoints.md``, step 3).

Models (``--model``):

- ``bh``: BlurHandNet (``models.blurhandnet.BlurHandNet`` with
  ``options/test/pretrained_BlurHandNet_BH.yml``): backbone, Unfolder,
  KTFormer, regressor and the three MANO meshes (its ``forward`` in test
  mode also needs ground truth, so the same modules are called in the
  same order);
- ``mh_gen``: the multi-hypothesis generator
  (``models.generation_model.BaseModel`` with
  ``options/train/baseline_rm.yml``), its test-mode ``forward``;
- ``mh_sel``: the generator, then the selection model
  (``models.selection_model.SelectionModel``) on its poses: the whole
  prediction.

Protocol: one JSON object per line on stdin, one answer per line on the
original stdout (everything the official code prints goes to stderr):

- ``{"cmd": "info"}`` -> ``{"torch": ..., "params": ..., "model": ...,
  "threads": ...}``;
- ``{"cmd": "run", "batch": B, "repeat": N, "clock": "wall"}`` ->
  ``{"ms": [...]}``: N forward passes on a fixed random ``(B, 3, H, W)``
  RGB batch in [0, 1] under ``torch.inference_mode``, timed by the wall
  clock or (``"process"``) by this process's CPU time;
- ``{"cmd": "quit"}``.

The first line written is ``{"ready": true}`` (or ``{"error": ...}``).
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
import traceback

MODELS = ('bh', 'mh_gen', 'mh_sel')
OPTIONS = dict(
    bh='options/test/pretrained_BlurHandNet_BH.yml',
    mh_gen='options/train/baseline_rm.yml',
    mh_sel='options/train/baseline_rm.yml')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--src', required=True, help='official checkout')
    parser.add_argument('--model', required=True, choices=MODELS)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument(
        '--input-size', type=int, nargs=2, default=(256, 256),
        metavar=('W', 'H'))
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def code_root(src: str) -> str:
    """The folder holding the official ``models`` package: ``SRC/src``
    (the official layout) or ``SRC`` itself."""
    for root in (osp.join(src, 'src'), src):
        if osp.isdir(osp.join(root, 'models')):
            return root
    raise FileNotFoundError(
        f'official source "{src}" has no models/ package (looked in '
        f'{osp.join(src, "src")} and {src}); pass the root of a checkout '
        'of BlurHand_RELEASE or Multi_Hypothesis_BlurHandNet.')


def build(src: str, which: str):
    """``(forward(img), modules)`` of an official network."""
    import yaml
    root = code_root(src)
    sys.path.insert(0, root)
    options = osp.join(src, OPTIONS[which])
    if not osp.isfile(options):
        raise FileNotFoundError(
            f'official options file "{options}" does not exist.')
    with open(options) as f:
        opt = yaml.safe_load(f)
    if which == 'bh':
        from models.blurhandnet import BlurHandNet
        net = BlurHandNet(opt, weight_init=False).eval()

        def forward(img):
            feat, pyramid = net.backbone(img)
            out = net.unfolder(feat, pyramid)
            feats, joints = out[:3], out[3:]
            feats = net.ktformer(*feats)
            reg = net.regressor(feat, *feats, *[j.detach() for j in joints])
            shapes, poses, cams = reg[0:3], reg[3:6], reg[6:9]
            return [
                net.get_coord(pose[:, :3], pose[:, 3:], shape,
                              net.get_camera_trans(cam))
                for shape, pose, cam in zip(shapes, poses, cams)
            ]

        return forward, [net]
    from models.generation_model import BaseModel
    gen = BaseModel(opt, weight_init=False).eval()
    if which == 'mh_gen':
        return (lambda img: gen({'img': img}, None, None, 'test')), [gen]
    from models.selection_model import SelectionModel
    sel = SelectionModel(opt, weight_init=False).eval()

    def forward(img):
        out = gen({'img': img}, None, None, 'test')
        return sel({'img': img, 'pose': out['pose']}, None, None, 'test')

    return forward, [gen, sel]


def main(argv=None):
    args = parse_args(argv)
    # answers go to the real stdout; the official code's prints to stderr
    out = os.fdopen(os.dup(sys.stdout.fileno()), 'w', buffering=1)
    sys.stdout = sys.stderr

    def reply(obj):
        out.write(json.dumps(obj) + '\n')
        out.flush()

    try:
        import torch
        torch.set_num_threads(args.threads)
        torch.manual_seed(args.seed)
        forward, modules = build(args.src, args.model)
    except Exception as err:  # reported to the parent, which fails
        reply(dict(error=f'{type(err).__name__}: {err}',
                   traceback=traceback.format_exc()))
        return 1
    params = sum(p.numel() for m in modules for p in m.parameters())
    reply(dict(ready=True))
    images = {}
    w, h = args.input_size
    for line in sys.stdin:
        request = json.loads(line)
        cmd = request.get('cmd')
        if cmd == 'quit':
            break
        if cmd == 'info':
            reply(dict(torch=torch.__version__, params=params,
                       model=args.model, threads=torch.get_num_threads()))
        elif cmd == 'run':
            batch = int(request['batch'])
            if batch not in images:
                gen = torch.Generator().manual_seed(args.seed + batch)
                images[batch] = torch.rand(batch, 3, h, w, generator=gen)
            timer = dict(
                wall=time.perf_counter,
                process=time.process_time).get(request.get('clock', 'wall'))
            if timer is None:
                reply(dict(error=f'unknown clock {request["clock"]!r}'))
                continue
            times = []
            with torch.inference_mode():
                for _ in range(int(request.get('repeat', 1))):
                    start = timer()
                    forward(images[batch])
                    times.append((timer() - start) * 1000.)
            reply(dict(ms=times))
        else:
            reply(dict(error=f'unknown command {cmd!r}'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
