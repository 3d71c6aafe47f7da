#include "engine/train/data_parallel.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#if defined(RITSU_TRAIN_WITH_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace ritsu::train {

namespace {

std::string GpusValue(int64_t gpus) { return gpus == 0 ? "all" : std::to_string(gpus); }

// "N x <name>" when every replica's name is the same apart from its leading device token:
// "cuda:0 NVIDIA H200 (fp32 compute)" + "cuda:1 ..." -> "2 x cuda:0,1 NVIDIA H200 (fp32 compute)".
std::string CombinedName(const std::vector<std::string>& names) {
  if (names.size() == 1) return names[0];
  auto head = [](const std::string& s) { return s.substr(0, s.find(' ')); };
  auto tail = [](const std::string& s) { return s.find(' ') == std::string::npos ? "" : s.substr(s.find(' ')); };
  const std::string n = std::to_string(names.size()) + " x ";
  bool same_tail = true, same_head = true;
  for (const auto& s : names) {
    same_tail = same_tail && tail(s) == tail(names[0]);
    same_head = same_head && head(s) == head(names[0]);
  }
  if (!same_tail) {
    std::string all;
    for (const auto& s : names) all += (all.empty() ? "" : " + ") + s;
    return n + "[" + all + "]";
  }
  if (same_head) return n + names[0];
  // Heads differ: "cuda:0", "cuda:1" -> "cuda:0,1".
  const std::string h0 = head(names[0]);
  const size_t colon = h0.find(':');
  const std::string prefix = colon == std::string::npos ? "" : h0.substr(0, colon + 1);
  std::string heads;
  for (const auto& s : names) {
    const std::string h = head(s);
    heads += (heads.empty() ? "" : ",") + (h.rfind(prefix, 0) == 0 ? h.substr(prefix.size()) : h);
  }
  return n + prefix + heads + tail(names[0]);
}

}  // namespace

int VisibleCudaDevices() {
#if defined(RITSU_TRAIN_WITH_CUDA)
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
#else
  return 0;
#endif
}

Result<ReplicaPlan> PlanReplicas(const TrainOptions& o) {
  ReplicaPlan plan;
  if (o.device != "cuda") {
    if (o.gpus != 1) {
      return Status::InvalidArgument("--gpus " + GpusValue(o.gpus) +
                                     ": data parallel runs over CUDA GPUs; add --device cuda (this run is on the cpu)");
    }
    if (o.cpu_replicas < 1) return Status::InvalidArgument("cpu_replicas must be >= 1");
    for (int64_t r = 0; r < o.cpu_replicas; ++r) plan.ordinals.push_back(static_cast<int>(r));
    return plan;
  }
  if (o.cpu_replicas != 1) return Status::InvalidArgument("cpu_replicas applies to --device cpu only");
  plan.cuda = true;
  if (o.gpus == 1) {  // a bad --device cuda:K is reported by MakeCudaTrainDevice, as before --gpus existed
    plan.ordinals = {o.device_ordinal};
    return plan;
  }
#if !defined(RITSU_TRAIN_WITH_CUDA)
  return Status::FailedPrecondition("--gpus " + GpusValue(o.gpus) + ": this ritsu-engine was built without CUDA");
#endif
  const int visible = VisibleCudaDevices();
  std::string seen = std::to_string(visible) + " CUDA GPU" + (visible == 1 ? "" : "s") + " visible";
  if (const char* cvd = std::getenv("CUDA_VISIBLE_DEVICES")) seen += std::string(" (CUDA_VISIBLE_DEVICES=") + cvd + ")";
  int64_t n = o.gpus;
  if (n == 0) {
    if (o.device_ordinal != 0) {
      return Status::InvalidArgument("--gpus all uses every visible GPU from cuda:0; drop the :" +
                                     std::to_string(o.device_ordinal) + " of --device cuda:" +
                                     std::to_string(o.device_ordinal));
    }
    if (visible == 0) return Status::FailedPrecondition("--gpus all: " + seen);
    n = visible;
  }
  if (o.device_ordinal + n > visible) {
    std::string want = "--gpus " + std::to_string(n);
    if (o.device_ordinal > 0) want += " from --device cuda:" + std::to_string(o.device_ordinal);
    return Status::InvalidArgument(want + ": only " + seen);
  }
  for (int64_t i = 0; i < n; ++i) plan.ordinals.push_back(o.device_ordinal + static_cast<int>(i));
  return plan;
}

