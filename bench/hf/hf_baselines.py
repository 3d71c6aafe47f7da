#!/usr/bin/env python3
"""The competitor's figures, measured on the GPU machine: HF transformers (+ bitsandbytes NF4,
+ peft QLoRA) on a random-weight Qwen3-8B-shaped model. Each section is independent; results go
to OUT/hf_baselines.json and a table is printed last. Run by bench/hf/run.sh on the GPU machine.

Sections: device ceilings (copy bandwidth, bf16 matmul rate), bf16 and NF4 decode at batch 1,
prefill of the 140 lawqa_jp prompts with context (batched by 8), QLoRA training throughput and
peak memory in the configuration of issue 4 (r=16 all-linear, seq 1024, batch 2, grad ckpt).
"""
import json, os, sys, time, traceback

import torch

OUT = os.environ.get("OUT", "/tmp/out")
DATA = os.environ.get("RITSU_CARRY_DATA", ".carry/data")
os.makedirs(OUT, exist_ok=True)
results = {"sections": {}}


# HF_SECTIONS=make_model,load_nf4,qlora_train_8b runs only the named sections (default: all).
ONLY = [x for x in os.environ.get("HF_SECTIONS", "").split(",") if x]


def record(name, fn):
    if ONLY and name not in ONLY:
        return
    t0 = time.time()
    try:
        results["sections"][name] = fn()
    except Exception as e:  # one failed section must not hide the others
        results["sections"][name] = {"error": repr(e), "trace": traceback.format_exc()[-2000:]}
    results["sections"][name]["section_wall_s"] = round(time.time() - t0, 2)
    print(name, json.dumps(results["sections"][name])[:600], flush=True)
    json.dump(results, open(os.path.join(OUT, "hf_baselines.json"), "w"), indent=1, ensure_ascii=False)


def sync():
    torch.cuda.synchronize()


def env():
    import transformers
    info = {"torch": torch.__version__, "transformers": transformers.__version__,
            "gpu": torch.cuda.get_device_name(0),
            "gpu_mem_gib": torch.cuda.get_device_properties(0).total_memory / 2**30}
    try:
        import peft
        info["peft"] = peft.__version__
    except Exception as e:
        info["peft"] = repr(e)
    try:
        import bitsandbytes as bnb
        info["bitsandbytes"] = bnb.__version__
    except Exception as e:
        info["bitsandbytes"] = repr(e)
    return info


