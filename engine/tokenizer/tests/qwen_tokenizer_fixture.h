// The real Qwen3 tokenizer (models/qwen3-tokenizer), loaded once per test binary, and
// the golden files written by tests/parity/tokenizer_goldens.py with HF tokenizers.
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/tokenizer/tokenizer.h"

namespace ritsu::tokenizer::testing {

inline std::string QwenTokenizerDir() { return std::string(RITSU_DATA_ROOT) + "/models/qwen3-tokenizer"; }
inline std::string GoldenDir() { return std::string(RITSU_SOURCE_DIR) + "/tests/data/tokenizer"; }

// Loaded on first use and kept for the whole binary (loading parses an 11 MB JSON).
inline const Tokenizer& QwenTokenizer() {
  static const Tokenizer* tok = [] {
    auto r = Tokenizer::Load(QwenTokenizerDir());
    if (!r.ok()) {
      ADD_FAILURE() << "cannot load the Qwen tokenizer: " << r.status().ToString();
      std::abort();
    }
    return new Tokenizer(std::move(r).value());
  }();
  return *tok;
}

inline std::vector<nlohmann::json> ReadJsonLines(const std::string& name) {
  const std::string path = GoldenDir() + "/" + name;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "missing golden file " << path
                         << " (regenerate with tests/parity/tokenizer_goldens.py)";
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

inline std::string HexToBytes(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

}  // namespace ritsu::tokenizer::testing
