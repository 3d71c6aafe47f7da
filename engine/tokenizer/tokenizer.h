// The Qwen tokenizer: tokenizer.json byte-level BPE as HF tokenizers runs it, plus the Qwen
// chat template. Pipeline of Encode (the order HF uses):
//   1. ill-formed UTF-8 in the input is replaced by U+FFFD (what Python's errors="replace"
//      would hand to HF; HF itself only accepts valid strings);
//   2. added tokens with normalized=false (all of Qwen's: <|im_start|>, <think>, ...) are cut
//      out of the raw text;
//   3. the rest is NFC-normalized, and added tokens with normalized=true are cut out;
//   4. the Split pre-tokenizer regex (from the file) cuts words, each word is mapped to the
//      GPT-2 byte-level alphabet and merged by BPE rank.
// Decode maps ids back to tokens, tokens to bytes through the byte-level alphabet, and bytes
// to UTF-8 (ill-formed sequences become U+FFFD, as Rust's from_utf8_lossy does).
//
// A Tokenizer is immutable after Load except for an internal word cache; all const methods
// are safe to call from several threads. It is movable, not copyable.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/tokenizer/chat_template.h"

namespace ritsu::tokenizer {

class Tokenizer {
 public:
  // `model_dir_or_file`: a model directory holding tokenizer.json (and optionally
  // tokenizer_config.json, for eos/pad tokens and the chat template), or the path of a
  // tokenizer.json itself (tokenizer_config.json is then looked for beside it).
  // Fails with a message naming the file and field for anything but a byte-level BPE
  // tokenizer of the shape Qwen uses.
  static Result<Tokenizer> Load(const std::string& model_dir_or_file);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Text -> ids. `add_special_tokens` is accepted for API parity with HF: Qwen's
  // post-processor (ByteLevel) adds no tokens, so it changes nothing for these models.
  std::vector<int32_t> Encode(std::string_view text, bool add_special_tokens = false) const;
  // Ids -> text. Ids outside the vocabulary are skipped (as HF does); `skip_special` drops
  // added tokens marked special (<|im_end|>, ...), not the non-special ones (<think>, ...).
  std::string Decode(std::span<const int32_t> ids, bool skip_special = false) const;

  // Appends the bytes token `id` stands for to *bytes (nothing for unknown ids, or for special
  // tokens when skip_special). Bytes of several tokens may only form valid UTF-8 together.
  void AppendTokenBytes(int32_t id, bool skip_special, std::string* bytes) const;

  std::string ApplyChatTemplate(const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt, bool enable_thinking) const;
  ChatTemplateStyle chat_template_style() const;

  // Number of ids: model vocabulary plus added tokens (151669 for Qwen3's tokenizer.json;
  // the model's embedding matrix is usually padded beyond this).
  int32_t vocab_size() const;
  // Id of a token given in its vocabulary form ("Ġhello", "<|im_end|>"), if any.
  std::optional<int32_t> TokenId(std::string_view token) const;
  // Vocabulary form of an id, or nullopt.
  std::optional<std::string> IdToToken(int32_t id) const;
  bool IsSpecial(int32_t id) const;

  // eos: tokenizer_config.json eos_token (Qwen3: <|im_end|>), else <|endoftext|>.
  int32_t eos_id() const;
  // pad: tokenizer_config.json pad_token, else <|endoftext|>.
  int32_t pad_id() const;
  int32_t im_start_id() const;
  int32_t im_end_id() const;
  int32_t endoftext_id() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Incremental detokenization for streaming generation output: Push returns the text that the
// tokens so far complete; bytes of a UTF-8 character split across tokens are held back until
// the character is complete. The concatenation of all Push results and Flush equals
// Decode(all ids). Keeps a pointer to the tokenizer, which must outlive it.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = false);
  std::string Push(int32_t id);
  // The held-back bytes (an incomplete character becomes U+FFFD); resets the decoder.
  std::string Flush();

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_;
  std::string pending_;  // bytes not yet returned: at most an incomplete character
};

}  // namespace ritsu::tokenizer
