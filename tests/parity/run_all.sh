#!/usr/bin/env bash
# Parity of ritsu-engine with HF transformers / peft / tokenizers, in one go, on a GPU machine:
#   tests/parity/run_all.sh BUILD_DIR OUT_DIR
# Needs python3 with torch, transformers, peft, numpy (tokenizers for the tokenizer check;
# bitsandbytes optional for the NF4 check). Creates its checkpoints itself with
# `ritsu-engine make-model` (random weights, test init: random norms and biases), so nothing
# has to be carried. Writes OUT_DIR/<name>.json per model and OUT_DIR/summary.txt; exits
# non-zero if any check failed.
set -u -o pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR OUT_DIR" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd)
OUT=$(mkdir -p "$2" && cd "$2" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ENGINE="$BUILD/engine/app/ritsu-engine"
[ -x "$ENGINE" ] || { echo "no ritsu-engine at $ENGINE (build the ritsu-engine target first)" >&2; exit 2; }
CKPT="$OUT/checkpoints"
mkdir -p "$CKPT"
status=0
summary="$OUT/summary.txt"
: >"$summary"

step() {  # step NAME COMMAND...: runs, logs to OUT/NAME.log, records PASS/FAIL
  local name=$1
  shift
  echo "== $name"
  if "$@" >"$OUT/$name.log" 2>&1; then
    echo "PASS $name" | tee -a "$summary"
  else
    echo "FAIL $name (see $OUT/$name.log)" | tee -a "$summary"
    tail -20 "$OUT/$name.log"
    status=1
  fi
}

# Qwen3-0.6B-shaped (tied embeddings, q/k norms) and Qwen2.5-1.5B-shaped (q/k/v biases).
step make-qwen3-0.6b "$ENGINE" make-model --arch qwen3 --preset 0.6b --seed 1 --test-init --no-tokenizer \
  --out "$CKPT/qwen3-0.6b"
step make-qwen2-1.5b "$ENGINE" make-model --arch qwen2 --preset 1.5b --seed 2 --test-init --no-tokenizer \
  --out "$CKPT/qwen2-1.5b"

step parity-qwen3-0.6b python3 "$HERE/model_parity.py" --engine "$ENGINE" --model "$CKPT/qwen3-0.6b" \
  --name qwen3-0.6b --out "$OUT" --peft-adapter --nf4 --cpu-check
step parity-qwen2-1.5b python3 "$HERE/model_parity.py" --engine "$ENGINE" --model "$CKPT/qwen2-1.5b" \
  --name qwen2-1.5b --out "$OUT" --peft-adapter --nf4 --cpu-check

# The HF golden file the CPU engine is checked against in CI (copy it to
# engine/model/tests/golden/hf_logits.json and commit; HfGolden.* skips until then).
step golden python3 "$HERE/make_golden.py" --engine "$ENGINE" --out "$OUT/hf_logits.json"

# Tokenizer ids vs HF tokenizers on every lawqa_jp text (engine/tokenizer's harness); the
# tokenizer and the dataset ship with the repository.
REPO_ROOT="$HERE/../.."
step tokenizer python3 "$HERE/tokenizer_parity.py" --engine "$ENGINE" \
  --model "$REPO_ROOT/models/qwen3-tokenizer" --data-dir "$REPO_ROOT/data/lawqa_jp"

rm -rf "$CKPT"
echo "== summary"
cat "$summary"
exit $status
