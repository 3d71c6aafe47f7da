#!/usr/bin/env bash
# scripts/gpu/engine-checks.sh BUNDLE OUT_DIR [SAMPLES]
# On a GPU machine, from the repo root, with ritsu-engine carried in a gpu-bundle:
#   1. parity with HF transformers/peft (tests/parity/run_all.sh: logits, greedy, adapter, NF4)
#   2. a Qwen3-8B-shaped random checkpoint: generate (bf16 and NF4) tokens/s at batch 1
#   3. lawqa_jp evaluation of the 8B-shaped NF4 model, without and with RAG, timed
# Prints PASS/FAIL lines and timings; small result files go to OUT_DIR.
set -uo pipefail
bundle=$(cd "$1" && pwd); out=$2; samples=${3:-140}
mkdir -p "$out"
# shellcheck disable=SC1091
. "$bundle/env.sh"
export NCCL_NVLS_ENABLE=0
E=$bundle/bin/ritsu-engine
b=/tmp/ritsu-build; mkdir -p $b/engine/app; ln -sf "$E" $b/engine/app/ritsu-engine
t() { local s=$(date +%s%N); "$@"; local rc=$?; echo "  ($(( ($(date +%s%N) - s) / 1000000 )) ms, rc=$rc: $*)" | cut -c1-200; return $rc; }
tok=${RITSU_TOKENIZER_DIR:-.carry/data}   # tokenizer.json + tokenizer_config.json (shared/ does not travel)

# bitsandbytes from carried source (the machine has no network), for the NF4 parity check.
bnb=.carry/bitsandbytes-src
if [[ -d $bnb ]]; then
  (cd $bnb && cmake -B build -DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY=90 >/dev/null && cmake --build build -j16 >/tmp/bnb.log 2>&1) \
    && export PYTHONPATH=$PWD/$bnb${PYTHONPATH:+:$PYTHONPATH} || echo "bitsandbytes build failed"
fi
echo "== parity"
timeout 330 tests/parity/run_all.sh $b "$out/parity" > "$out/parity.log" 2>&1; echo "parity rc=$?"
grep -E "^(PASS|FAIL|SKIP)" "$out/parity/summary.txt" 2>/dev/null
rm -rf "$out/parity/checkpoints"
cp "$out/parity/hf_logits.json" "$out/" 2>/dev/null   # the CI golden (engine/model/tests/golden/)
tar -czf "$out/parity.tgz" --exclude="*adapter*" --exclude="*.safetensors" -C "$out" parity && rm -rf "$out/parity"   # at most 8 files come back

echo "== 8B-shaped checkpoint"
m=/tmp/q8b
t "$E" make-model --arch qwen3 --preset 8b --seed 1 --tokenizer-from "$tok" --out $m > "$out/make8b.log" 2>&1
echo "== generate, batch 1, 128 new tokens"
for q in "" --load-in-4bit; do
  t "$E" generate --model $m $q --device cuda --prompt "民法第百条について説明してください。" \
     --max-new-tokens 128 --ignore-eos > /tmp/gen.txt 2> /tmp/gen.err
  tail -3 /tmp/gen.err | tee -a "$out/generate.txt"
done
echo "== prefill: the 140 lawqa_jp prompts with their context (bench/engine/lawqa_prompts.py), 1 new token"
if [[ -f $tok/lawqa140.jsonl ]]; then
  for q in --load-in-4bit ""; do
    t "$E" generate --model $m $q --device cuda --prompts "$tok/lawqa140.jsonl" --max-new-tokens 1 --max-batch 140 \
       > /tmp/prefill.jsonl 2> /tmp/prefill.err
    tail -2 /tmp/prefill.err | tee -a "$out/generate.txt"
  done
fi
echo "== eval, $samples questions, NF4"
for mode in norag rag; do
  extra=(--no-rag); [[ $mode == rag ]] && extra=(--top-k 3 --corpus-data data/lawqa_jp/selection.json)
  t "$E" eval --data data/lawqa_jp/selection.json --output "$out/eval-$mode.json" --overwrite --samples "$samples" \
    --hf-model-name $m --hf-load-in-4bit --device cuda --batch-size 140 --max-new-tokens 16 "${extra[@]}" \
    > /tmp/eval-$mode.log 2>&1
  tail -4 /tmp/eval-$mode.log
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(d['summary'].get('timing'))); print('accuracy', d['summary'].get('accuracy'))" "$out/eval-$mode.json" 2>&1 | head -3
done
