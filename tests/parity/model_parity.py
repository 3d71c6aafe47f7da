#!/usr/bin/env python3
"""Model parity of ritsu-engine with HF transformers (and peft, bitsandbytes) on one checkpoint.

Test-only tooling for the GPU machine (torch, transformers, peft installed; bitsandbytes
optional). run_all.sh drives it; by hand:

    python3 tests/parity/model_parity.py --engine BUILD/engine/app/ritsu-engine \
        --model DIR --name qwen3-0.6b --out OUT [--peft-adapter] [--nf4] [--cpu-check]

Checks, each against a reference computed here (numbers in OUT/NAME.json):
  logits   engine --device cuda (bf16) vs HF fp32, all positions of 3 random-id prompts
           (lengths 5, 37, 130). Metric: relative Frobenius error ||e - r|| / ||r|| per prompt.
           Tolerance: 2 x (HF bf16 vs HF fp32 error on the same prompt) + 1e-3. The HF bf16
           run measures what bf16 arithmetic alone costs on this checkpoint; an engine that
           rounds at different points may differ by about as much again, a bug by far more.
  cpu      (--cpu-check) engine --device cpu (fp32) vs HF fp32 on the shortest prompt:
           relative error <= 1e-4 (fp32 both sides, different summation order; TF32 is off).
  greedy   32 greedy tokens (EOS ignored) of engine cuda vs HF bf16, token for token until the
           first difference; there the two candidates must be a near-tie under HF fp32: their
           logit gap <= 2 x the largest |HF bf16 - HF fp32| logit difference seen on that
           prompt (the noise bf16 adds). A difference that is not a near-tie fails.
  lora     (--peft-adapter) peft writes a random LoRA adapter (r=8, alpha=16, all 7 linears,
           init_lora_weights=False so B != 0); engine --lora vs HF+peft fp32, same tolerance
           as logits (and the cpu check with it when --cpu-check).
  nf4      (--nf4, needs bitsandbytes) engine --load-in-4bit vs HF load_in_4bit (nf4, double
           quant, bf16 compute): both quantize the same bf16 weights the same way, so the gap
           is bf16 arithmetic: tolerance 3 x HF bf16 error + 1e-3, relative to HF nf4.
Exits 0 only if every check passes.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from transformers import AutoModelForCausalLM

PROMPT_LENGTHS = (5, 37, 130)
HF_DEVICE = "cuda"  # --hf-device
GREEDY_TOKENS = 32


def rel_err(a, ref):
    return float(np.linalg.norm(a.astype(np.float64) - ref) / np.linalg.norm(ref.astype(np.float64)))


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    sys.stderr.write(p.stderr[-4000:])
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} {cmd[1]} exited {p.returncode}")
    return p.stdout


def engine_logits(engine, model, prompts_file, device, tmp, extra=()):
    out = os.path.join(tmp, "engine_logits.npy")
    run([engine, "logits", "--model", model, "--prompts", prompts_file, "--all-positions", "--device", device,
         "--out", out, *extra])
    return np.load(out)


def engine_greedy(engine, model, prompts_file, device, extra=()):
    out = run([engine, "generate", "--model", model, "--prompts", prompts_file, "--device", device,
               "--max-new-tokens", str(GREEDY_TOKENS), "--ignore-eos", "--max-batch", "8", *extra])
    return [json.loads(line)["token_ids"] for line in out.splitlines() if line.strip()]


def load_hf(model_dir, dtype, adapter=None, nf4=False):
    kwargs = {"torch_dtype": dtype, "attn_implementation": "eager"}
    if nf4:
        from transformers import BitsAndBytesConfig
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16)
        kwargs["device_map"] = {"": 0}
    m = AutoModelForCausalLM.from_pretrained(model_dir, **kwargs)
    if not nf4:
        m = m.to(HF_DEVICE)
    if adapter:
        from peft import PeftModel
        m = PeftModel.from_pretrained(m, adapter)
    return m.eval()


@torch.no_grad()
def hf_logits(m, prompts):
    return [m(input_ids=torch.tensor([p], device=HF_DEVICE)).logits[0].float().cpu().numpy() for p in prompts]


@torch.no_grad()
def hf_greedy(m, prompt, n):
    ids = torch.tensor([prompt], device=HF_DEVICE)
    out = m(input_ids=ids, use_cache=True)
    toks = []
    for _ in range(n):
        t = int(out.logits[0, -1].float().argmax())
        toks.append(t)
        out = m(input_ids=torch.tensor([[t]], device=HF_DEVICE), past_key_values=out.past_key_values, use_cache=True)
    return toks


def split_rows(flat, prompts):
    rows, i = [], 0
    for p in prompts:
        rows.append(flat[i:i + len(p)])
        i += len(p)
    return rows


def compare_logits(name, engine_rows, ref_rows, noise_errs, factor, report):
    """engine vs ref per prompt; tolerance factor x noise_errs[k] (the HF bf16 vs fp32 error) + 1e-3."""
    ok = True
    for k, (e, r, noise) in enumerate(zip(engine_rows, ref_rows, noise_errs)):
        err = rel_err(e, r)
        tol = factor * noise + 1e-3
        top1 = float(np.mean(e.argmax(-1) == r.argmax(-1)))
        passed = err <= tol
        ok &= passed
        report.append({"check": name, "prompt": k, "len": len(r), "rel_err": err, "hf_bf16_rel_err": noise,
                       "tolerance": tol, "top1_agreement": top1, "pass": passed})
        print(f"{name} prompt {k} (len {len(r)}): rel err {err:.3e} (HF bf16 {noise:.3e}, tol {tol:.3e}) "
              f"top-1 agree {top1:.3f} {'PASS' if passed else 'FAIL'}", flush=True)
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda", help="engine device for the bf16 checks")
    ap.add_argument("--peft-adapter", action="store_true")
    ap.add_argument("--nf4", action="store_true")
    ap.add_argument("--cpu-check", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hf-device", default="cuda", help="where HF runs (cpu works, slowly; --nf4 needs cuda)")
    args = ap.parse_args()
    global HF_DEVICE
    HF_DEVICE = args.hf_device
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    os.makedirs(args.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="ritsu_parity_")
    rng = np.random.default_rng(args.seed)
    # Ids below the special tokens (151643...): ordinary vocabulary.
    prompts = [rng.integers(0, 151000, size=n).tolist() for n in PROMPT_LENGTHS]
    prompts_file = os.path.join(tmp, "prompts.jsonl")
    with open(prompts_file, "w") as f:
        for p in prompts:
            f.write(json.dumps(p) + "\n")
    report, ok = [], True

    hf32 = load_hf(args.model, torch.float32)
    ref = hf_logits(hf32, prompts)
    hf16 = load_hf(args.model, torch.bfloat16)
    bf16 = hf_logits(hf16, prompts)
    eng = split_rows(engine_logits(args.engine, args.model, prompts_file, args.device, tmp), prompts)
    noise = [rel_err(b, r) for b, r in zip(bf16, ref)]
    ok &= compare_logits("logits", eng, ref, noise, 2.0, report)

    if args.cpu_check:
        short = os.path.join(tmp, "short.jsonl")
        with open(short, "w") as f:
            f.write(json.dumps(prompts[0]) + "\n")
        cpu = engine_logits(args.engine, args.model, short, "cpu", tmp)
        err = rel_err(cpu, ref[0])
        passed = err <= 1e-4
        ok &= passed
        report.append({"check": "cpu", "rel_err": err, "tolerance": 1e-4, "pass": passed})
        print(f"cpu fp32 vs HF fp32: rel err {err:.3e} (tol 1e-4) {'PASS' if passed else 'FAIL'}", flush=True)

    # Greedy continuations.
    eng_gen = engine_greedy(args.engine, args.model, prompts_file, args.device)
    for k, p in enumerate(prompts):
        hf_gen = hf_greedy(hf16, p, GREEDY_TOKENS)
        logit_noise = float(np.max(np.abs(bf16[k].astype(np.float64) - ref[k])))
        d = next((i for i, (a, b) in enumerate(zip(eng_gen[k], hf_gen)) if a != b), None)
        entry = {"check": "greedy", "prompt": k, "engine": eng_gen[k], "hf_bf16": hf_gen, "first_difference": d}
        passed = len(eng_gen[k]) == GREEDY_TOKENS
        if d is not None:
            with torch.no_grad():
                ctx = torch.tensor([p + eng_gen[k][:d]], device=HF_DEVICE)
                l32 = hf32(input_ids=ctx).logits[0, -1].float().cpu().numpy()
            gap = abs(float(l32[hf_gen[d]]) - float(l32[eng_gen[k][d]]))
            entry.update({"fp32_gap": gap, "near_tie_tolerance": 2 * logit_noise})
            passed &= gap <= 2 * logit_noise
        entry["pass"] = passed
        ok &= passed
        report.append(entry)
        what = "identical" if d is None else \
            "first difference at %d, fp32 gap %.3e (near-tie tol %.3e)" % (d, entry["fp32_gap"], 2 * logit_noise)
        print(f"greedy prompt {k}: {what} {'PASS' if passed else 'FAIL'}", flush=True)
    del hf16

    if args.peft_adapter:
        from peft import LoraConfig, get_peft_model
        adapter = os.path.join(args.out, args.name + "-peft-adapter")
        torch.manual_seed(args.seed)
        base = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.float32)
        cfg = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, init_lora_weights=False, task_type="CAUSAL_LM",
                         target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
        get_peft_model(base, cfg).save_pretrained(adapter)
        del base
        ref_l = hf_logits(load_hf(args.model, torch.float32, adapter=adapter), prompts)
        bf16_l = hf_logits(load_hf(args.model, torch.bfloat16, adapter=adapter), prompts)
        eng_l = split_rows(engine_logits(args.engine, args.model, prompts_file, args.device, tmp,
                                         ("--lora", adapter)), prompts)
        ok &= compare_logits("lora", eng_l, ref_l, [rel_err(b, r) for b, r in zip(bf16_l, ref_l)], 2.0, report)
        if args.cpu_check:
            cpu = engine_logits(args.engine, args.model, os.path.join(tmp, "short.jsonl"), "cpu", tmp,
                                ("--lora", adapter))
            err = rel_err(cpu, ref_l[0])
            passed = err <= 1e-4
            ok &= passed
            report.append({"check": "lora_cpu", "rel_err": err, "tolerance": 1e-4, "pass": passed})
            print(f"lora cpu fp32 vs HF+peft fp32: rel err {err:.3e} (tol 1e-4) {'PASS' if passed else 'FAIL'}")

    if args.nf4:
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            print("nf4: bitsandbytes not installed, check skipped")
            report.append({"check": "nf4", "skipped": "bitsandbytes not installed"})
        else:
            nf4_ref = hf_logits(load_hf(args.model, torch.bfloat16, nf4=True), prompts)
            eng_q = split_rows(engine_logits(args.engine, args.model, prompts_file, args.device, tmp,
                                             ("--load-in-4bit",)), prompts)
            ok &= compare_logits("nf4", eng_q, nf4_ref, noise, 3.0, report)

    with open(os.path.join(args.out, args.name + ".json"), "w") as f:
        json.dump({"model": args.model, "pass": bool(ok), "checks": report}, f, indent=1)
    print(f"{args.name}: {'PASS' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
