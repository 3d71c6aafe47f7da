#!/usr/bin/env python3
"""Writes the HF golden file the CPU engine is checked against in CI.

    python3 tests/parity/make_golden.py --engine BUILD/engine/app/ritsu-engine \
        [--out engine/model/tests/golden/hf_logits.json]

Makes two tiny random checkpoints with `ritsu-engine make-model` (Qwen3 untied, explicit
head_dim 32; Qwen2 tied with q/k/v biases; random norm weights and biases via --test-init;
vocab 512), runs HF transformers in fp32 on the CPU (torch + transformers; no GPU needed) over a
fixed prompt, and stores every position's logits with the make-model arguments. The C++ test
(engine/model/tests/hf_golden_test.cc) rebuilds the same checkpoints from those arguments,
runs the engine's CPU backend and compares. Commit the output file.
"""
import argparse
import json
import os
import subprocess
import tempfile

import torch
import transformers
from transformers import AutoModelForCausalLM

# make-model arguments; the C++ test reads them back from the golden file.
MODELS = [
    {"name": "qwen3_untied", "arch": "qwen3", "hidden": 64, "layers": 2, "heads": 4, "kv_heads": 2, "head_dim": 32,
     "intermediate": 128, "vocab": 512, "rope_theta": 10000.0, "initializer_range": 0.2, "tie": False, "seed": 5},
    {"name": "qwen2_tied", "arch": "qwen2", "hidden": 64, "layers": 2, "heads": 4, "kv_heads": 2, "head_dim": 16,
     "intermediate": 128, "vocab": 512, "rope_theta": 10000.0, "initializer_range": 0.2, "tie": True, "seed": 6},
]
PROMPT = [17, 401, 5, 288, 93, 511, 0, 260, 77, 142, 333, 8, 450, 19]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine", required=True)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "engine", "model", "tests", "golden",
                                                  "hf_logits.json"))
    args = ap.parse_args()
    torch.manual_seed(0)
    doc = {"format": "ritsu-hf-golden", "version": 1,
           "generated_by": f"transformers {transformers.__version__}, torch {torch.__version__}, fp32 CPU",
           "prompt": PROMPT, "models": []}
    with tempfile.TemporaryDirectory() as tmp:
        for m in MODELS:
            d = os.path.join(tmp, m["name"])
            subprocess.run([args.engine, "make-model", "--arch", m["arch"], "--preset", "custom",
                            "--hidden", str(m["hidden"]), "--layers", str(m["layers"]), "--heads", str(m["heads"]),
                            "--kv-heads", str(m["kv_heads"]), "--head-dim", str(m["head_dim"]),
                            "--intermediate", str(m["intermediate"]), "--vocab", str(m["vocab"]),
                            "--rope-theta", str(m["rope_theta"]), "--initializer-range", str(m["initializer_range"]),
                            "--tie-word-embeddings", "true" if m["tie"] else "false", "--seed", str(m["seed"]),
                            "--test-init", "--no-tokenizer", "--dtype", "bf16", "--out", d], check=True)
            model = AutoModelForCausalLM.from_pretrained(d, torch_dtype=torch.float32,
                                                         attn_implementation="eager").eval()
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([PROMPT])).logits[0].double()
            doc["models"].append(dict(m, logits=[[float("%.9g" % x) for x in row] for row in logits.tolist()]))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(doc, f)
        f.write("\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