def ceilings():
    n = 1 << 30
    a = torch.empty(n, dtype=torch.uint8, device="cuda").random_(0, 255)
    b = torch.empty_like(a)
    for _ in range(3):
        b.copy_(a)
    sync()
    ev0, ev1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(20):
        ev0.record(); b.copy_(a); ev1.record(); sync()
        times.append(ev0.elapsed_time(ev1) / 1e3)
    times.sort()
    bw = 2 * n / times[len(times) // 2]
    del a, b
    m = 8192
    x = torch.randn(m, m, dtype=torch.bfloat16, device="cuda")
    y = torch.randn(m, m, dtype=torch.bfloat16, device="cuda")
    for _ in range(3):
        x @ y
    sync()
    times = []
    for _ in range(20):
        ev0.record(); x @ y; ev1.record(); sync()
        times.append(ev0.elapsed_time(ev1) / 1e3)
    times.sort()
    tflops = 2 * m**3 / times[len(times) // 2] / 1e12
    return {"copy_bandwidth_GBps": bw / 1e9, "bf16_matmul_TFLOPs": tflops}


def qwen3_8b_config():
    from transformers import Qwen3Config
    return Qwen3Config(vocab_size=151936, hidden_size=4096, intermediate_size=12288,
                       num_hidden_layers=36, num_attention_heads=32, num_key_value_heads=8,
                       head_dim=128, max_position_embeddings=40960, rope_theta=1000000.0,
                       rms_norm_eps=1e-6, tie_word_embeddings=False, attention_bias=False,
                       bos_token_id=151643, eos_token_id=151645)


state = {}


def make_model():
    from transformers import AutoModelForCausalLM
    torch.manual_seed(0)
    cfg = qwen3_8b_config()
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    model.eval()
    state["bf16"] = model
    t0 = time.time()
    model.save_pretrained("/tmp/qwen3-8b-random", safe_serialization=True)
    cfg.save_pretrained("/tmp/qwen3-8b-random")
    return {"params_B": sum(p.numel() for p in model.parameters()) / 1e9, "save_s": time.time() - t0}


def decode(model, new_tokens=128, prompt_len=128):
    ids = torch.randint(0, 150000, (1, prompt_len), device="cuda")
    model.generate(ids, max_new_tokens=8, min_new_tokens=8, do_sample=False)  # warm-up
    sync()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.time()
    out = model.generate(ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
    sync()
    dt = time.time() - t0
    n = out.shape[1] - prompt_len
    return {"new_tokens": int(n), "seconds": dt, "tokens_per_s": n / dt,
            "peak_alloc_GiB": torch.cuda.max_memory_allocated() / 2**30}


def decode_bf16():
    return decode(state["bf16"])


def lawqa_prompts():
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(DATA, "tokenizer.json"))
    samples = json.load(open(os.path.join(DATA, "selection.json")))["samples"]
    prompts = []
    for s in samples:
        text = (f"{s['指示'].replace('<following_context>', '')}\n\n### 参考条文\n{s['コンテキスト']}\n\n"
                f"### 問題\n{s['問題文']}\n\n### 選択肢\n{s['選択肢']}\n\n回答：")
        prompts.append(tok.encode(text).ids)
    return prompts


def prefill_bf16():
    model = state["bf16"]
    prompts = lawqa_prompts()
    total = sum(len(p) for p in prompts)
    pad = 151643

    def run():
        for i in range(0, len(prompts), 8):
            chunk = prompts[i:i + 8]
            L = max(len(p) for p in chunk)
            ids = torch.full((len(chunk), L), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), L), dtype=torch.long)
            for j, p in enumerate(chunk):  # left padding, as generation does
                ids[j, L - len(p):] = torch.tensor(p)
                mask[j, L - len(p):] = 1
            with torch.no_grad():
                model(input_ids=ids.cuda(), attention_mask=mask.cuda(), logits_to_keep=1)
    run()  # warm-up
    sync()
    t0 = time.time()
    run()
    sync()
    dt = time.time() - t0
    return {"prompts": len(prompts), "total_tokens": total, "seconds": dt, "tokens_per_s": total / dt}


def load_nf4():
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig
    del state["bf16"]
    torch.cuda.empty_cache()
    q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                           bnb_4bit_compute_dtype=torch.bfloat16)
    t0 = time.time()
    model = AutoModelForCausalLM.from_pretrained("/tmp/qwen3-8b-random", quantization_config=q,
                                                 dtype=torch.bfloat16, device_map={"": 0})
    state["nf4"] = model
    return {"load_s": time.time() - t0, "mem_GiB": torch.cuda.memory_allocated() / 2**30}


def decode_nf4():
    return decode(state["nf4"])


def qlora_train(steps=10, seq=1024, batch=2):
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    model = state.pop("nf4")
    torch.cuda.empty_cache()
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    cfg = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")
    model = get_peft_model(model, cfg)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
    torch.cuda.reset_peak_memory_stats()

    def step():
        ids = torch.randint(0, 150000, (batch, seq), device="cuda")
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        opt.step(); opt.zero_grad(set_to_none=True)
        return out.loss.item()
    for _ in range(2):
        step()
    sync()
    t0 = time.time()
    losses = [step() for _ in range(steps)]
    sync()
    dt = time.time() - t0
    return {"steps": steps, "seq": seq, "batch": batch, "tokens_per_s": steps * seq * batch / dt,
            "peak_alloc_GiB": torch.cuda.max_memory_allocated() / 2**30,
            "peak_reserved_GiB": torch.cuda.max_memory_reserved() / 2**30, "last_loss": losses[-1]}


record("env", env)
record("ceilings", ceilings)
record("make_model", make_model)
record("decode_bf16_b1", decode_bf16)
record("prefill_bf16_lawqa140_b8", prefill_bf16)
record("load_nf4", load_nf4)
record("decode_nf4_b1", decode_nf4)
record("qlora_train_8b", qlora_train)
print("\n== summary ==")
for k, v in results["sections"].items():
    print(f"{k:28s} {json.dumps({a: (round(b, 3) if isinstance(b, float) else b) for a, b in v.items() if a != 'trace'}, ensure_ascii=False)[:300]}")
