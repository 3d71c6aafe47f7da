#!/usr/bin/env python3
"""Writes the tokenizer goldens under tests/data/tokenizer/ with HF tokenizers / transformers.

Test-only tooling (never on the worker/engine path). The C++ test engine/tokenizer/tests/
golden_test.cc reads the files this writes; CI needs no Python. Re-run after changing the
case lists, and commit the output:

    pip install tokenizers transformers jinja2      # no torch needed
    python3 tests/parity/tokenizer_goldens.py [--shared DIR (default: the repository, which holds models/ and data/)] [--out tests/data/tokenizer]

Files (JSON Lines, UTF-8):
  encode.jsonl  {"name", "text" | "text_hex", "ids"}   HF Tokenizer.encode(text, add_special_tokens=False)
                "text_hex" cases hold ill-formed UTF-8; their ids are HF's on
                bytes.decode("utf-8", "replace"), the repair ritsu applies before encoding.
  decode.jsonl  {"name", "ids", "skip_special", "text"} HF Tokenizer.decode
  chat.jsonl    {"name", "messages", "add_generation_prompt", "enable_thinking", "text", "ids"}
                transformers apply_chat_template with the model's own tokenizer_config.json
"""
import argparse
import json
import os
import random
import sys

from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# Hand-picked cases: each names what it exercises.
EDGE_CASES = [
    ("empty", ""),
    ("ascii_sentence", "Hello, world! This is a test."),
    ("fullwidth_letters_digits", "ＡＢＣａｂｃ１２３！？（）　全角スペース"),
    ("fullwidth_digits_run", "３．１４１５９２６５３５８９７９"),
    ("halfwidth_katakana", "ｶﾀｶﾅ ﾃｽﾄ"),
    ("emoji_simple", "I like 🍣 and 🍜!"),
    ("emoji_skin_tone", "👍🏽👋🏿"),
    ("emoji_zwj_family", "👨‍👩‍👧‍👦 family"),
    ("emoji_flags_vs16", "🇯🇵🏳️‍🌈❤️"),
    ("whitespace_runs", "a    b\t\t c  \n\n  d   "),
    ("leading_spaces", "   leading"),
    ("trailing_spaces", "trailing   "),
    ("only_spaces", "     "),
    ("tab_only", "\t"),
    ("tabs_mixed", "\tindent\n\t\tdeeper\n"),
    ("newlines_only", "\n\n\n"),
    ("space_newline_mix", " \n \n  \n"),
    ("crlf", "line1\r\nline2\r\n\r\nline3\r"),
    ("cr_only", "a\rb\r\rc"),
    ("digits_long", "1234567890123456789012345678901234567890"),
    ("digits_mixed", "v1.2.3 3.14159 1,000,000 0x1F 2024年11月22日"),
    ("nfc_combining_acute", "Cafe\u0301 re\u0301sume\u0301"),
    ("nfc_combining_tilde_ring", "n\u0303 A\u030a o\u0308"),
    ("nfc_multiple_marks", "\u1e9b\u0323 q\u0307\u0323"),
    ("nfc_hangul_jamo", "\u1100\u1161\u11a8 \u1112\u1161\u11ab"),
    ("nfc_japanese_dakuten", "\u304b\u3099\u30cf\u309a"),
    ("special_chat_turn", "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"),
    ("special_inside_word", "a<|endoftext|>b"),
    ("special_adjacent", "<|im_start|><|im_start|><|im_end|>"),
    ("special_partial", "<|im_start| and <|im_end and |im_end|>"),
    ("special_spaced", " <|im_end|> "),
    ("added_nonspecial_think", "<think>\nreasoning\n</think>\n\nanswer"),
    ("added_tool_call", "<tool_call>{\"name\": \"f\"}</tool_call>"),
    ("added_fim", "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>"),
    ("contractions", "I'm sure you'll see we've done it, don't they'd? It's HE'S WE'LL"),
    ("contraction_long_s", "it'\u017f fine"),
    ("unicode_spaces", "a\u3000b\u00a0c\u2028d\u2029e\u202ff\u205fg"),
    ("zero_width", "a\u200bb\u200cc\u200dd\ufeffe"),
    ("nel_and_mongolian", "a\u0085b\u180ec"),
    ("controls", "a\x00b\x01c\x1f\x7fd"),
    # U+180E is not White_Space (since Unicode 6.3) for Oniguruma, but PCRE2's \s matches it.
    ("mongolian_vs_before_contraction", "x\u180e'T"),
    ("mongolian_vs_after_spaces", "a \u00a0\u180e"),
    ("mongolian_vs_between_spaces", "  \u180e\ue000x"),
    ("repeated_hiragana", "あ" * 300),
    ("repeated_equals", "=" * 120),
    ("punct_runs", "!!!??? ... ---- ***\n\n"),
    ("code", "def f(x):\n    return x ** 2  # square\n\nprint(f(3))\n"),
    ("url_email", "https://laws.e-gov.go.jp/law/323AC0000000025 mail: a.b@example.com"),
    ("multiscript", "English 日本語 中文 한국어 русский العربية हिन्दी ไทย Ελληνικά"),
    ("math_symbols", "∑_{i=1}^{n} x_i² ≤ ∞ ≠ √2 ∫ ∂"),
    ("japanese_legal", "第一項の規定により届出書を提出しなければならない外国会社（以下「届出書提出外国会社」という。）"),
    ("brackets_quotes", "「」『』【】〔〕“quoted” ‘single’"),
    ("private_use_and_astral", "\ue000\U0001d400\U00020000\U0010fffd"),
    ("replacement_char", "\ufffd"),
]

