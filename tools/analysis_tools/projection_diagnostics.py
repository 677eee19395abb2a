# Copyright (c) OpenMMLab. All rights reserved.
"""Check a trained model's camera and 2D joints against the test targets.

    python tools/analysis_tools/projection_diagnostics.py CONFIG CHECKPOINT \
        [--num-samples 64] [--json OUT]

For one batch of test hands (BlurHandNet or the multi-hypothesis
generator) it reports, in the network's crop frame:

- ``depth_pred``: the predicted camera depth ``t_z`` (m; mean / min / max)
  and the virtual camera's upper bound ``k``;
- ``depth_target``: the depth the targets imply, from a least-squares fit of
  the GT 2D joints (normalised crop units) to the GT 3D joints (m) per hand,
  ``u = a x + b``: ``t_z = f_x / W / a`` (mean / min / max);
- ``extent_ratio``: the 2D extent (diagonal of the joints' box) of the
  projected prediction over that of the GT 2D joints (multi-hypothesis
  generator only, the mean over hypotheses);
- ``unfolder_2d_error``: the mean distance (crop units) of the Unfolder's
  2D joints to the GT, next to ``constant_2d_error``, that of always
  predicting the mean GT position.

These are the figures behind the "camera depth saturates" note of
``configs/mh_blurhandnet/README.md``.
"""
import argparse
import json
import os
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config
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
    return parser.parse_args(argv)


def _stats(values: torch.Tensor) -> dict:
    values = values.float()
    return dict(
        mean=float(values.mean()),
        min=float(values.min()),
        max=float(values.max()))


def implied_depth(joints_cam: torch.Tensor, joints_2d: torch.Tensor,
                  valid: torch.Tensor, focal_over_width: float) -> torch.Tensor:
    """Per-hand depth (m) at which the virtual camera maps the GT 3D joints
    onto the GT 2D joints: the slope ``a`` of ``u = a x + b`` (least
    squares over the valid joints) gives ``t_z = (f_x / W) / a``.

    Args:
        joints_cam (Tensor): ``(N, J, 3)`` metres.
        joints_2d (Tensor): ``(N, J, 2)`` normalised crop units.
        valid (Tensor): ``(N, J)`` bool.
        focal_over_width (float): ``f_x / W``.

    Returns:
        Tensor: ``(N,)`` depths; NaN where fewer than 2 joints are valid.
    """
    w = valid.float()
    count = w.sum(-1).clamp(min=1)
    x, u = joints_cam[..., 0], joints_2d[..., 0]
    x_mean = (x * w).sum(-1) / count
    u_mean = (u * w).sum(-1) / count
    cov = ((x - x_mean[:, None]) * (u - u_mean[:, None]) * w).sum(-1)
    var = ((x - x_mean[:, None])**2 * w).sum(-1)
    slope = cov / var.clamp(min=1e-12)
    depth = focal_over_width / slope
    return torch.where(w.sum(-1) >= 2, depth, torch.nan)


def main(argv=None):
    args = parse_args(argv)
    register_all_modules()
    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            raise SystemExit(f'projection_diagnostics: no file at {path}')
    cfg = Config.fromfile(args.config)
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
        preds = model.head.predict(feats, data['data_samples'], test_cfg={})
        if isinstance(preds, dict):  # multi-hypothesis: (B, K, T, ...)
            cam_t, joints_2d = preds['cam_t'], preds['joints_2d']
            unfolder = preds['unfolder_joints']
        else:  # BlurHandNet: the packed predictions (no crop projections)
            samples = model.predict(data['inputs'], data['data_samples'])
            cam_t = torch.as_tensor(
                np.stack([s.pred_instances.cam_t[0] for s in samples]))
            joints_2d = None
            unfolder = feats.joints[..., :2]
    gt = BlurHandHead.gather_targets(data['data_samples'], device='cpu')
    gt_2d = gt['joints_2d'][..., :2]
    valid = gt['joints_2d_valid'] > 0
    camera = model.head.regressor.camera
    fx_over_w = camera.focal[0] / camera.input_size[0]
    # middle step (T // 2) of every hand
    mid = gt_2d.shape[1] // 2
    depth_target = implied_depth(gt['joints_cam'][:, mid], gt_2d[:, mid],
                                 valid[:, mid], fx_over_w)

    def extent(points, mask):
        big = torch.where(mask[..., None], points, torch.nan)
        span = big.nan_to_num(-1e9).amax(-2) - big.nan_to_num(1e9).amin(-2)
        return span.norm(dim=-1)

    extent_ratio = None
    if joints_2d is not None:
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
        depth_target=_stats(depth_target[~depth_target.isnan()]),
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
