// Data-parallel training over the GPUs of one host (--gpus N; CPU replicas stand in for them in
// the tests): N replicas of the LoraNet, one per device, each on its own host thread
// (replica_threads.h), start identical and stay identical.
//
// One optimizer step with --gradient-accumulation-steps A consumes N x A micro-batches, exactly
// those a single device would consume with accumulation N x A. Micro-batch i of the step (0-based,
// in data order) runs on replica i % N with the dropout seed of index i, so masks match the
// single-device run; every replica accumulates its LoRA gradients with the step-wide grad_scale
// (1 / labelled tokens of all N x A micro-batches), then the gradient buffers are summed across
// replicas (gradient_reducer.h: NCCL on GPUs). Every replica then computes the same norm, clip
// factor and AdamW update from the same summed gradients. Replica 0 is what gets saved.
// The result equals the single-device run up to fp32 summation order (the per-replica partial
// sums are added in a different association than one device's running sum).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/train/gradient_reducer.h"
#include "engine/train/lora_net.h"
#include "engine/train/replica_threads.h"
#include "engine/train/train_options.h"

namespace ritsu::train {

// Where the replicas run.
struct ReplicaPlan {
  bool cuda = false;
  std::vector<int> ordinals;  // cuda: the device of replica i; cpu: 0, 1, ... (one per replica)
  int size() const { return static_cast<int>(ordinals.size()); }
};

// --device / --gpus (and the tests' TrainOptions::cpu_replicas) -> the replicas. --gpus N uses
// cuda:K .. cuda:K+N-1 for --device cuda:K; --gpus all (0) every visible GPU. Errors name --gpus:
// on cpu, without CUDA, or asking for more GPUs than visible (with the count visible).
Result<ReplicaPlan> PlanReplicas(const TrainOptions& o);

// GPUs visible to this process (CUDA_VISIBLE_DEVICES applies); 0 without CUDA or a usable GPU.
int VisibleCudaDevices();

class DataParallel {
 public:
  // Makes replica `replica` (device + LoraNet); called on that replica's thread, concurrently
  // for N > 1.
  using Factory = std::function<Result<std::unique_ptr<LoraNet>>(int replica)>;

  // Creates the replicas and the reducer (host or NCCL), then runs one all-reduce of the zeroed
  // gradients: it checks the replicas have the same buffers and lets NCCL set up its
  // connections before any step, so a step never fails half-way for that.
  static Result<std::unique_ptr<DataParallel>> Create(const ReplicaPlan& plan, const Factory& make);
  ~DataParallel();

  int size() const { return threads_->size(); }
  bool is_cuda() const { return plan_.cuda; }
  // Replica 0. Its LoraParam fields may be read on any thread; its device only on its own
  // (use OnPrimary).
  const LoraNet& primary() const { return *nets_[0]; }
  // "cpu (fp32)", "cuda:0 NVIDIA H200 (...)" for one replica; "2 x cuda:0,1 NVIDIA H200 (...)".
  std::string DevicesName() const;
  // The largest replica's peak device bytes (every replica holds the same weights, its
  // activations differ with its micro-batches).
  size_t PeakBytes() const;
  // Likewise for the bytes reserved from the device (live + the allocator's cache).
  size_t PeakReservedBytes() const;

  struct StepGradients {
    double loss_sum = 0;   // summed over every micro-batch of the step
    double grad_norm = 0;  // L2 norm of the summed gradients
  };
  // Zeroes the gradients, runs micro-batch i on replica i % N with seed_of(i) (skipped when
  // `run` is false: a step without labels has zero gradients) and all-reduces.
  Result<StepGradients> ComputeGradients(const std::vector<PackedBatch>& micro, float grad_scale, bool run,
                                         const std::function<uint64_t(int64_t)>& seed_of);
  // AdamW with the gradients scaled by `clip` (the same on every replica).
  Status ApplyAdamW(float lr, float weight_decay, int64_t step, float clip);
  // fn on every replica, each on its own thread (resume: every replica loads the checkpoint).
  Status ForEachReplica(const std::function<Status(LoraNet&)>& fn);
  // fn on replica 0's thread (saving).
  Status OnPrimary(const std::function<Status(LoraNet&)>& fn);

 private:
  DataParallel() = default;
  static std::vector<GradSpan> Gradients(LoraNet& net);
  Status AllReduce(int replica);

  ReplicaPlan plan_;
  std::unique_ptr<ReplicaThreads> threads_;
  std::unique_ptr<GradientReducer> reducer_;  // null with one replica
  std::vector<std::unique_ptr<LoraNet>> nets_;
};

}  // namespace ritsu::train
