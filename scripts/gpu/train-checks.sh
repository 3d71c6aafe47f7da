#!/usr/bin/env bash
# GPU-machine training checks: scripts/gpu/train-checks.sh BUILD_DIR OUT_DIR
# Prints PASS/FAIL/SKIP/INFO lines and a results table: the CPU trainer suite, CPU train +
# generate --lora, peft parity of the CPU trainer (when torch+peft exist), the CUDA trainer
# (NF4 frozen linears with --use-4bit, fp32 compute) against the CPU oracle, its memory cap, a
# 0.6B-shaped throughput figure. For a GPU machine that cannot build, the same checks plus the
# 8B benchmark run from carried binaries: bench/train/gpu_bundle_checks.sh.
# Not yet covered (SKIP): bf16 compute on the GPU, --gpus N, the 8B run under 10G.
set -u
BUILD=${1:?usage: train-checks.sh BUILD_DIR OUT_DIR}
OUT=${2:?usage: train-checks.sh BUILD_DIR OUT_DIR}
mkdir -p "$OUT"
export NCCL_NVLS_ENABLE=0
results=()
record() { echo "$1 $2${3:+ ($3)}"; results+=("$1|$2|${3:-}"); }

if cmake --build "$BUILD" --target ritsu_train_test ritsu-engine -j"$(nproc)" >"$OUT/build.log" 2>&1; then
  cmake --build "$BUILD" --target train_gpu_check -j"$(nproc)" >>"$OUT/build.log" 2>&1 || true
  record PASS build
else
  record FAIL build "see $OUT/build.log"; exit 1
fi
if "$BUILD/engine/train/tests/ritsu_train_test" >"$OUT/ritsu_train_test.log" 2>&1; then
  record PASS cpu-trainer-suite
else
  record FAIL cpu-trainer-suite "see $OUT/ritsu_train_test.log"
fi
ENGINE="$BUILD/engine/app/ritsu-engine"
"$ENGINE" make-model --help >/dev/null 2>&1 || true
MODEL="$OUT/tiny-qwen3"
if "$ENGINE" make-model --arch qwen3 --preset tiny --out "$MODEL" >"$OUT/make-model.log" 2>&1; then
  printf '%s\n' '{"input":"民法第1条","output":"a","meta":{"mode":"direct"}}' \
                '{"input":"会社法の目的","output":"b","meta":{"mode":"direct"}}' >"$OUT/tiny.jsonl"
  if "$ENGINE" train --model-name "$MODEL" --train-file "$OUT/tiny.jsonl" --output-dir "$OUT/tiny-adapter" \
       --max-steps-override 20 --learning-rate 5e-3 --loss-on-output-only --logging-steps 5 \
       >"$OUT/train-cpu.log" 2>&1 &&
     "$ENGINE" generate --model "$MODEL" --lora "$OUT/tiny-adapter" --prompt "民法第1条" --max-new-tokens 2 \
       >"$OUT/generate.log" 2>&1; then
    record PASS cpu-train-then-generate-lora
  else
    record FAIL cpu-train-then-generate-lora "see $OUT/train-cpu.log $OUT/generate.log"
  fi
else
  record FAIL make-model "see $OUT/make-model.log (flags of make-model may differ: check ritsu-engine make-model --help)"
fi
# HF transformers + peft against the CPU trainer (fp32 both sides; peft on the GPU when present).
if python3 -c "import torch, transformers, peft" >/dev/null 2>&1; then
  if python3 "$(dirname "$0")/../../tests/parity/train_parity.py" --engine "$ENGINE" --out "$OUT/parity" \
       >"$OUT/train_parity.log" 2>&1; then
    record PASS peft-parity-fp32-cpu-trainer "$(grep -E '^(PASS|FAIL)' "$OUT/train_parity.log" | tr '\n' ';')"
  else
    record FAIL peft-parity-fp32-cpu-trainer "see $OUT/train_parity.log"
  fi
else
  record SKIP peft-parity-fp32-cpu-trainer "python torch/transformers/peft not installed"
fi
# The CUDA trainer (kernels::cuda): one step against the CPU oracle, the memory cap.
if [ -x "$BUILD/engine/train/tests/train_gpu_check" ]; then
  "$BUILD/engine/train/tests/train_gpu_check" "$OUT/gpu-check" >"$OUT/train_gpu_check.log" 2>&1
  while read -r st rest; do
    case "$st" in PASS|FAIL) record "$st" "cuda-$(echo "$rest" | cut -c1-60 | tr ' ' '-')" ;; esac
  done <"$OUT/train_gpu_check.log"