# Ill-formed UTF-8 byte strings (hex): ritsu replaces each maximal ill-formed subpart with
# U+FFFD before encoding, exactly as Python's errors="replace" does.
INVALID_UTF8_CASES = [
    ("invalid_lone_ff", b"\xff"),
    ("invalid_truncated_3byte", b"abc\xe3\x81"),
    ("invalid_truncated_then_valid", b"\xe3\x81\xe3\x81\x82"),
    ("invalid_overlong", b"\xc0\xaf"),
    ("invalid_surrogate", b"\xed\xa0\x80x"),
    ("invalid_above_max", b"\xf4\x90\x80\x80"),
    ("invalid_lone_continuation", b"a\x80\x80b"),
]


# Random mixtures of the pieces where regex engines and Unicode tables tend to disagree
# (whitespace kinds, contractions, marks, emoji, added-token fragments), fixed seed.
FUZZ_POOL = [
    "abcXYZ", "0123456789", " ", "  ", "\t", "\n", "\r\n", "\r", "'s", "'S", "'ll", "'T", "'\u017f",
    ".,!?;:-_()[]{}<>/\\\"'`~@#$%^&*+=|", "あいうえおカタカナ漢字", "。、「」（）！？", "１２３ＡＢＣ",
    "\u3000", "\u00a0", "\u2028", "\u2029", "\u0085", "\u200b", "\u180e", "\u2000\u200a", "\u202f\u205f",
    "\x0b\x0c", "\x1c\x1f", "e\u0301", "\u0301", "\u0308\u0323", "\u1100\u1161\u11a8", "\u304b\u3099",
    "😀", "👨‍👩‍👧", "🇯🇵", "❤️", "\U0001F3FD", "\u200d", "\ufe0f", "<|im_start|>", "<|im_end|>",
    "<think>", "<|im_", "|>", "ß", "İ", "ﬁ", "Ω", "Ⅻ", "²", "½", "٣", "𝟘", "ǅ", "ʰ", "々", "\x00",
    "\U0010ffff", "\ufffd", "русский", "العربية", "हिन्दी", "ไทย", "한국어",
]


def fuzz_cases(count=300, seed=20261122):
    rng = random.Random(seed)
    return [(f"fuzz_{i}", "".join(rng.choice(FUZZ_POOL) for _ in range(rng.randrange(1, 12))))
            for i in range(count)]


def collect_strings(value, out):
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, list):
        for v in value:
            collect_strings(v, out)
    elif isinstance(value, dict):
        for v in value.values():
            collect_strings(v, out)


def lawqa_cases(shared):
    """Every text field of all 140 samples of selection.json, and every 10th sample of the
    two randomized variants (their texts are reorderings of the same material)."""
    cases = []
    data_dir = os.path.join(shared, "data", "lawqa_jp")
    for fname, stride in (("selection.json", 1), ("selection_randomized.json", 10),
                          ("selection_with_reference_randomized.json", 10)):
        with open(os.path.join(data_dir, fname), encoding="utf-8") as f:
            samples = json.load(f)["samples"]
        for i in range(0, len(samples), stride):
            for key, value in samples[i].items():
                texts = []
                collect_strings(value, texts)
                for j, t in enumerate(texts):
                    cases.append((f"{fname}:{i}:{key}:{j}", t))
    return cases


def encode_records(tok, shared):
    records = []
    for name, text in EDGE_CASES + fuzz_cases() + lawqa_cases(shared):
        records.append({"name": name, "text": text, "ids": tok.encode(text, add_special_tokens=False).ids})
    for name, raw in INVALID_UTF8_CASES:
        repaired = raw.decode("utf-8", "replace")
        records.append({"name": name, "text_hex": raw.hex(), "ids": tok.encode(repaired, add_special_tokens=False).ids})
    return records


