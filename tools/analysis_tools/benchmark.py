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

**Side by side** (``--variants`` and/or ``--official-src``): instead of the
above, the network (``PredictionExportWrapper``: backbone to MANO meshes
and the learned selector's logits, what ``predict`` runs) of each
back-end/precision variant (``pytorch:fp32 pytorch:bf16 pytorch:int8
onnxruntime:fp32 onnxruntime:int8``, built as ``init_model`` builds them)
and, with ``--official-src SRC``, the official research network of the
same kind (``tools/analysis_tools/official_runner.py`` in a child process,
``--official-python`` of the official environment; imported from SRC at
run time) are timed in interleaved rounds at batch 1 and ``--batch-size``
(``--rounds`` rounds, medians), each variant's vertices checked against
PyTorch fp32 (max distance, mm), and the speed-ups over the official code
and over PyTorch fp32 reported. Example (one thread each, as
docs/benchmarks.md measures)::

    OMP_NUM_THREADS=1 python tools/analysis_tools/benchmark.py \
        configs/mh_blurhandnet/mh-gen_r50_2xb24-30e_blurhand-256x256.py \
        --variants pytorch:fp32 pytorch:bf16 onnxruntime:fp32 \
        --official-src /path/to/Multi_Hypothesis_BlurHandNet \
        --official-python /path/to/official-venv/bin/python \
        --batch-size 8 --rounds 5 --threads 1 --json OUT
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys
import tempfile
import time

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.optim import build_optim_wrapper

from mmblurhand.deployment import (HandMeshExportWrapper, OnnxRuntimeModel,
                                   build_inference_model, compare_with_torch,
                                   config_input_size, export_onnx,
                                   stage_functions)
from mmblurhand.deployment.onnxruntime_model import (PredictionExportWrapper,
                                                    export_cached)
from mmblurhand.deployment.precision import (apply_precision,
                                             autocast_forward,
                                             check_backend_precision)
from mmblurhand.deployment.wrapper import model_kind
from mmblurhand.utils.benchmark import (OfficialRunner, count_flops,
                                        count_parameters, environment_info,
                                        format_table, interleave,
                                        measure_peak_memory, summarize_times,
                                        time_function)

#: Official network of each model kind (``official_runner.py --model``).
OFFICIAL_OF_KIND = dict(single='bh', generator='mh_gen', selector='mh_sel')

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
        '--amp',
        action='store_true',
        help='training step with AmpOptimWrapper (bfloat16 autocast unless '
        '--amp-dtype)')
    parser.add_argument(
        '--amp-dtype',
        choices=['float16', 'bfloat16'],
        default='bfloat16',
        help='autocast dtype of --amp (default: %(default)s)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. '
        'model.head.transformer.num_hypotheses=32')
    side = parser.add_argument_group(
        'side by side', 'interleaved timing of back-ends, precisions and the '
        'official code (see the module docstring)')
    side.add_argument(
        '--variants',
        nargs='+',
        metavar='BACKEND:PRECISION',
        help='e.g. pytorch:fp32 pytorch:bf16 pytorch:int8 onnxruntime:fp32 '
        'onnxruntime:int8')
    side.add_argument(
        '--official-src',
        help='root of a CPU-capable official checkout: also time the '
        'official network of the same kind')
    side.add_argument(
        '--official-model',
        choices=['bh', 'mh_gen', 'mh_sel'],
        help='official network (default: the config\'s kind)')
    side.add_argument(
        '--official-python',
        help='Python of the official code\'s environment (default: this '
        'one)')
    side.add_argument(
        '--official-pythonpath',
        nargs='+',
        default=[],
        help='extra PYTHONPATH entries for the official runner')
    side.add_argument(
        '--rounds',
        type=int,
        help='interleaved rounds (default: --num-iters)')
    side.add_argument(
        '--clock',
        choices=['wall', 'process'],
        default='wall',
        help='wall: elapsed time; process: CPU time of each side\'s process '
        '(with one thread, what a call costs regardless of other processes '
        'on a shared machine; CPU only) (default: %(default)s)')
    side.add_argument(
        '--cache-dir', help='ONNX cache folder of the onnxruntime variants')
    side.add_argument(
        '--compile-mode',
        choices=['default', 'reduce-overhead', 'max-autotune'],
        help='torch.compile the PyTorch variants (reduce-overhead: CUDA '
        'graphs on GPUs)')
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
    """Time one optimiser step on a fake batch.

    With ``--amp``: on CUDA the config's optimiser wrapper becomes
    MMEngine's ``AmpOptimWrapper`` (``--amp-dtype``); on the CPU, where
    MMEngine refuses that wrapper, the step runs inside
    ``torch.autocast('cpu', bfloat16)`` (what the wrapper would do; bf16
    needs no loss scale).

    Returns:
        tuple: Time stats, peak memory, the optimiser wrapper's class name
        and the dtype the backbone's output had during the step.
    """
    import contextlib
    from mmblurhand.testing import get_packed_inputs
    num_steps = int(cfg.get('num_steps', 3))
    num_joints = int(cfg.get('num_joints', 21))
    data = get_packed_inputs(
        batch_size=args.batch_size,
        num_steps=num_steps,
        num_joints=num_joints,
        input_size=tuple(size),
        seed=0)
    cpu_autocast = args.amp and device.type == 'cpu'
    if args.amp and not cpu_autocast:
        from mmblurhand.engine.amp import enable_amp
        cfg = copy.deepcopy(cfg)
        enable_amp(cfg, args.amp_dtype)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    seen = {}

    def record_dtype(module, inputs, outputs):
        seen.setdefault('dtype', str(outputs[-1].dtype))

    backbone = getattr(model, 'backbone', None)
    hook = None if backbone is None else backbone.register_forward_hook(
        record_dtype)

    def step():
        context = torch.autocast('cpu', dtype=getattr(
            torch, args.amp_dtype)) if cpu_autocast else \
            contextlib.nullcontext()
        with context:
            return model.train_step(data, optim_wrapper)

    model.train()
    try:
        with measure_peak_memory(device) as mem:
            times = time_function(step, args.num_iters, args.num_warmup,
                                  device)
    finally:
        model.eval()
        if hook is not None:
            hook.remove()
    return (summarize_times(times), mem, type(optim_wrapper).__name__,
            seen.get('dtype'))


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


