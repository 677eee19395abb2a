# Copyright (c) OpenMMLab. All rights reserved.
"""Evaluate reblur-based selection and test-time refinement on synthetic
data (MPJPE and silhouette IoU per blur-rate bin, Human from Blur Table 1).

Example (from the repository root)::

    CFG=hfb_mh-sel-ccr_r18s_k16_synthetic-64x64.py
    python projects/hand_from_blur/tools/evaluate_refinement.py \\
        projects/hand_from_blur/configs/$CFG \\
        --out-dir work_dirs/hand_from_blur/k16_64

The data root must hold backgrounds and alpha mattes
(``synthesize_blurhand.py --save-background --save-alpha``). Images with
two hands (``interacting``) are skipped: the saved matte covers both hands.

Rows (each sequence is compared with the ground truth in the better of its
two time orders, as the BlurHand metric does):

- ``oracle``: the hypothesis closest to the ground truth (reference only);
- ``ccr``: the learned selector's top-1 hypothesis;
- ``physics``, ``physics (image)``: top-1 by reblur score (image + matte,
  or image only);
- ``ccr + physics``: top-1 of the summed z-scores;
- ``... + refine``: that hypothesis after test-time refinement.

With ``--init gt-noise`` the hypotheses are replaced by the ground-truth
sequence with Gaussian noise on the pose (and the 2D joints by the ground
truth's): a check of the refinement alone, no network involved.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

import numpy as np
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='project config (see configs/)')
    parser.add_argument('--checkpoint', help='override the config\'s '
                        '`checkpoint`')
    parser.add_argument('--data-root', help='override `data_root`')
    parser.add_argument('--num-samples', type=int, default=None,
                        help='evaluate the first N single-hand samples')
    parser.add_argument('--batch-size', type=int, default=None)
    parser.add_argument('--num-iters', type=int, default=None,
                        help='override the refiner\'s iterations')
    parser.add_argument('--init', choices=['model', 'gt-noise'],
                        default='model')
    parser.add_argument('--noise-std', type=float, default=0.15,
                        help='gt-noise: std of the pose noise, rad')
    parser.add_argument('--out-dir', default='work_dirs/hand_from_blur',
                        help='where results.json and results.md go')
    return parser.parse_args(argv)


def sequence_mpjpe(pred: np.ndarray, gt: np.ndarray,
                   valid: np.ndarray) -> np.ndarray:
    """Mean joint error (mm) of sequences in their better time order.

    Args:
        pred (np.ndarray): ``(..., T, J, 3)`` root-relative, m.
        gt (np.ndarray): ``(T, J, 3)`` root-relative, m.
        valid (np.ndarray): ``(T, J)``.

    Returns:
        np.ndarray: ``(...)`` mean over time steps of the per-step MPJPE.
    """
    from mmblurhand.evaluation.functional import (apply_temporal_order,
                                                  choose_temporal_order,
                                                  masked_mean, point_errors)
    gt_b = np.broadcast_to(gt, pred.shape)
    valid_b = np.broadcast_to(valid, pred.shape[:-1])
    keep = choose_temporal_order(pred, gt_b, valid_b)
    lead = pred.ndim - 3
    flat = pred.reshape(-1, *pred.shape[lead:])
    ordered = apply_temporal_order(flat, keep.reshape(-1), 1).reshape(
        pred.shape)
    per_step = masked_mean(point_errors(ordered, gt_b), valid_b, axis=-1)
    return np.nanmean(per_step, axis=-1) * 1000.0


def bin_label(low, high):
    return f'[{low:g}, {high:g})' if np.isfinite(high) else f'>= {low:g}'


def summarise(records, methods, bins):
    """Mean MPJPE / IoU per method, overall and per blur-rate bin."""
    rates = np.array([r['blur_rate'] for r in records], dtype=np.float64)
    table = {}
    for name in methods:
        mpjpe = np.array([r['mpjpe'][name] for r in records])
        iou = np.array([r['iou'].get(name, np.nan) for r in records])
        row = dict(all=dict(
            n=int(len(records)), mpjpe=float(np.nanmean(mpjpe)),
            iou=float(np.nanmean(iou)) if np.isfinite(iou).any() else None))
        for low, high in zip(bins[:-1], bins[1:]):
            sel = (rates >= low) & (rates < high)
            row[bin_label(low, high)] = dict(
                n=int(sel.sum()),
                mpjpe=float(np.nanmean(mpjpe[sel])) if sel.any() else None,
                iou=float(np.nanmean(iou[sel]))
                if sel.any() and np.isfinite(iou[sel]).any() else None)
        table[name] = row
    return table


def format_table(table, bins, title):
    cols = ['all'] + [bin_label(lo, hi) for lo, hi in zip(bins[:-1], bins[1:])]
    first = next(iter(table.values()))
    lines = [f'### {title}', '',
             '| method | ' + ' | '.join(
                 f'{c} (n={first[c]["n"]})' for c in cols) + ' |',
             '|---|' + '---|' * len(cols)]
    for name, row in table.items():
        cells = []
        for c in cols:
            v = row[c]
            if v['mpjpe'] is None:
                cells.append('-')
            elif v['iou'] is None:
                cells.append(f'{v["mpjpe"]:.1f}')
            else:
                cells.append(f'{v["mpjpe"]:.1f} / {v["iou"]:.3f}')
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    lines.append('')
    lines.append('Cells: MPJPE (mm, mean over the T time steps, better time '
                 'order) / silhouette IoU of the reblurred alpha with the '
                 'true blurred alpha (soft IoU, crop). Synthetic data and the '
                 'procedural MANO-format hand, not MANO.')
    return '\n'.join(lines)


def save_results(args, checkpoint, data_root, model, records, methods, bins,
                 history, seconds):
    """Write results.json and results.md; return the table and text."""
    names = list(methods)
    if records and 'mean of K' in records[0]['mpjpe']:
        names.insert(1, 'mean of K')
    table = summarise(records, names, bins)
    title = (f'{args.init} init, {len(records)} samples, '
             f'{checkpoint if model else "no model"}')
    text = format_table(table, bins, title)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'results.json'), 'w') as f:
        json.dump(dict(config=args.config, checkpoint=checkpoint,
                       init=args.init, data_root=data_root,
                       seconds=seconds, table=table, records=records,
                       loss_history=history), f, indent=1)
    with open(osp.join(args.out_dir, 'results.md'), 'w') as f:
        f.write(text + '\n')
    return table, text


def gather(tensor, index):
    """``tensor[b, index[b]]`` for ``(B, K, ...)`` and ``(B,)``."""
    return tensor[torch.arange(tensor.shape[0]), index]


def main(argv=None):
    args = parse_args(argv)
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.utils import import_modules_from_strings
    from tqdm import tqdm

    from mmblurhand.registry import DATASETS, MODELS
    from mmblurhand.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    from projects.hand_from_blur.hand_from_blur import (combine_scores,
                                                        soft_iou)
    from projects.hand_from_blur.hand_from_blur.observations import (
        load_observations, stack_observations)

    torch.manual_seed(0)
    data_root = args.data_root or cfg.data_root
    checkpoint = args.checkpoint or cfg.get('checkpoint')
    render_size = int(cfg.render_size)
    batch_size = args.batch_size or cfg.get('batch_size', 8)
    bins = [float(b) for b in cfg.blur_rate_bins]
    model_cfg = Config.fromfile(cfg.model_config)

    refiner_cfg = cfg.refiner.copy()
    if args.num_iters is not None:
        refiner_cfg['num_iters'] = args.num_iters
    refiner = MODELS.build(refiner_cfg)
    physics = MODELS.build(cfg.physics_selector)
    formation = refiner.formation

    model = None
    if args.init == 'model':
        from mmblurhand.apis import init_model
        model = init_model(model_cfg, checkpoint)
        model.eval()
    ds_cfg = model_cfg.test_dataloader.dataset.copy()
    ds_cfg['data_root'] = data_root
    ds_cfg['test_mode'] = True
    dataset = DATASETS.build(ds_cfg)
    indices = [
        i for i in range(len(dataset))
        if dataset.get_data_info(i).get('orig_hand_type') != 'interacting'
    ]
    if args.num_samples is not None:
        indices = indices[:args.num_samples]

    methods = []
    records = []
    start = time.time()
    history = []
    for first in tqdm(range(0, len(indices), batch_size), desc='evaluate'):
        samples = [dataset[i] for i in indices[first:first + batch_size]]
        data_samples = [s['data_samples'] for s in samples]
        obs = stack_observations(
            load_observations(data_samples, data_root, 'test', render_size),
            render_size)
        num = len(samples)
        with torch.no_grad():
            if model is not None:
                data = model.data_preprocessor(pseudo_collate(samples))
                inputs = data['inputs']
                if hasattr(model, 'generate'):
                    hyps = model.generate(inputs)
                    logits, _ = model.score(inputs, hyps)
                    ccr = logits.softmax(-1)[..., 1]
                else:
                    hyps = model.head.predict(model.extract_feat(inputs))
                    ccr = None
                joints_2d = hyps['unfolder_joints'][..., :2]
            else:
                labels = [d.gt_instance_labels for d in data_samples]
                pose = torch.cat([torch.as_tensor(x.mano_pose)
                                  for x in labels]).float()
                shape = torch.cat([torch.as_tensor(x.mano_shape)
                                   for x in labels]).float()
                noisy = pose.clone()
                noisy[..., 3:] += args.noise_std * torch.randn_like(
                    noisy[..., 3:])
                noisy[..., :3] += args.noise_std / 2 * torch.randn_like(
                    noisy[..., :3])
                out = formation.mano(noisy[..., :3], noisy[..., 3:], shape)
                joints = out.joints - out.joints[..., :1, :]
                hyps = dict(mano_pose=noisy[:, None],
                            mano_shape=shape[:, None],
                            joints_cam=joints[:, None])
                ccr = None
                joints_2d = torch.cat([torch.as_tensor(x.joints_2d)
                                       for x in labels]).float()[..., :2]
        inside = ((joints_2d >= 0) & (joints_2d <= 1)).all(-1).float()
        obs['joints_2d'] = joints_2d
        obs['joints_2d_weight'] = inside

        # ---- selection
        scored = physics.score(hyps, obs)
        chosen = dict(oracle=None)
        if ccr is not None:
            chosen['ccr'] = ccr.argmax(1)
        if hyps['mano_pose'].shape[1] > 1:
            chosen['physics'] = scored['scores'].argmax(1)
            chosen['physics (image)'] = (-scored['image']).argmax(1)
            if ccr is not None:
                chosen['ccr + physics'] = combine_scores(
                    scored['scores'], ccr, cfg.get('combine_weight',
                                                   1.0)).argmax(1)
        else:
            chosen = dict(init=torch.zeros(num, dtype=torch.long))

        # ---- ground truth and hypothesis errors
        gts = [d.gt_instances for d in data_samples]
        flips = np.array([bool(d.metainfo.get('flip', False))
                          for d in data_samples])
        # predictions are right hands: mirror left ones back (x -> -x)
        mirror = np.where(flips, -1.0, 1.0)
        hyp_joints = hyps['joints_cam'].numpy().astype(np.float64)
        hyp_joints[..., 0] *= mirror[:, None, None, None]
        hyp_err = np.stack([
            sequence_mpjpe(hyp_joints[b], np.asarray(gts[b].joints_cam[0]),
                           np.asarray(gts[b].joints_cam_valid[0]))
            for b in range(num)
        ])                                               # (B, K)
        if 'oracle' in chosen:
            chosen['oracle'] = torch.as_tensor(np.nanargmin(hyp_err, 1))
        # ---- refinement runs
        refined = {}
        for run in cfg.refinements:
            if run['start'] not in chosen:
                continue
            idx = chosen[run['start']]
            betas = hyps['mano_shape'].mean(-2).expand(
                num, hyps['mano_pose'].shape[1], -1)
            motion = refiner.init_motion(
                gather(hyps['mano_pose'], idx), gather(betas, idx),
                gather(hyps['joints_cam'], idx), obs)
            runner = refiner
            if run.get('loss_weights'):
                runner = MODELS.build(
                    dict(refiner_cfg,
                         loss_weights=dict(refiner_cfg.get(
                             'loss_weights', {}), **run['loss_weights'])))
            res = runner.refine(motion, obs)
            history.append(dict(name=run['name'],
                                history=[round(h, 6) for h in res['history']]))
            refined[run['name']] = res['motion']
        # ---- per-sample metrics
        from projects.hand_from_blur.hand_from_blur import step_times
        tau = step_times(hyps['mano_pose'].shape[2])
        alphas = {}
        with torch.no_grad():
            for name, idx in chosen.items():
                betas = hyps['mano_shape'].mean(-2).expand(
                    num, hyps['mano_pose'].shape[1], -1)
                motion = refiner.init_motion(
                    gather(hyps['mano_pose'], idx), gather(betas, idx),
                    gather(hyps['joints_cam'], idx), obs)
                alphas[name] = formation(motion, obs['focal'],
                                         obs['princpt'],
                                         obs['image_size'])['alpha']
            seq = {}
            for name, motion in refined.items():
                alphas[name] = formation(motion, obs['focal'],
                                         obs['princpt'],
                                         obs['image_size'])['alpha']
                seq[name] = formation.pose(motion, tau)['joints_rel'].numpy()
        for name in list(chosen) + list(refined):
            if name not in methods:
                methods.append(name)
        ious = {k: soft_iou(v, obs['alpha']).numpy() for k, v in
                alphas.items()}
        for b in range(num):
            gt = np.asarray(gts[b].joints_cam[0])
            valid = np.asarray(gts[b].joints_cam_valid[0])
            rec = dict(
                img_path=data_samples[b].metainfo['img_path'],
                hand_type=data_samples[b].metainfo['hand_type'],
                blur_rate=float(np.asarray(gts[b].blur_rate).reshape(-1)[0]),
                mpjpe={}, iou={}, chosen={})
            for name, idx in chosen.items():
                k = int(idx[b])
                rec['chosen'][name] = k
                rec['mpjpe'][name] = float(hyp_err[b, k])
                rec['iou'][name] = float(ious[name][b])
            for name in refined:
                pred = seq[name][b] * np.array([mirror[b], 1, 1])
                rec['mpjpe'][name] = float(sequence_mpjpe(pred, gt, valid))
                rec['iou'][name] = float(ious[name][b])
            if hyps['mano_pose'].shape[1] > 1:
                rec['mpjpe']['mean of K'] = float(np.nanmean(hyp_err[b]))
            records.append(rec)
        # written after every batch, so an interrupted run keeps its results
        table, text = save_results(args, checkpoint, data_root, model,
                                   records, methods, bins, history,
                                   time.time() - start)
    print(text)
    seconds = time.time() - start
    print(f'{len(records)} samples in {seconds:.0f} s; results in '
          f'{args.out_dir}/results.json')
    return table


if __name__ == '__main__':
    main()
