#!/usr/bin/env bash
# GPU-machine training checks and first throughput figures from PREBUILT binaries (a
# /work/shared/tools/gpu-bundle directory: the GPU machine cannot build).
#   bench/train/gpu_bundle_checks.sh BUNDLE_DIR TOKENIZER_DIR OUT_DIR [8b]
# BUNDLE_DIR/bin holds ritsu-engine and train_gpu_check. Prints PASS/FAIL/INFO lines to
# OUT_DIR/summary.txt; every tool's output is appended to OUT_DIR/all.log.
# Figures are printed only for runs whose checks passed (a FAIL stops the figures).
set -u
BUNDLE=${1:?usage: gpu_bundle_checks.sh BUNDLE_DIR TOKENIZER_DIR OUT_DIR [8b]}
TOK=${2:?tokenizer dir}
OUT=${3:?out dir}
WANT_8B=${4:-}
export NCCL_NVLS_ENABLE=0
. "$BUNDLE/env.sh"
mkdir -p "$OUT"
W=$(mktemp -d /tmp/ritsu-train-XXXX)
SUM="$OUT/summary.txt" LOG="$OUT/all.log"
fails=0
rec() { echo "$*" | tee -a "$SUM"; case "$1" in FAIL) fails=$((fails + 1)) ;; esac; }
step() { echo "==== $*" >>"$LOG"; "$@" >>"$LOG" 2>&1; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >>"$SUM" 2>&1

# 1. One LossAndGrad CUDA vs CPU (Qwen3, Qwen2) and the memory cap.
if step train_gpu_check "$W/gpu-check"; then rec PASS train_gpu_check; else rec FAIL train_gpu_check; fi
grep -E '^(PASS|FAIL)' "$LOG" | sed 's/^/  /' >>"$SUM"

# 2. 20 steps cpu vs cuda on a tiny model (dropout 0): same adapter within 1e-3 of max.
M="$W/tiny"
step ritsu-engine make-model --arch qwen3 --preset tiny --seed 1 --tokenizer-from "$TOK" --out "$M" || rec FAIL make-model-tiny
printf '%s\n' '{"input":"民法第1条","output":"a","meta":{"mode":"direct"}}' \
              '{"input":"会社法の目的","output":"b","meta":{"mode":"direct"}}' >"$W/tiny.jsonl"
common=(--model-name "$M" --train-file "$W/tiny.jsonl" --max-steps-override 20 --learning-rate 5e-3
        --loss-on-output-only --lora-dropout 0 --target-modules all-linear --logging-steps 10)
for q in "" --use-4bit; do
if step ritsu-engine train "${common[@]}" $q --output-dir "$W/e2e-cpu$q" &&
   step ritsu-engine train "${common[@]}" $q --output-dir "$W/e2e-cuda$q" --device cuda; then
  if python3 - "$W/e2e-cpu$q/adapter_model.safetensors" "$W/e2e-cuda$q/adapter_model.safetensors" >>"$SUM" 2>&1 <<'PY'
import json, struct, sys
def load(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); out = {}
    for k, v in h.items():
        if k == "__metadata__": continue
        s, e = v["data_offsets"]; raw = b[8 + n + s:8 + n + e]
        out[k] = struct.unpack("<%df" % (len(raw) // 4), raw)
    return out
a, c = load(sys.argv[1]), load(sys.argv[2])
assert a.keys() == c.keys() and a, "adapter keys differ or empty"
worst = max(max(abs(x - y) for x, y in zip(a[k], c[k])) / max(max(abs(x) for x in a[k]), 1e-30) for k in a)
print("  20-step adapter cuda vs cpu: worst relative difference %.2e (tol 1e-3)" % worst)
sys.exit(0 if worst <= 1e-3 else 1)
PY
  then rec PASS cuda-vs-cpu-20-steps-adapter${q:- dense}; else rec FAIL cuda-vs-cpu-20-steps-adapter${q:- dense}; fi
  if step ritsu-engine generate --model "$M" --lora "$W/e2e-cuda$q" --device cuda --prompt "民法第1条" --max-new-tokens 2; then
    rec PASS cuda-train-then-generate-lora-cuda${q:- dense}
  else rec FAIL cuda-train-then-generate-lora-cuda${q:- dense}; fi
else
  rec FAIL tiny-train-cpu-or-cuda${q:- dense}
fi
done
# 3. --max-gpu-memory far too small: refused with a message naming the flag.
if step ritsu-engine train "${common[@]}" --output-dir "$W/e2e-cap" --device cuda --max-gpu-memory 8M; then
  rec FAIL max-gpu-memory-enforced
elif tail -3 "$LOG" | grep -q "max-gpu-memory"; then rec PASS max-gpu-memory-enforced
else rec FAIL max-gpu-memory-enforced; fi

# 4. Throughput, only when every check above passed.
if [ "$fails" -ne 0 ]; then rec INFO "no figures: $fails check(s) failed"; exit 1; fi
python3 -c "
import json
for i in range(64): print(json.dumps({'input': '民法の条文 ' * 20 + str(i), 'output': 'a b ' * 700}, ensure_ascii=False))" >"$W/long.jsonl"
peak_smi() { sort -n "$W/smi.txt" 2>/dev/null | tail -1; }
bench() {  # NAME MODEL_DIR extra flags... (peak: this allocator's; smi: nvidia-smi memory.used incl. context)
  local name=$1 model=$2; shift 2
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$W/smi.txt" 2>/dev/null &
  local smi=$!
  if step ritsu-engine train --model-name "$model" --train-file "$W/long.jsonl" --output-dir "$W/b-$name" --device cuda \
       --max-steps-override 6 --batch-size 2 --max-seq-length 1024 --target-modules all-linear --lora-r 16 \
       --lora-dropout 0 --use-4bit --logging-steps 2 "$@"; then
    kill $smi; rec INFO "bench-$name $(grep -E '^step 6/' "$LOG" | tail -1 | sed 's/  */ /g') nvidia-smi-max $(peak_smi) MiB"
  else kill $smi; rec FAIL "bench-$name (see all.log)"; fi
}
step ritsu-engine make-model --arch qwen3 --preset 0.6b --seed 1 --dtype bf16 --tokenizer-from "$TOK" --out "$W/q06" &&
  bench qwen3-0.6b "$W/q06"
if [ -n "$WANT_8B" ]; then
  step ritsu-engine make-model --arch qwen3 --preset 8b --seed 1 --dtype bf16 --tokenizer-from "$TOK" --out "$W/q8b" &&
    bench qwen3-8b "$W/q8b"
  # Not a check yet: the embedding and lm_head are still fp32 (2.3 GiB each at 8B), so 10G may be refused.
  if step ritsu-engine train --model-name "$W/q8b" --train-file "$W/long.jsonl" --output-dir "$W/b-cap" --device cuda \
       --max-steps-override 4 --batch-size 2 --max-seq-length 1024 --target-modules all-linear --lora-r 16 \
       --lora-dropout 0 --use-4bit --logging-steps 2 --max-gpu-memory 10G; then
    rec INFO "bench-qwen3-8b-cap10G $(grep -E '^step 4/' "$LOG" | tail -1 | sed 's/  */ /g')"
  else rec INFO "bench-qwen3-8b-cap10G refused: $(tail -1 "$LOG" | cut -c1-200)"; fi
fi
rm -rf "$W"
