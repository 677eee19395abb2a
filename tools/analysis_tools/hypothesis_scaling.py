# Copyright (c) OpenMMLab. All rights reserved.
"""Latency and memory of the multi-hypothesis generator against K.

    python tools/analysis_tools/hypothesis_scaling.py [CONFIG] \
        [--ks 1 4 16 32] [--layouts independent joint] [--batch-size 1] \
        [--num-iters 5] [--json OUT] [--flops]

One generator is built from CONFIG (default: the paper's multi-hypothesis
generator, random initialisation) and its hypothesis transformer is swapped
for one per (K, attention layout); everything else (backbone, Unfolder,
regressor, MANO, selector) is shared, so the variants differ only where K
enters. Runs are interleaved (round r times every variant once) so that a
changing machine load affects all variants alike; medians are reported.

Per variant: end-to-end latency (``HandMeshExportWrapper``: preprocessing to
the K meshes and the selector's scores), the latency without MANO (backbone,
Unfolder, transformer, pose/shape/camera regression: what the official
generator's figure covers), each stage (``backbone``, ``unfolder``,
``transformer``, ``regressor``, ``mano``, ``selector``), the peak memory of
one forward and, with ``--flops``, FLOPs. The ratio to K = 1 of the same
layout is the scaling figure; the goal is K = 16 at most 1.5x K = 1 end to
end with ``independent`` attention.
"""
import argparse
import copy
import json
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction

from mmblurhand.deployment import (HandMeshExportWrapper,
                                   build_inference_model, config_input_size,
                                   init_weights_quietly, stage_functions)
from mmblurhand.registry import MODELS
from mmblurhand.utils.benchmark import (count_flops, environment_info,
                                        format_table, measure_peak_memory,
                                        summarize_times, time_function)

DEFAULT_CONFIG = ('configs/mh_blurhandnet/'
                  'mh-gen_r50_2xb24-30e_blurhand-256x256.py')
