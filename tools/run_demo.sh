#!/usr/bin/env bash
# Copyright (c) OpenMMLab. All rights reserved.
#
# `make demo`, end to end on a CPU (run after tools/setup_env.sh):
#
#   1. generate a small synthetic blurry-hand dataset (cached: the generator
#      does nothing when the same dataset exists, and replaces it when its
#      options or the procedural hand model changed);
#   2. train the small multi-hypothesis generator, then
#   3. the selector (CCR loss) on top of it (each reuses its checkpoint when
#      one exists for the same dataset, configs and epochs, and resumes an
#      interrupted run);
#   4. evaluate the selector on the held-out test split (metric table), with
#      prediction-vs-GT pictures (tools/test.py --show-dir);
#   5. run demo/image_demo.py on a few held-out test images.
#
# Everything goes to work_dirs/demo/. Sizes can be changed through the
# environment, e.g. `DEMO_GEN_EPOCHS=20 make demo` (each setting gets its own
# cached run). The defaults took 4 min 58 s wall, 6.8 CPU-minutes, on 2
# idle cores (measured; see docs/demo.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${MMBLURHAND_VENV:-$ROOT/.venv}/bin/python"
export PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-egl}"

DATA="${DEMO_DATA:-data/blurhand_synthetic_demo}"
WORK="${DEMO_WORK_DIR:-work_dirs/demo}"
NUM_TRAIN="${DEMO_NUM_TRAIN:-800}"
NUM_TEST="${DEMO_NUM_TEST:-32}"
GEN_EPOCHS="${DEMO_GEN_EPOCHS:-6}"
SEL_EPOCHS="${DEMO_SEL_EPOCHS:-2}"
NUM_DEMO_IMAGES="${DEMO_NUM_IMAGES:-4}"
WORKERS="${DEMO_WORKERS:-$(nproc)}"
GEN_CFG="${DEMO_GEN_CONFIG:-configs/mh_blurhandnet/mh-gen_r18_1xb16-10e_blurhand-synthetic-128x128.py}"
SEL_CFG="${DEMO_SEL_CONFIG:-configs/mh_blurhandnet/mh-sel_r18_1xb16-10e_blurhand-synthetic-128x128.py}"

t_start=$(date +%s)
log() {
    printf '\033[1;32m[demo %3ds]\033[0m %s\n' "$(( $(date +%s) - t_start ))" "$*"
}
die() { printf '\033[1;31m[demo] ERROR:\033[0m %s\n' "$*" >&2; exit 1; }

# Run a command with its full output in a log file; show only the training
# progress lines (epoch, iteration, eta, loss).
run_logged() {  # $1 = log file, rest = command
    local logfile="$1"; shift
    mkdir -p "$(dirname "$logfile")"
    set +e
    "$@" 2>&1 | tee "$logfile" | grep --line-buffered -E 'Epoch\(train\)' \
        | sed -u -E 's/.*(Epoch\(train\) *\[[0-9]+\]\[ *[0-9]+\/[0-9]+\]).*(eta: [0-9:]+).*[[:space:]](time: [0-9.]+).*( loss: [0-9.]+).*/    \1  \2  \3 s\/iter \4/'
    local rc=${PIPESTATUS[0]}
    set -e
    if [[ $rc -ne 0 ]]; then
        tail -n 30 "$logfile" >&2
        return "$rc"
    fi
}

[[ -x "$PY" ]] || die "no Python at $PY; run tools/setup_env.sh (or make env) first"
for cfg in "$GEN_CFG" "$SEL_CFG"; do
    [[ -f "$cfg" ]] || die "config $cfg is missing from this checkout"
done

# Every run of this script uses these data roots, schedules and checkpoint
# settings (the configs' own defaults are for longer runs).
train_opts=(
    "train_dataloader.dataset.data_root=$DATA/"
    "train_dataloader.num_workers=1"
)
test_opts=(
    "test_dataloader.dataset.data_root=$DATA/"
    "test_dataloader.num_workers=1"
)
schedule_opts() {  # $1 = epochs
    echo "train_cfg.max_epochs=$1" "param_scheduler.0.T_max=$1" \
        "param_scheduler.0.end=$1" "default_hooks.checkpoint.interval=$1" \
        "default_hooks.checkpoint.save_best=None" \
        "default_hooks.logger.interval=10"
}

# ------------------------------------------------------------- 1. data --
log "1/5 synthetic dataset: $NUM_TRAIN train + $NUM_TEST test images in $DATA"
"$PY" tools/dataset_converters/synthesize_blurhand.py --out "$DATA" \
    --num-train "$NUM_TRAIN" --num-test "$NUM_TEST" --seed 0 \
    --workers "$WORKERS" --img-size 256 --overwrite \
    || die "dataset generation failed; delete $DATA and run again"
# Cached runs are keyed by the dataset (regenerated when its options or the
# hand model change) and the configs, so stale checkpoints are never reused.
key() { cat "$DATA/synthesis_meta.json" "$@" | sha1sum | cut -c1-8; }

# -------------------------------------------------------- 2. generator --
GEN_DIR="$WORK/mh-gen_e${GEN_EPOCHS}_$(key "$GEN_CFG")"
GEN_CKPT="$GEN_DIR/epoch_${GEN_EPOCHS}.pth"
if [[ -f "$GEN_CKPT" ]]; then
    log "2/5 generator: reusing $GEN_CKPT"
