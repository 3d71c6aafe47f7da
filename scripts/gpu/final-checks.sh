#!/usr/bin/env bash
# scripts/gpu/final-checks.sh BUNDLE OUT_DIR — every inference check in one GPU call:
# kernel registry + CUDA backend + kernel benchmarks (run-checks.sh), then HF parity and the
# 8B-shaped end-to-end figures (engine-checks.sh). BUNDLE holds ritsu-engine, kernels_gpu_test,
# cuda_backend_test and kernels_bench (gpu-bundle).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$2"
"$here/run-checks.sh" "$1" /tmp/kernels-out > /tmp/run-checks.log 2>&1; echo "run-checks rc=$?"
cat /tmp/kernels-out/SUMMARY.txt
tar -czf "$2/kernels.tgz" -C /tmp kernels-out
"$here/engine-checks.sh" "$1" "$2" "${3:-140}"
