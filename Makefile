# mmblurhand: the two README quick-start commands and their helpers.
#   make demo   train + evaluate + demo on built-in synthetic data (end to end)
#   make test   the test suite
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export PYOPENGL_PLATFORM ?= egl
export OMP_NUM_THREADS ?= 2
# Idle OpenMP threads sleep instead of spinning: on 2 shared cores a
# spinning wait made CPU runs 5-32x slower (docs/benchmarks.md).
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: env test demo clean-demo

env:
	@bash tools/setup_env.sh

# pytest exits 5 when it collects no tests: that is a failure, not a pass.
test: env
	@$(PY) -m pytest tests -q --durations=15 -p no:cacheprovider; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

demo: env
	@bash tools/run_demo.sh

clean-demo:
	rm -rf work_dirs/demo data/blurhand_synthetic_demo
