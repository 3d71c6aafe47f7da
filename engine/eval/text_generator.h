// The generation interface the eval driver uses. The engine implements it over its batched
// generator (engine/eval/engine_generator.cc, when engine/model/generator.h exists); tests use
// a fake. Implementations return exactly one completion (the generated text only, without the
// prompt) per prompt, in order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace ritsu::eval {

struct GenOptions {
  int max_new_tokens = 256;
  bool do_sample = false;     // false: greedy
  double temperature = 0.7;   // used only when do_sample
  double top_p = 0.9;         // used only when do_sample
  uint64_t seed = 42;         // sampling seed of this run
};

class TextGenerator {
 public:
  virtual ~TextGenerator() = default;
  virtual std::vector<std::string> GenerateBatch(const std::vector<std::string>& prompts,
                                                 const GenOptions& options) = 0;
  // Human-readable name for the output's config ("Qwen/Qwen3-8B + runs/v1 (nf4)").
  virtual std::string Describe() const { return "generator"; }
};

}  // namespace ritsu::eval
