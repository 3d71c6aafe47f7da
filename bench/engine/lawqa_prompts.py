#!/usr/bin/env python3
"""Writes the 140 lawqa_jp prompts with their own context as JSONL ({"prompt": text} per line),
built exactly as bench/hf/hf_baselines.py builds them for HF transformers, so that ritsu's
`generate --prompts` and HF's prefill are timed on the same token streams.
usage: lawqa_prompts.py SELECTION_JSON OUT_JSONL"""
import json, sys

samples = json.load(open(sys.argv[1]))["samples"]
with open(sys.argv[2], "w") as f:
    for s in samples:
        text = (f"{s['指示'].replace('<following_context>', '')}\n\n### 参考条文\n{s['コンテキスト']}\n\n"
                f"### 問題\n{s['問題文']}\n\n### 選択肢\n{s['選択肢']}\n\n回答：")
        f.write(json.dumps({"prompt": text}, ensure_ascii=False) + "\n")
