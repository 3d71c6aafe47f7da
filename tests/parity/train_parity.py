#!/usr/bin/env python3
"""Trainer parity: ritsu-engine train against HF transformers + peft, same checkpoint, same
LoRA init (ritsu's, written as a peft adapter and loaded by peft), same data order.

  python3 tests/parity/train_parity.py --engine BUILD/engine/app/ritsu-engine --out DIR \
      [--device cpu|cuda] [--dtype float32|bfloat16] [--ritsu-device cpu|cuda] [--steps 30] \
      [--preset tiny|0.6b] [--tokenizer DIR]

Steps: make a random Qwen3 (fp32 safetensors for --dtype float32, bf16 for bfloat16: both sides
then read the same base values; real tokenizer), write a JSONL of lawqa_jp questions -> letters,
run `ritsu-engine train --parity-dump` (on --ritsu-device: the CPU trainer computes in fp32, the
GPU trainer in bf16 unless --dtype float32), then replay the same steps in PyTorch: the same
token ids (prompt and output tokenized apart, end token appended, right truncation), the same
batches (OUTPUT/data_order.json), the same loss normalisation (sum over labelled tokens / their
count per step), torch.optim.AdamW, clip_grad_norm_, HF's linear schedule with warmup.
Checks (PASS/FAIL lines, exit 1 on a FAIL):
  - step-0 LoRA gradients (before clipping): per tensor e = ||g - g_ref|| / ||g_ref|| where
    g_ref is peft's step-0 gradient with an fp32 base. fp32: ritsu's e <= 1e-4 (summation order
    only). bf16: HF's own bf16 run has an error e_hf; ritsu passes when its worst e <= 2 x HF's
    worst e (floor 1e-2): "as close to the exact gradient as HF's bf16 is", the written tolerance.
  - per-step loss: |ritsu - peft| <= tol_loss * |peft|, peft on an fp32 base (fp32: 1e-3; bf16:
    1e-2 as the issue asks). HF's bf16 run is printed too, with its own drift from fp32.
  - trained LoRA tensors: per tensor e = ||w - w_ref|| / ||w_ref||, w_ref trained by peft on an
    fp32 base. fp32: e <= 1e-3. bf16: ritsu's worst e <= 2 x HF bf16's worst e (floor 1e-2).
  - logits of ritsu's trained adapter loaded by peft (fp32 base, --device) vs `ritsu-engine logits`
    with it (CPU, fp32): max |diff| <= 1e-3 x max |logit| (both fp32: summation order only).
Tolerances: fp32 on both sides differs only by summation order, ~1e-6 per op; over 30 Adam
steps differences grow (Adam divides by sqrt(v), amplifying tiny gradient differences of
near-zero entries), hence 1e-3. bf16 keeps 8 mantissa bits (4e-3 relative per rounding); HF
computes every activation in bf16 while ritsu keeps activations in fp32 and rounds only the
operands of the frozen products and of attention, so the two bf16 runs differ from each other
by about HF's own bf16 error.
"""
import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np
import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer, get_linear_schedule_with_warmup

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--lr", type=float, default=2e-4)  # the lab's learning rate
    ap.add_argument("--ritsu-device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--tokenizer", default="", help="tokenizer directory for make-model (default: its own)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    ckpt_dtype = "fp32" if a.dtype == "float32" else "bf16"
    model_dir = os.path.join(a.out, f"model-{a.preset}-{ckpt_dtype}")
    if not os.path.exists(os.path.join(model_dir, "config.json")):
        run([a.engine, "make-model", "--arch", "qwen3", "--preset", a.preset, "--seed", "3", "--dtype", ckpt_dtype,
             "--initializer-range", "0.1", "--out", model_dir] + (["--tokenizer-from", a.tokenizer] if a.tokenizer else []))
    sel = json.load(open(os.path.join(REPO, "data", "lawqa_jp", "selection.json"), encoding="utf-8"))["samples"]
    train_file = os.path.join(a.out, "train.jsonl")
    with open(train_file, "w", encoding="utf-8") as f:
        for s in sel[:40]:
            f.write(json.dumps({"input": s["問題文"][:24] + "\n" + s["選択肢"][:12], "output": s["output"],
                                "meta": {"mode": "direct"}}, ensure_ascii=False) + "\n")
    r, alpha, wd, warmup_ratio, max_len, bs = 8, 16, 0.01, 0.1, 64, 2
    ritsu_out = os.path.join(a.out, "ritsu")
    run([a.engine, "train", "--model-name", model_dir, "--train-file", train_file, "--output-dir", ritsu_out,
         "--max-steps-override", str(a.steps), "--batch-size", str(bs), "--learning-rate", str(a.lr),
         "--lora-r", str(r), "--lora-alpha", str(alpha), "--lora-dropout", "0", "--target-modules", "all-linear",
         "--weight-decay", str(wd), "--warmup-ratio", str(warmup_ratio), "--max-seq-length", str(max_len),
         "--loss-on-output-only", "--logging-steps", "1", "--parity-dump", "--device", a.ritsu_device,
         "--bnb-4bit-compute-dtype", a.dtype])
    ritsu_losses = [h["loss"] for h in json.load(open(os.path.join(ritsu_out, "trainer_state.json")))["log_history"]]
    order = json.load(open(os.path.join(ritsu_out, "data_order.json")))

    dtype = torch.float32 if a.dtype == "float32" else torch.bfloat16
    tok = AutoTokenizer.from_pretrained(model_dir)
    lines = [json.loads(l) for l in open(train_file, encoding="utf-8")]
    eos = tok.convert_tokens_to_ids(tok.eos_token) if tok.eos_token else tok.convert_tokens_to_ids("<|endoftext|>")

    def sample(line_no):  # 1-based file line, as ritsu reports it
        s = lines[line_no - 1]
        p = tok.encode("<USER>\n" + s["input"] + "\n<ASSISTANT>\n", add_special_tokens=False)
        ids = (p + tok.encode(s["output"], add_special_tokens=False) + [eos])[:max_len]
        labels = [ids[t + 1] if t + 1 >= len(p) and t + 1 < len(ids) else -100 for t in range(len(ids))]
        return ids, labels

    def peft_model(base_dtype, adapter, trainable):
        base = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=base_dtype).to(a.device)
        m = PeftModel.from_pretrained(base, adapter, is_trainable=trainable)
        for n, p in m.named_parameters():  # fp32 LoRA masters, as ritsu keeps them
            if p.requires_grad:
                p.data = p.data.float()
        return m

    def step_grads(m, step):  # summed gradients of one optimizer step, keyed as in the adapter file
        micro = [[sample(l) for l in mb] for mb in step]
        n_labels = sum(sum(1 for x in lab if x >= 0) for mb in micro for _, lab in mb)
        for mb in micro:
            for ids, lab in mb:
                logits = m(input_ids=torch.tensor([ids], device=a.device)).logits[0].float()
                loss = torch.nn.functional.cross_entropy(logits, torch.tensor(lab, device=a.device),
                                                         ignore_index=-100, reduction="sum")
                (loss / n_labels).backward()
        return {n.replace(".default", ""): p.grad.detach().float().cpu().clone()
                for n, p in m.named_parameters() if p.requires_grad}

    def rel(x, ref):
        return ((x.float() - ref).norm() / max(ref.norm().item(), 1e-30)).item()

    fails = 0
    init_dir = os.path.join(ritsu_out, "initial_adapter")
    ref_model = peft_model(torch.float32, init_dir, True)
    g_ref = step_grads(ref_model, order[0])
    del ref_model
    g_ritsu = load_file(os.path.join(ritsu_out, "step0_grads", "adapter_model.safetensors"))
    e_ritsu = {k: rel(g_ritsu[k], g_ref[k]) for k in g_ref}
    worst_k = max(e_ritsu, key=e_ritsu.get)
    if a.dtype == "float32":
        tol_g = 1e-4
        print(f"INFO step-0 gradients: ritsu vs peft fp32, worst per-tensor relative error {e_ritsu[worst_k]:.2e} ({worst_k})")
    else:
        hf_model = peft_model(dtype, init_dir, True)
        g_hf = step_grads(hf_model, order[0])
        del hf_model
        e_hf = {k: rel(g_hf[k], g_ref[k]) for k in g_ref}
        tol_g = max(2 * max(e_hf.values()), 1e-2)
        med = lambda d: sorted(d.values())[len(d) // 2]
        print(f"INFO step-0 gradients vs peft with an fp32 base: ritsu bf16 worst {e_ritsu[worst_k]:.2e} "
              f"({worst_k}) median {med(e_ritsu):.2e}; HF bf16 worst {max(e_hf.values()):.2e} median {med(e_hf):.2e}")
    ok = len(g_ritsu) == len(g_ref) and e_ritsu[worst_k] <= tol_g
    fails += not ok
    print(f"{'PASS' if ok else 'FAIL'} step0-lora-gradients: {len(g_ref)} tensors, worst {e_ritsu[worst_k]:.2e} (tol {tol_g:.2e})")

    def train_peft(base_dtype):  # the same 30 steps in PyTorch: per-step losses, trained LoRA
        model = peft_model(base_dtype, init_dir, True)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
        sched = get_linear_schedule_with_warmup(opt, math.ceil(warmup_ratio * a.steps), a.steps)
        model.train()
        losses = []
        for step in order:
            opt.zero_grad()
            micro = [[sample(l) for l in mb] for mb in step]
            n_labels = sum(sum(1 for x in lab if x >= 0) for mb in micro for _, lab in mb)
            total = 0.0
            for mb in micro:
                for ids, lab in mb:  # one sequence at a time: no padding questions
                    logits = model(input_ids=torch.tensor([ids], device=a.device)).logits[0].float()
                    lab_t = torch.tensor(lab, device=a.device)
                    loss = torch.nn.functional.cross_entropy(logits, lab_t, ignore_index=-100, reduction="sum")
                    (loss / n_labels).backward()
                    total += loss.item()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            losses.append(total / n_labels)
        weights = {n.replace(".default", ""): p.detach().float().cpu()
                   for n, p in model.named_parameters() if p.requires_grad}
        del model
        return losses, weights

    # Per-step loss within 1 % (the tolerance) of peft's training with an fp32 base, the
    # exact reference. For a bf16 run, HF's own bf16 training is printed beside it: it drifts
    # from its fp32 run by much more than 1 % (measured 18 % by step 30 on the 0.6B shape: every
    # activation rounded to bf16), so agreement with it would measure HF's rounding, not ritsu.
    peft_losses, peft_w = train_peft(dtype)
    ref_losses, ref_w = (peft_losses, peft_w) if a.dtype == "float32" else train_peft(torch.float32)
    tol_loss = 1e-3 if a.dtype == "float32" else 1e-2
    dev = lambda xs: max(abs(x - z) / abs(z) for x, z in zip(xs, ref_losses))
    worst = dev(ritsu_losses)
    ok = len(ritsu_losses) == len(ref_losses) and worst <= tol_loss
    fails += not ok
    print(f"{'PASS' if ok else 'FAIL'} loss-per-step: {len(ref_losses)} steps against peft with an fp32 base, "
          f"worst relative diff {worst:.2e} (tol {tol_loss})")
    for i, (x, y, z) in enumerate(zip(ritsu_losses, peft_losses, ref_losses)):
        print(f"  step {i + 1:3d}  ritsu {x:.6f}  peft {y:.6f}  peft-fp32 {z:.6f}")
    if a.dtype != "float32":
        direct = max(abs(x - y) / abs(y) for x, y in zip(ritsu_losses, peft_losses))
        first20 = max(abs(x - y) / abs(y) for x, y in list(zip(ritsu_losses, peft_losses))[:20])
        print(f"INFO losses: HF bf16 against peft with an fp32 base worst {dev(peft_losses):.2e}; ritsu against HF "
              f"bf16 worst {direct:.2e} (steps 1-20: {first20:.2e})")

    # Trained LoRA: fp32, ritsu vs peft directly. bf16: as close to the fp32-base training as
    # HF's own bf16 training is (2x its worst per-tensor deviation, floor 1e-2).
    ritsu_w = load_file(os.path.join(ritsu_out, "adapter_model.safetensors"))
    e_w = {k: rel(v, ref_w[k]) for k, v in ritsu_w.items()}
    worst_name = max(e_w, key=e_w.get)
    if a.dtype == "float32":
        tol_w = 1e-3
    else:
        e_hf_w = {k: rel(peft_w[k], ref_w[k]) for k in ref_w}
        tol_w = max(2 * max(e_hf_w.values()), 1e-2)
        print(f"INFO trained LoRA vs peft with an fp32 base: ritsu worst {e_w[worst_name]:.2e}, "
              f"HF bf16 worst {max(e_hf_w.values()):.2e}; ritsu vs HF bf16 worst "
              f"{max(rel(v, peft_w[k]) for k, v in ritsu_w.items()):.2e}")
    ok = e_w[worst_name] <= tol_w and len(ritsu_w) == len(ref_w)
    fails += not ok
    print(f"{'PASS' if ok else 'FAIL'} trained-lora-tensors: {len(ritsu_w)} tensors, worst {e_w[worst_name]:.2e} "
          f"({worst_name}) (tol {tol_w:.2e})")

    prompts = os.path.join(a.out, "prompts.jsonl")
    with open(prompts, "w", encoding="utf-8") as f:
        for l in lines[:8]:
            f.write(json.dumps("<USER>\n" + l["input"] + "\n<ASSISTANT>\n", ensure_ascii=False) + "\n")
    npy = os.path.join(a.out, "ritsu_logits.npy")
    run([a.engine, "logits", "--model", model_dir, "--lora", ritsu_out, "--prompts", prompts, "--out", npy])
    mine = np.load(npy)
    peft2 = peft_model(torch.float32, ritsu_out, False).eval()
    worst_l, scale_l = 0.0, 0.0
    with torch.no_grad():
        for i, l in enumerate(lines[:8]):
            ids = tok.encode("<USER>\n" + l["input"] + "\n<ASSISTANT>\n", add_special_tokens=False)
            lg = peft2(input_ids=torch.tensor([ids], device=a.device)).logits[0, -1].float().cpu().numpy()
            worst_l = max(worst_l, float(np.abs(lg - mine[i][: lg.shape[0]]).max()))
            scale_l = max(scale_l, float(np.abs(lg).max()))
    ok = worst_l <= 1e-3 * scale_l
    fails += not ok
    print(f"{'PASS' if ok else 'FAIL'} adapter-logits-peft-vs-ritsu (fp32 both): worst abs diff {worst_l:.2e} "
          f"(tol 1e-3 x max |logit| = {1e-3 * scale_l:.2e})")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
