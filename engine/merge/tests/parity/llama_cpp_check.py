#!/usr/bin/env python3
"""Loads ritsu-written GGUF files in llama.cpp itself and compares what it computes.

    pip install llama-cpp-python tokenizers numpy
    python3 engine/merge/tests/parity/llama_cpp_check.py MERGED_DIR [RITSU_LOGITS.f32]

MERGED_DIR holds the merged HF model and model-{f16,bf16,q8_0,q4_k_m}.gguf (whichever exist,
model-f16.gguf required). Checks, for a Japanese statute question:
  1. llama.cpp's tokenization (from the GGUF's tokens/merges/pre-tokenizer metadata) equals the
     HF `tokenizers` tokenization of MERGED_DIR/tokenizer.json;
  2. every GGUF loads and gives finite logits;
  3. RITSU_LOGITS.f32 (ritsu's own CPU forward of MERGED_DIR on the same ids, written by
     `ritsu_merge_fixture logits MERGED_DIR OUT.f32 ID...`; the ids are printed by step 1)
     matches llama.cpp's f16 logits: this catches wrong tensor names, dimension order, rope
     base, norm epsilon or head layout in the GGUF;
  4. the quantized files stay close to f16 (cosine similarity of the logit rows);
  5. llama.cpp's own quantizer (llama_model_quantize on model-f16.gguf) gives the same ggml type
     for every tensor as ritsu's q8_0 / q4_k_m files (the Q4_K_M recipe), the same Q8_0/Q5_0
     bytes, and for q4_k_m a logit error that ritsu's file may exceed by at most 1.5x (ritsu's
     k-quant encoder bounds the maximum error instead of searching the least-squares scales).
Tolerances (random tiny models, so logits are small and quantization noise is relatively
large): f16 vs ritsu fp32 — max |diff| <= 2e-2 of the logit scale (f16 weights are rounded to
11 bits; llama.cpp also keeps the KV cache in f16); bf16 and q8_0 cosine >= 0.999.
Test-only tooling, not part of CI. Exit 0 when all checks pass.
"""
import ctypes
import tempfile
import sys
from pathlib import Path

import numpy as np

try:
    from llama_cpp import Llama
    from tokenizers import Tokenizer
except ImportError:
    sys.exit("llama_cpp_check.py needs: pip install llama-cpp-python tokenizers numpy")

TEXT = "民法第1条によれば、私権は公共の福祉に適合しなければならない。正しいものを選べ。"
COSINE_MIN = {"bf16": 0.999, "q8_0": 0.999, "q4_k_m": 0.0}  # q4_k_m: judged against llama.cpp's own file
FTYPE = {"q8_0": 7, "q4_k_m": 15}  # llama.h LLAMA_FTYPE_MOSTLY_*


def logits_of(path, ids):
    llm = Llama(model_path=str(path), n_ctx=128, logits_all=True, verbose=False, n_threads=2)
    llm.eval(ids)
    out = np.array(llm.scores[: len(ids)], dtype=np.float64)
    return llm, out


def cosine_rows(a, b):
    num = (a * b).sum(axis=1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float((num / den).min())


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    d = Path(sys.argv[1])
    failures = []
    hf_ids = Tokenizer.from_file(str(d / "tokenizer.json")).encode(TEXT, add_special_tokens=False).ids
    llm, ref = logits_of(d / "model-f16.gguf", hf_ids)
    cpp_ids = llm.tokenize(TEXT.encode("utf-8"), add_bos=False, special=False)
    print("ids:", " ".join(map(str, hf_ids)))
    if list(cpp_ids) != list(hf_ids):
        failures.append(f"tokenization differs: llama.cpp {cpp_ids} vs HF tokenizers {hf_ids}")
    if not np.isfinite(ref).all():
        failures.append("f16 logits are not finite")
    scale = float(np.abs(ref).max())
    print(f"f16: logits {ref.shape}, scale {scale:.4g}, chat template {'yes' if llm.metadata.get('tokenizer.chat_template') else 'no'}")
    if len(sys.argv) == 3:
        ritsu = np.fromfile(sys.argv[2], dtype="<f4").astype(np.float64).reshape(ref.shape)
        diff = float(np.abs(ritsu - ref).max())
        print(f"ritsu fp32 vs llama.cpp f16: max |diff| {diff:.4g} = {diff / scale:.4g} of scale, "
              f"argmax agree {np.mean(ritsu.argmax(1) == ref.argmax(1)):.3f}")
        if diff > 2e-2 * scale:
            failures.append(f"ritsu logits differ from llama.cpp f16 by {diff:.4g} (scale {scale:.4g})")
    for kind, cmin in COSINE_MIN.items():
        p = d / f"model-{kind}.gguf"
        if not p.exists():
            continue
        _, got = logits_of(p, hf_ids)
        cos = cosine_rows(got, ref)
        print(f"{kind}: min row cosine vs f16 {cos:.5f}, max |diff| {np.abs(got - ref).max():.4g}")
        if not np.isfinite(got).all() or cos < cmin:
            failures.append(f"{kind}: cosine {cos:.5f} < {cmin}")
    import gguf
    import llama_cpp
    for kind, ftype in FTYPE.items():
        ours = d / f"model-{kind}.gguf"
        if not ours.exists():
            continue
        with tempfile.TemporaryDirectory() as tmp:
            theirs = Path(tmp) / f"llama-cpp-{kind}.gguf"
            params = llama_cpp.llama_model_quantize_default_params()
            params.ftype = ftype
            params.nthread = 2
            if llama_cpp.llama_model_quantize(str(d / "model-f16.gguf").encode(), str(theirs).encode(),
                                              ctypes.byref(params)) != 0:
                failures.append(f"{kind}: llama_model_quantize failed")
                continue
            a = {t.name: t for t in gguf.GGUFReader(str(theirs)).tensors}
            b = {t.name: t for t in gguf.GGUFReader(str(ours)).tensors}
            types_differ = [n for n in a if n not in b or a[n].tensor_type != b[n].tensor_type]
            if types_differ or set(a) != set(b):
                failures.append(f"{kind}: tensor types differ from llama-quantize's: {types_differ}")
            same_codes = [n for n in a if n in b and a[n].tensor_type.name in ("Q8_0", "Q5_0")]
            differ = [n for n in same_codes if np.asarray(a[n].data).tobytes() != np.asarray(b[n].data).tobytes()]
            print(f"{kind}: tensor types equal to llama-quantize's: {not types_differ}; Q8_0/Q5_0 tensors "
                  f"byte-identical: {len(same_codes) - len(differ)} of {len(same_codes)}")
            if differ:
                failures.append(f"{kind}: Q8_0/Q5_0 bytes differ from llama-quantize's in {differ[:5]}")
            if kind == "q4_k_m":
                _, mine = logits_of(ours, hf_ids)
                _, ref_q = logits_of(theirs, hf_ids)
                rms_mine = float(np.sqrt(((mine - ref) ** 2).mean()))
                rms_theirs = float(np.sqrt(((ref_q - ref) ** 2).mean()))
                print(f"q4_k_m logit RMS error vs f16: ritsu {rms_mine:.4g}, llama-quantize {rms_theirs:.4g} "
                      f"(ratio {rms_mine / rms_theirs:.3f})")
                if rms_mine > 1.5 * rms_theirs:
                    failures.append(f"q4_k_m: logit error {rms_mine:.4g} > 1.5x llama-quantize's {rms_theirs:.4g}")
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
