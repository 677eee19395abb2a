# Copyright (c) OpenMMLab. All rights reserved.
"""Reusable timing, memory and complexity helpers for benchmarks.

Used by ``tools/analysis_tools/benchmark.py`` and
``tools/analysis_tools/hypothesis_scaling.py``. Everything works on CPU;
on CUDA devices timings are synchronised and memory is the allocator's peak.
"""
import math
import os
import platform
import threading
import time
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import torch
from torch import nn

#: Keys of :func:`summarize_times`.
TIME_STATS = ('median', 'p90', 'mean', 'min', 'max')


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method).

    Args:
        values (Sequence[float]): Samples; at least one.
        q (float): Percentile in ``[0, 100]``.

    Returns:
        float: The ``q``-th percentile.
    """
    if not len(values):
        raise ValueError('percentile: no values.')
    if not 0. <= q <= 100.:
        raise ValueError(f'percentile: q must be in [0, 100], got {q}.')
    ordered = sorted(float(v) for v in values)
    pos = (len(ordered) - 1) * q / 100.
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize_times(times_ms: Sequence[float]) -> Dict[str, float]:
    """Median, 90th percentile, mean, min and max of timings.

    Args:
        times_ms (Sequence[float]): Per-run times, milliseconds.

    Returns:
        dict[str, float]: Keys :data:`TIME_STATS` (ms) and ``runs``.
    """
    if not len(times_ms):
        raise ValueError('summarize_times: no timings.')
    return dict(
        median=percentile(times_ms, 50.),
        p90=percentile(times_ms, 90.),
        mean=sum(times_ms) / len(times_ms),
        min=min(times_ms),
        max=max(times_ms),
        runs=len(times_ms))


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels on ``device`` (no-op on CPU)."""
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


#: Clocks of :func:`time_function`: ``'wall'`` (``time.perf_counter``) or
#: ``'process'`` (``time.process_time``: CPU seconds of this process, all
#: its threads). On a machine loaded by other processes a single-threaded
#: run's CPU time is what it costs; its wall time also counts the time the
#: scheduler gave the core to others (up to several times more).
CLOCKS = dict(wall=time.perf_counter, process=time.process_time)


def time_function(fn: Callable[[], object],
                  num_iters: int,
                  num_warmup: int = 2,
                  device: torch.device = torch.device('cpu'),
                  clock: str = 'wall') -> List[float]:
    """Time of ``num_iters`` calls after ``num_warmup`` calls.

    Args:
        fn (Callable[[], object]): The work; called without arguments.
        num_iters (int): Timed calls (at least 1).
        num_warmup (int): Untimed calls first (allocator, oneDNN/cuDNN
            kernel selection). Defaults to 2.
        device (torch.device): Synchronised around each call when CUDA.
        clock (str): ``'wall'`` (default) or ``'process'`` (CPU time of
            the process; meaningful for CPU work, see :data:`CLOCKS`).

    Returns:
        list[float]: Per-call times, milliseconds.
    """
    if clock not in CLOCKS:
        raise ValueError(f'time_function: clock must be one of '
                         f'{tuple(CLOCKS)}, got {clock!r}.')
    timer = CLOCKS[clock]
    if num_iters < 1:
        raise ValueError(f'time_function: num_iters must be >= 1, got '
                         f'{num_iters}.')
    for _ in range(max(num_warmup, 0)):
        fn()
    synchronize(device)
    times = []
    for _ in range(num_iters):
        start = timer()
        fn()
        synchronize(device)
        times.append((timer() - start) * 1000.)
    return times


def _read_status_kb(field: str) -> Optional[float]:
    """A ``kB`` field of ``/proc/self/status`` (Linux), else None."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def current_rss_mb() -> float:
    """Resident set size of this process, MiB."""
    rss = _read_status_kb('VmRSS')
    if rss is not None:
        return rss / 1024.
    import psutil
    return psutil.Process().memory_info().rss / 2**20


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (Linux >= 4.0); True on success.
    """
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        return False
    # a kernel (or sandbox) may accept the write and keep the old mark;
    # only a mark that now equals the current RSS (to 4 MiB) is trusted
    hwm, rss = _read_status_kb('VmHWM'), _read_status_kb('VmRSS')
    return hwm is not None and rss is not None and hwm - rss < 4096


class _RssSampler(threading.Thread):
    """Fallback peak-RSS meter: polls the RSS every ``interval`` seconds."""

    def __init__(self, interval: float = 0.002):
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = current_rss_mb()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, current_rss_mb())
            time.sleep(self.interval)

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return max(self.peak, current_rss_mb())


