#!/usr/bin/env bash
# GPU check of issue 5: evaluation of an 8B-shaped NF4 Qwen3 (random weights: real checkpoints
# cannot be downloaded here) on lawqa_jp, with and without RAG, timed. The lab's setup needed
# ~5 minutes for 3 questions (1.8B, HF transformers, RTX 3080).
#
# Usage (from the repository root, after building ritsu-engine with CUDA):
#   engine/eval/scripts/gpu_eval_timing.sh BUILD_DIR OUT_DIR [SAMPLES] [MAX_NEW_TOKENS]
# Writes OUT_DIR/{norag,rag}.json and prints one timing line per run. Needs ~17 GB of disk for
# the bf16 checkpoint. ritsu-engine's `eval` must dispatch to ritsu::eval::EngineEvalMain.
set -euo pipefail
BUILD=${1:?build dir}
OUT=${2:?output dir}
SAMPLES=${3:-40}
MAX_NEW=${4:-32}
ENGINE="$BUILD/engine/app/ritsu-engine"
mkdir -p "$OUT"
if [ ! -f "$OUT/qwen3-8b-random/config.json" ]; then
  "$ENGINE" make-model --arch qwen3 --preset 8b --seed 1 --out "$OUT/qwen3-8b-random"
fi
"$ENGINE" data split --data data/lawqa_jp/selection.json --train-out "$OUT/train.json" \
  --test-out "$OUT/test.json" --overwrite
for mode in norag rag; do
  extra=()
  if [ "$mode" = norag ]; then extra=(--no-rag); else extra=(--top-k 3 --corpus-data data/lawqa_jp/selection.json); fi
  "$ENGINE" eval --data "$OUT/test.json" --output "$OUT/$mode.json" --overwrite --samples "$SAMPLES" \
    --hf-model-name "$OUT/qwen3-8b-random" --hf-load-in-4bit --device cuda --batch-size 16 \
    --max-new-tokens "$MAX_NEW" "${extra[@]}"
  python3 - "$OUT/$mode.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
t = d["summary"]["timing"]
print(f"{sys.argv[1]}: {d['config']['total_samples']} questions, generation {t['generation_seconds']:.1f} s "
      f"({t['questions_per_second']:.2f} q/s), total {t['total_seconds']:.1f} s, generator {d['config']['generator']}")
PY
done
