# Copyright (c) OpenMMLab. All rights reserved.
"""Check a trained model's camera and 2D joints against the test targets.

    python tools/analysis_tools/projection_diagnostics.py CONFIG CHECKPOINT \
        [--num-samples 64] [--json OUT] [--cfg-options KEY=VALUE ...]

For one batch of test hands (BlurHandNet or the multi-hypothesis
generator) it reports, in the network's crop frame:

- ``depth_pred``: the predicted camera depth ``t_z`` (m; mean / min / max)
  and the virtual camera's upper bound ``k``;
- ``depth_target``: the depth the targets imply, from a least-squares fit of
  the GT 2D joints (normalised crop units) to the GT 3D joints (m) per hand
  (``VirtualCamera.depth_from_targets``; mean / min / max, capped at ``k``);
- ``extent_ratio``: the 2D extent (diagonal of the joints' box) of the
  projected prediction over that of the GT 2D joints (for the
  multi-hypothesis generator the mean over hypotheses);
- ``unfolder_2d_error``: the mean distance (crop units) of the Unfolder's
  2D joints to the GT, next to ``constant_2d_error``, that of always
  predicting the mean GT position.

These are the figures behind the "settings for short runs" sections of
``configs/blurhandnet/README.md`` and ``configs/mh_blurhandnet/README.md``
(why the synthetic configs scale the heatmap logits and supervise the
camera depth).
"""
import argparse
import json
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner, load_checkpoint

from mmblurhand.models.heads.blurhand_head import BlurHandHead
from mmblurhand.registry import MODELS
from mmblurhand.utils import register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--num-samples', type=int, default=64)
    parser.add_argument('--json', help='write the figures here')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. '
        'test_dataloader.dataset.data_root=DIR/')
    return parser.parse_args(argv)


def _stats(values: torch.Tensor) -> dict:
    values = values.float()
    return dict(
        mean=float(values.mean()),
        min=float(values.min()),
        max=float(values.max()))


def main(argv=None):
    args = parse_args(argv)
    register_all_modules()
    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            raise SystemExit(f'projection_diagnostics: no file at {path}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    loader_cfg = cfg.test_dataloader
    loader_cfg.num_workers = 0
    loader_cfg.persistent_workers = False
    loader_cfg.batch_size = args.num_samples
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu',
                    logger='silent')
    model.eval()
    batch = next(iter(Runner.build_dataloader(loader_cfg)))
    with torch.inference_mode():
        data = model.data_preprocessor(batch, False)
        feats = model.extract_feat(data['inputs'])
        preds = model.head.forward(feats)
        cam_t, joints_2d = preds['cam_t'], preds['joints_2d']
        unfolder = preds['unfolder_joints'][..., :2]
        if cam_t.dim() == 3:  # BlurHandNet (B, T, ...): one "hypothesis"
            cam_t, joints_2d = cam_t[:, None], joints_2d[:, None]
    gt = BlurHandHead.gather_targets(data['data_samples'], device='cpu')
    gt_2d = gt['joints_2d'][..., :2]
    valid = gt['joints_2d_valid'] > 0
    camera = model.head.regressor.camera
    # middle step (T // 2) of every hand
    mid = gt_2d.shape[1] // 2
    depth_target, usable = camera.depth_from_targets(
        gt['joints_cam'][:, mid], gt_2d[:, mid],
        valid[:, mid] & (gt['joints_cam_valid'][:, mid] > 0))
    depth_target = depth_target[usable]

    def extent(points, mask):
        big = torch.where(mask[..., None], points, torch.nan)
        span = big.nan_to_num(-1e9).amax(-2) - big.nan_to_num(1e9).amin(-2)
        return span.norm(dim=-1)

    pred_extent = extent(
        joints_2d[:, :, mid],
        valid[:, None, mid].expand(-1, joints_2d.shape[1], -1)).mean(1)
    gt_extent = extent(gt_2d[:, mid], valid[:, mid])
    extent_ratio = float((pred_extent / gt_extent).mean())
    w = valid.float()
    unfolder_err = ((unfolder - gt_2d).norm(dim=-1) * w).sum() / w.sum()
    mean_pos = (gt_2d * w[..., None]).sum((0, 1, 2)) / w.sum()
    constant_err = ((gt_2d - mean_pos).norm(dim=-1) * w).sum() / w.sum()
    report = dict(
        config=args.config,
        checkpoint=args.checkpoint,
        num_samples=int(gt_2d.shape[0]),
        depth_pred=_stats(cam_t[..., 2]),
        depth_upper_bound=float(camera.max_depth),
        depth_target=_stats(depth_target),
        extent_ratio=extent_ratio,
        unfolder_2d_error=float(unfolder_err),
        constant_2d_error=float(constant_err))
    print(json.dumps(report, indent=1))
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=1)
    return report


if __name__ == '__main__':
    main()
