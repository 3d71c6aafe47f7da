// Batched generation over prompts of different lengths (the eval workload: many prompts,
// short answers). Continuous batching: up to max_batch sequences share a KV cache of slots;
// a finished sequence frees its slot for the next prompt. Each step packs the prefill chunks
// of newly admitted prompts and one decode token of every running sequence into one forward.
//
// Determinism: greedy (temperature 0) picks argmax, ties to the lowest id. Sampling draws the
// uniform of prompt i's t-th token from philox(seed, i << 32 | t), so results depend on the
// seed and the prompt's index only, not on max_batch or on the other prompts.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "common/status.h"
#include "engine/model/model.h"

namespace ritsu::engine {

struct SamplingOptions {
  int64_t max_new_tokens = 256;
  float temperature = 0.0f;  // 0 = greedy
  int32_t top_k = 0;         // 0 = off
  float top_p = 1.0f;        // 1 = off
  uint64_t seed = 0;
  // Generation stops after emitting one of these (the token is kept in Generation::tokens).
  // Empty: the config's eos_token_id list.
  std::vector<int32_t> stop_token_ids;
  int64_t max_batch = 16;             // sequences decoded together (KV-cache slots)
  int64_t prefill_chunk_tokens = 2048;  // prompt tokens per step per sequence (bounds activations)
  // Upper bound on prompt + generated tokens; 0 = the config's max_position_embeddings.
  int64_t max_context = 0;
  // Called for every generated token, in order per prompt (prompt index, token id).
  std::function<void(size_t, int32_t)> on_token;
};

enum class FinishReason { kStop, kLength };

struct Generation {
  std::vector<int32_t> tokens;  // generated ids (the stop token included when kStop)
  FinishReason finish = FinishReason::kLength;
  int64_t prompt_tokens = 0;
};

struct GenerationStats {
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double prefill_seconds = 0;  // time in steps that held prompt tokens
  double decode_seconds = 0;   // time in decode-only steps
};

// Generates a continuation for each prompt. An empty prompt, or one longer than the context
// (max_position_embeddings, or max_context when smaller), is an error naming its index; a
// sequence that fills the context stops with kLength.
Result<std::vector<Generation>> GenerateBatch(Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                              const SamplingOptions& options, GenerationStats* stats = nullptr);

// Logits of a single sequence (no generation): all positions ([len, vocab]) or the last one
// ([1, vocab]) as host floats. For the parity harness and tests.
Result<std::vector<float>> ComputeLogits(Model& model, const std::vector<int32_t>& tokens, bool all_positions);

}  // namespace ritsu::engine
