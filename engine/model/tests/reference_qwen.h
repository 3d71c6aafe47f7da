// An independent float64 Qwen2/Qwen3 forward in naive loops, written from the HF modeling
// code's math (not from the engine's), to check the engine end to end.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/model/config.h"

namespace ritsu::engine::testing {

using WeightMap = std::map<std::string, std::vector<double>>;

// Logits [tokens.size(), vocab] of every position of one sequence.
std::vector<std::vector<double>> ReferenceLogits(const ModelConfig& c, const WeightMap& w,
                                                 const std::vector<int32_t>& tokens);

}  // namespace ritsu::engine::testing
