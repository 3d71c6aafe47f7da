#!/usr/bin/env python3
"""Independent check of a ritsu-written GGUF with llama.cpp's own Python package (gguf-py).

    pip install gguf numpy
    python3 engine/merge/tests/parity/gguf_check.py OUT/model-q4_k_m.gguf OUT

gguf-py parses the file (header, metadata, tensor table, alignment) and decodes every tensor
with its numpy re-implementation of ggml's dequantizers; each decoded element must match the
merged safetensors in MODEL_DIR within the bound documented in engine/merge/quantize.h. For
Q8_0 and Q5_0, where ritsu claims the same codes as ggml's reference quantizer, the bytes are
also compared with gguf-py's own quantizer (bit for bit). Test-only tooling: nothing on the
worker/engine path uses Python. Exit status 0 when everything matches, 1 otherwise.
"""
import json
import re
import struct
import sys
from pathlib import Path

import numpy as np

try:
    import gguf
    from gguf import GGMLQuantizationType as T
    from gguf.quants import dequantize, quantize
except ImportError:
    sys.exit("gguf_check.py needs the gguf package: pip install gguf")

LAYER = {
    "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
    "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
}
GLOBAL = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
          "output.weight": "lm_head.weight"}


def hf_name(gguf_name):
    if gguf_name in GLOBAL:
        return GLOBAL[gguf_name]
    m = re.fullmatch(r"blk\.(\d+)\.(.+)\.(weight|bias)", gguf_name)
    for hf, gg in LAYER.items():
        if m and m.group(2) == gg:
            return f"model.layers.{m.group(1)}.{hf}.{m.group(3)}"
    raise SystemExit(f"{gguf_name}: not a qwen2/qwen3 tensor name")


def load_safetensors(model_dir):
    d = Path(model_dir)
    index = d / "model.safetensors.index.json"
    files = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists() else ["model.safetensors"]
    out = {}
    for f in files:
        raw = (d / f).read_bytes()
        (n,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8:8 + n])
        base = 8 + n
        for name, info in header.items():
            if name == "__metadata__":
                continue
            a, b = info["data_offsets"]
            buf = raw[base + a:base + b]
            if info["dtype"] == "BF16":
                arr = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
            elif info["dtype"] == "F16":
                arr = np.frombuffer(buf, dtype="<f2").astype(np.float32)
            elif info["dtype"] == "F32":
                arr = np.frombuffer(buf, dtype="<f4").copy()
            else:
                raise SystemExit(f"{f}: tensor {name} has dtype {info['dtype']}")
            out[name] = arr.reshape(info["shape"])
    return out


def blocks(x, n):
    return x.reshape(-1, n)


def bound(t, x):
    """Per-element error bound of quantize.h's QuantErrorBounds, vectorised."""
    x = x.astype(np.float32).reshape(-1)
    sub = 2.0 ** -24
    if t == T.F32:
        return np.zeros_like(x)
    if t == T.F16:
        return np.abs(x) * 2.0 ** -11 + 2.0 ** -25
    if t == T.BF16:
        return np.abs(x) * 2.0 ** -8 + 2.0 ** -126
    if t in (T.Q8_0, T.Q5_0):
        a = np.abs(blocks(x, 32)).max(axis=1, keepdims=True)
        step = a / 254 if t == T.Q8_0 else a / 16
        e = step + a / 2048 + a * 1e-6 + (127 if t == T.Q8_0 else 16) * 2.0 ** -25
        return np.broadcast_to(e, (a.shape[0], 32)).reshape(-1)
    if t == T.Q4_K:
        sb = x.reshape(-1, 8, 32)
        shift = np.maximum(0, -sb.min(axis=2))
        rng = sb.max(axis=2) + shift
        dmin = shift.max(axis=1, keepdims=True) / 63 * (1 + 2.0 ** -10) + sub
        d = (rng.max(axis=1, keepdims=True) + dmin) / 15 / 63 * (1 + 2.0 ** -10) + sub
        a = np.abs(sb).reshape(-1, 256).max(axis=1, keepdims=True)
        e = (rng + dmin) / 30 + d / 2 + a * 1e-6
        return np.repeat(e, 32, axis=1).reshape(-1)
    if t == T.Q6_K:
        sb = x.reshape(-1, 16, 16)
        a = np.abs(sb).reshape(-1, 256).max(axis=1, keepdims=True)
        d = a / 31.5 / 127 * (1 + 2.0 ** -10) + sub
        e = np.abs(sb).max(axis=2) / 63 + d / 2 + a * 1e-6
        return np.repeat(e, 16, axis=1).reshape(-1)
    raise SystemExit(f"no bound for type {t.name}")


