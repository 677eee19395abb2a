# Copyright (c) OpenMMLab. All rights reserved.
"""Train a flow head on cached features of a frozen backbone and Unfolder.

When ``frozen_modules`` holds the backbone and the neck (the configs of this
project: both come from the embedding generator's checkpoint), the
Unfolder's outputs are a fixed function of the input crop. This tool runs
the frozen part once over the training split with the *test* pipeline (no
augmentation), keeps the joint features, 2D joints, pooled feature and the
training targets in a cache file, and then trains only the head on the cache
with AdamW and cosine decay. It is the cheap way to train the flow on a
CPU: the backbone and the data pipeline run once instead of once per epoch.
``tools/train.py`` with the same config trains the same model end to end
(with augmentation), just slower.

Example (repository root)::

    PYTHONPATH=. python projects/mhentropy/tools/train_cached.py \
        projects/mhentropy/configs/mhentropy-flow_r18s_nll_study-synthetic-64x64.py \
        --cache work_dirs/mhentropy/cache_train.pt \
        --work-dir work_dirs/mhentropy/flow_nll --epochs 8
"""
import argparse
import copy
import hashlib
import json
import math
import os
import os.path as osp
import time
from types import SimpleNamespace

import torch
from mmengine.config import Config, DictAction

CACHE_KEYS = ('joint_feats', 'joints', 'global_feat')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--cache', required=True, help='feature cache file')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--epochs', type=int, default=8)
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--weight-decay', type=float, default=1e-4)
    parser.add_argument('--max-norm', type=float, default=5.0)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. '
        'model.head.num_train_samples=4')
    return parser.parse_args()


def file_digest(path: str) -> str:
    """First 16 hex digits of the file's SHA-256."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def generator_checkpoint(cfg) -> str:
    """The checkpoint the frozen backbone is initialised from."""
    init_cfg = cfg.model.backbone.get('init_cfg')
    if not init_cfg or init_cfg.get('type') != 'Pretrained':
        raise ValueError('train_cached: the backbone must be initialised from'
                         ' a checkpoint (init_cfg type Pretrained).')
    path = init_cfg['checkpoint']
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'train_cached: generator checkpoint "{path}" does not exist; '
            'train configs/studies/mh-gen_r18s_k16_study-synthetic-64x64.py '
            'first.')
    return path


def build_cache(cfg, model, labels_keys) -> dict:
    """Unfolder outputs and targets of the un-augmented training split."""
    from mmengine.runner import Runner
    from mmengine.utils import ProgressBar

    from mmblurhand.models.heads.blurhand_head import BlurHandHead
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.dataset.pipeline = copy.deepcopy(
        cfg.val_dataloader.dataset.pipeline)
    loader_cfg.update(
        shuffle=None, drop_last=False, persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False))
    loader = Runner.build_dataloader(loader_cfg)
    cache = {k: [] for k in CACHE_KEYS + tuple(labels_keys)}
    progress = ProgressBar(len(loader.dataset))
    with torch.no_grad():
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            feats = model.extract_feat(data['inputs'])
            for key in CACHE_KEYS:
                cache[key].append(getattr(feats, key).float())
            targets = BlurHandHead.gather_targets(data['data_samples'],
                                                  labels_keys)
            for key in labels_keys:
                cache[key].append(targets[key])
            for _ in data['data_samples']:
                progress.update()
    return {k: torch.cat(v) for k, v in cache.items()}


def main():
    args = parse_args()
    from mmengine.registry import init_default_scope

    from mmblurhand.models.heads.blurhand_head import TARGET_KEYS
    from mmblurhand.models.necks.unfolder import UnfolderOutput
    from mmblurhand.registry import MODELS
    from mmblurhand.utils import register_all_modules
    register_all_modules()
    init_default_scope('mmblurhand')
    import projects.mhentropy.mhentropy  # noqa: F401

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    frozen = set(cfg.model.get('frozen_modules', ()))
    if not {'backbone', 'neck'} <= frozen:
        raise ValueError('train_cached: cached features need a frozen '
                         "backbone and neck (model.frozen_modules); got "
                         f'{sorted(frozen)}. Use tools/train.py instead.')
    gen_path = generator_checkpoint(cfg)
    gen_digest = file_digest(gen_path)
    torch.manual_seed(args.seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.eval()
    head = model.head
    labels_keys = TARGET_KEYS + ('joints_vis', )

    cache = None
    if osp.isfile(args.cache):
        cache = torch.load(args.cache)
        if cache.get('generator_digest') != gen_digest:
            print(f'train_cached: {args.cache} was made from another '
                  'generator checkpoint; rebuilding it.')
            cache = None
    if cache is None:
        start = time.time()
        data = build_cache(cfg, model, labels_keys)
        cache = dict(
            data=data, generator_digest=gen_digest, generator=gen_path)
        os.makedirs(osp.dirname(osp.abspath(args.cache)), exist_ok=True)
        torch.save(cache, args.cache)
        print(f'\ntrain_cached: cached {len(data["joints"])} training '
              f'hands in {time.time() - start:.0f} s -> {args.cache}')
    data = cache['data']
    num = len(data['joints'])

    head.train()
    params = [p for p in head.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params, lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = num // args.batch_size
    total = steps_per_epoch * args.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda i: 0.01 + 0.99 * 0.5 *
        (1 + math.cos(math.pi * min(i, total) / total)))
    os.makedirs(args.work_dir, exist_ok=True)
    log, start, step = [], time.time(), 0
    gen = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        order = torch.randperm(num, generator=gen)
        sums = {}
        for it in range(steps_per_epoch):
            idx = order[it * args.batch_size:(it + 1) * args.batch_size]
            feats = UnfolderOutput(
                joint_feats=data['joint_feats'][idx],
                joints=data['joints'][idx],
                heatmaps=torch.empty(0),
                feature_maps=torch.empty(0),
                global_feat=data['global_feat'][idx])
            samples = [
                SimpleNamespace(gt_instance_labels={
                    k: data[k][i:i + 1]
                    for k in labels_keys
                }) for i in idx.tolist()
            ]
            losses = head.loss(feats, samples)
            loss = sum(v for k, v in losses.items() if k.startswith('loss'))
            optimizer.zero_grad()
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(params, args.max_norm)
            optimizer.step()
            scheduler.step()
            step += 1
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.) + float(v.detach())
            if step % 20 == 0:
                print(f'train_cached: iter {step}/{total} loss '
                      f'{float(loss):.4f} ({time.time() - start:.0f} s)',
                      flush=True)
            sums['grad_norm'] = sums.get('grad_norm', 0.) + float(grad_norm)
        means = {k: v / steps_per_epoch for k, v in sums.items()}
        means.update(epoch=epoch + 1, seconds=round(time.time() - start, 1))
        log.append(means)
        print('train_cached: ' + ', '.join(
            f'{k} {v:.4g}' if isinstance(v, float) else f'{k} {v}'
            for k, v in means.items()), flush=True)
    out = osp.join(args.work_dir, f'epoch_{args.epochs}.pth')
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(
                config=osp.abspath(args.config),
                generator=gen_path,
                generator_digest=gen_digest,
                args={k: v for k, v in vars(args).items()
                      if k != 'cfg_options'},
                cfg_options=dict(args.cfg_options or {}))), out)
    with open(osp.join(args.work_dir, 'train_log.json'), 'w') as f:
        json.dump(log, f, indent=1)
    print(f'train_cached: {total} iterations -> {out}')


if __name__ == '__main__':
    main()
