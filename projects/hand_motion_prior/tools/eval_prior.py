# Copyright (c) OpenMMLab. All rights reserved.
"""Reconstruction error of a trained motion prior on held-out motions.

Example::

    python projects/hand_motion_prior/tools/eval_prior.py \\
        projects/hand_motion_prior/configs/hmp_vae_synthetic-30fps-49f.py \\
        work_dirs/hand_motion_prior/vae/epoch_12.pth \\
        --corpus data/hand_motion_prior_corpus/val.npz

For every window the encoder sees (a) all key frames, (b) every 2nd key
frame (the 15 Hz of blurry-video predictions) and (c) every 2nd key frame
with Gaussian noise of ``--noise`` rad per axis-angle component; the decoder
then gives all key frames (posterior mean). Reported: mean joint error (mm,
hand pose only: identity global rotation, mean shape, wrist at the origin)
against the true window, and the same for the noisy input itself.
"""
import argparse
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
sys.path.insert(0, REPO)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--corpus', required=True)
    parser.add_argument('--noise', type=float, default=0.15)
    parser.add_argument('--max-windows', type=int, default=256)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    import torch
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint

    from mmblurhand.registry import MODELS
    from mmblurhand.utils import register_all_modules
    register_all_modules()
    import projects.hand_motion_prior.hand_motion_prior  # noqa: F401
    from projects.hand_motion_prior.hand_motion_prior.corpus import \
        HandMotionCorpus
    cfg = Config.fromfile(args.config)
    vae = MODELS.build(cfg.model)
    load_checkpoint(vae, args.checkpoint, map_location='cpu',
                    logger='silent')
    vae.eval()
    data = HandMotionCorpus(args.corpus, vae.window, random_crop=False)
    pose = torch.as_tensor(data.hand_pose[:args.max_windows, :vae.window])
    gen = torch.Generator().manual_seed(args.seed)
    num = pose.shape[1]
    times = (torch.arange(num) / (num - 1.0)).expand(len(pose), -1)
    every2 = torch.zeros(len(pose), num, dtype=torch.bool)
    every2[:, ::2] = True
    noisy = pose + args.noise * torch.randn(pose.shape, generator=gen)
    rows = []
    with torch.no_grad():
        gt = vae.pose_joints(pose) * 1000
        static = gt.mean(1, keepdim=True)
        rows.append(('window mean pose (oracle, static)',
                     (static - gt).norm(dim=-1).mean()))
        for name, inp, mask in (('all key frames', pose, None),
                                ('every 2nd key frame', pose, every2),
                                (f'every 2nd, noise {args.noise} rad', noisy,
                                 every2)):
            mu, _ = vae.encode(inp, times, mask)
            rec = vae.pose_joints(vae.decode_pose(mu, times)) * 1000
            rows.append((f'prior from {name}', (rec - gt).norm(dim=-1).mean()))
        rows.append((f'noisy input itself (noise {args.noise} rad)',
                     (vae.pose_joints(noisy) * 1000 - gt).norm(dim=-1).mean()))
    print(f'{len(pose)} windows of {num} key frames from {args.corpus}')
    print('| input | mean joint error (mm) |\n|---|---|')
    for name, value in rows:
        print(f'| {name} | {float(value):.2f} |')


if __name__ == '__main__':
    main()
