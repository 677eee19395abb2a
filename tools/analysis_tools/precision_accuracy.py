# Copyright (c) OpenMMLab. All rights reserved.
"""Accuracy cost of each inference back-end and precision against fp32.

    python tools/analysis_tools/precision_accuracy.py CONFIG [CHECKPOINT] \
        [--data-root data/recipe/test] [--num-images 64] \
        [--variants pytorch:bf16 pytorch:int8 onnxruntime:fp32 \
         onnxruntime:int8] [--json OUT]

Every variant is built with ``init_model(config, checkpoint, backend=...,
precision=...)`` and run through ``inference_blurhand`` (the public API)
on the same hand crops as the PyTorch fp32 reference: the first
``--num-images`` images of a BlurHand-layout test set (``--data-root``:
``blur_images/<split>/...`` and ``annotations/<split>/BlurHand_<split>_
data.json``), each with the box and hand type of its middle-frame
annotation (``interacting`` hands as right hands), left hands mirrored as
the API does. Without a checkpoint the config's seeded random initialisation
(``init_weights``, pretrained weights left out) is saved to a temporary
checkpoint so that every variant has the same weights (the report says
``weights: random``).

Reported per variant, in mm (vertices and joints root-relative):

- ``vertex_max`` / ``vertex_mean`` / ``vertex_p99``: the distance of every
  vertex of every hypothesis and time step to the fp32 reference (all K
  hypotheses are compared, so a changed ranking does not count here);
- ``joint_max`` / ``joint_mean``: the same for the 21 joints;
- ``chosen_vertex_max``: the chosen sequence (what the demo draws), which
  also moves when the precision changes which hypothesis ranks first;
- ``top1_agreement``: the fraction of hands whose top-ranked hypothesis is
  the fp32 one; ``score_max``: the largest score difference.
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile
import time

import numpy as np
import torch
from mmengine.config import DictAction

DEFAULT_VARIANTS = ('pytorch:bf16', 'pytorch:int8', 'onnxruntime:fp32',
                    'onnxruntime:int8')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Vertex differences of each back-end / precision '
        'against PyTorch fp32 on test images.')
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', help='random init if absent')
    parser.add_argument('--data-root', default='data/recipe/test')
    parser.add_argument('--split', default='test')
    parser.add_argument('--num-images', type=int, default=64)
    parser.add_argument(
        '--variants',
        nargs='+',
        default=list(DEFAULT_VARIANTS),
        help='backend:precision pairs')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cache-dir', help='ONNX cache folder')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='key=value overrides (as tools/test.py)')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load CHECKPOINT with weights_only=False (a file you trust)')
    parser.add_argument('--json', help='write the report here')
    return parser.parse_args(argv)


def load_hands(data_root: str, split: str, num: int):
    """``(image path, (x1, y1, x2, y2), hand type)`` of the first ``num``
    images, from their middle-frame annotations."""
    ann_file = osp.join(data_root, 'annotations', split,
                        f'BlurHand_{split}_data.json')
    if not osp.isfile(ann_file):
        raise FileNotFoundError(
            f'{ann_file} does not exist; pass --data-root of a BlurHand-'
            'layout test set (e.g. data/recipe/test made by '
            'tools/dataset_converters/synthesize_blurhand.py).')
    with open(ann_file) as f:
        data = json.load(f)
    images = {img['id']: img for img in data['images']}
    hands, seen = [], set()
    for ann in data['annotations']:
        if not ann.get('is_middle', True) or ann['image_id'] in seen:
            continue
        seen.add(ann['image_id'])
        x, y, w, h = ann['bbox']
        hand_type = ann.get('hand_type', 'right')
        hands.append((osp.join(data_root, 'blur_images', split,
                               images[ann['image_id']]['file_name']),
                      (x, y, x + w, y + h),
                      hand_type if hand_type in ('right', 'left') else
                      'right'))
        if len(hands) == num:
            break
    if not hands:
        raise ValueError(f'{ann_file} lists no middle-frame annotation.')
    return hands


def predict_all(model, hands):
    from mmblurhand.apis import inference_blurhand
    results = []
    for path, box, hand_type in hands:
        pred = inference_blurhand(
            model, path, bboxes=[box], hand_types=hand_type)[0]
        results.append(pred.pred_instances)
    return results


def _distances(got, ref, key):
    """Per-point distances (mm) of ``key`` over all hands."""
    return np.concatenate([
        np.linalg.norm(
            np.asarray(g.get(key), np.float64) -
            np.asarray(r.get(key), np.float64),
            axis=-1).ravel() * 1000. for g, r in zip(got, ref)
    ])


def compare(got, ref) -> dict:
    """The metrics of the module docstring."""
    vertex = _distances(got, ref, 'hyp_vertices')
    joint = _distances(got, ref, 'hyp_joints_cam')
    chosen = _distances(got, ref, 'vertices')
    top1 = [
        int(np.asarray(g.topn_indices)[0, 0] == np.asarray(
            r.topn_indices)[0, 0]) for g, r in zip(got, ref)
    ]
    score = max(
        float(np.abs(np.asarray(g.hyp_scores) - np.asarray(r.hyp_scores))
              .max()) for g, r in zip(got, ref))
    return dict(
        vertex_max=float(vertex.max()),
        vertex_mean=float(vertex.mean()),
        vertex_p99=float(np.percentile(vertex, 99)),
        joint_max=float(joint.max()),
        joint_mean=float(joint.mean()),
        chosen_vertex_max=float(chosen.max()),
        top1_agreement=float(np.mean(top1)),
        score_max=score)


def run(args) -> dict:
    from mmblurhand.apis import init_model
    hands = load_hands(args.data_root, args.split, args.num_images)
    cfg_options = args.cfg_options
    tmp = None
    checkpoint = args.checkpoint
    if checkpoint is None:
        # the config's own initialisation (init_model alone leaves e.g. the
        # hypothesis embeddings at zero: K identical hypotheses)
        from mmengine.config import Config

        from mmblurhand.deployment import build_inference_model
        cfg = Config.fromfile(args.config)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        torch.manual_seed(args.seed)
        model = build_inference_model(cfg)
        tmp = tempfile.mkdtemp(prefix='mmblurhand_precision_')
        checkpoint = osp.join(tmp, 'random.pth')
        torch.save(dict(meta={}, state_dict=model.state_dict()), checkpoint)
        del model
    common = dict(
        cfg_options=cfg_options, trust_checkpoint=args.trust_checkpoint)
    report = dict(
        config=args.config,
        checkpoint=args.checkpoint,
        weights='checkpoint' if args.checkpoint else
        f'random (seed {args.seed})',
        data_root=args.data_root,
        num_images=len(hands),
        torch_threads=torch.get_num_threads(),
        variants={})
    start = time.perf_counter()
    ref = predict_all(init_model(args.config, checkpoint, **common), hands)
    report['reference_s'] = time.perf_counter() - start
    for variant in args.variants:
        backend, precision = variant.split(':')
        start = time.perf_counter()
        model = init_model(
            args.config,
            checkpoint,
            backend=backend,
            precision=precision,
            cache_dir=args.cache_dir,
            **common)
        built = time.perf_counter() - start
        got = predict_all(model, hands)
        metrics = compare(got, ref)
        metrics.update(
            build_s=built, run_s=time.perf_counter() - start - built)
        report['variants'][variant] = metrics
        print(f'{variant}: ' + ', '.join(
            f'{k} {v:.4g}' for k, v in metrics.items()), flush=True)
        del model
    if tmp is not None:
        os.remove(checkpoint)
        os.rmdir(tmp)
    return report


def main(argv=None):
    args = parse_args(argv)
    report = run(args)
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)
        print(f'written to {args.json}')
    return report


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
