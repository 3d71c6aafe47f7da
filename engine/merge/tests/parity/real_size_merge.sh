#!/usr/bin/env bash
# Merge + GGUF export at a real model size (Qwen3-8B shapes, random weights), timed, with every
# GGUF element verified against the merged weights. CPU-only (merge never needs the GPU); meant
# for a machine with >= 16 cores, >= 64 GB RAM and ~60 GB of free disk (base 16 GB, merged
# 16 GB, f16 GGUF 16 GB, q4_k_m GGUF 5 GB).
#
#   BUILD=build-merge engine/merge/tests/parity/real_size_merge.sh [WORK_DIR] [PRESET]
# (targets needed: ritsu-engine for make-model, ritsu_merge_fixture; PRESET as make-model's,
# e.g. tiny for a smoke run)
#
# Prints one line per step with its wall time; the metrics JSON of each step lands in WORK_DIR.
set -euo pipefail
BUILD=${BUILD:-build}
WORK=${1:-/tmp/ritsu-merge-real}
PRESET=${2:-8b}
ENGINE=$BUILD/engine/app/ritsu-engine
FIXTURE=$BUILD/engine/merge/tests/ritsu_merge_fixture
mkdir -p "$WORK"
step() {  # step NAME CMD...: runs CMD, prints its wall time
  local name=$1; shift
  local t0; t0=$(date +%s%N)
  "$@" > "$WORK/$name.log" 2>&1 || { echo "$name FAILED:"; tail -20 "$WORK/$name.log"; exit 1; }
  echo "$name: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
}
[ -d "$WORK/base" ] || step make-model "$ENGINE" make-model --arch qwen3 --preset "$PRESET" --seed 1 --out "$WORK/base"
[ -d "$WORK/lora" ] || step adapter "$FIXTURE" adapter "$WORK/base" "$WORK/lora"
# gguf-inspect / merge run through ritsu-engine once engine/app links ritsu_merge; the fixture
# binary is the same code behind the same flags.
CLI=$FIXTURE
RITSU_METRICS_FILE=$WORK/merge-f16.json step merge-f16 "$CLI" merge --base "$WORK/base" --lora "$WORK/lora" \
  --output "$WORK/merged" --gguf f16 --overwrite
RITSU_METRICS_FILE=$WORK/merge-q4km.json step merge-q4_k_m "$CLI" merge --base "$WORK/base" --lora "$WORK/lora" \
  --output "$WORK/merged-q4" --gguf q4_k_m --overwrite
RITSU_METRICS_FILE=$WORK/verify-q4km.json step verify-q4_k_m "$CLI" gguf-inspect \
  "$WORK/merged-q4/model-q4_k_m.gguf" --verify-against "$WORK/merged-q4"
tail -1 "$WORK/verify-q4_k_m.log"
ls -la "$WORK/merged/model-f16.gguf" "$WORK/merged-q4/model-q4_k_m.gguf"
cat "$WORK/merge-q4km.json"
