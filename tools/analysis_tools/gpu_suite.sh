#!/usr/bin/env bash
# GPU figures of docs/benchmarks.md in one short run (about 10 minutes on
# one H100; every step writes its JSON, so a run cut short keeps what it
# measured).
#
#   tools/analysis_tools/gpu_suite.sh [OUT_DIR]          # on a CUDA machine
#   GPU_SUITE_DRY=1 tools/analysis_tools/gpu_suite.sh OUT  # CPU check, tiny
#
# Steps (all with random weights; speed does not depend on their values):
#   1. inference of the whole prediction (generator + learned selector, the
#      paper's mh-sel config) at batch 64: PyTorch fp32, bf16 (bf16 weights
#      under autocast, MANO in fp32) and bf16 compiled with
#      torch.compile(mode='reduce-overhead') (CUDA graphs), side by side
#      in interleaved rounds: images/s and the vertex difference to fp32;
#   2. the same for the generator alone and for BlurHandNet (fp32, bf16);
#   3. the training step of each paper config at its per-GPU batch (24)
#      with AMP (bf16 autocast, AmpOptimWrapper): images/s and peak memory
#      (torch.cuda.max_memory_allocated), plus inference latency and memory
#      at batch 1 and 24.
# Then OUT_DIR/summary.md tabulates everything with the GPU's name.
#
# Settings (environment): BH_CONFIG / GEN_CONFIG / SEL_CONFIG (the paper
# configs), INFER_BATCH (64), TRAIN_BATCH (24), ROUNDS (10), WARMUP (3),
# COMPILE (1: add the compiled variant; 0: skip it), PYTHON (python).
# GPU_SUITE_DRY=1 runs the same steps on the CPU with batch 2, one round
# and no compilation, to check the script (tests/test_tools).
set -euo pipefail

OUT=${1:-work_dirs/gpu_suite}
PYTHON=${PYTHON:-python}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH="$ROOT/tools/analysis_tools/benchmark.py"
BH_CONFIG=${BH_CONFIG:-$ROOT/configs/blurhandnet/blurhandnet_r50_2xb24-13e_blurhand-256x256.py}
GEN_CONFIG=${GEN_CONFIG:-$ROOT/configs/mh_blurhandnet/mh-gen_r50_2xb24-30e_blurhand-256x256.py}
SEL_CONFIG=${SEL_CONFIG:-$ROOT/configs/mh_blurhandnet/mh-sel_r50_2xb24-30e_blurhand-256x256.py}

if [[ "${GPU_SUITE_DRY:-0}" == 1 ]]; then
    DEVICE=cpu
    INFER_BATCH=${INFER_BATCH:-2}
    TRAIN_BATCH=${TRAIN_BATCH:-2}
    ROUNDS=${ROUNDS:-1}
    WARMUP=${WARMUP:-0}
    COMPILE=${COMPILE:-0}
    THREADS=(--threads "${OMP_NUM_THREADS:-1}")
else
    DEVICE=cuda
    INFER_BATCH=${INFER_BATCH:-64}
    TRAIN_BATCH=${TRAIN_BATCH:-24}
    ROUNDS=${ROUNDS:-10}
    WARMUP=${WARMUP:-3}
    COMPILE=${COMPILE:-1}
    THREADS=()
    "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu_suite.sh: CUDA is not available here (GPU_SUITE_DRY=1 checks the script on a CPU)')"
fi

mkdir -p "$OUT"
log() { echo "[gpu_suite $(date +%H:%M:%S)] $*"; }
"$PYTHON" - "$OUT/environment.json" "$DEVICE" <<'EOF'
import json, sys, torch
from mmblurhand.utils.benchmark import environment_info
json.dump(environment_info(sys.argv[2]), open(sys.argv[1], 'w'), indent=2)
EOF

