// The host GradientReducer (CPU replicas) and, in builds without NCCL, the refusal of the
// NCCL one.
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "engine/train/gradient_reducer.h"

namespace ritsu::train {
namespace {

// Replicas meet at a barrier, each publishing its buffers; then replica r sums its share of
// every buffer's elements (a contiguous 1/N of each) over all replicas, always in replica order
// 0..N-1 so the result is deterministic and the same on every replica, and writes the sum into
// every replica's buffer; a second barrier keeps any replica from reading its gradients before
// every share is written. The shares are disjoint, so no element is written twice.
class HostGradientReducer final : public GradientReducer {
 public:
  explicit HostGradientReducer(int n) : n_(n), posted_(static_cast<size_t>(n), nullptr) {}
  int replicas() const override { return n_; }

  Status AllReduceSum(int replica, const std::vector<GradSpan>& buffers) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      posted_[static_cast<size_t>(replica)] = &buffers;
      RITSU_RETURN_IF_ERROR(Barrier(lock));
    }
    // Every replica sees the same posted lists, so a mismatch is found by all of them alike and
    // none is left waiting at the second barrier.
    const std::vector<GradSpan>& first = *posted_[0];
    for (int q = 1; q < n_; ++q) {
      const std::vector<GradSpan>& other = *posted_[static_cast<size_t>(q)];
      bool same = other.size() == first.size();
      for (size_t t = 0; same && t < first.size(); ++t) same = other[t].n == first[t].n;
      if (!same) {
        return Status::Internal("gradient all-reduce: replica " + std::to_string(q) +
                                " has different gradient buffers from replica 0");
      }
    }
    for (size_t t = 0; t < first.size(); ++t) {
      const size_t len = first[t].n;
      const size_t lo = len * static_cast<size_t>(replica) / static_cast<size_t>(n_);
      const size_t hi = len * static_cast<size_t>(replica + 1) / static_cast<size_t>(n_);
      for (size_t i = lo; i < hi; ++i) {
        float s = 0.0f;
        for (int q = 0; q < n_; ++q) s += (*posted_[static_cast<size_t>(q)])[t].data[i];
        for (int q = 0; q < n_; ++q) (*posted_[static_cast<size_t>(q)])[t].data[i] = s;
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    return Barrier(lock);
  }

  void Abort() override {
    std::lock_guard<std::mutex> lock(mu_);
    aborted_ = true;
    cv_.notify_all();
  }

 private:
  // A reusable barrier (generation counter) that Abort releases with an error.
  Status Barrier(std::unique_lock<std::mutex>& lock) {
    if (aborted_) return Aborted();
    const uint64_t gen = generation_;
    if (++arrived_ == n_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return Status::Ok();
    }
    cv_.wait(lock, [&] { return generation_ != gen || aborted_; });
    return generation_ != gen ? Status::Ok() : Aborted();
  }
  static Status Aborted() {
    return Status::Unavailable("gradient all-reduce abandoned: another replica failed");
  }

  const int n_;
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  uint64_t generation_ = 0;
  bool aborted_ = false;
  std::vector<const std::vector<GradSpan>*> posted_;  // valid between the two barriers
};

}  // namespace

std::unique_ptr<GradientReducer> MakeHostGradientReducer(int replicas) {
  return std::make_unique<HostGradientReducer>(replicas);
}

#if !defined(RITSU_TRAIN_WITH_NCCL)
Result<std::unique_ptr<GradientReducer>> MakeNcclGradientReducer(const std::vector<int>& ordinals) {
  return Status::FailedPrecondition("--gpus " + std::to_string(ordinals.size()) +
                                    ": this ritsu-engine was built without NCCL (needs CUDA and libnccl)");
}
#endif

}  // namespace ritsu::train
