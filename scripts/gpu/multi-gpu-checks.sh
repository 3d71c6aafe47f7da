#!/usr/bin/env bash
# GPU-machine checks of `ritsu-engine train --gpus N` (data parallel over the GPUs of one host,
# NCCL all-reduce of the LoRA gradients), from a prebuilt binary (the GPU machine cannot build):
#   scripts/gpu/multi-gpu-checks.sh ENGINE_BINARY OUT_DIR [TOKENIZER_DIR]
# ENGINE_BINARY: ritsu-engine (from a gpu-bundle: BUNDLE/bin/ritsu-engine; BUNDLE/env.sh is
# sourced when present). TOKENIZER_DIR: a Qwen tokenizer directory for make-model (default: the
# one compiled into the binary). Needs 2 visible GPUs and python3. PASS/FAIL/INFO lines go to
# stdout and OUT_DIR/summary.txt, every tool's output to OUT_DIR/all.log; exit 1 if any FAIL.
#
#   1. tiny Qwen3 and Qwen3-0.6B shape, fp32 compute (--bnb-4bit-compute-dtype float32) on both
#      sides, 20 steps: --gpus 2 --gradient-accumulation-steps 1 against --gpus 1
#      --gradient-accumulation-steps 2 (the same micro-batches, order and dropout masks by
#      construction), lora dropout 0 and 0.05: the same data positions and learning rates, losses
#      within 1e-4 relative, every adapter tensor within 1e-3 of its norm (the only difference is
#      the association of the fp32 gradient sums, ~1e-7 relative; Adam divides by sqrt(v) and so
#      amplifies it on entries whose gradient is near zero, and 20 steps compound it: the same
#      tolerance and reason as the cuda-vs-cpu check in bench/train/gpu_bundle_checks.sh;
#      scripts/gpu/compare_adapters.py);
#   2. generate --lora --device cuda with the 2-GPU adapter;
#   3. --gpus 64 refused with a message naming --gpus and the count visible;
#   4. timing (INFO): Qwen3-0.6B shape, --use-4bit, seq 1024, batch 2, r 16 all-linear, default
#      compute dtype, --gpus 2 -A 1 vs --gpus 1 -A 2 (the same work per optimizer step).
set -u
ENGINE=${1:?usage: multi-gpu-checks.sh ENGINE_BINARY OUT_DIR [TOKENIZER_DIR]}
OUT=${2:?usage: multi-gpu-checks.sh ENGINE_BINARY OUT_DIR [TOKENIZER_DIR]}
TOK=${3:-}
ENGINE=$(cd "$(dirname "$ENGINE")" && pwd)/$(basename "$ENGINE")
if [ -f "$(dirname "$ENGINE")/../env.sh" ]; then . "$(dirname "$ENGINE")/../env.sh"; fi
# NVLink multicast (NVLS) must stay off on the lab's multi-GPU machines.
export NCCL_NVLS_ENABLE=0
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
W="$OUT/work"
rm -rf "$W" && mkdir -p "$W"
SUM="$OUT/summary.txt" LOG="$OUT/all.log"
: >"$SUM"
: >"$LOG"
fails=0
rec() { echo "$*" | tee -a "$SUM"; case "$1" in FAIL) fails=$((fails + 1)) ;; esac; }
step() { echo "==== $*" >>"$LOG"; "$@" >>"$LOG" 2>&1; }
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader >>"$SUM" 2>&1
rec INFO "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-unset} NCCL_NVLS_ENABLE=$NCCL_NVLS_ENABLE engine $ENGINE"
tok=()
[ -n "$TOK" ] && tok=(--tokenizer-from "$TOK")

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/steady_rate.sh"
# Adapters (per-tensor norm, TOL) and trainer_state (same steps, epochs and learning rates,
# losses within 1e-4): scripts/gpu/compare_adapters.py.
compare_runs() {  # DIR_1GPU DIR_2GPU TOL LABEL
  python3 "$HERE/compare_adapters.py" "$@" --states >>"$SUM" 2>&1
}

