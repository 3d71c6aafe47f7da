// tokenizer.ggml.* metadata for a Qwen byte-level BPE tokenizer, read from the HF files
// (tokenizer.json, tokenizer_config.json, optional chat_template.jinja) the way llama.cpp's
// convert_hf_to_gguf.py fills them for qwen2/qwen3 (model "gpt2", pre "qwen2"):
//   tokens      one string per id in [0, vocab_size); ids the tokenizer lacks become
//               "[PAD<id>]" (the embedding matrix is padded past the tokenizer, e.g. Qwen3:
//               151669 tokens, vocab_size 151936)
//   token_type  1 normal, 3 control (added tokens marked special, or spelled like <|...|>),
//               4 user-defined (other added tokens such as <think>), 5 unused (padding ids)
//   merges      "left right" strings in rank order
//   bos/eos/padding ids from tokenizer_config.json's *_token, falling back to config.json's
//               bos_token_id / eos_token_id; add_bos_token from tokenizer_config.json (false
//               when absent, which is Qwen's behaviour); chat_template when present.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/merge/gguf_writer.h"
#include "engine/model/config.h"

namespace ritsu::merge {

struct TokenizerMetadata {
  std::vector<std::string> tokens;
  std::vector<int32_t> token_types;
  std::vector<std::string> merges;
  std::optional<uint32_t> bos_id, eos_id, pad_id;
  bool add_bos_token = false;
  std::optional<std::string> chat_template;
};

// Reads the tokenizer files in `dir`; the model's vocab_size decides the token count.
Result<TokenizerMetadata> LoadTokenizerMetadata(const std::string& dir, const engine::ModelConfig& config);

void AddTokenizerMetadata(const TokenizerMetadata& tok, GgufWriter* writer);

}  // namespace ritsu::merge
