#!/usr/bin/env bash
# GPU-machine training checks for a machine that can build: scripts/gpu/train-checks.sh BUILD_DIR OUT_DIR [checks|bench|all]
# Builds ritsu-engine and train_gpu_check in BUILD_DIR, then runs the same checks (and, with
# bench/all, the figures) as bench/train/gpu_bundle_checks.sh, which is what runs on a GPU
# machine that cannot build (binaries carried in a gpu-bundle). On a machine with 2+ GPUs it
# also runs scripts/gpu/multi-gpu-checks.sh (--gpus 2 with NCCL). Results: OUT_DIR/summary.txt.
set -u
BUILD=${1:?usage: train-checks.sh BUILD_DIR OUT_DIR [checks|bench|all]}
OUT=${2:?usage: train-checks.sh BUILD_DIR OUT_DIR [checks|bench|all]}
WHAT=${3:-checks}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
mkdir -p "$OUT"
if ! cmake --build "$BUILD" --target ritsu-engine train_gpu_check -j"$(nproc)" >"$OUT/build.log" 2>&1; then
  echo "FAIL build (see $OUT/build.log)"; exit 1
fi
# A bundle-shaped directory over the build: bin/ with the two programs, env.sh putting it first.
B="$OUT/bundle"
mkdir -p "$B/bin"
ln -sf "$(cd "$BUILD" && pwd)/engine/app/ritsu-engine" "$B/bin/ritsu-engine"
ln -sf "$(cd "$BUILD" && pwd)/engine/train/tests/train_gpu_check" "$B/bin/train_gpu_check"
echo "export PATH=\"$B/bin:\$PATH\"" >"$B/env.sh"
TOK=${RITSU_TOKENIZER_DIR:-$REPO/models/qwen3-tokenizer}
status=0
(cd "$REPO" && bash bench/train/gpu_bundle_checks.sh "$B" "$TOK" "$OUT/single" "$WHAT") || status=1
if [ "$(nvidia-smi -L 2>/dev/null | wc -l)" -ge 2 ]; then
  bash "$HERE/multi-gpu-checks.sh" "$B/bin/ritsu-engine" "$OUT/multi" "$TOK" || status=1
fi
cat "$OUT/single/summary.txt" "$OUT/multi/summary.txt" 2>/dev/null >"$OUT/summary.txt"
exit $status