visible=$(nvidia-smi -L 2>/dev/null | wc -l)
if [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then visible=$(echo "$CUDA_VISIBLE_DEVICES" | tr ',' '\n' | grep -c .); fi
if [ "$visible" -lt 2 ]; then rec FAIL "needs 2 visible GPUs, found $visible"; exit 1; fi

printf '%s\n' '{"input":"民法第1条","output":"a"}' '{"input":"会社法の目的","output":"b"}' \
              '{"input":"刑法第199条","output":"c d"}' '{"input":"憲法第9条","output":"b a"}' \
              '{"input":"金融商品取引法第5条","output":"d"}' >"$W/short.jsonl"

# 1 + 2. --gpus 2 x A 1 == --gpus 1 x A 2, fp32 compute.
for preset in tiny 0.6b; do
  M="$W/qwen3-$preset"
  if ! step "$ENGINE" make-model --arch qwen3 --preset "$preset" --seed 1 "${tok[@]}" --out "$M"; then
    rec FAIL "make-model-$preset (see all.log; check make-model --help)"; continue
  fi
  for drop in 0 0.05; do
    common=(--model-name "$M" --train-file "$W/short.jsonl" --device cuda --max-steps-override 20
            --learning-rate 5e-3 --warmup-ratio 0.1 --loss-on-output-only --lora-dropout "$drop"
            --target-modules all-linear --lora-r 8 --batch-size 1 --logging-steps 1 --seed 3
            --bnb-4bit-compute-dtype float32)
    one="$W/$preset-d$drop-1gpu" two="$W/$preset-d$drop-2gpu"
    if step "$ENGINE" train "${common[@]}" --gpus 1 --gradient-accumulation-steps 2 --output-dir "$one" &&
       step "$ENGINE" train "${common[@]}" --gpus 2 --gradient-accumulation-steps 1 --output-dir "$two"; then
      if compare_runs "$one" "$two" 1e-3 "$preset dropout $drop"; then rec PASS "gpus2-equals-accum2-$preset-dropout-$drop"
      else rec FAIL "gpus2-equals-accum2-$preset-dropout-$drop"; fi
      # The 2-GPU run's start line (the last one so far) names both devices.
      start=$(grep ' frozen base' "$LOG" | tail -1)
      if [[ $start == *" on 2 x cuda:0,1 "* ]]; then rec PASS "start-line-names-both-gpus-$preset-dropout-$drop"
      else rec FAIL "start-line-names-both-gpus-$preset-dropout-$drop: $(echo "$start" | cut -c1-200)"; fi
    else
      rec FAIL "train-$preset-dropout-$drop: $(grep -v '^step' "$LOG" | tail -2 | tr '\n' ' ' | cut -c1-300)"
    fi
  done
  if [ "$preset" = tiny ] && [ -d "$W/tiny-d0.05-2gpu" ]; then
    if step "$ENGINE" generate --model "$M" --lora "$W/tiny-d0.05-2gpu" --device cuda --prompt "民法第1条" \
         --max-new-tokens 2; then rec PASS generate-with-the-2-gpu-adapter
    else rec FAIL generate-with-the-2-gpu-adapter; fi
  fi
done

# 3. More GPUs than visible: refused before anything is loaded, naming --gpus and the count.
if step "$ENGINE" train --model-name "$W/qwen3-tiny" --train-file "$W/short.jsonl" --output-dir "$W/too-many" \
     --device cuda --gpus 64 --max-steps-override 1; then
  rec FAIL "gpus-64-refused: it ran"
elif tail -3 "$LOG" | grep -q -- "--gpus 64: only $visible CUDA GPU"; then
  rec PASS "gpus-64-refused: $(tail -3 "$LOG" | grep -- '--gpus 64' | cut -c1-200)"
else
  rec FAIL "gpus-64-refused: $(tail -2 "$LOG" | tr '\n' ' ' | cut -c1-200)"
fi

# 4. Timing. tokens/s between the 2nd and the last progress line (the first steps include
#    cuBLAS/NCCL/allocator warm-up); the trainer prints cumulative tokens/s of all replicas.
python3 -c "
import json
for i in range(64): print(json.dumps({'input': '民法の条文 ' * 20 + str(i), 'output': 'a b ' * 700}, ensure_ascii=False))" >"$W/long.jsonl"
bench() {  # NAME extra flags...
  local name=$1; shift
  if "$ENGINE" train --model-name "$W/qwen3-0.6b" --train-file "$W/long.jsonl" --output-dir "$W/b-$name" --device cuda \
       --max-steps-override 10 --max-seq-length 1024 --batch-size 2 --target-modules all-linear --lora-r 16 \
       --lora-alpha 32 --lora-dropout 0.05 --use-4bit --logging-steps 2 "$@" >"$W/b-$name.log" 2>&1; then
    cat "$W/b-$name.log" >>"$LOG"
    local steady
    steady=$(steady_rate "$W/b-$name.log")
    rec INFO "bench-$name steady-tokens/s $steady | $(grep -E '^step ' "$W/b-$name.log" | tail -1 | sed 's/  */ /g')"
  else
    cat "$W/b-$name.log" >>"$LOG"
    rec FAIL "bench-$name: $(grep -v '^step' "$W/b-$name.log" | tail -2 | tr '\n' ' ' | cut -c1-300)"
  fi
}
if [ -d "$W/qwen3-0.6b" ]; then
  bench qwen3-0.6b-nf4-1gpu-accum2 --gpus 1 --gradient-accumulation-steps 2
  bench qwen3-0.6b-nf4-2gpu-accum1 --gpus 2 --gradient-accumulation-steps 1
fi
rec INFO "$fails check(s) failed"
exit $((fails > 0))