class PeakMemory:
    """Result of :func:`measure_peak_memory` (filled on exit).

    Attributes:
        peak_mb (float): Peak inside the block, MiB: process RSS on CPU,
            ``torch.cuda.max_memory_allocated`` on CUDA.
        baseline_mb (float): The same quantity when the block started.
        method (str): ``'VmHWM'`` (kernel peak counter), ``'sampled'``
            (RSS polled every 2 ms, may miss short peaks) or
            ``'cuda_allocator'``.
    """

    def __init__(self):
        self.peak_mb = float('nan')
        self.baseline_mb = float('nan')
        self.method = ''

    @property
    def delta_mb(self) -> float:
        """float: Peak minus baseline, MiB (what the block added)."""
        return self.peak_mb - self.baseline_mb

    def as_dict(self) -> Dict[str, float]:
        """``peak``, ``delta`` (MiB) and ``method``."""
        return dict(
            peak=self.peak_mb, delta=self.delta_mb, method=self.method)


@contextmanager
def measure_peak_memory(
        device: torch.device = torch.device('cpu')) -> Iterator[PeakMemory]:
    """Measure the peak memory of the enclosed block.

    On CPU the peak resident set size of the whole process (weights
    included) is read from the kernel's high-water mark after resetting it
    (``/proc/self/clear_refs``) and sampled by a thread, every 20 ms as a
    cross-check or every 2 ms where no such mark exists (the larger peak
    wins).
    On CUDA it is the caching allocator's peak of allocated tensor memory
    on ``device``.

    Args:
        device (torch.device): Where the work runs.

    Yields:
        PeakMemory: Filled in when the block exits.
    """
    device = torch.device(device)
    result = PeakMemory()
    if device.type == 'cuda':
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        result.baseline_mb = torch.cuda.memory_allocated(device) / 2**20
        result.method = 'cuda_allocator'
        yield result
        synchronize(device)
        result.peak_mb = torch.cuda.max_memory_allocated(device) / 2**20
        return
    result.baseline_mb = current_rss_mb()
    use_hwm = _reset_peak_rss()
    result.method = 'VmHWM' if use_hwm else 'sampled'
    # the sampler also runs beside the kernel's mark, every 20 ms so as not
    # to disturb timings: it guards against a mark that a sandbox reports
    # but never raises
    sampler = _RssSampler(interval=0.02 if use_hwm else 0.002)
    sampler.start()
    try:
        yield result
    finally:
        result.peak_mb = sampler.stop()
        if use_hwm:
            result.peak_mb = max(result.peak_mb,
                                 _read_status_kb('VmHWM') / 1024.)


def count_parameters(model: nn.Module,
                     trainable_only: bool = False) -> int:
    """Number of parameters (each shared tensor counted once).

    Args:
        model (nn.Module): The model.
        trainable_only (bool): Count only ``requires_grad`` parameters.

    Returns:
        int: Parameter count.
    """
    return sum(p.numel() for p in model.parameters()
               if p.requires_grad or not trainable_only)


def sdpa_flop_jit(inputs: list, outputs: list) -> int:
    """FLOP handle of ``aten::scaled_dot_product_attention``.

    ``Q K^T`` and ``softmax(.) V`` are two batched matrix products of
    ``L x S x E`` multiply-adds each (query length ``L``, key length ``S``,
    head width ``E``), counted like fvcore's ``bmm`` (one FLOP per
    multiply-add).

    Args:
        inputs (list): JIT values ``query (..., L, E)``, ``key (..., S, E)``,
            ``value (..., S, Ev)``, ...
        outputs (list): JIT value ``(..., L, Ev)``.

    Returns:
        int: Multiply-adds.
    """
    from mmengine.analysis.jit_handles import get_shape
    query, key = get_shape(inputs[0]), get_shape(inputs[1])
    out = get_shape(outputs[0])
    lead = math.prod(query[:-2])
    length, dims = query[-2], query[-1]
    return int(lead * length * key[-2] * (dims + out[-1]))