else
    log "2/5 training the generator for $GEN_EPOCHS epochs -> $GEN_DIR"
    # shellcheck disable=SC2046
    run_logged "$GEN_DIR.log" \
    "$PY" tools/train.py "$GEN_CFG" --work-dir "$GEN_DIR" --resume \
        --no-validate --cfg-options "${train_opts[@]}" \
        $(schedule_opts "$GEN_EPOCHS") \
        || die "generator training failed (log: $GEN_DIR.log)"
fi

# --------------------------------------------------------- 3. selector --
SEL_DIR="$WORK/mh-sel_e${GEN_EPOCHS}-${SEL_EPOCHS}_$(key "$GEN_CFG" "$SEL_CFG")"
SEL_CKPT="$SEL_DIR/epoch_${SEL_EPOCHS}.pth"
if [[ -f "$SEL_CKPT" ]]; then
    log "3/5 selector: reusing $SEL_CKPT"
else
    log "3/5 training the selector for $SEL_EPOCHS epochs -> $SEL_DIR"
    # shellcheck disable=SC2046
    run_logged "$SEL_DIR.log" \
    "$PY" tools/train.py "$SEL_CFG" --work-dir "$SEL_DIR" --resume \
        --no-validate --cfg-options "${train_opts[@]}" \
        "model.generator_checkpoint=$GEN_CKPT" \
        $(schedule_opts "$SEL_EPOCHS") \
        || die "selector training failed (log: $SEL_DIR.log)"
fi

# --------------------------------------------------------- 4. evaluate --
EVAL_DIR="$WORK/eval"
mkdir -p "$EVAL_DIR"
log "4/5 evaluating $SEL_CKPT on the $NUM_TEST test images"
"$PY" tools/test.py "$SEL_CFG" "$SEL_CKPT" --work-dir "$EVAL_DIR" \
    --out "$EVAL_DIR/metrics.json" --show-dir vis --interval 8 \
    --cfg-options "${test_opts[@]}" > "$EVAL_DIR.log" 2>&1 \
    || { tail -n 30 "$EVAL_DIR.log" >&2; die "evaluation failed (log: $EVAL_DIR.log)"; }
"$PY" - "$EVAL_DIR/metrics.json" <<'EOF'
import json
import sys

# One row per metric, one column per time step; the per-blur-rate bins
# ("<name>/blur_a-b") stay in metrics.json.
metrics = json.load(open(sys.argv[1]))
steps = ('past', 'middle', 'future')
rows = {}
for key, value in metrics.items():
    if '/' in key:
        continue
    name, _, step = key.rpartition('_')
    if step in steps:
        rows.setdefault(name, {})[step] = value
    else:
        rows.setdefault(key, {})['all'] = value
width = max(len(name) for name in rows)
print(f'  {"metric":<{width}} ' + ''.join(f'{s:>10}' for s in steps))
for name, values in rows.items():
    if 'all' not in values:
        print(f'  {name:<{width}} ' + ''.join(
            f'{values[s]:10.2f}' if s in values else f'{"-":>10}'
            for s in steps))
for name, values in rows.items():
    if 'all' in values:
        print(f'  {name:<{width}} {values["all"]:10.2f} (whole sequence)')
print(f'  (MPJPE / MPVPE / PJD in mm; {sys.argv[1]} also has them per '
      'blur-rate bin. Synthetic data and the procedural MANO-format hand, '
      'not MANO.)')
EOF
VIS_DIR=$(ls -d "$EVAL_DIR"/*/vis 2>/dev/null | sort | tail -n 1 || true)

# ------------------------------------------------------------- 5. demo --
INPUTS="$WORK/inputs"
OUTPUTS="$WORK/outputs"
log "5/5 demo on $NUM_DEMO_IMAGES held-out test images -> $OUTPUTS"
rm -rf "$INPUTS"
"$PY" - "$DATA" "$INPUTS" "$NUM_DEMO_IMAGES" <<'EOF' \
    || die "could not pick the demo images from $DATA"
import json
import os
import shutil
import sys

from mmblurhand.utils import register_all_modules

register_all_modules()
from mmblurhand.datasets import BlurHandDataset  # noqa: E402

data_root, out_dir, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
dataset = BlurHandDataset(data_root, split='test', test_mode=True)
os.makedirs(out_dir)
boxes = {}
for index in range(len(dataset)):
    info = dataset.get_data_info(index)
    name = f'test_{os.path.basename(info["img_path"])}'
    if name not in boxes and len(boxes) == count:
        continue
    if name not in boxes:
        shutil.copy(info['img_path'], os.path.join(out_dir, name))
    # the dataset's crop box (already padded around the joints)
    boxes.setdefault(name, []).append(
        dict(bbox=[float(v) for v in info['bbox'][0]],
             hand_type=info['hand_type']))
with open(os.path.join(out_dir, 'boxes.json'), 'w') as f:
    json.dump(boxes, f, indent=1)
EOF
"$PY" demo/image_demo.py "$SEL_CFG" "$SEL_CKPT" "$INPUTS" \
    --bbox-file "$INPUTS/boxes.json" --bbox-padding 1 \
    --out-dir "$OUTPUTS" --top-n 3 \
    || die "the demo failed"

log "done in $(( $(date +%s) - t_start )) s"
echo "  test images:          $INPUTS"
echo "  demo pictures:        $OUTPUTS/*_sequence.png, *_hypotheses.png, *_overlay.png"
echo "  meshes and JSON:      $OUTPUTS/meshes/, $OUTPUTS/*.json"
[[ -n "$VIS_DIR" ]] && echo "  prediction vs GT:     $VIS_DIR"
echo "  metrics:              $EVAL_DIR/metrics.json"
