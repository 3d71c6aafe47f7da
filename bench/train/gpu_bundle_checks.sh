#!/usr/bin/env bash
# GPU-machine training checks and figures from PREBUILT binaries (a /work/shared/tools/gpu-bundle
# directory: the GPU machine cannot build). From the repository root:
#   bench/train/gpu_bundle_checks.sh BUNDLE_DIR TOKENIZER_DIR OUT_DIR [checks|bench|all]
# BUNDLE_DIR/bin holds ritsu-engine and train_gpu_check. PASS/FAIL/INFO lines go to
# OUT_DIR/summary.txt, every tool's output to OUT_DIR/all.log. Benchmarks run only when every
# check of the same invocation passed (a FAIL stops the figures).
#   checks: one step CUDA vs CPU (fp32 and bf16 compute), 20 steps CUDA vs CPU, train then
#           generate --lora on the GPU, the memory cap, parity with HF transformers + peft
#           (tests/parity/train_parity.py: bf16 base, Qwen3-0.6B shape, 30 steps).
#   bench:  0.6B (checkpoint on disk), 8B and 32B shapes (random base drawn in memory, identical
#           to make-model's checkpoint for the seed): NF4, r=16 all-linear, seq 1024, dropout
#           0.05 as the HF baseline (bench/hf/hf_baselines.py qlora_train_8b); 8B under
#           --max-gpu-memory 10G, 32B under 24G.
set -u
BUNDLE=${1:?usage: gpu_bundle_checks.sh BUNDLE_DIR TOKENIZER_DIR OUT_DIR [checks|bench|all]}
TOK=${2:?tokenizer dir}
OUT=${3:?out dir}
WHAT=${4:-all}
export NCCL_NVLS_ENABLE=0
. "$BUNDLE/env.sh"
mkdir -p "$OUT"
W=$(mktemp -d /tmp/ritsu-train-XXXX)
SUM="$OUT/summary.txt" LOG="$OUT/all.log"
fails=0
rec() { echo "$*" | tee -a "$SUM"; case "$1" in FAIL) fails=$((fails + 1)) ;; esac; }
step() { echo "==== $*" >>"$LOG"; "$@" >>"$LOG" 2>&1; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >>"$SUM" 2>&1

REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/scripts/gpu/steady_rate.sh"
compare_adapters() {  # DIR_A DIR_B TOL LABEL (scripts/gpu/compare_adapters.py)
  python3 "$REPO/scripts/gpu/compare_adapters.py" "$@" >>"$SUM" 2>&1
}

if [ "$WHAT" != bench ]; then
  # 1. One LossAndGrad CUDA vs CPU (Qwen3, Qwen2; fp32 and bf16 compute) and the memory cap.
  if step train_gpu_check "$W/gpu-check"; then rec PASS train_gpu_check; else rec FAIL train_gpu_check; fi
  grep -E '^(PASS|FAIL)' "$LOG" | sed 's/^/  /' >>"$SUM"

  # 2. 20 steps cpu vs cuda on a tiny model, fp32 compute on both (--bnb-4bit-compute-dtype
  #    float32): the same adapter within 1e-3 of each tensor's norm (Adam amplifies summation-order
  #    differences of near-zero gradients: scripts/gpu/compare_adapters.py). Then the default (bf16) GPU run, and generate with it.
  M="$W/tiny"
  step ritsu-engine make-model --arch qwen3 --preset tiny --seed 1 --tokenizer-from "$TOK" --out "$M" || rec FAIL make-model-tiny
  printf '%s\n' '{"input":"民法第1条","output":"a","meta":{"mode":"direct"}}' \
                '{"input":"会社法の目的","output":"b","meta":{"mode":"direct"}}' >"$W/tiny.jsonl"
  common=(--model-name "$M" --train-file "$W/tiny.jsonl" --max-steps-override 20 --learning-rate 5e-3
          --loss-on-output-only --lora-dropout 0.1 --target-modules all-linear --logging-steps 10)
  for q in "" --use-4bit; do
    tag=${q:-dense}
    if step ritsu-engine train "${common[@]}" $q --output-dir "$W/e2e-cpu$q" &&
       step ritsu-engine train "${common[@]}" $q --output-dir "$W/e2e-cuda$q" --device cuda --bnb-4bit-compute-dtype float32; then
      if compare_adapters "$W/e2e-cpu$q" "$W/e2e-cuda$q" 1e-3 "20 steps fp32 cuda vs cpu $tag"
      then rec PASS "cuda-vs-cpu-20-steps-fp32-$tag"; else rec FAIL "cuda-vs-cpu-20-steps-fp32-$tag"; fi
    else
      rec FAIL "tiny-train-cpu-or-cuda-$tag"
    fi
    if step ritsu-engine train "${common[@]}" $q --output-dir "$W/e2e-bf16$q" --device cuda &&
       step ritsu-engine generate --model "$M" --lora "$W/e2e-bf16$q" --device cuda --prompt "民法第1条" --max-new-tokens 2; then
      rec PASS "cuda-bf16-train-then-generate-lora-$tag"
    else rec FAIL "cuda-bf16-train-then-generate-lora-$tag"; fi
  done
  # 3. --max-gpu-memory far too small: refused with a message naming the flag.
  if step ritsu-engine train "${common[@]}" --output-dir "$W/e2e-cap" --device cuda --max-gpu-memory 8M; then
    rec FAIL max-gpu-memory-enforced
  elif tail -3 "$LOG" | grep -q "max-gpu-memory" && tail -3 "$LOG" | grep -q "this run needs about"; then
    rec PASS "max-gpu-memory-enforced: $(tail -3 "$LOG" | grep -o 'this run needs about [0-9.]* GiB')"
  else rec FAIL max-gpu-memory-enforced; fi

  # 4. Parity with HF transformers + peft (bf16 base, Qwen3-0.6B shape, the GPU trainer);
  #    PARITY=0 skips it (a re-check of the trainer alone).
  if [ "${PARITY:-1}" = 0 ]; then
    rec INFO "peft-parity skipped (PARITY=0)"
  elif python3 -c "import torch, transformers, peft" >/dev/null 2>&1; then
    if python3 tests/parity/train_parity.py --engine "$(command -v ritsu-engine)" --out "$W/parity" --dtype bfloat16 \
         --ritsu-device cuda --preset 0.6b --steps 30 --tokenizer "$TOK" >"$OUT/train_parity.log" 2>&1; then
      rec PASS peft-parity-bf16-0.6b
    else rec FAIL peft-parity-bf16-0.6b; fi
    grep -E '^(PASS|FAIL|INFO)' "$OUT/train_parity.log" | sed 's/^/  /' >>"$SUM"
  else
    rec FAIL "peft-parity: python torch/transformers/peft missing"
  fi
fi

if [ "$WHAT" = checks ]; then rm -rf "$W"; exit $((fails > 0)); fi
if [ "$fails" -ne 0 ]; then rec INFO "no figures: $fails check(s) failed"; exit 1; fi

# 5. Figures. tokens/s between the 2nd and the last progress line (steady_rate).
python3 -c "
import json
for i in range(64): print(json.dumps({'input': '民法の条文 ' * 20 + str(i), 'output': 'a b ' * 700}, ensure_ascii=False))" >"$W/long.jsonl"
peak_smi() { sort -n "$W/smi.txt" 2>/dev/null | tail -1; }
bench() {  # NAME MODEL_DIR STEPS extra flags...
  local name=$1 model=$2 steps=$3; shift 3
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$W/smi.txt" 2>/dev/null &
  local smi=$! t0; t0=$(date +%s)
  if timeout "${BENCH_TIMEOUT:-240}" ritsu-engine train --model-name "$model" --train-file "$W/long.jsonl" --output-dir "$W/b-$name" --device cuda \
       --max-steps-override "$steps" --max-seq-length 1024 --target-modules all-linear --lora-r 16 --lora-alpha 32 \
       --lora-dropout 0.05 --use-4bit --logging-steps 2 "$@" >"$W/b-$name.log" 2>&1; then
    kill $smi
    cat "$W/b-$name.log" >>"$LOG"
    local steady
    steady=$(steady_rate "$W/b-$name.log")
    rec INFO "bench-$name steady-tokens/s $steady | $(grep -E '^step ' "$W/b-$name.log" | tail -1 | sed 's/  */ /g') | nvidia-smi-max $(peak_smi) MiB | wall $(( $(date +%s) - t0 )) s"
  else
    kill $smi
    cat "$W/b-$name.log" >>"$LOG"
    rec FAIL "bench-$name: $(grep -v '^step' "$W/b-$name.log" | tail -2 | tr '\n' ' ' | cut -c1-300)"
  fi
}
# BENCHES picks the runs (default: all of them, in this order).
want() { [[ " ${BENCHES:-0.6b 8b 8b-cap10G 8b-fp32 32b-b1 32b-b2} " == *" $1 "* ]]; }
if want 0.6b; then
  step ritsu-engine make-model --arch qwen3 --preset 0.6b --seed 1 --dtype bf16 --tokenizer-from "$TOK" --out "$W/q06" &&
    bench qwen3-0.6b-b2 "$W/q06" 8 --batch-size 2
fi
for p in 8b 32b; do
  step ritsu-engine make-model --arch qwen3 --preset $p --config-only --tokenizer-from "$TOK" --out "$W/q$p"
done
want 8b && bench qwen3-8b-b2 "$W/q8b" 8 --batch-size 2 --random-base-seed 1
want 8b-cap10G && bench qwen3-8b-b2-cap10G "$W/q8b" 4 --batch-size 2 --random-base-seed 1 --max-gpu-memory 10G
want 8b-fp32 && bench qwen3-8b-b2-fp32compute "$W/q8b" 4 --batch-size 2 --random-base-seed 1 --bnb-4bit-compute-dtype float32
want 32b-b1 && bench qwen3-32b-b1-cap24G "$W/q32b" 6 --batch-size 1 --random-base-seed 1 --max-gpu-memory 24G
want 32b-b2 && bench qwen3-32b-b2-cap24G "$W/q32b" 4 --batch-size 2 --random-base-seed 1 --max-gpu-memory 24G
rm -rf "$W"
