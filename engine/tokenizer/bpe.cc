#include "engine/tokenizer/bpe.h"

#include <queue>

#include <fmt/format.h>

#include "engine/tokenizer/utf8.h"

namespace ritsu::tokenizer {
namespace {

uint64_t PairKey(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

}  // namespace

Result<std::unique_ptr<BpeModel>> BpeModel::Create(
    std::unordered_map<std::string, int32_t> vocab,
    const std::vector<std::pair<std::string, std::string>>& merges, bool ignore_merges,
    std::optional<std::string> unk_token) {
  std::unique_ptr<BpeModel> m(new BpeModel());
  int32_t max_id = -1;
  for (const auto& [tok, id] : vocab) {
    if (id < 0) return Status::InvalidArgument(fmt::format("model.vocab: token {:?} has negative id {}", tok, id));
    max_id = std::max(max_id, id);
  }
  m->id_to_token_.resize(static_cast<size_t>(max_id + 1));
  m->id_present_.assign(static_cast<size_t>(max_id + 1), false);
  for (const auto& [tok, id] : vocab) {
    m->id_to_token_[id] = tok;
    m->id_present_[id] = true;
  }
  m->vocab_.reserve(vocab.size());
  for (auto& [tok, id] : vocab) m->vocab_.emplace(tok, id);
  m->merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    const auto ia = m->TokenToId(a), ib = m->TokenToId(b), ab = m->TokenToId(a + b);
    if (!ia || !ib || !ab) {
      return Status::InvalidArgument(fmt::format(
          "model.merges[{}]: merge ({:?}, {:?}) uses a token missing from model.vocab", rank, a, b));
    }
    // A later duplicate of a pair never applies: the first (lowest) rank wins, as in HF.
    m->merges_.emplace(PairKey(*ia, *ib), std::make_pair(static_cast<int32_t>(rank), *ab));
  }
  m->ignore_merges_ = ignore_merges;
  if (unk_token) {
    const auto id = m->TokenToId(*unk_token);
    if (!id) return Status::InvalidArgument(fmt::format("model.unk_token {:?} is not in model.vocab", *unk_token));
    m->unk_id_ = *id;
  }
  return m;
}

std::optional<int32_t> BpeModel::TokenToId(std::string_view token) const {
  const auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::IdToToken(int32_t id) const {
  if (id < 0 || id >= size() || !id_present_[id]) return nullptr;
  return &id_to_token_[id];
}

void BpeModel::Tokenize(std::string_view word, std::vector<int32_t>* ids) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (const auto id = TokenToId(word)) {
      ids->push_back(*id);
      return;
    }
  }
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    const auto it = cache_.find(word);
    if (it != cache_.end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> word_ids;
  MergeWord(word, &word_ids);
  ids->insert(ids->end(), word_ids.begin(), word_ids.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    // Bounded memory: start over when full (a long-running engine sees unbounded text).
    if (cache_.size() >= kMaxCacheEntries) cache_.clear();
    cache_.emplace(std::string(word), std::move(word_ids));
  }
}

void BpeModel::MergeWord(std::string_view word, std::vector<int32_t>* ids) const {
  // Symbols form a doubly linked list over a vector; a merge folds the right symbol into the
  // left one and marks the right one dead (len 0).
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
    size_t len;  // bytes of the word it covers; 0 = merged away
  };
  std::vector<Symbol> syms;
  syms.reserve(word.size());
  size_t i = 0;
  while (i < word.size()) {
    const size_t start = i;
    NextCodePoint(word, &i);
    const auto id = TokenToId(word.substr(start, i - start));
    if (!id && !unk_id_) continue;  // HF drops unknown characters when there is no unk token
    const int32_t n = static_cast<int32_t>(syms.size());
    syms.push_back({id ? *id : *unk_id_, n - 1, n + 1, i - start});
  }
  if (syms.empty()) return;
  syms.back().next = -1;

  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t new_id;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  const auto push_pair = [&](int32_t left) {
    const int32_t right = syms[left].next;
    if (right < 0) return;
    const auto it = merges_.find(PairKey(syms[left].id, syms[right].id));
    if (it != merges_.end()) queue.push({it->second.first, left, it->second.second});
  };
  for (int32_t k = 0; k + 1 < static_cast<int32_t>(syms.size()); ++k) push_pair(k);

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = syms[top.pos];
    if (left.len == 0 || left.next < 0) continue;
    Symbol& right = syms[left.next];
    // Skip stale entries: the pair at this position changed since it was queued.
    const auto it = merges_.find(PairKey(left.id, right.id));
    if (it == merges_.end() || it->second.second != top.new_id) continue;
    left.id = top.new_id;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) syms[right.next].prev = top.pos;
    if (left.prev >= 0) push_pair(left.prev);
    push_pair(top.pos);
  }
  for (int32_t k = 0; k >= 0; k = syms[k].next) ids->push_back(syms[k].id);
}

}  // namespace ritsu::tokenizer
