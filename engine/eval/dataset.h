// lawqa_jp samples: loading (a JSON list, or {"samples": [...]}), validation that names the
// sample and field at fault, the seeded train/test split, and label/law distributions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace ritsu::eval {

struct Choice {
  char letter = 0;   // 'a'..'d'
  std::string text;  // without the leading "a "
};

struct Sample {
  int index = 0;                 // position in the file it was read from
  std::string file_name;         // ファイル名, e.g. "金商法_第2章_選択式_関連法令_問題番号57"
  std::string context;           // コンテキスト (markdown-ish statute excerpt); may be empty
  std::string instruction;       // 指示
  std::string question;          // 問題文
  std::string choices_text;      // 選択肢 as stored (one "a ..." line per choice)
  std::vector<Choice> choices;   // parsed, exactly four, letters a..d in order
  char answer = 0;               // output, 'a'..'d'
  std::vector<std::string> references;
  nlohmann::json raw;            // the original object, written back unchanged by `data split`

  // The law family: the part of ファイル名 before the first '_' ("金商法"), or "unknown".
  std::string Law() const;
};

// Parses the text of a dataset file. `source` names it in error messages, which read like
// "selection.json: sample 12: field 選択肢: 3 choices, need a, b, c and d".
Result<std::vector<Sample>> ParseDataset(const std::string& text, const std::string& source);
Result<std::vector<Sample>> LoadDataset(const std::string& path);

// Deterministic shuffle: Fisher-Yates driven by SplitMix64 (seeded with `seed`), indices drawn
// by rejection so there is no modulo bias. Same seed, same order, on every platform; it does
// NOT reproduce Python's random.shuffle (the lab's split) bit for bit.
std::vector<int> SeededPermutation(int n, uint64_t seed);
// One step of SplitMix64: advances *state and returns the next output.
uint64_t SplitMix64Next(uint64_t* state);

struct Split {
  std::vector<Sample> train;
  std::vector<Sample> test;
};
// First `train_size` of the permuted samples are train, the next `test_size` test.
Result<Split> SplitDataset(const std::vector<Sample>& samples, int train_size, int test_size,
                           uint64_t seed);

// Counts answers per letter (all four letters present, zero when absent) and per Law().
std::map<std::string, int> LabelDistribution(const std::vector<Sample>& samples);
std::map<std::string, int> LawDistribution(const std::vector<Sample>& samples);

// {"samples": [raw objects...]} - the shape selection.json has.
nlohmann::json SamplesToJson(const std::vector<Sample>& samples);

}  // namespace ritsu::eval