VARIANTS=(pytorch:fp32 pytorch:bf16)
if [[ "$COMPILE" == 1 ]]; then
    SEL_VARIANTS=("${VARIANTS[@]}" pytorch:bf16:reduce-overhead)
else
    SEL_VARIANTS=("${VARIANTS[@]}")
fi

log "1. generator + selector, batch $INFER_BATCH on $DEVICE"
"$PYTHON" "$BENCH" "$SEL_CONFIG" --device "$DEVICE" "${THREADS[@]}" \
    --variants "${SEL_VARIANTS[@]}" --batch-size "$INFER_BATCH" \
    --rounds "$ROUNDS" --num-warmup "$WARMUP" --json "$OUT/infer_sel.json"

log "2. generator alone and BlurHandNet, batch $INFER_BATCH"
"$PYTHON" "$BENCH" "$GEN_CONFIG" --device "$DEVICE" "${THREADS[@]}" \
    --variants "${VARIANTS[@]}" --batch-size "$INFER_BATCH" \
    --rounds "$ROUNDS" --num-warmup "$WARMUP" --json "$OUT/infer_gen.json"
"$PYTHON" "$BENCH" "$BH_CONFIG" --device "$DEVICE" "${THREADS[@]}" \
    --variants "${VARIANTS[@]}" --batch-size "$INFER_BATCH" \
    --rounds "$ROUNDS" --num-warmup "$WARMUP" --json "$OUT/infer_bh.json"

for name in bh gen sel; do
    config_var="${name^^}_CONFIG"
    log "3. training step with AMP: $name, batch $TRAIN_BATCH"
    "$PYTHON" "$BENCH" "${!config_var}" --device "$DEVICE" "${THREADS[@]}" \
        --batch-size "$TRAIN_BATCH" --num-iters "$ROUNDS" \
        --num-warmup "$WARMUP" --skip-flops --amp --amp-dtype bfloat16 \
        --json "$OUT/train_$name.json"
done

log "summary"
"$PYTHON" - "$OUT" <<'EOF'
import json, os.path as osp, sys
out = sys.argv[1]
env = json.load(open(osp.join(out, 'environment.json')))
lines = [f"# GPU suite: {env.get('gpu', env['device'])}", '',
         f"torch {env['torch']}, {env['time']}", '',
         '| model | variant | batch | median ms | images/s | '
         'max vertex diff vs fp32 (mm) |', '|---|---|---|---|---|---|']
for name, label in (('sel', 'generator + selector'), ('gen', 'generator'),
                    ('bh', 'BlurHandNet')):
    r = json.load(open(osp.join(out, f'infer_{name}.json')))
    for batch, medians in r['median_ms'].items():
        for variant, ms in medians.items():
            lines.append(
                f"| {label} | {variant} | {batch} | {ms:.1f} | "
                f"{r['throughput_img_s'][batch][variant]:.0f} | "
                f"{r['max_vertex_diff_mm'].get(variant, float('nan')):.3g} |")
lines += ['', '| model | train batch | AMP | train step median ms | '
          'train images/s | peak memory train (MiB) | '
          'peak memory inference bs1 / bsB (MiB) |',
          '|---|---|---|---|---|---|---|']
for name, label in (('bh', 'BlurHandNet'), ('gen', 'generator'),
                    ('sel', 'selector (frozen generator)')):
    r = json.load(open(osp.join(out, f'train_{name}.json')))
    b = r['train_batch_size']
    mem = r['peak_mem_mb']
    lines.append(
        f"| {label} | {b} | {r['settings']['amp']} | "
        f"{r['train_step_ms']['median']:.1f} | "
        f"{r['train_throughput_img_s']:.1f} | {mem[f'train_bs{b}']:.0f} | "
        f"{mem['inference_bs1']:.0f} / {mem[f'inference_bs{b}']:.0f} |")
open(osp.join(out, 'summary.md'), 'w').write('\n'.join(lines) + '\n')
print('\n'.join(lines))
EOF
log "done: $OUT/summary.md"
