#include "engine/train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace ritsu::train {

int64_t WarmupSteps(double warmup_ratio, int64_t total_steps) {
  return static_cast<int64_t>(std::ceil(warmup_ratio * static_cast<double>(total_steps)));
}

double LearningRateAt(const std::string& scheduler, double base_lr, int64_t step, int64_t warmup_steps,
                      int64_t total_steps) {
  if (step < warmup_steps) return base_lr * static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_steps));
  if (scheduler == "constant") return base_lr;
  const double progress = static_cast<double>(step - warmup_steps) /
                          static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
  if (scheduler == "cosine") return base_lr * std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * progress)));
  return base_lr * std::max(0.0, 1.0 - progress);  // linear
}

}  // namespace ritsu::train
