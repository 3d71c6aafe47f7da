#include "engine/train/replica_threads.h"

namespace ritsu::train {

ReplicaThreads::ReplicaThreads(int replicas) : n_(replicas), slots_(static_cast<size_t>(replicas)) {
  if (n_ > 1) {
    for (int r = 0; r < n_; ++r) threads_.emplace_back([this, r] { Loop(r); });
  }
}

ReplicaThreads::~ReplicaThreads() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ReplicaThreads::Loop(int r) {
  Slot& slot = slots_[static_cast<size_t>(r)];
  for (;;) {
    std::function<Status()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || slot.task; });
      if (!slot.task) return;  // stopping with nothing to do
      task = std::move(slot.task);
      slot.task = nullptr;
    }
    Status st;
    std::exception_ptr error;
    try {
      st = task();
    } catch (...) {
      error = std::current_exception();
    }
    const bool failed = error || !st.ok();
    if (failed) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (first_failed_ < 0) first_failed_ = r;
      }
      if (on_failure_) on_failure_();
    }
    std::lock_guard<std::mutex> lock(mu_);
    slot.result = std::move(st);
    slot.error = error;
    if (--pending_ == 0) done_cv_.notify_all();
  }
}

Status ReplicaThreads::Dispatch(const std::vector<int>& replicas, const std::function<Status(int)>& fn) {
  std::unique_lock<std::mutex> lock(mu_);
  first_failed_ = -1;
  pending_ = static_cast<int>(replicas.size());
  for (int r : replicas) {
    Slot& slot = slots_[static_cast<size_t>(r)];
    slot.result = Status::Ok();
    slot.error = nullptr;
    slot.task = [&fn, r] { return fn(r); };
  }
  work_cv_.notify_all();
  done_cv_.wait(lock, [&] { return pending_ == 0; });
  if (first_failed_ < 0) return Status::Ok();
  Slot& failed = slots_[static_cast<size_t>(first_failed_)];
  if (failed.error) std::rethrow_exception(failed.error);
  return failed.result;
}

Status ReplicaThreads::RunOnAll(const std::function<Status(int)>& fn) {
  if (n_ == 1) return fn(0);
  std::vector<int> all;
  for (int r = 0; r < n_; ++r) all.push_back(r);
  return Dispatch(all, fn);
}

Status ReplicaThreads::RunOn(int replica, const std::function<Status()>& fn) {
  if (n_ == 1) return fn();
  return Dispatch({replica}, [&fn](int) { return fn(); });
}

}  // namespace ritsu::train
