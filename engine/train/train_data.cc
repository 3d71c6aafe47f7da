#include "engine/train/train_data.h"

namespace ritsu::train {

Result<std::vector<RawSample>> FilterByMode(std::vector<RawSample> samples, const std::string& mode) {
  if (mode == "auto") return samples;
  if (mode != "direct" && mode != "cot") {
    return Status::InvalidArgument("--train-mode " + mode + ": expected direct, cot or auto");
  }
  std::vector<RawSample> out;
  for (auto& s : samples) {
    const std::string m = s.mode.empty() ? "direct" : s.mode;
    if (m == mode) out.push_back(std::move(s));
  }
  if (out.empty()) return Status::InvalidArgument("--train-mode " + mode + ": no sample has meta.mode \"" + mode + "\"");
  return out;
}

std::string PromptText(const tokenizer::Tokenizer& tok, PromptFormat format, const std::string& input) {
  if (format == PromptFormat::kPlain) return "<USER>\n" + input + "\n<ASSISTANT>\n";
  return tok.ApplyChatTemplate({{"user", input, std::nullopt}}, /*add_generation_prompt=*/true,
                               /*enable_thinking=*/false);
}

std::vector<TokenizedSample> TokenizeSamples(const std::vector<RawSample>& samples, const tokenizer::Tokenizer& tok,
                                             PromptFormat format, int64_t max_seq_length, TokenizeReport* report) {
  std::vector<TokenizedSample> out;
  const int32_t end = format == PromptFormat::kPlain ? tok.eos_id() : tok.im_end_id();
  for (const RawSample& s : samples) {
    TokenizedSample t;
    t.line = s.line;
    t.ids = tok.Encode(PromptText(tok, format, s.input));
    t.prompt_len = static_cast<int64_t>(t.ids.size());
    for (int32_t id : tok.Encode(s.output)) t.ids.push_back(id);
    t.ids.push_back(end);
    if (static_cast<int64_t>(t.ids.size()) > max_seq_length) {
      t.ids.resize(static_cast<size_t>(max_seq_length));
      if (report) ++report->truncated;
    }
    if (t.prompt_len >= static_cast<int64_t>(t.ids.size())) {
      if (report) ++report->dropped_no_output;
      continue;
    }
    out.push_back(std::move(t));
  }
  return out;
}

PackedBatch PackBatch(const std::vector<const TokenizedSample*>& samples, bool output_only) {
  PackedBatch b;
  b.cu_seqlens.push_back(0);
  for (const TokenizedSample* s : samples) {
    const int64_t n = static_cast<int64_t>(s->ids.size());
    for (int64_t t = 0; t < n; ++t) {
      b.tokens.push_back(s->ids[static_cast<size_t>(t)]);
      b.positions.push_back(static_cast<int32_t>(t));
      const bool has_next = t + 1 < n;
      const bool counted = has_next && (!output_only || t + 1 >= s->prompt_len);
      b.labels.push_back(counted ? s->ids[static_cast<size_t>(t + 1)] : -100);
    }
    b.cu_seqlens.push_back(static_cast<int32_t>(b.tokens.size()));
    b.max_seqlen = std::max(b.max_seqlen, n);
  }
  return b;
}

std::vector<int64_t> EpochOrder(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  std::mt19937_64 rng(seed + static_cast<uint64_t>(epoch));
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

}  // namespace ritsu::train