def field_value(reader, key):
    f = reader.fields.get(key)
    if f is None:
        return None
    if f.types and f.types[0] == gguf.GGUFValueType.STRING and len(f.types) == 1:
        return bytes(f.parts[f.data[0]]).decode("utf-8")
    if f.types and f.types[0] == gguf.GGUFValueType.ARRAY:
        return len(f.data)
    return f.parts[f.data[0]][0].item()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    path, model_dir = sys.argv[1], sys.argv[2]
    reader = gguf.GGUFReader(path)
    config = json.loads((Path(model_dir) / "config.json").read_text())
    arch = config["model_type"]
    failures = []

    def expect(what, got, want):
        if got != want:
            failures.append(f"{what}: {got!r}, expected {want!r}")

    expect("general.architecture", field_value(reader, "general.architecture"), arch)
    expect(f"{arch}.block_count", field_value(reader, f"{arch}.block_count"), config["num_hidden_layers"])
    expect(f"{arch}.embedding_length", field_value(reader, f"{arch}.embedding_length"), config["hidden_size"])
    expect(f"{arch}.feed_forward_length", field_value(reader, f"{arch}.feed_forward_length"), config["intermediate_size"])
    expect(f"{arch}.attention.head_count", field_value(reader, f"{arch}.attention.head_count"), config["num_attention_heads"])
    expect(f"{arch}.attention.head_count_kv", field_value(reader, f"{arch}.attention.head_count_kv"),
           config["num_key_value_heads"])
    expect("tokenizer.ggml.model", field_value(reader, "tokenizer.ggml.model"), "gpt2")
    expect("tokenizer.ggml.tokens count", field_value(reader, "tokenizer.ggml.tokens"), config["vocab_size"])
    expect("tokenizer.ggml.token_type count", field_value(reader, "tokenizer.ggml.token_type"), config["vocab_size"])

    source = load_safetensors(model_dir)
    worst = 0.0
    for t in reader.tensors:
        src = source[hf_name(t.name)]
        expect(f"{t.name} ne", [int(v) for v in t.shape], list(reversed(src.shape)))
        if t.data_offset % 32:
            failures.append(f"{t.name}: data offset {t.data_offset} not 32-aligned")
        got = dequantize(t.data, t.tensor_type).reshape(-1).astype(np.float64)
        want = src.reshape(-1).astype(np.float64)
        err = np.abs(got - want)
        b = bound(t.tensor_type, src).astype(np.float64)
        over = err > b
        if over.any():
            i = int(np.argmax(over))
            failures.append(f"{t.name} ({t.tensor_type.name}): element {i} decodes to {got[i]} vs {want[i]} "
                            f"(error {err[i]:.3g} > bound {b[i]:.3g})")
        ratio = np.where(b > 0, err / np.where(b > 0, b, 1), 0)
        worst = max(worst, float(ratio.max()))
        if t.tensor_type in (T.Q8_0, T.Q5_0):
            ref = quantize(src.reshape(-1, src.shape[-1]).astype(np.float32), t.tensor_type)
            if ref.tobytes() != np.asarray(t.data).tobytes():
                failures.append(f"{t.name}: {t.tensor_type.name} bytes differ from gguf-py's reference quantizer")
    for f in failures:
        print("FAIL", f)
    print(f"{path}: {len(reader.tensors)} tensors decoded by gguf-py {getattr(gguf, '__version__', '')}, "
          f"max error/bound {worst:.3f}, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
