// BM25 (Okapi, k1/b) retrieval over statute passages with a Japanese-aware tokenizer:
// NFKC + ASCII lower-case, then character unigrams and bigrams inside each run of letters and
// digits (punctuation and spaces break runs). Japanese has no spaces; character bigrams are
// the usual dictionary-free substitute for words and match kanji compounds like 公開/買付.
//
// The index persists as versioned JSON (docs/eval.md "BM25 index file"): the passages, the
// parameters, document lengths and postings, so loading needs no re-tokenisation.
// Thread-safety: Search is const and may run concurrently; Build/Load mutate.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/eval/prompts.h"

namespace ritsu::eval {

std::vector<std::string> Bm25Tokenize(std::string_view text);

struct Hit {
  int doc = 0;        // index into passages()
  double score = 0;   // BM25 score, or the reranker's score after Rerank
};

class Bm25Index {
 public:
  static constexpr int kFormatVersion = 1;

  void Build(std::vector<Passage> passages, double k1 = 1.2, double b = 0.75);
  // Top k by score, ties broken by lower doc index (stable output).
  std::vector<Hit> Search(std::string_view query, int k) const;

  Status Save(const std::string& path) const;  // temp file + rename
  static Result<Bm25Index> Load(const std::string& path);

  const std::vector<Passage>& passages() const { return passages_; }
  size_t size() const { return passages_.size(); }

 private:
  struct Posting {
    int doc;
    int tf;
  };
  double k1_ = 1.2, b_ = 0.75, avg_len_ = 0;
  std::vector<Passage> passages_;
  std::vector<int> doc_len_;
  std::map<std::string, std::vector<Posting>> postings_;
};

// Reranking: a scorer gives the relevance of a passage to the query (the engine provides an
// LLM scorer; tests use a fake). The first `top_n` hits are rescored and sorted by the new
// score (ties keep BM25 order); hits beyond top_n are dropped.
using RerankScorer = std::function<double(const std::string& query, const Passage& passage)>;
std::vector<Hit> Rerank(const Bm25Index& index, const std::string& query, std::vector<Hit> hits,
                        int top_n, const RerankScorer& scorer);

}  // namespace ritsu::eval
