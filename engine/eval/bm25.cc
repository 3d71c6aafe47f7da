#include "engine/eval/bm25.h"

#include <utf8proc.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/eval/atomic_file.h"
#include "engine/eval/text_util.h"

namespace ritsu::eval {
namespace {

bool IsWordCodePoint(const std::string& cp) {
  utf8proc_int32_t c = 0;
  utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(cp.data()), static_cast<utf8proc_ssize_t>(cp.size()), &c);
  if (c < 0) return false;
  switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::vector<std::string> Bm25Tokenize(std::string_view text) {
  std::vector<std::string> tokens;
  std::vector<std::string> run;
  auto flush = [&]() {
    for (size_t i = 0; i < run.size(); ++i) {
      tokens.push_back(run[i]);
      if (i + 1 < run.size()) tokens.push_back(run[i] + run[i + 1]);
    }
    run.clear();
  };
  for (auto& cp : SplitCodePoints(AsciiLower(NormalizeNfkc(text)))) {
    if (IsWordCodePoint(cp)) {
      run.push_back(std::move(cp));
    } else {
      flush();
    }
  }
  flush();
  return tokens;
}

void Bm25Index::Build(std::vector<Passage> passages, double k1, double b) {
  k1_ = k1;
  b_ = b;
  passages_ = std::move(passages);
  doc_len_.assign(passages_.size(), 0);
  postings_.clear();
  double total = 0;
  for (size_t d = 0; d < passages_.size(); ++d) {
    // The title (law + article) is indexed with the text: questions name articles.
    auto toks = Bm25Tokenize(passages_[d].title + "\n" + passages_[d].text);
    doc_len_[d] = static_cast<int>(toks.size());
    total += static_cast<double>(toks.size());
    std::unordered_map<std::string, int> tf;
    for (auto& t : toks) ++tf[t];
    for (auto& [term, n] : tf) postings_[term].push_back({static_cast<int>(d), n});
  }
  for (auto& [term, list] : postings_)
    std::sort(list.begin(), list.end(), [](const Posting& x, const Posting& y) { return x.doc < y.doc; });
  avg_len_ = passages_.empty() ? 0 : total / static_cast<double>(passages_.size());
}

std::vector<Hit> Bm25Index::Search(std::string_view query, int k) const {
  std::vector<double> score(passages_.size(), 0.0);
  const double n = static_cast<double>(passages_.size());
  std::unordered_map<std::string, int> qtf;
  for (auto& t : Bm25Tokenize(query)) ++qtf[t];
  for (auto& [term, count] : qtf) {
    auto it = postings_.find(term);
    if (it == postings_.end()) continue;
    const double df = static_cast<double>(it->second.size());
    // Lucene's non-negative IDF variant: a term in every passage still scores >= 0.
    const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
    for (const auto& p : it->second) {
      const double len_norm = 1.0 - b_ + b_ * doc_len_[p.doc] / (avg_len_ > 0 ? avg_len_ : 1.0);
      score[p.doc] += count * idf * (p.tf * (k1_ + 1.0)) / (p.tf + k1_ * len_norm);
    }
  }
  std::vector<Hit> hits;
  for (size_t d = 0; d < score.size(); ++d)
    if (score[d] > 0) hits.push_back({static_cast<int>(d), score[d]});
  auto better = [](const Hit& x, const Hit& y) { return x.score != y.score ? x.score > y.score : x.doc < y.doc; };
  const size_t keep = std::min(hits.size(), static_cast<size_t>(std::max(k, 0)));
  std::partial_sort(hits.begin(), hits.begin() + keep, hits.end(), better);
  hits.resize(keep);
  return hits;
}

Status Bm25Index::Save(const std::string& path) const {
  nlohmann::json j;
  j["format"] = "ritsu-bm25";
  j["version"] = kFormatVersion;
  j["tokenizer"] = "nfkc-lower-char-unigram-bigram";
  j["k1"] = k1_;
  j["b"] = b_;
  j["avg_len"] = avg_len_;
  nlohmann::json ps = nlohmann::json::array();
  for (size_t d = 0; d < passages_.size(); ++d)
    ps.push_back({{"id", passages_[d].id}, {"title", passages_[d].title}, {"text", passages_[d].text}, {"len", doc_len_[d]}});
  j["passages"] = ps;
  nlohmann::json post = nlohmann::json::object();
  for (const auto& [term, list] : postings_) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& p : list) arr.push_back({p.doc, p.tf});
    post[term] = arr;
  }
  j["postings"] = post;
  return WriteFileAtomically(path, j.dump(), /*overwrite=*/true);
}

Result<Bm25Index> Bm25Index::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open BM25 index " + path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption("BM25 index " + path + ": not valid JSON: " + e.what());
  }
  if (j.value("format", "") != "ritsu-bm25")
    return Status::InvalidArgument("BM25 index " + path + ": field format is not \"ritsu-bm25\"");
  if (j.value("version", 0) != kFormatVersion)
    return Status::FailedPrecondition(fmt::format("BM25 index {}: version {}, this build reads {}; rebuild it with `ritsu-engine data build-index`",
                                                  path, j.value("version", 0), kFormatVersion));
  Bm25Index idx;
  try {
    idx.k1_ = j.at("k1").get<double>();
    idx.b_ = j.at("b").get<double>();
    idx.avg_len_ = j.at("avg_len").get<double>();
    for (const auto& p : j.at("passages")) {
      idx.passages_.push_back({p.at("id").get<std::string>(), p.at("title").get<std::string>(), p.at("text").get<std::string>()});
      idx.doc_len_.push_back(p.at("len").get<int>());
    }
    for (const auto& [term, arr] : j.at("postings").items()) {
      auto& list = idx.postings_[term];
      for (const auto& e : arr) {
        int doc = e.at(0).get<int>();
        if (doc < 0 || static_cast<size_t>(doc) >= idx.passages_.size())
          return Status::Corruption(fmt::format("BM25 index {}: posting of \"{}\" names passage {} of {}", path, term, doc, idx.passages_.size()));
        list.push_back({doc, e.at(1).get<int>()});
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption("BM25 index " + path + ": " + e.what());
  }
  return idx;
}

std::vector<Hit> Rerank(const Bm25Index& index, const std::string& query, std::vector<Hit> hits,
                        int top_n, const RerankScorer& scorer) {
  if (top_n >= 0 && hits.size() > static_cast<size_t>(top_n)) hits.resize(static_cast<size_t>(top_n));
  for (auto& h : hits) h.score = scorer(query, index.passages()[static_cast<size_t>(h.doc)]);
  std::stable_sort(hits.begin(), hits.end(), [](const Hit& x, const Hit& y) { return x.score > y.score; });
  return hits;
}

}  // namespace ritsu::eval
