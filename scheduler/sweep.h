// Sweep files: a TOML description of a parameter grid (or a random sample of it) and the
// per-trial chain of steps to run for each point. Format and a full example: docs/sweeps.md.
//
// Expansion is pure (no I/O, no ids): ritsud turns the result into tasks with dependencies in
// one durable write.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/task.h"

namespace ritsu::sched {

inline constexpr size_t kMaxSweepTrials = 10000;

struct ExpandedStep {
  std::string step;                  // step name, "main" when the file has no [[step]]
  TaskSpec spec;                     // placeholders substituted; after_in_batch not yet set
  std::vector<std::string> after;    // names of steps of the same trial it waits for
};

struct ExpandedTrial {
  uint32_t trial = 0;
  std::map<std::string, std::string> params;
  std::vector<ExpandedStep> steps;   // in dependency order (a step after those it waits for)
};

struct ExpandedSweep {
  std::string name;
  uint32_t max_concurrent = 0;
  std::vector<ExpandedTrial> trials;
};

// Parses and expands. Errors name the file, the line where toml++ knows it, and the field:
//   "lr.toml: [[step]] 'eval': after = ['tain']: no step named 'tain' (steps: train, eval)"
Result<ExpandedSweep> ExpandSweep(std::string_view toml_text, const std::string& file_name);

// Flattens a sweep into one submit batch: specs in trial-then-step order with after_in_batch
// filled from the step names. `index_of[i][j]` = batch index of trial i's step j.
std::vector<TaskSpec> FlattenSweep(const ExpandedSweep& sweep,
                                   std::vector<std::vector<uint32_t>>* index_of);

// Replaces {name} placeholders from `vars` ("{{" and "}}" are literal braces). Unknown names
// are an error naming the placeholder and the known names.
Result<std::string> Substitute(std::string_view text, const std::map<std::string, std::string>& vars);

}  // namespace ritsu::sched
