#!/usr/bin/env bash
# Copyright (c) OpenMMLab. All rights reserved.
# Usage: tools/dist_train.sh CONFIG GPUS [train.py options]
# Env: NNODES (1), NODE_RANK (0), PORT (29500), MASTER_ADDR (127.0.0.1).
# CPU (gloo) runs: CUDA_VISIBLE_DEVICES= tools/dist_train.sh CONFIG 2 ...
# Options reach train.py as given ("$@": an argument with spaces stays one).
set -e
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}
ROOT="$(dirname "$0")/.."

PYTHONPATH="$ROOT":$PYTHONPATH \
$PYTHON -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$ROOT/tools/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