def count_flops(model: nn.Module,
                inputs: tuple,
                modules: Optional[Sequence[str]] = None) -> Dict[str, object]:
    """FLOPs of one forward with MMEngine's analysis (fvcore's counting).

    The forward is traced with ``torch.jit``; one fused multiply-add counts
    as one FLOP (fvcore's convention, i.e. these are MACs), and operators
    without a handle (element-wise ops, softmax, ...) are not counted and
    listed in ``uncounted``. Fused attention
    (``scaled_dot_product_attention``) is counted by :func:`sdpa_flop_jit`;
    ``nn.MultiheadAttention`` is traced in its decomposed form.

    Args:
        model (nn.Module): A module whose forward takes ``inputs`` and
            returns tensors (or tuples of tensors).
        inputs (tuple): Positional inputs of the forward.
        modules (Sequence[str], optional): Dotted names of the submodules
            to break the total down by (those that ran). Defaults to the
            direct children.

    Returns:
        dict: ``total`` (int), ``by_module`` (dict of module name to FLOPs)
        and ``uncounted`` (dict of operator name to occurrences).
    """
    from mmengine.analysis import FlopAnalyzer
    analyzer = FlopAnalyzer(model, inputs)
    analyzer.set_op_handle('aten::scaled_dot_product_attention',
                           sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    # nn.MultiheadAttention's fused inference kernel hides its projections
    # from the tracer; count the decomposed (same arithmetic) form.
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        total = int(analyzer.total())
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    counts = analyzer.by_module()
    if modules is None:
        modules = [name for name in counts if name and '.' not in name]
    by_module = {
        name: int(counts[name])
        for name in modules if name in counts
    }
    uncounted = {str(k): int(v) for k, v in analyzer.unsupported_ops().items()}
    return dict(total=total, by_module=by_module, uncounted=uncounted)


def environment_info(device: torch.device) -> Dict[str, object]:
    """What the numbers were measured on.

    Args:
        device (torch.device): The benchmark device.

    Returns:
        dict: CPU model, cores, torch threads, OpenMP variables, load
        average, torch version and the GPU name on CUDA.
    """
    device = torch.device(device)
    cpu = platform.processor() or ''
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    info = dict(
        cpu=cpu,
        cpu_count=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        torch=torch.__version__,
        python=platform.python_version(),
        device=str(device),
        time=time.strftime('%Y-%m-%d %H:%M:%S'))
    # OpenMP settings change CPU timings a lot on a shared machine: with
    # the default (active) wait policy, threads spin at barriers and an
    # oversubscribed machine slows a 2-thread run down many times.
    for name in ('OMP_NUM_THREADS', 'OMP_WAIT_POLICY', 'GOMP_SPINCOUNT'):
        if name in os.environ:
            info[name] = os.environ[name]
    try:
        info['load_average_1m'] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
    return info


def format_table(rows: Sequence[Sequence[object]],
                 header: Sequence[str]) -> str:
    """A plain-text table with aligned columns (floats with 1 decimal).

    Args:
        rows (Sequence[Sequence]): Table rows.
        header (Sequence[str]): Column names.

    Returns:
        str: The table, one line per row, ``|``-separated (Markdown).
    """

    def fmt(value) -> str:
        if isinstance(value, float):
            return 'n/a' if math.isnan(value) else f'{value:.1f}'
        return str(value)

    cells = [[fmt(v) for v in row] for row in rows]
    widths = [
        max([len(h)] + [len(r[i]) for r in cells])
        for i, h in enumerate(header)
    ]
    lines = [
        '| ' + ' | '.join(h.ljust(w) for h, w in zip(header, widths)) + ' |',
        '|' + '|'.join('-' * (w + 2) for w in widths) + '|'
    ]
    for row in cells:
        lines.append('| ' +
                     ' | '.join(c.ljust(w) for c, w in zip(row, widths)) +
                     ' |')
    return '\n'.join(lines)


def interleave(variants: Dict[str, Callable[[], object]],
               num_iters: int,
               num_warmup: int = 1,
               device: torch.device = torch.device('cpu'),
               timers: Optional[Dict[str, Callable[[], float]]] = None,
               clock: str = 'wall') -> Dict[str, Dict[str, float]]:
    """Time several variants round-robin: round ``r`` runs each once.

    On a shared machine the load changes from minute to minute; running
    the variants in turn exposes them to the same load, so the ratios of
    their medians are trustworthy where absolute times are not.

    Args:
        variants (dict[str, Callable]): Name -> work, called without
            arguments and timed around the call.
        num_iters (int): Rounds (timed calls per variant).
        num_warmup (int): Untimed calls per variant first. Defaults to 1.
        device (torch.device): Synchronised around each call when CUDA.
        timers (dict[str, Callable[[], float]], optional): Variants that
            time themselves (e.g. in another process): called once per
            round, they return milliseconds; also warmed up.
        clock (str): Clock of ``variants`` (see :func:`time_function`).

    Returns:
        dict[str, dict]: Name -> :func:`summarize_times` of its times,
        in the order of ``variants`` then ``timers``.
    """
    timers = timers or {}
    if num_iters < 1:
        raise ValueError(f'interleave: num_iters must be >= 1, got '
                         f'{num_iters}.')
    names = list(variants) + [n for n in timers if n not in variants]
    for _ in range(max(num_warmup, 0)):
        for name in names:
            (variants[name] if name in variants else timers[name])()
    times = {name: [] for name in names}
    for _ in range(num_iters):
        for name in names:
            if name in variants:
                times[name].extend(
                    time_function(variants[name], 1, 0, device, clock))
            else:
                times[name].append(float(timers[name]()))
    return {name: summarize_times(values) for name, values in times.items()}


class OfficialRunner:
    """An official research network in a child process, timed on demand.

    Starts ``tools/analysis_tools/official_runner.py`` with ``python`` (the
    official code's environment; it imports the official modules from
    ``src`` at run time; nothing of them is part of mmblurhand) and talks
    to it over pipes, one JSON line per request. Only one side computes
    at a time, so with one thread each the two processes do not compete.

    Args:
        src (str): Root of an official checkout with a CPU mode (see
            ``docs/official_checkpoints.md``).
        model (str): ``'bh'``, ``'mh_gen'`` or ``'mh_sel'``.
        python (str, optional): Interpreter. Defaults to this one.
        threads (int): torch threads of the child. Defaults to 1.
        input_size (tuple[int, int]): ``(w, h)``.
        pythonpath (Sequence[str]): Extra ``PYTHONPATH`` entries for the
            child (e.g. a folder with the official code's dependencies).
        runner (str, optional): The runner script. Defaults to the
            repository's.
    """

    def __init__(self,
                 src: str,
                 model: str,
                 python: Optional[str] = None,
                 threads: int = 1,
                 input_size=(256, 256),
                 pythonpath: Sequence[str] = (),
                 runner: Optional[str] = None):
        import subprocess
        import sys
        import tempfile
        if not os.path.isdir(src):
            raise FileNotFoundError(
                f'official source "{src}" is not a folder; pass the root of '
                'a CPU-capable official checkout (docs/official_'
                'checkpoints.md).')
        if runner is None:
            root = os.path.dirname(os.path.dirname(os.path.dirname(
                os.path.abspath(__file__))))
            runner = os.path.join(root, 'tools', 'analysis_tools',
                                  'official_runner.py')
        env = dict(os.environ)
        env['OMP_NUM_THREADS'] = str(threads)
        if pythonpath:
            env['PYTHONPATH'] = os.pathsep.join(
                list(pythonpath) +
                ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
        self.model = model
        # a file, not a pipe: a chatty child cannot block on a full pipe
        self._stderr = tempfile.TemporaryFile(mode='w+')
        self.process = subprocess.Popen(
            [
                python or sys.executable, runner, '--src', src, '--model',
                model, '--threads',
                str(threads), '--input-size',
                str(input_size[0]),
                str(input_size[1])
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=env)
        first = self._read()
        if 'error' in first:
            self.close()
            raise RuntimeError(
                f'the official {model} network did not build from "{src}": '
                f'{first["error"]}')

    def _read(self) -> dict:
        import json
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=30)
            self._stderr.seek(0)
            err = self._stderr.read()
            raise RuntimeError('the official runner exited without an '
                               f'answer; its stderr ends with:\n'
                               f'{err[-2000:]}')
        return json.loads(line)

    def _ask(self, **request) -> dict:
        import json
        self.process.stdin.write(json.dumps(request) + '\n')
        self.process.stdin.flush()
        answer = self._read()
        if 'error' in answer:
            raise RuntimeError(f'official runner: {answer["error"]}')
        return answer

    def info(self) -> dict:
        """torch version, parameter count, model and threads of the child.
        """
        return self._ask(cmd='info')

    def run(self, batch: int, repeat: int = 1,
            clock: str = 'wall') -> List[float]:
        """Milliseconds of ``repeat`` forward passes at ``batch``, by the
        child's ``clock`` (``'wall'`` or ``'process'``, its CPU time)."""
        return self._ask(
            cmd='run', batch=batch, repeat=repeat, clock=clock)['ms']

    def close(self) -> None:
        """Stop the child."""
        if self.process.poll() is None:
            try:
                self.process.stdin.write('{"cmd": "quit"}\n')
                self.process.stdin.flush()
                self.process.wait(timeout=30)
            except (OSError, ValueError):
                pass
            finally:
                if self.process.poll() is None:
                    self.process.kill()
        for stream in (self.process.stdin, self.process.stdout,
                       self._stderr):
            if stream is not None and not stream.closed:
                stream.close()