#: torch.compile modes a PyTorch variant may name as its third field.
COMPILE_MODES = ('default', 'reduce-overhead', 'max-autotune')


def parse_variants(specs, device):
    """``['pytorch:bf16', 'pytorch:bf16:reduce-overhead', ...]`` ->
    ``[('pytorch', 'bf16', None), ('pytorch', 'bf16', 'reduce-overhead'),
    ...]`` (the optional third field: a ``torch.compile`` mode, or
    ``fold`` for BatchNorm folded into the convolutions)."""
    variants = []
    for spec in specs or []:
        parts = spec.split(':')
        if len(parts) not in (2, 3):
            raise ValueError(f'--variants: "{spec}" is not BACKEND:PRECISION'
                             '[:COMPILE_MODE] (e.g. pytorch:bf16).')
        backend, precision = parts[:2]
        check_backend_precision(backend, precision, device)
        mode = parts[2] if len(parts) == 3 else None
        if mode is not None and (backend != 'pytorch' or
                                 mode not in COMPILE_MODES + ('fold', )):
            raise ValueError(
                f'--variants: "{spec}": the third field (a compile mode, '
                f'one of {COMPILE_MODES}, or "fold": BatchNorm folded into '
                'the convolutions) applies to pytorch variants only.')
        variants.append((backend, precision, mode))
    return variants


def build_variant(base, backend, precision, cfg, args, size, device,
                  compile_mode=None):
    """A callable ``fn(inputs) -> outputs`` running ``base``'s network as
    ``init_model(backend=..., precision=...)`` would (``torch.compile``-d
    with ``compile_mode``, else ``--compile-mode``; ``'fold'``: with the
    BatchNorm layers folded, as ``init_model(fold_bn=True)``)."""
    if backend == 'onnxruntime':
        from mmblurhand.deployment import OnnxRuntimeModel
        onnx_file, _ = export_cached(base.cpu(), cfg, args.checkpoint,
                                     precision, size, args.cache_dir)
        base.to(device)
        providers = ['CPUExecutionProvider']
        if device.type == 'cuda':
            providers.insert(0, 'CUDAExecutionProvider')
        runtime = OnnxRuntimeModel(
            onnx_file,
            num_threads=torch.get_num_threads(),
            providers=providers)

        def run_ort(inputs):
            outputs = runtime(inputs.cpu().numpy())
            return tuple(outputs[name] for name in runtime.output_names)

        return run_ort
    fold = True if compile_mode == 'fold' else None
    compile_mode = None if compile_mode == 'fold' else compile_mode
    model = base if precision == 'fp32' and not fold else copy.deepcopy(base)
    apply_precision(model, precision, device, autocast=False, fold_bn=fold)
    wrapper = PredictionExportWrapper(model).eval()
    if precision == 'bf16':
        autocast_forward(wrapper, device.type, torch.bfloat16)
    forward = wrapper
    mode = compile_mode or args.compile_mode
    if mode:
        forward = torch.compile(wrapper, mode=mode)
    return forward


def _vertex_distance_mm(outputs, reference) -> float:
    """Largest vertex distance (mm) of a variant's outputs to fp32's."""
    index = 4  # HEAD_OUTPUTS: vertices
    got = outputs[index]
    got = got.float().cpu() if torch.is_tensor(got) else torch.from_numpy(
        np.asarray(got, np.float32))
    return float((got - reference[index].float().cpu()).norm(dim=-1).max() *
                 1000.)


