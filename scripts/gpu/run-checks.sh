#!/usr/bin/env bash
# scripts/gpu/run-checks.sh BUILD_DIR OUT_DIR
# On a GPU machine: runs the GPU kernel registry (every CUDA kernel against its CPU twin), the
# CUDA backend against the CPU backend on small random models, and the kernel benchmarks, writing one log per program to OUT_DIR plus OUT_DIR/SUMMARY.txt.
# BUILD_DIR is a CMake build directory or a gpu-bundle directory (binaries in BUILD_DIR/bin,
# BUILD_DIR/env.sh sourced first). Exit status: 0 when every check passed, 1 otherwise.
#
# Preparing a bundle on the build machine (CUDA build, e.g. -DRITSU_CUDA_ARCHS=90):
#   cmake --build build-kernels --target kernels_gpu_test cuda_backend_test kernels_bench
#   /work/shared/tools/gpu-bundle .gpu-bundle/kernels build-kernels/tests/gpu/kernels_gpu_test \
#       build-kernels/tests/gpu/cuda_backend_test build-kernels/bench/kernels/kernels_bench
# and on the GPU machine:  scripts/gpu/run-checks.sh .gpu-bundle/kernels "$OUT"
set -uo pipefail
if [[ $# -ne 2 ]]; then
  echo "usage: $0 BUILD_DIR OUT_DIR" >&2
  exit 2
fi
build=$1
out=$2
if [[ ! -d $build ]]; then
  echo "run-checks: BUILD_DIR $build is not a directory" >&2
  exit 2
fi
mkdir -p "$out"
# shellcheck disable=SC1091
[[ -f $build/env.sh ]] && . "$build/env.sh"

find_bin() {
  local name=$1 c
  for c in "$build/bin/$name" "$build/tests/gpu/$name" "$build/bench/kernels/$name"; do
    [[ -x $c ]] && { echo "$c"; return 0; }
  done
  find "$build" -type f -name "$name" -perm -u+x 2>/dev/null | head -1
}

summary=$out/SUMMARY.txt
: > "$summary"
status=0
note() { echo "$*" | tee -a "$summary"; }

{ nvidia-smi || echo "nvidia-smi not available"; } > "$out/nvidia-smi.txt" 2>&1
note "device: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)"

for test in kernels_gpu_test cuda_backend_test; do
  test_bin=$(find_bin "$test")
  if [[ -z $test_bin ]]; then
    note "FAIL $test: binary not found under $build"
    status=1
    continue
  fi
  start=$(date +%s)
  args=(); [[ $test == kernels_gpu_test ]] && args=(--bench)
  timeout 900 "$test_bin" "${args[@]}" > "$out/$test.log" 2>&1
  rc=$?
  passed=$(grep -c '^PASS' "$out/$test.log")
  failed=$(grep -c '^FAIL' "$out/$test.log")
  note "$test: rc=$rc, $passed checks passed, $failed failed, $(( $(date +%s) - start )) s"
  grep '^FAIL' "$out/$test.log" | tee -a "$summary"
  [[ $rc -eq 0 ]] || status=1
done

bench_bin=$(find_bin kernels_bench)
if [[ -z $bench_bin ]]; then
  note "FAIL kernels_bench: binary not found under $build"
  status=1
else
  timeout 900 "$bench_bin" > "$out/kernels_bench.log" 2>&1
  rc=$?
  note "kernels_bench: rc=$rc (figures in kernels_bench.log)"
  grep -E '^floor|batch 1:|all 7 per layer|flash attention prefill' "$out/kernels_bench.log" | tee -a "$summary"
  [[ $rc -eq 0 ]] || status=1
fi
note "overall: $([[ $status -eq 0 ]] && echo PASS || echo FAIL)"
exit $status
