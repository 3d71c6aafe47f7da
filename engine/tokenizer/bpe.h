// The BPE model of a byte-level tokenizer.json: vocabulary, merges by rank, and the per-word
// merge loop. A "word" here is one pre-tokenized piece already in byte-level characters
// (e.g. "Ġhello"). Merging follows HF tokenizers: the pair of lowest rank is merged first,
// ties go to the leftmost pair, and merges apply until none is left.
//
// Thread safety: Tokenize is const and may be called from several threads; the word cache is
// guarded by a mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace ritsu::tokenizer {

class BpeModel {
 public:
  // `vocab` maps token strings to ids; `merges` are pairs in rank order (rank = index).
  // Fails when a merge names a token that is not in the vocabulary, or its result is not.
  static Result<std::unique_ptr<BpeModel>> Create(
      std::unordered_map<std::string, int32_t> vocab,
      const std::vector<std::pair<std::string, std::string>>& merges, bool ignore_merges,
      std::optional<std::string> unk_token);

  // Appends the ids of one byte-level word to *ids.
  void Tokenize(std::string_view word, std::vector<int32_t>* ids) const;

  // Largest id + 1 of the model vocabulary.
  int32_t size() const { return static_cast<int32_t>(id_to_token_.size()); }
  std::optional<int32_t> TokenToId(std::string_view token) const;
  // nullptr for ids outside the model vocabulary (or holes in it).
  const std::string* IdToToken(int32_t id) const;

 private:
  BpeModel() = default;
  void MergeWord(std::string_view word, std::vector<int32_t>* ids) const;

  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> id_present_;
  // (left id << 32 | right id) -> (rank, merged id)
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;
  bool ignore_merges_ = false;
  std::optional<int32_t> unk_id_;

  static constexpr size_t kMaxCachedWordBytes = 256;
  static constexpr size_t kMaxCacheEntries = 1 << 16;
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>>
      cache_;  // guarded by cache_mu_
};

}  // namespace ritsu::tokenizer