def side_by_side(args, cfg, size, device) -> dict:
    """The side-by-side mode (module docstring)."""
    variants = parse_variants(args.variants, device)
    rounds = args.rounds or args.num_iters
    if args.clock == 'process' and device.type != 'cpu':
        raise ValueError('--clock process measures CPU work; use the wall '
                         'clock on a GPU.')
    # seeded: without a checkpoint the random weights (and so the ONNX
    # cache key of the onnxruntime variants) are the same on every run
    torch.manual_seed(0)
    base = build_inference_model(cfg, args.checkpoint, device)
    kind = model_kind(base)
    report = dict(
        config=args.config,
        checkpoint=args.checkpoint,
        input_size=list(size),
        mode='side_by_side',
        kind=kind,
        settings=dict(
            batch_size=args.batch_size,
            rounds=rounds,
            num_warmup=args.num_warmup,
            clock=args.clock,
            variants=[':'.join(filter(None, v)) for v in variants],
            compile_mode=args.compile_mode,
            cfg_options=args.cfg_options),
        environment=environment_info(device))
    batch_sizes = sorted({1, args.batch_size})
    w, h = size
    torch.manual_seed(0)
    inputs = {b: torch.randn(b, 3, h, w, device=device) for b in batch_sizes}
    with torch.inference_mode():
        reference = PredictionExportWrapper(base)(inputs[1])
    runners = {}
    for backend, precision, mode in variants:
        name = ':'.join(filter(None, (backend, precision, mode)))
        start = time.perf_counter()
        fn = build_variant(base, backend, precision, cfg, args, size, device,
                           mode)
        with torch.inference_mode():
            report.setdefault('max_vertex_diff_mm', {})[name] = \
                _vertex_distance_mm(fn(inputs[1]), reference)
        report.setdefault('build_s', {})[name] = time.perf_counter() - start
        runners[name] = fn
    official = None
    if args.official_src:
        which = args.official_model or OFFICIAL_OF_KIND[kind]
        official = OfficialRunner(
            args.official_src,
            which,
            python=args.official_python,
            threads=torch.get_num_threads(),
            input_size=size,
            pythonpath=args.official_pythonpath)
        report['official'] = dict(official.info(), src=args.official_src)
    try:
        report['median_ms'], report['timings'] = {}, {}
        for batch in batch_sizes:
            calls = {
                name: (lambda fn=fn, batch=batch: fn(inputs[batch]))
                for name, fn in runners.items()
            }
            timers = {}
            if official is not None:
                timers['official'] = lambda batch=batch: official.run(
                    batch, clock=args.clock)[0]
            with torch.inference_mode():
                stats = interleave(calls, rounds, args.num_warmup, device,
                                   timers, args.clock)
            report['timings'][str(batch)] = stats
            report['median_ms'][str(batch)] = {
                name: value['median']
                for name, value in stats.items()
            }
    finally:
        if official is not None:
            official.close()
    report['throughput_img_s'] = {
        batch: {name: int(batch) * 1000. / value
                for name, value in medians.items()}
        for batch, medians in report['median_ms'].items()
    }
    if device.type == 'cuda':
        report['peak_mem_mb'] = torch.cuda.max_memory_allocated(device) / 2**20
    report['speedup_vs_official'] = {}
    report['speedup_vs_pytorch_fp32'] = {}
    for batch, medians in report['median_ms'].items():
        for ref_name, key in (('official', 'speedup_vs_official'),
                              ('pytorch:fp32', 'speedup_vs_pytorch_fp32')):
            if ref_name in medians:
                report[key][batch] = {
                    name: medians[ref_name] / value
                    for name, value in medians.items()
                }
    try:
        report['environment']['load_average_1m_after'] = round(
            os.getloadavg()[0], 2)
    except OSError:
        pass
    return report


def print_side_by_side(report) -> None:
    rows = []
    for batch, medians in report['median_ms'].items():
        for name, value in medians.items():
            ratios = [
                report[key].get(batch, {}).get(name)
                for key in ('speedup_vs_official', 'speedup_vs_pytorch_fp32')
            ]
            diff = report.get('max_vertex_diff_mm', {}).get(name)
            rows.append((batch, name, value,
                         report['timings'][batch][name]['p90'],
                         *['-' if r is None else f'{r:.2f}' for r in ratios],
                         '-' if diff is None else f'{diff:.3g}'))
    env = report['environment']
    print(f'\n{report["config"]} side by side on {env["device"]}, '
          f'{report["settings"]["clock"]} clock '
          f'({env["cpu"]}, {env["torch_threads"]} threads, load '
          f'{env.get("load_average_1m", "n/a")} -> '
          f'{env.get("load_average_1m_after", "n/a")})')
    if 'official' in report:
        print(f'official: {report["official"]["model"]} from '
              f'{report["official"]["src"]} (torch '
              f'{report["official"]["torch"]})')
    print(
        format_table(rows, ('batch', 'variant', 'median ms', 'p90 ms',
                            'x official', 'x pytorch:fp32',
                            'max vertex diff (mm)')))


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
    if args.variants or args.official_src:
        return side_by_side(args, cfg, size, device)
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
            amp=args.amp_dtype if args.amp else None,
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
        stats, mem, wrapper_type, dtype = measure_train_step(
            cfg, model, size, args, device)
        report['train_step_ms'] = stats
        report['train_optim_wrapper'] = wrapper_type
        report['train_backbone_dtype'] = dtype
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
    if report.get('mode') == 'side_by_side':
        print_side_by_side(report)
    else:
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
