# Copyright (c) OpenMMLab. All rights reserved.
"""Speed, memory and complexity of an mmblurhand model.

    python tools/analysis_tools/benchmark.py CONFIG [--checkpoint CKPT] \
        [--batch-size 8] [--num-iters 10] [--device cpu] [--json OUT] \
        [--onnx] [--compile] [--channels-last]

Measures, on random images of the config's input size (weights from the
checkpoint, or the config's random initialisation without one):

- ``latency_ms``: inference of the tensor-mode forward (preprocessing,
  backbone, Unfolder, transformer, regressor, MANO meshes of all
  hypotheses, selector scores) at batch 1 and ``--batch-size``, under
  ``torch.inference_mode``: median, p90 (and mean/min/max) over
  ``--num-iters`` warm runs;
- ``throughput_img_s``: images per second at each batch size (from the
  median);
- ``train_step_ms``: one optimiser step (data preprocessing, forward with
  losses, backward, the config's optimiser) on a fake batch of
  ``--batch-size`` contract-conformant samples;
- ``peak_mem_mb``: peak process RSS on CPU / peak allocated tensor memory
  on CUDA, for each of the above;
- ``params`` and ``flops`` (MMEngine's FLOP analysis of the batch-1
  forward, fvcore convention: one multiply-add = one FLOP);
- ``stage_ms`` (``--profile``): the batch-1 latency of each stage;
- ``onnxruntime_latency_ms`` (``--onnx``): the same forward exported to
  ONNX and run by onnxruntime (CPU) with the same number of threads, and
  the largest output difference to PyTorch.

A table goes to stdout and everything to ``--json``. Timings on a shared
machine vary with its load: the JSON records the load average before and
after; compare settings within one run.
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile
import time

import torch
from mmengine.config import Config, DictAction
from mmengine.optim import build_optim_wrapper

from mmblurhand.deployment import (HandMeshExportWrapper, OnnxRuntimeModel,
                                   build_inference_model, compare_with_torch,
                                   config_input_size, export_onnx,
                                   stage_functions)
from mmblurhand.utils.benchmark import (count_flops, count_parameters,
                                        environment_info, format_table,
                                        measure_peak_memory, summarize_times,
                                        time_function)

#: Keys every JSON report has (checked by the tests).
REQUIRED_KEYS = ('params', 'flops', 'latency_ms', 'throughput_img_s',
                 'train_step_ms', 'peak_mem_mb')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Benchmark an mmblurhand model (latency, throughput, '
        'training step, memory, parameters, FLOPs).')
    parser.add_argument('config', help='config file')
    parser.add_argument('--checkpoint', help='checkpoint (random init else)')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=8,
        help='the larger batch size (batch 1 is always measured) and the '
        'training batch size')
    parser.add_argument(
        '--num-iters', type=int, default=10, help='timed runs per setting')
    parser.add_argument(
        '--num-warmup', type=int, default=2, help='untimed runs first')
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:N]')
    parser.add_argument('--json', help='write the results to this file')
    parser.add_argument(
        '--threads', type=int, help='torch intra-op threads (CPU)')
    parser.add_argument(
        '--input-size',
        type=int,
        nargs=2,
        metavar=('W', 'H'),
        help='input size (default: the config\'s)')
    parser.add_argument(
        '--skip-train', action='store_true', help='no training step')
    parser.add_argument(
        '--skip-flops', action='store_true', help='no FLOP count')
    parser.add_argument(
        '--profile', action='store_true', help='per-stage batch-1 latency')
    parser.add_argument(
        '--onnx',
        action='store_true',
        help='also export to ONNX and time onnxruntime (CPU)')
    parser.add_argument(
        '--no-grad',
        action='store_true',
        help='torch.no_grad instead of torch.inference_mode (to measure '
        'the difference)')
    parser.add_argument(
        '--channels-last',
        action='store_true',
        help='channels-last memory format for the model and images')
    parser.add_argument(
        '--compile', action='store_true', help='torch.compile the forward')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. '
        'model.head.transformer.num_hypotheses=32')
    return parser.parse_args(argv)


def make_images(batch: int, size, device, channels_last: bool):
    """Random BGR 0-255 float images ``(B, 3, H, W)``."""
    w, h = size
    images = torch.rand(batch, 3, h, w, device=device) * 255.
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images


def measure_inference(forward, images, args, device):
    """Latency stats and peak memory of ``forward(images)``."""
    grad_ctx = torch.no_grad if args.no_grad else torch.inference_mode
    with grad_ctx():
        with measure_peak_memory(device) as mem:
            times = time_function(lambda: forward(images), args.num_iters,
                                  args.num_warmup, device)
    return summarize_times(times), mem


def measure_train_step(cfg, model, size, args, device):
    """Time one optimiser step on a fake batch; returns stats and memory.
    """
    from mmblurhand.testing import get_packed_inputs
    num_steps = int(cfg.get('num_steps', 3))
    num_joints = int(cfg.get('num_joints', 21))
    data = get_packed_inputs(
        batch_size=args.batch_size,
        num_steps=num_steps,
        num_joints=num_joints,
        input_size=tuple(size),
        seed=0)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    try:
        with measure_peak_memory(device) as mem:
            times = time_function(
                lambda: model.train_step(data, optim_wrapper),
                args.num_iters, args.num_warmup, device)
    finally:
        model.eval()
    return summarize_times(times), mem


def measure_onnx(wrapper, size, batch_sizes, args, device, report):
    """Export, check against PyTorch, and time onnxruntime."""
    tmp = tempfile.mkdtemp(prefix='mmblurhand_bench_')
    onnx_file = osp.join(tmp, 'model.onnx')
    start = time.perf_counter()
    export_onnx(wrapper.cpu(), onnx_file, size)
    wrapper.to(device)
    report['onnx_export_s'] = time.perf_counter() - start
    runtime = OnnxRuntimeModel(onnx_file, num_threads=torch.get_num_threads())
    check_images = make_images(2, size, 'cpu', False)
    report['onnx_check'] = compare_with_torch(wrapper.cpu(), runtime,
                                              check_images)
    wrapper.to(device)
    latency, throughput = {}, {}
    for batch in batch_sizes:
        images = make_images(batch, size, 'cpu', False).numpy()
        times = time_function(lambda: runtime(images), args.num_iters,
                              args.num_warmup)
        latency[str(batch)] = summarize_times(times)
        throughput[str(batch)] = batch * 1000. / latency[str(batch)]['median']
    report['onnxruntime_latency_ms'] = latency
    report['onnxruntime_throughput_img_s'] = throughput
    os.remove(onnx_file)
    os.rmdir(tmp)


def print_table(report) -> None:
    rows = [('parameters (M)', report['params'] / 1e6)]
    if report['flops'] is not None:
        rows.append(('GFLOPs (batch 1, MACs)', report['flops'] / 1e9))
    for batch, stats in report['latency_ms'].items():
        rows.append((f'latency bs{batch} median (ms)', stats['median']))
        rows.append((f'latency bs{batch} p90 (ms)', stats['p90']))
        rows.append((f'throughput bs{batch} (img/s)',
                     report['throughput_img_s'][batch]))
    for batch, stats in report.get('onnxruntime_latency_ms', {}).items():
        rows.append((f'onnxruntime bs{batch} median (ms)', stats['median']))
        rows.append((f'onnxruntime bs{batch} p90 (ms)', stats['p90']))
    if report['train_step_ms'] is not None:
        rows.append((f'train step bs{report["train_batch_size"]} median '
                     '(ms)', report['train_step_ms']['median']))
    for name, stats in report.get('stage_ms', {}).items():
        rows.append((f'stage {name} bs1 median (ms)', stats['median']))
    for name, value in report['peak_mem_mb'].items():
        rows.append((f'peak memory {name} (MiB)', value))
    env = report['environment']
    print(f'\n{report["config"]} on {env["device"]} ({env["cpu"]}, '
          f'{env["torch_threads"]} threads, load '
          f'{env.get("load_average_1m", "n/a")})')
    print(format_table(rows, ('metric', 'value')))


def run(args) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    size = tuple(args.input_size) if args.input_size else config_input_size(
        cfg)
    model = build_inference_model(cfg, args.checkpoint, device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    wrapper = HandMeshExportWrapper(model).to(device).eval()

    report = dict(
        config=args.config,
        checkpoint=args.checkpoint,
        input_size=list(size),
        settings=dict(
            batch_size=args.batch_size,
            num_iters=args.num_iters,
            num_warmup=args.num_warmup,
            grad_mode='no_grad' if args.no_grad else 'inference_mode',
            channels_last=args.channels_last,
            compile=args.compile,
            cfg_options=args.cfg_options),
        environment=environment_info(device),
        params=count_parameters(model),
        params_trainable=count_parameters(model, trainable_only=True))

    report['flops'] = None
    if not args.skip_flops:
        with torch.no_grad():
            flops = count_flops(
                wrapper, (make_images(1, size, device, False), ),
                modules=[
                    f'model.{name}' for name in
                    ('backbone', 'neck', 'head', 'head.transformer',
                     'head.ktformer', 'head.regressor', 'selector',
                     'generator')
                ])
        report['flops'] = flops['total']
        report['flops_by_module'] = {
            k[len('model.'):]: v
            for k, v in flops['by_module'].items()
        }
        report['flops_uncounted_ops'] = flops['uncounted']

    forward = wrapper
    if args.compile:
        forward = torch.compile(wrapper)
        start = time.perf_counter()
        with torch.inference_mode():
            forward(make_images(1, size, device, args.channels_last))
        report['compile_s'] = time.perf_counter() - start

    batch_sizes = sorted({1, args.batch_size})
    report['latency_ms'], report['throughput_img_s'] = {}, {}
    report['peak_mem_mb'], report['peak_mem_delta_mb'] = {}, {}
    for batch in batch_sizes:
        images = make_images(batch, size, device, args.channels_last)
        stats, mem = measure_inference(forward, images, args, device)
        report['latency_ms'][str(batch)] = stats
        report['throughput_img_s'][str(batch)] = (
            batch * 1000. / stats['median'])
        report['peak_mem_mb'][f'inference_bs{batch}'] = mem.peak_mb
        report['peak_mem_delta_mb'][f'inference_bs{batch}'] = mem.delta_mb
    report['peak_mem_method'] = mem.method

    if args.profile:
        inputs = wrapper.preprocess(make_images(1, size, device, False))
        report['stage_ms'] = {}
        with torch.inference_mode():
            for name, fn in stage_functions(model, inputs).items():
                report['stage_ms'][name] = summarize_times(
                    time_function(fn, args.num_iters, args.num_warmup,
                                  device))

    report['train_step_ms'] = None
    if not args.skip_train:
        stats, mem = measure_train_step(cfg, model, size, args, device)
        report['train_step_ms'] = stats
        report['train_batch_size'] = args.batch_size
        report['train_throughput_img_s'] = (
            args.batch_size * 1000. / stats['median'])
        report['peak_mem_mb'][f'train_bs{args.batch_size}'] = mem.peak_mb
        report['peak_mem_delta_mb'][f'train_bs{args.batch_size}'] = (
            mem.delta_mb)

    if args.onnx:
        measure_onnx(wrapper, size, batch_sizes, args, device, report)

    try:
        report['environment']['load_average_1m_after'] = round(
            os.getloadavg()[0], 2)
    except OSError:
        pass
    return report


def main(argv=None):
    args = parse_args(argv)
    report = run(args)
    print_table(report)
    if args.json:
        out_dir = osp.dirname(osp.abspath(args.json))
        os.makedirs(out_dir, exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)
        print(f'results written to {args.json}')
    return report


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
