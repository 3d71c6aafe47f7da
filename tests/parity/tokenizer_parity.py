#!/usr/bin/env python3
"""Token-id parity of `ritsu-engine tokenize` with HF tokenizers on every lawqa_jp text.

Test-only tooling, run by hand or on the GPU/parity machines (needs `pip install tokenizers`):

    python3 tests/parity/tokenizer_parity.py --engine build/engine/app/ritsu-engine \
        [--model models/qwen3-tokenizer] [--data-dir data/lawqa_jp]

Every string value (recursively: contexts, questions, instructions, choices, answers,
references, file names) of selection.json, selection_randomized.json,
selection_with_reference_randomized.json and law_list.json is encoded by both; the edge cases
and 5,000 random mixtures (tokenizer_goldens.py's pool) are added. It also checks that `ritsu-engine detokenize` returns HF's
decode of HF's ids. Exits 0 only if every text matches; prints the first differences.
"""
import argparse
import json
import os
import subprocess
import sys
import time

from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from tokenizer_goldens import EDGE_CASES, collect_strings, fuzz_cases  # noqa: E402

LAWQA_FILES = ["selection.json", "selection_randomized.json", "selection_with_reference_randomized.json",
               "law_list.json"]


def run_engine(engine, subcommand, model, lines, extra=()):
    """Feeds one JSON value per line to `ritsu-engine <subcommand>`; returns parsed lines."""
    payload = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines)
    t0 = time.monotonic()
    proc = subprocess.run([engine, subcommand, "--model", model, *extra], input=payload.encode("utf-8"),
                          capture_output=True, timeout=600)
    elapsed = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit(f"{engine} {subcommand} exited {proc.returncode}:\n{proc.stderr.decode('utf-8', 'replace')}")
    # split("\n"), not splitlines(): a JSON string may hold U+2028 or U+0085 unescaped.
    out = proc.stdout.decode("utf-8").split("\n")
    if out and out[-1] == "":
        out.pop()
    if len(out) != len(lines):
        sys.exit(f"{engine} {subcommand}: {len(lines)} lines in, {len(out)} lines out")
    return [json.loads(x) for x in out], elapsed


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", default=os.path.join(REPO, "build", "engine", "app", "ritsu-engine"))
    ap.add_argument("--model", default=os.path.join(REPO, "models", "qwen3-tokenizer"))
    ap.add_argument("--data-dir", default=os.path.join(REPO, "data", "lawqa_jp"))
    ap.add_argument("--show", type=int, default=5, help="how many mismatches to print")
    args = ap.parse_args()

    cases = list(EDGE_CASES) + fuzz_cases(count=5000, seed=7)
    for fname in LAWQA_FILES:
        path = os.path.join(args.data_dir, fname)
        if not os.path.exists(path):
            sys.exit(f"missing {path}")
        with open(path, encoding="utf-8") as f:
            texts = []
            collect_strings(json.load(f), texts)
        cases += [(f"{fname}#{i}", t) for i, t in enumerate(texts)]
    names = [n for n, _ in cases]
    texts = [t for _, t in cases]

    hf = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    t0 = time.monotonic()
    want = [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]
    hf_s = time.monotonic() - t0
    got, engine_s = run_engine(args.engine, "tokenize", args.model, texts)

    bad = [i for i in range(len(texts)) if got[i] != want[i]]
    for i in bad[: args.show]:
        k = first_difference(got[i], want[i])
        print(f"MISMATCH {names[i]} at token {k}: ritsu {got[i][max(0, k - 3):k + 5]} HF {want[i][max(0, k - 3):k + 5]}")
        print(f"  text: {texts[i][:200]!r}")
    n_tokens = sum(len(w) for w in want)
    print(f"tokenize: {len(texts) - len(bad)}/{len(texts)} texts identical ({n_tokens} HF tokens); "
          f"ritsu-engine process {engine_s:.2f} s incl. loading, HF encode_batch {hf_s:.2f} s")

    decoded, _ = run_engine(args.engine, "detokenize", args.model, want)
    bad_dec = [i for i in range(len(texts)) if decoded[i] != hf.decode(want[i], skip_special_tokens=False)]
    for i in bad_dec[: args.show]:
        print(f"DECODE MISMATCH {names[i]}: ritsu {decoded[i][:80]!r} HF {hf.decode(want[i])[:80]!r}")
    print(f"detokenize: {len(texts) - len(bad_dec)}/{len(texts)} texts identical")
    return 1 if bad or bad_dec else 0


if __name__ == "__main__":
    sys.exit(main())
