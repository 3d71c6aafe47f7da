// Checkpoint selection as HF Trainer does it: the best evaluation by --metric-for-best-model
// (greater or smaller is better), early stopping after --early-stopping-patience evaluations
// without an improvement of more than --early-stopping-threshold, and --save-total-limit
// rotation that never deletes the best or the newest checkpoint.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ritsu::train {

// Saved in every checkpoint so that a resumed run selects and stops as the uninterrupted one.
struct BestModelState {
  bool has_best = false;
  double best_metric = 0;
  int64_t best_step = 0;
  std::string best_checkpoint;  // OUTPUT/checkpoint-N of best_step, once saved ("" before)
  int64_t patience_counter = 0;  // evaluations since the last improvement beyond the threshold
  bool should_training_stop = false;  // early stopping fired

  nlohmann::json ToJson() const;
  static BestModelState FromJson(const nlohmann::json& j);  // missing keys: defaults
};

class BestModelTracker {
 public:
  BestModelTracker(std::string metric, bool greater_is_better, int64_t patience, double threshold)
      : metric_(std::move(metric)), greater_(greater_is_better), patience_(patience), threshold_(threshold) {}

  const std::string& metric() const { return metric_; }
  // Takes the evaluation at `step`. Early stopping compares with the best before this
  // evaluation (HF's EarlyStoppingCallback runs before the best is updated); the best is
  // replaced on a strict improvement. Returns whether this evaluation is the new best.
  // Metrics without the tracked key change nothing.
  bool Observe(int64_t step, const nlohmann::json& metrics, BestModelState* s) const;

 private:
  bool Better(double a, double b) const { return greater_ ? a > b : a < b; }
  std::string metric_;
  bool greater_;
  int64_t patience_;
  double threshold_;
};

// The steps of OUTPUT/checkpoint-N directories, ascending.
std::vector<int64_t> CheckpointSteps(const std::string& output_dir);

// Which of `steps` (ascending) to delete so at most `limit` remain (0 = no limit), never
// `best_step` (< 0: none) nor the newest: HF's _rotate_checkpoints (with limit 1 and a best
// that is not the newest, two remain).
std::vector<int64_t> CheckpointsToDelete(const std::vector<int64_t>& steps, int64_t limit, int64_t best_step);

}  // namespace ritsu::train
