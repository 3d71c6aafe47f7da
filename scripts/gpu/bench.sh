#!/usr/bin/env bash
# scripts/gpu/bench.sh BUILD_DIR [ARGS...]
# On a GPU machine: prints the Qwen3-8B-shaped kernel figures (NF4 decode GEMV in GB/s against
# the measured device-to-device copy bandwidth, prefill GEMMs and flash attention in TFLOP/s
# against the measured cuBLAS bf16 rate). ARGS go to kernels_bench (--layers N,
# --prefill-tokens N). BUILD_DIR: a CMake build directory or a gpu-bundle directory.
set -euo pipefail
if [[ $# -lt 1 ]]; then
  echo "usage: $0 BUILD_DIR [--layers N] [--prefill-tokens N]" >&2
  exit 2
fi
build=$1
shift
# shellcheck disable=SC1091
[[ -f $build/env.sh ]] && . "$build/env.sh"
for c in "$build/bin/kernels_bench" "$build/bench/kernels/kernels_bench"; do
  if [[ -x $c ]]; then
    exec "$c" "$@"
  fi
done
echo "bench.sh: kernels_bench not found under $build (build target kernels_bench with CUDA)" >&2
exit 1