Result<std::unique_ptr<DataParallel>> DataParallel::Create(const ReplicaPlan& plan, const Factory& make) {
  std::unique_ptr<DataParallel> dp(new DataParallel());
  dp->plan_ = plan;
  dp->threads_ = std::make_unique<ReplicaThreads>(plan.size());
  dp->nets_.resize(static_cast<size_t>(plan.size()));
  RITSU_RETURN_IF_ERROR(dp->threads_->RunOnAll([&](int r) -> Status {
    RITSU_ASSIGN_OR_RETURN(dp->nets_[static_cast<size_t>(r)], make(r));
    return Status::Ok();
  }));
  if (plan.size() == 1) return dp;
  if (plan.cuda) {
    RITSU_ASSIGN_OR_RETURN(dp->reducer_, MakeNcclGradientReducer(plan.ordinals));
  } else {
    dp->reducer_ = MakeHostGradientReducer(plan.size());
  }
  GradientReducer* reducer = dp->reducer_.get();
  dp->threads_->set_on_failure([reducer] { reducer->Abort(); });
  RITSU_RETURN_IF_ERROR(dp->threads_->RunOnAll([&](int r) -> Status {
    dp->nets_[static_cast<size_t>(r)]->ZeroGrads();
    return dp->AllReduce(r);
  }));
  return dp;
}

DataParallel::~DataParallel() {
  // Each replica's buffers are freed on its own thread (its CUDA device is current there), before
  // the reducer goes and the threads stop.
  if (threads_) {
    (void)threads_->RunOnAll([&](int r) {
      nets_[static_cast<size_t>(r)].reset();
      return Status::Ok();
    });
  }
  reducer_.reset();
}

std::vector<GradSpan> DataParallel::Gradients(LoraNet& net) {
  std::vector<GradSpan> g;
  for (LoraParam& p : net.params()) {
    g.push_back({p.grad_a.data(), p.grad_a.size()});
    g.push_back({p.grad_b.data(), p.grad_b.size()});
  }
  return g;
}

Status DataParallel::AllReduce(int replica) {
  if (!reducer_) return Status::Ok();
  return reducer_->AllReduceSum(replica, Gradients(*nets_[static_cast<size_t>(replica)]));
}

std::string DataParallel::DevicesName() const {
  std::vector<std::string> names;
  for (const auto& net : nets_) names.push_back(net->device().name());
  return CombinedName(names);
}

size_t DataParallel::PeakBytes() const {
  size_t peak = 0;
  for (const auto& net : nets_) peak = std::max(peak, net->device().peak_bytes());
  return peak;
}

size_t DataParallel::PeakReservedBytes() const {
  size_t peak = 0;
  for (const auto& net : nets_) peak = std::max(peak, net->device().peak_reserved_bytes());
  return peak;
}

Result<DataParallel::StepGradients> DataParallel::ComputeGradients(const std::vector<PackedBatch>& micro,
                                                                   float grad_scale, bool run,
                                                                   const std::function<uint64_t(int64_t)>& seed_of) {
  const int n = size();
  std::vector<double> loss(static_cast<size_t>(n), 0.0);
  double sq = 0;
  RITSU_RETURN_IF_ERROR(threads_->RunOnAll([&](int r) -> Status {
    LoraNet& net = *nets_[static_cast<size_t>(r)];
    net.ZeroGrads();
    if (run) {
      for (size_t i = static_cast<size_t>(r); i < micro.size(); i += static_cast<size_t>(n)) {
        loss[static_cast<size_t>(r)] +=
            net.LossAndGrad(micro[i], grad_scale, seed_of(static_cast<int64_t>(i)), true).loss_sum;
      }
    }
    RITSU_RETURN_IF_ERROR(AllReduce(r));
    // The summed gradients are identical on every replica: replica 0 measures them.
    if (r == 0) {
      for (const auto& p : net.params()) {
        sq += net.device().SumSquares(p.grad_a.data(), static_cast<int64_t>(p.grad_a.size()));
        sq += net.device().SumSquares(p.grad_b.data(), static_cast<int64_t>(p.grad_b.size()));
      }
    }
    return Status::Ok();
  }));
  StepGradients g;
  for (double l : loss) g.loss_sum += l;
  g.grad_norm = std::sqrt(sq);
  return g;
}

Status DataParallel::ApplyAdamW(float lr, float weight_decay, int64_t step, float clip) {
  return threads_->RunOnAll([&](int r) {
    LoraNet& net = *nets_[static_cast<size_t>(r)];
    for (auto& p : net.params()) {
      net.device().AdamW(p.a.data(), p.grad_a.data(), p.m_a.data(), p.v_a.data(), static_cast<int64_t>(p.a.size()), lr,
                         weight_decay, step, clip);
      net.device().AdamW(p.b.data(), p.grad_b.data(), p.m_b.data(), p.v_b.data(), static_cast<int64_t>(p.b.size()), lr,
                         weight_decay, step, clip);
    }
    return Status::Ok();
  });
}

Status DataParallel::ForEachReplica(const std::function<Status(LoraNet&)>& fn) {
  return threads_->RunOnAll([&](int r) { return fn(*nets_[static_cast<size_t>(r)]); });
}

Status DataParallel::OnPrimary(const std::function<Status(LoraNet&)>& fn) {
  return threads_->RunOn(0, [&] { return fn(*nets_[0]); });
}

}  // namespace ritsu::train