else
  record FAIL cuda-trainer-check "train_gpu_check not built (CUDA not found by CMake?)"
fi
# End to end on the GPU: the same 20 steps on cpu and cuda (dropout 0) must give the same adapter
# within fp32 reassociation (Adam amplifies tiny differences of near-zero gradients: 1e-3 of max).
if [ -d "$MODEL" ]; then
  common=(--model-name "$MODEL" --train-file "$OUT/tiny.jsonl" --max-steps-override 20 --learning-rate 5e-3
          --loss-on-output-only --lora-dropout 0 --target-modules all-linear --logging-steps 10)
  if "$ENGINE" train "${common[@]}" --output-dir "$OUT/e2e-cpu" >"$OUT/e2e-cpu.log" 2>&1 &&
     "$ENGINE" train "${common[@]}" --output-dir "$OUT/e2e-cuda" --device cuda >"$OUT/e2e-cuda.log" 2>&1; then
    if python3 - "$OUT/e2e-cpu/adapter_model.safetensors" "$OUT/e2e-cuda/adapter_model.safetensors" <<'PY'
import json, struct, sys
def load(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); out = {}
    for k, v in h.items():
        if k == "__metadata__": continue
        s, e = v["data_offsets"]; raw = b[8 + n + s:8 + n + e]
        out[k] = struct.unpack("<%df" % (len(raw) // 4), raw)
    return out
a, c = load(sys.argv[1]), load(sys.argv[2])
worst = max(max(abs(x - y) for x, y in zip(a[k], c[k])) / max(max(abs(x) for x in a[k]), 1e-30) for k in a)
print("worst relative difference %.2e" % worst)
sys.exit(0 if worst <= 1e-3 else 1)
PY
    then record PASS cuda-vs-cpu-20-steps-adapter; else record FAIL cuda-vs-cpu-20-steps-adapter; fi
    "$ENGINE" generate --model "$MODEL" --lora "$OUT/e2e-cuda" --device cuda --prompt "民法第1条" --max-new-tokens 2 \
      >"$OUT/generate-cuda.log" 2>&1 && record PASS cuda-train-then-generate-lora || record FAIL cuda-train-then-generate-lora
  else
    record FAIL cuda-train "see $OUT/e2e-cuda.log"
  fi
  if "$ENGINE" train "${common[@]}" --output-dir "$OUT/e2e-cap" --device cuda --max-gpu-memory 8M >"$OUT/e2e-cap.log" 2>&1; then
    record FAIL max-gpu-memory-enforced "8M cap was not enforced"
  else
    grep -q "max-gpu-memory" "$OUT/e2e-cap.log" && record PASS max-gpu-memory-enforced "$(tail -1 "$OUT/e2e-cap.log" | cut -c1-120)" \
      || record FAIL max-gpu-memory-enforced "see $OUT/e2e-cap.log"
  fi
  # A first GPU throughput figure: Qwen3-0.6B shape, fp32 frozen base (the NF4 one: bench/train/).
  B06="$OUT/qwen3-0.6b"
  "$ENGINE" make-model --arch qwen3 --preset 0.6b --dtype bf16 --out "$B06" >/dev/null 2>&1
  python3 -c "
import json
for i in range(64): print(json.dumps({'input': '民法の条文 ' * 60 + str(i), 'output': 'a ' * 100}, ensure_ascii=False))" >"$OUT/long.jsonl"
  if "$ENGINE" train --model-name "$B06" --train-file "$OUT/long.jsonl" --output-dir "$OUT/b06" --device cuda \
       --max-steps-override 10 --batch-size 2 --max-seq-length 1024 --target-modules all-linear --lora-r 16 \
       --lora-dropout 0 \
       --logging-steps 5 >"$OUT/bench-0.6b.log" 2>&1; then
    record INFO bench-0.6b-fp32-cuda "$(grep '^step 10/' "$OUT/bench-0.6b.log" | sed 's/  */ /g')"
  else
    record FAIL bench-0.6b-fp32-cuda "see $OUT/bench-0.6b.log"
  fi
fi
for c in bf16-compute-on-gpu gpus-2-nccl peft-parity-bf16-cuda bench-8b-nf4-10G; do
  record SKIP "$c" "not implemented yet (docs/training.md)"
done
echo
printf '| %-36s | %-6s | %s\n' check result note
for r in "${results[@]}"; do IFS='|' read -r s n note <<<"$r"; printf '| %-36s | %-6s | %s\n' "$n" "$s" "$note"; done
