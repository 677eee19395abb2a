#!/usr/bin/env bash
# Copyright (c) OpenMMLab. All rights reserved.
#
# Idempotent environment bootstrap for mmblurhand.
#
#   tools/setup_env.sh            # create/refresh ./.venv
#   MMBLURHAND_VENV=/path/venv tools/setup_env.sh
#
# What it installs (see docs/install.md for the reasons):
#   * torch 2.13.0 CPU (an already-installed torch, e.g. a CUDA build, is kept)
#   * mmcv 2.1.0 WITH compiled ops, built from source once per machine; the
#     wheel is cached in ${XDG_CACHE_HOME:-~/.cache}/mmblurhand/wheels keyed by
#     mmcv / torch / python version and reused by every later set-up
#   * mmengine 0.10.7, mmdet 3.3.0 and mmpose 1.3.2 without their broken
#     extras (chumpy, torchvision), xtcocotools rebuilt against numpy 2
#   * smplx, opencv-python-headless, pyrender (EGL) ... then `pip install -e .`
#
# A second run with nothing changed takes a few seconds (a stamp file records
# the hash of this script and requirements/*.txt).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMBLURHAND_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/mmblurhand/wheels"
MMCV_VERSION="2.1.0"
TORCH_VERSION="${MMBLURHAND_TORCH_VERSION:-2.13.0}"
MAX_JOBS="${MAX_JOBS:-$(nproc)}"

log() { printf '\033[1;34m[setup_env]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup_env] ERROR:\033[0m %s\n' "$*" >&2; exit 1; }

