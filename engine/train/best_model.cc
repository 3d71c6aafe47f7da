#include "engine/train/best_model.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace ritsu::train {

namespace fs = std::filesystem;
using nlohmann::json;

json BestModelState::ToJson() const {
  return {{"has_best", has_best},
          {"best_metric", best_metric},
          {"best_step", best_step},
          {"best_checkpoint", best_checkpoint},
          {"patience_counter", patience_counter},
          {"should_training_stop", should_training_stop}};
}

BestModelState BestModelState::FromJson(const json& j) {
  BestModelState s;
  if (!j.is_object()) return s;
  s.has_best = j.value("has_best", false);
  s.best_metric = j.value("best_metric", 0.0);
  s.best_step = j.value("best_step", int64_t{0});
  s.best_checkpoint = j.value("best_checkpoint", std::string());
  s.patience_counter = j.value("patience_counter", int64_t{0});
  s.should_training_stop = j.value("should_training_stop", false);
  return s;
}

bool BestModelTracker::Observe(int64_t step, const json& metrics, BestModelState* s) const {
  if (!metrics.contains(metric_) || !metrics[metric_].is_number()) return false;
  const double m = metrics[metric_].get<double>();
  if (patience_ > 0) {
    if (!s->has_best || (Better(m, s->best_metric) && std::fabs(m - s->best_metric) > threshold_)) {
      s->patience_counter = 0;
    } else {
      ++s->patience_counter;
    }
    if (s->patience_counter >= patience_) s->should_training_stop = true;
  }
  if (s->has_best && !Better(m, s->best_metric)) return false;
  s->has_best = true;
  s->best_metric = m;
  s->best_step = step;
  s->best_checkpoint.clear();  // set when the checkpoint of this step is written
  return true;
}

std::vector<int64_t> CheckpointSteps(const std::string& output_dir) {
  std::vector<int64_t> steps;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(output_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("checkpoint-", 0) != 0 || !e.is_directory()) continue;
    const std::string num = name.substr(11);
    if (num.empty() || num.size() > 18 || num.find_first_not_of("0123456789") != std::string::npos) continue;
    steps.push_back(std::stoll(num));
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

std::vector<int64_t> CheckpointsToDelete(const std::vector<int64_t>& steps, int64_t limit, int64_t best_step) {
  if (limit <= 0 || steps.empty()) return {};
  std::vector<int64_t> order = steps;
  const bool best_kept = best_step >= 0 && best_step != order.back() &&
                         std::find(order.begin(), order.end(), best_step) != order.end();
  if (best_kept) {
    // The best moves next to the newest: deletion takes the oldest first.
    order.erase(std::find(order.begin(), order.end(), best_step));
    order.insert(order.end() - 1, best_step);
    limit = std::max<int64_t>(limit, 2);
  }
  const int64_t n = static_cast<int64_t>(order.size()) - limit;
  if (n <= 0) return {};
  return std::vector<int64_t>(order.begin(), order.begin() + n);
}

}  // namespace ritsu::train
