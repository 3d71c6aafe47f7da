#include "engine/model/generator.h"

#include <algorithm>
#include <chrono>
#include <set>

namespace ritsu::engine {
namespace {

struct SeqState {
  int32_t slot = -1;
  int64_t prefilled = 0;  // prompt tokens already in the cache
  int64_t cached = 0;     // all tokens in the cache (= position of the next fed token)
  bool active = false;
  bool done = false;
};

}  // namespace

Result<std::vector<Generation>> GenerateBatch(Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                              const SamplingOptions& options, GenerationStats* stats) {
  const ModelConfig& c = model.config();
  const int64_t context = options.max_context > 0 ? std::min(options.max_context, c.max_position_embeddings)
                                                  : c.max_position_embeddings;
  if (options.max_new_tokens < 1) return Status::InvalidArgument("max_new_tokens must be >= 1 (got " + std::to_string(options.max_new_tokens) + ")");
  if (options.max_batch < 1) return Status::InvalidArgument("max_batch must be >= 1");
  if (options.prefill_chunk_tokens < 1) return Status::InvalidArgument("prefill_chunk_tokens must be >= 1");
  if (options.temperature < 0) return Status::InvalidArgument("temperature must be >= 0");
  if (!(options.top_p > 0 && options.top_p <= 1)) return Status::InvalidArgument("top_p must be in (0, 1]");
  int64_t longest = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const int64_t n = static_cast<int64_t>(prompts[i].size());
    if (n == 0) return Status::InvalidArgument("prompt " + std::to_string(i) + " is empty");
    if (n > context) {
      return Status::InvalidArgument("prompt " + std::to_string(i) + " has " + std::to_string(n) +
                                     " tokens, more than the model context of " + std::to_string(context) +
                                     " (max_position_embeddings / --max-context)");
    }
    longest = std::max(longest, n);
  }
  std::vector<Generation> out(prompts.size());
  if (prompts.empty()) return out;
  std::set<int32_t> stop(options.stop_token_ids.begin(), options.stop_token_ids.end());
  if (stop.empty()) {
    for (int64_t e : c.eos_token_ids) stop.insert(static_cast<int32_t>(e));
  }
  // The last generated token is never fed back, hence the -1.
  const int64_t max_seq = std::min(context, longest + options.max_new_tokens - 1);
  const int64_t n_slots = std::min<int64_t>(options.max_batch, static_cast<int64_t>(prompts.size()));
  KvCache cache = model.NewKvCache(n_slots, std::max<int64_t>(max_seq, 1));

  std::vector<SeqState> seqs(prompts.size());
  std::vector<int32_t> free_slots;
  for (int64_t s = n_slots - 1; s >= 0; --s) free_slots.push_back(static_cast<int32_t>(s));
  size_t next_prompt = 0;
  size_t finished = 0;
  using Clock = std::chrono::steady_clock;
  while (finished < prompts.size()) {
    while (!free_slots.empty() && next_prompt < prompts.size()) {
      SeqState& s = seqs[next_prompt];
      s.slot = free_slots.back();
      free_slots.pop_back();
      s.active = true;
      out[next_prompt].prompt_tokens = static_cast<int64_t>(prompts[next_prompt].size());
      ++next_prompt;
    }
    StepLayout step;
    std::vector<int32_t> tokens;
    std::vector<int64_t> logit_rows;
    std::vector<size_t> logit_seq;  // which prompt each logit row belongs to
    int64_t budget = options.prefill_chunk_tokens;
    bool has_prefill = false;
    for (size_t i = 0; i < seqs.size(); ++i) {
      SeqState& s = seqs[i];
      if (!s.active) continue;
      const auto& p = prompts[i];
      const int64_t plen = static_cast<int64_t>(p.size());
      int64_t n = 0;
      if (s.prefilled < plen) {
        n = std::min(plen - s.prefilled, budget);
        if (n == 0) continue;  // waits for the next step's prefill budget
        budget -= n;
        has_prefill = true;
        tokens.insert(tokens.end(), p.begin() + s.prefilled, p.begin() + s.prefilled + n);
      } else {
        n = 1;
        tokens.push_back(out[i].tokens.back());
      }
      step.segments.push_back({s.slot, static_cast<int32_t>(s.cached), static_cast<int32_t>(n)});
      const int64_t last_row = static_cast<int64_t>(tokens.size()) - 1;
      if (s.prefilled >= plen || s.prefilled + n == plen) {
        logit_rows.push_back(last_row);
        logit_seq.push_back(i);
      }
      if (s.prefilled < plen) s.prefilled += n;
      s.cached += n;
    }
    step.Finalize();
    const auto t0 = Clock::now();
    RITSU_ASSIGN_OR_RETURN(Tensor logits, model.Forward(tokens, step, cache, logit_rows));
    if (!logit_rows.empty()) {
      std::vector<SampleRequest> req(logit_rows.size());
      for (size_t r = 0; r < req.size(); ++r) {
        req[r].temperature = options.temperature;
        req[r].top_k = options.top_k;
        req[r].top_p = options.top_p;
        req[r].seed = options.seed;
        req[r].counter = (static_cast<uint64_t>(logit_seq[r]) << 32) | out[logit_seq[r]].tokens.size();
      }
      const std::vector<int32_t> picked = model.backend().Sample(logits, req);
      for (size_t r = 0; r < picked.size(); ++r) {
        const size_t i = logit_seq[r];
        Generation& g = out[i];
        g.tokens.push_back(picked[r]);
        if (options.on_token) options.on_token(i, picked[r]);
        bool end = false;
        if (stop.count(picked[r])) {
          g.finish = FinishReason::kStop;
          end = true;
        } else if (static_cast<int64_t>(g.tokens.size()) >= options.max_new_tokens || seqs[i].cached >= max_seq) {
          g.finish = FinishReason::kLength;
          end = true;
        }
        if (end) {
          seqs[i].active = false;
          seqs[i].done = true;
          free_slots.push_back(seqs[i].slot);
          ++finished;
        }
      }
    }
    model.backend().Synchronize();
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    if (stats) (has_prefill ? stats->prefill_seconds : stats->decode_seconds) += secs;
  }
  if (stats) {
    for (const auto& g : out) {
      stats->prompt_tokens += g.prompt_tokens;
      stats->generated_tokens += static_cast<int64_t>(g.tokens.size());
    }
  }
  return out;
}

Result<std::vector<float>> ComputeLogits(Model& model, const std::vector<int32_t>& tokens, bool all_positions) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) return Status::InvalidArgument("ComputeLogits: empty token list");
  if (n > model.config().max_position_embeddings) {
    return Status::InvalidArgument("ComputeLogits: " + std::to_string(n) + " tokens exceed max_position_embeddings " +
                                   std::to_string(model.config().max_position_embeddings));
  }
  KvCache cache = model.NewKvCache(1, n);
  StepLayout step;
  step.segments.push_back({0, 0, static_cast<int32_t>(n)});
  step.Finalize();
  std::vector<int64_t> rows;
  if (all_positions) {
    for (int64_t i = 0; i < n; ++i) rows.push_back(i);
  } else {
    rows.push_back(n - 1);
  }
  RITSU_ASSIGN_OR_RETURN(Tensor logits, model.Forward(tokens, step, cache, rows));
  std::vector<float> host(static_cast<size_t>(logits.numel()));
  model.backend().Download(logits, host.data());
  return host;
}

}  // namespace ritsu::engine
