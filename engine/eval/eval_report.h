// The evaluation output file (compatible with the lab's evaluate_multiple_choice.py JSON:
// config / summary / results) and what is computed from it: the summary, the ensemble vote,
// the metrics file for the worker.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace ritsu::eval {

// Majority vote over parsed answers ("a".."d" or "unknown"). Unknowns do not vote. Tie rule:
// among the letters with the most votes, the one given by the earliest run wins (run 0 is the
// greedy-equivalent first sample, so an ensemble of 1 equals a single run). All unknown ->
// "unknown".
std::string MajorityVote(const std::vector<std::string>& answers);

// Summary of a results array (each item needs correct_answer and predicted_answer):
// accuracy, correct_count, total_count, unknown_count, predicted_distribution (a-d + unknown),
// truth_distribution (a-d), confusion_matrix[truth][predicted].
nlohmann::json ComputeSummary(const nlohmann::json& results);

// Reads an evaluation file of ritsu's or the lab's format; errors name the file and field.
Result<nlohmann::json> LoadEvalFile(const std::string& path);

// The metrics the worker stores with the task: {"accuracy", "correct_count", "total_count",
// "unknown_count"}; written to $RITSU_METRICS_FILE when set (no-op otherwise).
Status WriteMetricsFileIfRequested(const nlohmann::json& summary);

}  // namespace ritsu::eval
