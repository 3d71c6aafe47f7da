// Shared helpers for the trainer's end-to-end tests: a tiny random Qwen3 model with the real
// Qwen3 tokenizer (real vocabulary, hidden 64), JSONL writing and RunTraining with flags.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/model/config.h"
#include "engine/model/random_model.h"
#include "engine/model/tests/test_dir.h"
#include "engine/train/checkpoint.h"
#include "engine/train/trainer.h"

namespace ritsu::train::testing {

inline const std::string kTokenizerDir = std::string(RITSU_DATA_ROOT) + "/models/qwen3-tokenizer";

// Writes the "tiny" Qwen3 preset (real vocab, 2 layers, hidden 64) with random weights.
inline std::string WriteTinyQwen3(const std::string& dir, uint64_t seed, double init_range = 0.02) {
  engine::ModelConfig c = engine::PresetConfig(engine::Arch::kQwen3, "tiny").value();
  c.initializer_range = init_range;
  engine::RandomModelOptions o;
  o.seed = seed;
  o.dtype = engine::DType::kF32;
  o.tokenizer_dir = kTokenizerDir;
  Status st = engine::WriteRandomModel(c, o, dir);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return dir;
}

inline void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream f(path);
  for (const auto& l : lines) f << l << "\n";
}

// Parses argv-style flags (as ritsu-engine train gets them) and runs the training.
inline Result<TrainSummary> Train(const std::vector<std::string>& args, std::string* output = nullptr) {
  std::vector<std::string> all = {"train"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  RITSU_ASSIGN_OR_RETURN(TrainOptions o, ParseTrainArgs(static_cast<int>(argv.size()), argv.data()));
  std::ostringstream out, err;
  auto r = RunTraining(o, out, err);
  if (output) *output = out.str() + err.str();
  return r;
}

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace ritsu::train::testing
