// Tiny random Qwen models for the tests: small enough that the float64 reference forward runs
// in milliseconds, shaped so that every code path matters (GQA 4:2, Qwen3 head_dim != hidden /
// heads, Qwen2 biases, random norm weights and biases via test_init, 64-aligned in_features for
// the NF4 path).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/model/config.h"
#include "engine/model/random_model.h"
#include "engine/model/safetensors.h"
#include "engine/model/tests/reference_qwen.h"

namespace ritsu::engine::testing {

ModelConfig TinyConfig(Arch arch, bool tie_word_embeddings);

// Writes a random model (BF16, test_init, no tokenizer) into dir.
void WriteTinyModel(const ModelConfig& c, uint64_t seed, const std::string& dir);

// Every tensor of DIR's checkpoint as float.
std::map<std::string, std::vector<float>> ReadAllFloat(const std::string& dir);
WeightMap ToDouble(const std::map<std::string, std::vector<float>>& w);

// Writes config.json and an F32 model.safetensors holding `weights` (shapes from the config).
void WriteFloatModel(const ModelConfig& c, const std::map<std::string, std::vector<float>>& weights,
                     const std::string& dir);

}  // namespace ritsu::engine::testing