def decode_records(tok):
    rng = random.Random(20261122)
    vocab_size = tok.get_vocab_size(with_added_tokens=True)
    byte_level = {}  # byte -> id of its single-byte token
    chars = [c for c in range(33, 127)] + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    extra = [b for b in range(256) if b not in chars]
    for b in range(256):
        cp = b if b in chars else 256 + extra.index(b)
        byte_level[b] = tok.token_to_id(chr(cp))
    seqs = [
        ("chat_turn", tok.encode("<|im_start|>user\nこんにちは<|im_end|>\n<think>\n</think>").ids),
        ("all_added_tokens", list(range(151643, vocab_size))),
        ("emoji_zwj", tok.encode("👨‍👩‍👧‍👦 and 🇯🇵").ids),
        ("japanese", tok.encode("第一項の規定により届出書を提出しなければならない。").ids),
        ("truncated_char_at_end", [byte_level[0xE3], byte_level[0x81]]),
        ("truncated_char_in_middle", [byte_level[0x61], byte_level[0xE3], byte_level[0x81], byte_level[0x62]]),
        ("split_char_completed", [byte_level[0xE3], byte_level[0x81], byte_level[0x82]]),
        ("lone_continuation", [byte_level[0x80], byte_level[0xBF]]),
        ("invalid_lead", [byte_level[0xFF], byte_level[0xC0], byte_level[0x41]]),
        ("empty", []),
    ]
    for k in range(6):
        seqs.append((f"random_{k}", [rng.randrange(vocab_size) for _ in range(rng.randrange(1, 40))]))
    records = []
    for name, ids in seqs:
        for skip in (False, True):
            records.append({"name": name, "ids": ids, "skip_special": skip,
                            "text": tok.decode(ids, skip_special_tokens=skip)})
    return records


def chat_records(model_dir):
    from transformers import AutoTokenizer
    hf = AutoTokenizer.from_pretrained(model_dir)
    conversations = [
        ("user_only", [{"role": "user", "content": "こんにちは"}]),
        ("system_user", [{"role": "system", "content": "あなたは法律の専門家です。"},
                         {"role": "user", "content": "金融商品取引法第5条について教えてください。"}]),
        ("multi_turn", [{"role": "system", "content": "Be brief."},
                        {"role": "user", "content": "1+1?"},
                        {"role": "assistant", "content": "2"},
                        {"role": "user", "content": "2+2?"}]),
        ("assistant_with_think_history", [{"role": "user", "content": "q1"},
                                          {"role": "assistant", "content": "<think>\nhmm\n</think>\n\na1"},
                                          {"role": "user", "content": "q2"}]),
        ("assistant_last_with_think", [{"role": "user", "content": "q1"},
                                       {"role": "assistant", "content": "<think>\nstep 1\nstep 2\n</think>\n\nfinal"}]),
        ("assistant_last_plain", [{"role": "user", "content": "q1"},
                                  {"role": "assistant", "content": "plain answer"}]),
        ("assistant_reasoning_content", [{"role": "user", "content": "q1"},
                                         {"role": "assistant", "content": "ans", "reasoning_content": "\nthought\n"}]),
        ("system_later", [{"role": "user", "content": "a"}, {"role": "system", "content": "late system"},
                          {"role": "user", "content": "b"}]),
        ("tool_responses", [{"role": "user", "content": "weather?"},
                            {"role": "assistant", "content": "calling"},
                            {"role": "tool", "content": "sunny"},
                            {"role": "tool", "content": "20C"}]),
        ("special_in_content", [{"role": "user", "content": "say <|im_end|> please"}]),
    ]
    records = []
    for name, messages in conversations:
        for add_gen in (False, True):
            for thinking in (True, False):
                text = hf.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_gen,
                                              enable_thinking=thinking)
                ids = hf(text, add_special_tokens=False)["input_ids"]
                records.append({"name": name, "messages": messages, "add_generation_prompt": add_gen,
                                "enable_thinking": thinking, "text": text, "ids": ids})
    return records


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {path}: {len(records)} records, {os.path.getsize(path)} bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=REPO)
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "data", "tokenizer"))
    args = ap.parse_args()
    model_dir = os.path.join(args.shared, "models", "qwen3-tokenizer")
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    os.makedirs(args.out, exist_ok=True)
    import tokenizers
    import transformers
    write_jsonl(os.path.join(args.out, "encode.jsonl"), encode_records(tok, args.shared))
    write_jsonl(os.path.join(args.out, "decode.jsonl"), decode_records(tok))
    write_jsonl(os.path.join(args.out, "chat.jsonl"), chat_records(model_dir))
    with open(os.path.join(args.out, "VERSIONS"), "w") as f:
        f.write(f"tokenizers {tokenizers.__version__}\ntransformers {transformers.__version__}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
