// The metric series of an attempt as the CLI uses it: fetched whole (every page of what ritsud
// stored), and summarised for `show` (the latest training record, the best evaluation).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/client.h"
#include "common/protocol.h"

namespace ritsu::cli {

// Every stored record of (task, attempt) in order (attempt 0 = the latest); *last = the last reply.
Result<std::vector<nlohmann::json>> FetchSeries(Client& client, TaskId task_id, uint32_t attempt, MetricsReply* last);

struct SeriesSummary {
  nlohmann::json latest;     // the last record that is not an evaluation (null if none)
  nlohmann::json best_eval;  // the evaluation with the highest eval_accuracy (null if none)
};
SeriesSummary Summarize(const std::vector<nlohmann::json>& records);

// "step 120  loss 1.23  learning_rate 0.0002": a record's fields but `kind`, step first.
std::string FormatRecord(const nlohmann::json& record);

}  // namespace ritsu::cli
