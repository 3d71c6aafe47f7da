#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target under fuzz/corpus/<target>/ (small valid and edge
inputs; the fuzzer mutates from them). Run from anywhere: python3 fuzz/make_corpus.py.
Hand-encoded (msgpack, safetensors, GGUF) so that it needs nothing beyond python3.
Inputs that once crashed a target are kept in the same folders as crash-<what> files; this
script leaves them alone."""
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- msgpack (the subset the seeds need) ----
def mp(v):
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if 0 <= v < 2**16:
            return b"\xcd" + struct.pack(">H", v)
        if 0 <= v < 2**32:
            return b"\xce" + struct.pack(">I", v)
        if v >= 0:
            return b"\xcf" + struct.pack(">Q", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, str):
        b = v.encode()
        return (bytes([0xA0 | len(b)]) if len(b) < 32 else b"\xd9" + bytes([len(b)])) + b
    if isinstance(v, list):
        return bytes([0x90 | len(v)]) + b"".join(mp(x) for x in v)
    if isinstance(v, dict):
        return bytes([0x80 | len(v)]) + b"".join(mp(k) + mp(x) for k, x in v.items())
    raise TypeError(v)


def frame(msg_type, request_id, body, version=1):
    return mp([version, msg_type, request_id, body])


def protocol():
    put("protocol", "ack", frame(1, 3, {}))
    put("protocol", "heartbeat", frame(12, 7, {"name": "w1", "running": []}))
    put("protocol", "heartbeat_running", frame(12, 8, {"name": "w1", "running": [{"task_id": 5, "attempt": 1}]}))
    put("protocol", "status", frame(46, 2, {"states": [], "sweep_id": 0, "summary_only": False, "limit": 10}))
    put("protocol", "logs", frame(50, 9, {"task_id": 4, "offset": 0, "follow": True}))
    put("protocol", "error", frame(0, 1, {"code": 2, "message": "no such task"}))
    put("protocol", "wrong_version", frame(46, 2, {}, version=2))
    put("protocol", "unknown_type", frame(999, 2, {}))
    put("protocol", "deep_nesting", mp([1, 12, 7, {"name": [[[[[["x"]]]]]]}]))
    put("protocol", "trailing_bytes", frame(1, 3, {}) + b"\x00")


# ---- safetensors ----
def safetensors(tensors, metadata=None, header_override=None):
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = header_override if header_override is not None else json.dumps(header)
    h = h.encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def safetensors_seeds():
    f32 = struct.pack("<6f", 1, -2, 3.5, 0, 1e-3, 7)
    put("safetensors", "three_dtypes", safetensors(
        [("a", "F32", [2, 3], f32), ("b", "BF16", [4], b"\x80\x3f" * 4), ("c.weight", "F16", [2, 2], b"\x00\x3c" * 4)],
        {"format": "pt"}))
    put("safetensors", "scalar_and_empty", safetensors([("s", "F32", [], struct.pack("<f", 2)), ("e", "F32", [0, 5], b"")]))
    put("safetensors", "int_dtypes", safetensors([("i", "I64", [2], struct.pack("<2q", 1, -1)), ("u", "U8", [3], b"abc")]))
    put("safetensors", "overflow_2pow63", safetensors([], header_override=json.dumps(
        {"w": {"dtype": "F32", "shape": [2**63], "data_offsets": [0, 0]}})))
    put("safetensors", "overflow_product", safetensors([], header_override=json.dumps(
        {"w": {"dtype": "BF16", "shape": [2**32, 2**32], "data_offsets": [0, 0]}})))
    put("safetensors", "truncated", safetensors([("a", "F32", [2, 3], f32)])[:-5])
    put("safetensors", "header_too_long", struct.pack("<Q", 2**40) + b"{}")


# ---- GGUF ----
def gguf_str(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf(kv, tensors, version=3, alignment=32):
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kv))
    for key, vtype, payload in kv:
        out += gguf_str(key) + struct.pack("<I", vtype) + payload
    offsets, data = [], b""
    for name, ne, gtype, raw in tensors:
        data += b"\x00" * (-len(data) % alignment)
        offsets.append(len(data))
        data += raw
    for (name, ne, gtype, raw), off in zip(tensors, offsets):
        out += gguf_str(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
        out += struct.pack("<IQ", gtype, off)
    out += b"\x00" * (-len(out) % alignment)
    return out + data


U32, I32, F32, BOOL, STR, ARR = 4, 5, 6, 7, 8, 9


def gguf_seeds():
    kv = [("general.architecture", STR, gguf_str("qwen3")),
          ("qwen3.block_count", U32, struct.pack("<I", 2)),
          ("test.f32", F32, struct.pack("<f", 0.25)),
          ("test.bool", BOOL, b"\x01"),
          ("tokenizer.ggml.tokens", ARR, struct.pack("<IQ", STR, 3) + gguf_str("a") + gguf_str("") + gguf_str("\u3042")),
          ("test.ints", ARR, struct.pack("<IQ", I32, 2) + struct.pack("<2i", 1, -2))]
    q8_block = struct.pack("<e", 1.0) + bytes(range(32))  # GGML_TYPE_Q8_0 = 8: f16 scale + 32 x i8
    tensors = [("norm.weight", [3], 0, struct.pack("<3f", 1, 2, 3)),
               ("blk.0.attn_q.weight", [32, 2], 8, q8_block * 2),
               ("half", [4], 1, struct.pack("<4e", 1, 2, 3, 4))]
    put("gguf", "valid", gguf(kv, tensors))
    put("gguf", "v2_no_tensors", gguf(kv[:2], [], version=2))
    put("gguf", "alignment_64", gguf([("general.alignment", U32, struct.pack("<I", 64))], tensors[:1], alignment=64))
    put("gguf", "dup_tensor", gguf([], [tensors[0], tensors[0]]))
    put("gguf", "dup_key", gguf([kv[1], kv[1]], tensors[:1]))
    put("gguf", "dims_overflow", gguf([], [("w", [2**32, 2**32], 0, b"")]))
    put("gguf", "truncated", gguf(kv, tensors)[:-7])


# ---- adapter_config.json / config.json ----
def adapter_seeds():
    base = {"peft_type": "LORA", "r": 8, "lora_alpha": 16, "lora_dropout": 0.05, "bias": "none",
            "target_modules": ["q_proj", "v_proj"], "task_type": "CAUSAL_LM", "use_rslora": False,
            "use_dora": False, "rank_pattern": {}, "alpha_pattern": {}, "modules_to_save": None,
            "base_model_name_or_path": "Qwen/Qwen3-0.6B"}
    put("adapter_config", "peft_list", json.dumps(base, indent=2))
    put("adapter_config", "peft_regex", json.dumps(dict(base, target_modules=r".*\.(q_proj|k_proj|down_proj)")))
    put("adapter_config", "all_linear", json.dumps(dict(base, target_modules="all-linear", use_rslora=True)))
    put("adapter_config", "dora", json.dumps(dict(base, use_dora=True)))
    put("adapter_config", "huge_r", json.dumps(dict(base, r=2**62)))
    # Ran 17 s (std::regex) before the bounded PCRE2 match; a timeout for the fuzzer.
    put("adapter_config", "backtracking_regex", json.dumps(dict(base, target_modules=r"(.|\w)*[0-9]{2}")))
    put("adapter_config", "qwen3_config", json.dumps({
        "architectures": ["Qwen3ForCausalLM"], "head_dim": 128, "hidden_act": "silu", "hidden_size": 1024,
        "intermediate_size": 3072, "max_position_embeddings": 40960, "num_attention_heads": 16,
        "num_hidden_layers": 28, "num_key_value_heads": 8, "rms_norm_eps": 1e-6, "rope_scaling": None,
        "rope_theta": 1000000, "tie_word_embeddings": True, "torch_dtype": "bfloat16", "vocab_size": 151936,
        "eos_token_id": [151645, 151643]}))


# ---- sweep TOML ----
def sweep_seeds():
    src = os.path.join(os.path.dirname(ROOT), "..", "examples", "sweep-lora.toml")
    with open(src, "rb") as f:
        put("sweep", "example_sweep_lora", f.read())
    put("sweep", "minimal", '[sweep]\nname = "s"\n[grid]\nx = [1, 2]\n[[step]]\nname = "main"\nkind = "exec"\n'
                            'argv = ["echo", "{x}"]\n')
    put("sweep", "sample_and_after", '[sweep]\nname = "s"\nsample = 2\nseed = 7\n[grid]\na = ["1", "2", "3"]\n'
                                     'b = [true, false]\n[trial]\nout = "runs/{sweep.name}/{a}"\n'
                                     '[[step]]\nname = "t"\nkind = "train"\nargv = ["--x", "{trial.out}"]\n'
                                     '[[step]]\nname = "e"\nkind = "eval"\nafter = ["t"]\nargv = ["{{lit}}"]\n')
    put("sweep", "cycle", '[sweep]\nname = "c"\n[[step]]\nname = "a"\nkind = "exec"\nafter = ["b"]\nargv = ["x"]\n'
                          '[[step]]\nname = "b"\nkind = "exec"\nafter = ["a"]\nargv = ["y"]\n')


# ---- training JSONL ----
def jsonl_seeds():
    put("train_jsonl", "samples", '{"input": "q1", "output": "a1", "meta": {"mode": "direct"}}\n'
                                  '{"input": "\u554f\u3044", "output": "\u7b54\u3048", "meta": {"mode": "cot"}}\n')
    put("train_jsonl", "bad_lines", '\n[1]\n{"input": 1, "output": "a"}\n{"input": "q", "output": "a", "meta": {"mode": 2}}\n'
                                    '{"input": "q"\n{"input": "q", "output": "a"}')
    put("train_jsonl", "crlf_no_final_newline", '{"input": "q", "output": "a"}\r\n{"input": "r", "output": "b"}')
    put("train_jsonl", "long_line", '{"input": "' + "x" * 2000 + '", "output": "a"}\n{"input": "q", "output": "a"}\n')


if __name__ == "__main__":
    protocol()
    safetensors_seeds()
    gguf_seeds()
    adapter_seeds()
    sweep_seeds()
    jsonl_seeds()
    for t in sorted(os.listdir(ROOT)):
        print(t, len(os.listdir(os.path.join(ROOT, t))), "seeds")
