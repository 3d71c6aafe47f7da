// Learning-rate schedules as HF transformers' get_scheduler builds them: linear warmup over
// warmup_steps = ceil(warmup_ratio * total_steps), then linear decay to 0, half-cosine decay to
// 0, or constant. `step` is the number of optimizer steps already taken (the rate used by the
// update that makes it step + 1), as LambdaLR evaluates its lambda.
#pragma once

#include <cstdint>
#include <string>

namespace ritsu::train {

int64_t WarmupSteps(double warmup_ratio, int64_t total_steps);
double LearningRateAt(const std::string& scheduler, double base_lr, int64_t step, int64_t warmup_steps,
                      int64_t total_steps);

}  // namespace ritsu::train