t_start=$(date +%s)
stamp_hash=$(cat "$ROOT/tools/setup_env.sh" "$ROOT"/requirements/*.txt \
    "$ROOT/setup.py" | sha1sum | cut -c1-16)
STAMP="$VENV/.mmblurhand-env-$stamp_hash"

if [[ -f "$STAMP" ]] && "$VENV/bin/python" -c \
    "import mmcv.ops, mmpose.models, mmblurhand" >/dev/null 2>&1; then
    log "environment up to date ($VENV)"
    exit 0
fi

# ---------------------------------------------------------------- venv --
if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV" || die "could not create a venv with $PYTHON; \
install python3-venv or set PYTHON=/path/to/python3.11"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)
pip_q() {
    # pip prints one harmless warning per missing local index; hide them.
    local out rc=0
    out=$("${PIP[@]}" "$@" 2>&1) || rc=$?
    # mmpose declares chumpy/torchvision/xtcocotools, which we leave out or
    # build ourselves, so pip's resolver report about them is expected.
    printf '%s\n' "$out" | grep -vE "^WARNING: Location '.*' is ignored" \
        | grep -vE "^ERROR: pip's dependency resolver|^mmpose [0-9.]+ requires (chumpy|torchvision|xtcocotools)" \
        | grep -vE '^\s*$' || true
    return "$rc"
}

# --------------------------------------------------------------- torch --
if "$PY" -c "import torch" >/dev/null 2>&1; then
    log "keeping installed torch $("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null)"
else
    log "installing torch==$TORCH_VERSION (CPU wheel from the local disk where present)"
    pip_q install -q "torch==$TORCH_VERSION" || die "torch install failed"
fi
TORCH_VER=$("$PY" -c "import torch; print(torch.__version__)" 2>/dev/null)
PY_TAG=$("$PY" -c "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')")
ARCH=$(uname -m)

# --------------------------------------------------- build requirements --
log "installing build requirements"
pip_q install -q -r "$ROOT/requirements/build.txt" || die "build requirements failed"

# ---------------------------------------------------------------- mmcv --
mmcv_ok() {
    "$PY" - <<EOF >/dev/null 2>&1
import mmcv, mmcv.ops
assert mmcv.__version__ == '$MMCV_VERSION'
EOF
}
if mmcv_ok; then
    log "mmcv $MMCV_VERSION with compiled ops already installed"
else
    KEY="mmcv-${MMCV_VERSION}_torch-${TORCH_VER}_${PY_TAG}_${ARCH}"
    WHEEL_DIR="$CACHE_DIR/$KEY"
    WHEEL=$(ls "$WHEEL_DIR"/mmcv-*.whl 2>/dev/null | head -n1 || true)
    if [[ -z "$WHEEL" ]]; then
        log "no cached mmcv wheel for $KEY: building mmcv $MMCV_VERSION with ops from source"
        log "(about 18 min on 2 cores; done once per machine, cached in $WHEEL_DIR)"
        BUILD_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mmcv-build.XXXXXX")
        BUILD_LOG="$BUILD_DIR/build.log"
        pip_q download -q --no-deps --no-binary :all: --no-build-isolation \
            "mmcv==$MMCV_VERSION" -d "$BUILD_DIR" \
            || die "could not download the mmcv $MMCV_VERSION sdist from the package index"
        tar xzf "$BUILD_DIR/mmcv-$MMCV_VERSION.tar.gz" -C "$BUILD_DIR"
        mkdir -p "$BUILD_DIR/wheel"
        set +e
        ( cd "$BUILD_DIR" && MMCV_WITH_OPS=1 MAX_JOBS="$MAX_JOBS" \
            "${PIP[@]}" wheel -v --no-deps --no-build-isolation \
            "./mmcv-$MMCV_VERSION" -w "$BUILD_DIR/wheel" ) > "$BUILD_LOG" 2>&1 &
        build_pid=$!
        last=""
        while kill -0 "$build_pid" 2>/dev/null; do
            sleep 20
            cur=$(grep -oE '^\s*\[[0-9]+/[0-9]+\]' "$BUILD_LOG" | tail -n1 | tr -d ' ' || true)
            if [[ -n "$cur" && "$cur" != "$last" ]]; then
                log "  mmcv build: compiled $cur files ($(( ($(date +%s) - t_start) / 60 )) min)"
                last="$cur"
            fi
        done
        wait "$build_pid"; rc=$?
        set -e
        WHEEL=$(ls "$BUILD_DIR"/wheel/mmcv-*.whl 2>/dev/null | head -n1 || true)
        if [[ $rc -ne 0 || -z "$WHEEL" ]]; then
            echo "----- last 40 lines of $BUILD_LOG -----" >&2
            tail -n 40 "$BUILD_LOG" >&2
            die "mmcv build failed (log: $BUILD_LOG). Try: MAX_JOBS=1 tools/setup_env.sh \
(less memory), check that g++ and the Python headers are installed, and that \
'setuptools<81' is in the venv. GPU users can instead 'mim install mmcv==$MMCV_VERSION'."
        fi
        mkdir -p "$WHEEL_DIR"
        cp "$WHEEL" "$WHEEL_DIR/"
        WHEEL="$WHEEL_DIR/$(basename "$WHEEL")"
        rm -rf "$BUILD_DIR"
        log "cached $WHEEL"
    else
        log "using cached mmcv wheel $WHEEL"
    fi
    pip_q install -q --no-deps --force-reinstall "$WHEEL" || die "installing $WHEEL failed"
    mmcv_ok || die "mmcv installed from $WHEEL but 'import mmcv.ops' fails; delete \
$WHEEL_DIR and run again to rebuild"
fi

# ----------------------------------------------------- mmdet, mmpose --
log "installing mmdet, mmpose (without chumpy/torchvision) and runtime requirements"
pip_q install -q --no-deps -r "$ROOT/requirements/mminstall.txt" || die "mmdet/mmpose install failed"
pip_q install -q -r "$ROOT/requirements/runtime.txt" || die "runtime requirements failed"

# xtcocotools from the index is built against numpy 1; rebuild it from source.
if ! "$PY" -c "import xtcocotools.coco" >/dev/null 2>&1; then
    log "rebuilding xtcocotools against the installed numpy"
    pip_q install -q --no-build-isolation --no-binary xtcocotools --force-reinstall --no-deps \
        "xtcocotools>=1.12" || die "xtcocotools build failed"
fi

pip_q install -q -r "$ROOT/requirements/optional.txt" -r "$ROOT/requirements/tests.txt" \
    || die "optional/test requirements failed"

# ------------------------------------------------------------ package --
log "installing mmblurhand in editable mode"
pip_q install -q --no-deps --no-build-isolation -e "$ROOT" || die "pip install -e . failed"

"$PY" - <<'EOF' || die "post-install check failed (see the traceback above)"
import mmcv.ops, mmpose.models, mmpose.datasets, mmblurhand  # noqa
import sys
assert 'torchvision' not in sys.modules, 'something imported torchvision'
EOF

rm -f "$VENV"/.mmblurhand-env-*
touch "$STAMP"
log "environment ready in $(( $(date +%s) - t_start )) s: source $VENV/bin/activate"
