#!/usr/bin/env bash
# The test command of the README: the whole suite, on every backend.
#   stage 1 (fast): TensorFlow pass (all fast tests), then the JAX and
#                   PyTorch passes (tests marked `multibackend`);
#   stage 2 (slow): learning and multi-process tests on TensorFlow.
# Usage: bash scripts/run_tests.sh [fast|slow|all] [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
stage="${1:-all}"; shift || true
# The library has no default data folder: point it at the shared mirror.
export KERAS_GAN_STABLE_DATA="${KERAS_GAN_STABLE_DATA:-$(cd .. && pwd)/shared/data}"
export TF_CPP_MIN_LOG_LEVEL=2 PYTHONHASHSEED=0
PY="${PYTHON:-python}"

run() {  # pytest exits 5 when a selection is empty: not a failure here
  local rc=0  # --durations: the slowest tests of each pass, to keep CI short
  "$PY" -m pytest -q -p no:cacheprovider --durations=10 "$@" || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then exit "$rc"; fi
}

if [ "$stage" = fast ] || [ "$stage" = all ]; then
  KERAS_BACKEND=tensorflow run -m "not slow" "$@"
  KERAS_BACKEND=jax run -m "multibackend and not slow" "$@"
  KERAS_BACKEND=torch run -m "multibackend and not slow" "$@"
fi
if [ "$stage" = slow ] || [ "$stage" = all ]; then
  KERAS_BACKEND=tensorflow run -m "slow" "$@"
  # The network builders' contract tests on JAX (eager JAX compiles each
  # op, so they live in the slow stage there).
  KERAS_BACKEND=jax run -m "slow and multibackend" tests/test_layer_contracts.py "$@"
fi