#: Goal: K = 16 costs at most this much of K = 1 (independent layout).
TARGET_RATIO = 1.5
#: Stages that depend on K (backbone and Unfolder run once per image).
K_STAGES = ('transformer', 'regressor', 'mano', 'selector')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generator latency and memory against the number of '
        'hypotheses K, for both attention layouts.')
    parser.add_argument(
        'config', nargs='?', default=DEFAULT_CONFIG, help='generator config')
    parser.add_argument('--checkpoint', help='checkpoint (random init else)')
    parser.add_argument(
        '--ks', type=int, nargs='+', default=[1, 4, 16, 32], help='K values')
    parser.add_argument(
        '--layouts',
        nargs='+',
        default=['independent', 'joint'],
        choices=['independent', 'joint'],
        help='attention layouts')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument(
        '--num-iters', type=int, default=5, help='interleaved rounds')
    parser.add_argument('--num-warmup', type=int, default=1)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int)
    parser.add_argument(
        '--flops', action='store_true', help='count FLOPs per variant')
    parser.add_argument('--json', help='write the results to this file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='config overrides')
    return parser.parse_args(argv)


def build_transformers(cfg, ks, layouts, device):
    """One hypothesis transformer per (layout, K), keyed by that pair."""
    base = copy.deepcopy(cfg.model.head.transformer)
    variants = {}
    for layout in layouts:
        for k in ks:
            tcfg = copy.deepcopy(base)
            tcfg.update(num_hypotheses=k, layout=layout)
            module = init_weights_quietly(MODELS.build(tcfg))
            variants[(layout, k)] = module.to(device).eval()
    return variants


def no_mano_forward(model, inputs):
    """The generator up to the MANO parameters (the official figure)."""
    feats = model.neck(model.backbone(inputs))
    refined = model.head.transformer(feats.joint_feats)
    regressor = model.head.regressor
    pose = regressor.regress_pose(refined, feats.joints[:, None])
    return pose, regressor.regress_shape_camera(feats.global_feat)


def run(args) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.model.type != 'MHBlurHandNet':
        raise ValueError(
            f'{args.config}: hypothesis scaling needs a multi-hypothesis '
            f"generator (model.type='MHBlurHandNet'), got {cfg.model.type}.")
    size = config_input_size(cfg)
    model = build_inference_model(cfg, args.checkpoint, device)
    wrapper = HandMeshExportWrapper(model).to(device).eval()
    transformers = build_transformers(cfg, args.ks, args.layouts, device)
    w, h = size
    images = torch.rand(args.batch_size, 3, h, w, device=device) * 255.
    inputs = wrapper.preprocess(images)

    def use(key):
        model.head.transformer = transformers[key]

    times = {key: dict(end_to_end=[], no_mano=[]) for key in transformers}
    stage_times = {key: {} for key in transformers}
    shared = dict(backbone=[], unfolder=[])
    memory, flops, stages = {}, {}, {}
    with torch.inference_mode():
        for key in transformers:
            use(key)
            with measure_peak_memory(device) as mem:
                wrapper(images)
            memory[key] = mem
            # closures bound to this variant's transformer and outputs
            stages[key] = stage_functions(model, inputs)
        for round_index in range(args.num_warmup + args.num_iters):
            record = round_index >= args.num_warmup
            for key in transformers:
                use(key)
                runs = dict(
                    end_to_end=lambda: wrapper(images),
                    no_mano=lambda: no_mano_forward(model, inputs))
                for name, fn in runs.items():
                    value = time_function(fn, 1, 0, device)[0]
                    if record:
                        times[key][name].append(value)
                for name in K_STAGES:
                    if name not in stages[key]:
                        continue
                    value = time_function(stages[key][name], 1, 0,
                                          device)[0]
                    if record:
                        stage_times[key].setdefault(name, []).append(value)
            for name in shared:
                value = time_function(stages[key][name], 1, 0, device)[0]
                if record:
                    shared[name].append(value)
    if args.flops:
        for key in transformers:
            use(key)
            with torch.no_grad():
                flops[key] = count_flops(wrapper, (images, ))['total']

    results = []
    for (layout, k), record in times.items():
        row = dict(
            layout=layout,
            num_hypotheses=k,
            batch_size=args.batch_size,
            latency_ms=summarize_times(record['end_to_end']),
            no_mano_latency_ms=summarize_times(record['no_mano']),
            stage_ms={
                name: summarize_times(values)
                for name, values in stage_times[(layout, k)].items()
            },
            peak_mem_mb=memory[(layout, k)].peak_mb,
            peak_mem_delta_mb=memory[(layout, k)].delta_mb)
        if (layout, k) in flops:
            row['flops'] = flops[(layout, k)]
        results.append(row)
    for row in results:
        base = [
            r for r in results
            if r['layout'] == row['layout'] and r['num_hypotheses'] == 1
        ]
        if base:
            for key in ('latency_ms', 'no_mano_latency_ms'):
                row[key.replace('latency_ms', 'ratio_to_k1')] = (
                    row[key]['median'] / base[0][key]['median'])
    report = dict(
        config=args.config,
        checkpoint=args.checkpoint,
        input_size=list(size),
        settings=dict(
            batch_size=args.batch_size,
            num_iters=args.num_iters,
            num_warmup=args.num_warmup,
            ks=args.ks,
            layouts=args.layouts),
        environment=environment_info(device),
        shared_stage_ms={k: summarize_times(v)
                         for k, v in shared.items()},
        results=results)
    goal = [
        r for r in results
        if r['layout'] == 'independent' and r['num_hypotheses'] == 16
    ]
    if goal and 'ratio_to_k1' in goal[0]:
        report['goal'] = dict(
            target_ratio=TARGET_RATIO,
            ratio_k16_independent=goal[0]['ratio_to_k1'],
            met=goal[0]['ratio_to_k1'] <= TARGET_RATIO)
    try:
        report['environment']['load_average_1m_after'] = round(
            os.getloadavg()[0], 2)
    except OSError:
        pass
    return report


def print_report(report) -> None:
    rows = []
    for r in report['results']:
        stages = r['stage_ms']
        rows.append((r['layout'], r['num_hypotheses'],
                     r['latency_ms']['median'], r['latency_ms']['p90'],
                     r.get('ratio_to_k1', float('nan')),
                     r['no_mano_latency_ms']['median'],
                     r.get('no_mano_ratio_to_k1', float('nan')),
                     stages['transformer']['median'],
                     stages['regressor']['median'], stages['mano']['median'],
                     stages.get('selector', {}).get('median', float('nan')),
                     r['peak_mem_mb'],
                     r.get('flops', float('nan')) / 1e9))
    env = report['environment']
    shared = report['shared_stage_ms']
    print(f'\n{report["config"]}, batch {report["settings"]["batch_size"]}, '
          f'{env["device"]} ({env["cpu"]}, {env["torch_threads"]} threads, '
          f'load {env.get("load_average_1m", "n/a")}); backbone '
          f'{shared["backbone"]["median"]:.1f} ms, Unfolder '
          f'{shared["unfolder"]["median"]:.1f} ms (shared by all K)')
    print(
        format_table(rows, ('layout', 'K', 'e2e ms', 'e2e p90', 'x K=1',
                            'no-MANO ms', 'x K=1 (no MANO)', 'transformer',
                            'regressor', 'MANO', 'selector', 'peak MiB',
                            'GFLOPs')))
    if 'goal' in report:
        goal = report['goal']
        print(f'goal K=16 <= {goal["target_ratio"]}x K=1 (independent): '
              f'{goal["ratio_k16_independent"]:.2f}x -> '
              f'{"met" if goal["met"] else "NOT met"}')


def main(argv=None):
    args = parse_args(argv)
    report = run(args)
    print_report(report)
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)
        print(f'results written to {args.json}')
    return report


if __name__ == '__main__':
    main()
