// Reading tokenizer.json and tokenizer_config.json into plain structs, with validation: only
// the byte-level BPE shape Qwen uses is accepted (model.type "BPE", NFC or no normalizer, a
// Split regex + ByteLevel pre-tokenizer, ByteLevel decoder). Anything else is refused with
// the file and the field named, because a tokenizer that silently differs from HF would
// corrupt training and evaluation without any error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"
#include "engine/tokenizer/added_tokens.h"

namespace ritsu::tokenizer {

struct TokenizerSpec {
  std::unordered_map<std::string, int32_t> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  bool ignore_merges = false;
  std::optional<std::string> unk_token;
  bool nfc = false;           // normalizer NFC (else none)
  std::string split_pattern;  // PCRE2 pattern of the pre-tokenizer split
  std::vector<AddedToken> added_tokens;
};

// `text` is the file's content; `path` is used in messages only.
Result<TokenizerSpec> ParseTokenizerJson(const std::string& text, const std::string& path);

struct TokenizerConfig {
  std::optional<std::string> eos_token;
  std::optional<std::string> pad_token;
  std::string chat_template;  // Jinja text; empty when absent
};

Result<TokenizerConfig> ParseTokenizerConfig(const std::string& text, const std::string& path);

// Reads a whole file; NotFound / IOError name the path.
Result<std::string> ReadFileToString(const std::string& path);

}  // namespace ritsu::tokenizer
