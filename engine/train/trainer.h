// The training loop of `ritsu-engine train`: data -> batches -> LoraNet forward/backward ->
// grad-norm clipping -> AdamW -> schedule, with logging, checkpoints, resume and the final
// PEFT adapter directory. Everything it prints to `out` is the progress the worker streams.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "common/status.h"
#include "engine/train/train_options.h"

namespace ritsu::train {

struct TrainSummary {
  double train_loss = 0;  // mean of the per-step losses
  int64_t steps = 0;
  int64_t tokens = 0;
  double tokens_per_s = 0;
  double seconds = 0;
  // SIGTERM/SIGINT stopped the run after a whole step (checkpoint written, stop_signal.h);
  // `ritsu-engine train` exits with kPreemptedExitCode.
  bool preempted = false;
};

// Runs the whole training described by `o`. A NaN/inf loss or gradient stops it with a
// FailedPrecondition naming the step and the last good checkpoint.
Result<TrainSummary> RunTraining(const TrainOptions& o, std::ostream& out, std::ostream& err);

// The tail of an out-of-memory error: "; this run needs about X GiB per GPU (breakdown): raise
// --max-gpu-memory, ..." by the trainer's memory model (common/gpu_estimate.h); empty when the
// model's config cannot be read.
std::string MemoryNeedMessage(const TrainOptions& o);

// Dropout seed of micro-batch `micro` of optimizer step `step` (0-based).
uint64_t MicroBatchSeed(uint64_t seed, int64_t step, int64_t micro);

}  // namespace ritsu::train
