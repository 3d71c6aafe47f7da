// A small tokenizer.json of Qwen's shape (all 256 byte-level characters, a few merges, one
// special token), written to a temporary directory so that tests can load it quickly and
// break one field at a time.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "engine/tokenizer/byte_level.h"

namespace ritsu::tokenizer::testing {

// Qwen's split regex, as in its tokenizer.json.
inline const char* kQwenPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Ids 0..255: the byte-level character of byte i. Then merges (rank order):
//   "a b" -> 256 "ab", "ab c" -> 257 "abc", "b c" -> 258 "bc", "Ġ a" -> 259 "Ġa".
// Added: 260 "<|endoftext|>", 261 "<|im_start|>", 262 "<|im_end|>" (special), 263 "<x>" (not special).
inline nlohmann::json TinyTokenizerJson() {
  using nlohmann::json;
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    GetByteLevelAlphabet().Encode(std::string(1, static_cast<char>(b)), &ch);
    vocab[ch] = b;
  }
  vocab["ab"] = 256;
  vocab["abc"] = 257;
  vocab["bc"] = 258;
  vocab["\u0120a"] = 259;
  json added = json::array();
  int id = 260;
  for (const char* t : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
    added.push_back({{"id", id++}, {"content", t}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                     {"normalized", false}, {"special", true}});
  }
  added.push_back({{"id", id++}, {"content", "<x>"}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                   {"normalized", false}, {"special", false}});
  json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", {{"type", "NFC"}}},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         json::array({{{"type", "Split"}, {"pattern", {{"Regex", kQwenPattern}}}, {"behavior", "Isolated"}, {"invert", false}},
                      byte_level})}}},
      {"post_processor", byte_level},
      {"decoder", byte_level},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", ""},
        {"end_of_word_suffix", ""}, {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", json::array({json::array({"a", "b"}), json::array({"ab", "c"}), json::array({"b", "c"}),
                                json::array({"\u0120", "a"})})}}},
  };
}

// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ritsu_tok_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& content) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

 private:
  std::string path_;
};

}  // namespace ritsu::tokenizer::testing
