// The all-reduce of data-parallel training (--gpus N): after every replica has accumulated the
// LoRA gradients of its micro-batches, each gradient buffer is replaced by the sum over the
// replicas, so every replica then runs the same clipping and AdamW and the replicas stay
// identical. Two implementations:
//   host: replicas on the CPU (the CI stand-in for GPUs, TrainOptions::cpu_replicas), threads
//         meeting at a barrier and summing fp32 buffers in replica order 0, 1, ..., N-1;
//   NCCL: one CUDA device per replica, ncclAllReduce (sum) on a communicator per device
//         (single process, ncclCommInitAll), built only with CUDA and NCCL.
//
// Thread-safety: AllReduceSum is called concurrently, once per replica, each from that
// replica's own thread (for CUDA, the thread whose current device is the replica's).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "common/status.h"

namespace ritsu::train {

// One fp32 buffer in the replica's memory (host for the host reducer, device for NCCL).
struct GradSpan {
  float* data = nullptr;
  size_t n = 0;
};

class GradientReducer {
 public:
  virtual ~GradientReducer() = default;
  virtual int replicas() const = 0;
  // Every replica passes its buffers, the same count and sizes in the same order; on return
  // (Ok) each buffer holds the element-wise sum over the replicas, identical on all of them.
  virtual Status AllReduceSum(int replica, const std::vector<GradSpan>& buffers) = 0;
  // A replica that failed before reaching AllReduceSum calls this so the others return an
  // error instead of waiting for it forever. The reducer is unusable afterwards.
  virtual void Abort() = 0;
};

std::unique_ptr<GradientReducer> MakeHostGradientReducer(int replicas);

// One communicator per CUDA device in `ordinals` (replica i = ordinals[i]); an error naming
// --gpus when this build has no CUDA or no NCCL, or when NCCL cannot set up the devices.
Result<std::unique_ptr<GradientReducer>> MakeNcclGradientReducer(const std::vector<int>& ordinals);

}  // namespace ritsu::train
