# Copyright (c) OpenMMLab. All rights reserved.
"""Time the soft silhouette rasteriser: forward + backward per step.

    python projects/hand_from_blur/tools/benchmark_rasterizer.py \
        [--sizes 64 128] [--sub-frames 4 8] [--iters 5] [--device cpu]

Renders N sub-frames of the hand model (778 vertices, 1,538 faces; the
synthetic MANO-format hand unless ``--mano-path`` is given) posed with
random finger poses, the hand filling about half the image, and times one
optimisation step (render, a silhouette L2 loss, backward) as a refinement
step would run it. Prints the median over ``--iters`` runs after one
warm-up.
"""
import argparse
import os.path as osp
import statistics
import sys
import time

import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from mmblurhand.models.mano import ManoLayer  # noqa: E402
from projects.hand_from_blur.hand_from_blur import \
    SoftSilhouetteRasterizer  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[64, 128])
    parser.add_argument(
        '--sub-frames', type=int, nargs='+', default=[4, 8])
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--mano-path', default=None)
    return parser.parse_args(argv)


def time_step(raster, vertices, faces, size, device, iters) -> float:
    """Median seconds of render + loss + backward."""
    focal = torch.full((2, ), 2.0 * size, device=device)
    princpt = torch.full((2, ), size / 2.0, device=device)
    target = torch.zeros(vertices.shape[0], size, size, device=device)
    times = []
    for step in range(iters + 1):
        verts = vertices.clone().requires_grad_(True)
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        start = time.perf_counter()
        sil = raster(verts, faces, focal, princpt, (size, size))
        loss = ((sil.mean(0) - target[0])**2).mean()
        loss.backward()
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        if step:  # the first one is a warm-up
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    args = parse_args(argv)
    mano = ManoLayer(model_path=args.mano_path).to(args.device)
    faces = mano.faces_tensor.to(args.device).long()
    raster = SoftSilhouetteRasterizer()
    print(f'{mano.num_vertices} vertices, {faces.shape[0]} faces, device {args.device}, '
          f'{torch.get_num_threads()} threads')
    print('| image | sub-frames | forward + backward (ms, median) |')
    print('|---|---|---|')
    generator = torch.Generator().manual_seed(0)
    for frames in args.sub_frames:
        pose = 0.3 * torch.randn(frames, mano.num_pose, generator=generator)
        out = mano(
            global_orient=torch.zeros(frames, 3),
            hand_pose=pose,
            betas=torch.zeros(frames, mano.num_betas))
        verts = out.vertices.detach().to(args.device)
        # 0.8 m in front of a camera of focal 2 x size: a 0.2 m hand spans
        # about half of the image
        verts = verts - verts.mean(dim=1, keepdim=True)
        verts[..., 2] += 0.8
        for size in args.sizes:
            ms = 1000. * time_step(raster, verts, faces, size, args.device,
                                   args.iters)
            print(f'| {size}x{size} | {frames} | {ms:.0f} |', flush=True)


if __name__ == '__main__':
    main()
