#include "engine/train/train_data.h"

#include <fstream>

#include <nlohmann/json.hpp>

namespace ritsu::train {

using nlohmann::json;

namespace {

// Why a line is not a training sample, or "" when it is one.
std::string ParseLine(const std::string& text, RawSample* out) {
  if (text.find_first_not_of(" \t\r") == std::string::npos) return "empty line";
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return "not valid JSON";
  if (!j.is_object()) return "not a JSON object";
  if (!j.contains("input") || !j["input"].is_string()) return "\"input\" is missing or not a string";
  if (!j.contains("output") || !j["output"].is_string()) return "\"output\" is missing or not a string";
  out->input = j["input"].get<std::string>();
  out->output = j["output"].get<std::string>();
  out->mode.clear();
  if (j.contains("meta") && j["meta"].is_object() && j["meta"].contains("mode")) {
    if (!j["meta"]["mode"].is_string()) return "\"meta.mode\" is not a string";
    out->mode = j["meta"]["mode"].get<std::string>();
  }
  return "";
}

}  // namespace

Result<std::vector<RawSample>> ReadTrainJsonl(const std::string& path, BadLinePolicy policy, ReadReport* report) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("--train-file " + path + ": cannot open");
  std::vector<RawSample> out;
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    RawSample s;
    s.line = n;
    const std::string why = ParseLine(line, &s);
    if (why.empty()) {
      out.push_back(std::move(s));
      continue;
    }
    const std::string msg = path + ":" + std::to_string(n) + ": " + why;
    if (policy == BadLinePolicy::kFail) {
      return Status::InvalidArgument(msg + " (use --on-bad-line skip to skip such lines)");
    }
    if (report) {
      ++report->skipped_lines;
      report->messages.push_back(msg);
    }
  }
  if (out.empty()) return Status::InvalidArgument("--train-file " + path + ": no training samples");
  return out;
}

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
