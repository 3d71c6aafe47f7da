// One host thread per data-parallel replica, kept for the whole run: CUDA's current device is
// per thread, so a replica's TrainDevice (made on its thread, which makes the device current
// there) and every call into it stay on that thread. With one replica there is no thread and
// the work runs on the caller's, exactly as the single-device trainer always did.
//
// A task that fails (error Status or exception) first calls the on-failure hook (the gradient
// reducer's Abort, so replicas waiting in an all-reduce for it return instead of hanging);
// RunOnAll then reports the failure that happened first, rethrowing it if it was an exception
// (TrainOutOfMemory reaches RunTraining's handler as in the single-device case).
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/status.h"

namespace ritsu::train {

class ReplicaThreads {
 public:
  explicit ReplicaThreads(int replicas);
  ~ReplicaThreads();
  ReplicaThreads(const ReplicaThreads&) = delete;
  ReplicaThreads& operator=(const ReplicaThreads&) = delete;

  int size() const { return n_; }
  void set_on_failure(std::function<void()> hook) { on_failure_ = std::move(hook); }
  // fn(r) on replica r's thread for every r, concurrently; returns when all are done.
  Status RunOnAll(const std::function<Status(int)>& fn);
  // fn() on replica r's thread only.
  Status RunOn(int replica, const std::function<Status()>& fn);

 private:
  struct Slot {
    std::function<Status()> task;  // empty when idle
    Status result;
    std::exception_ptr error;
  };
  void Loop(int r);
  Status Dispatch(const std::vector<int>& replicas, const std::function<Status(int)>& fn);

  const int n_;
  std::function<void()> on_failure_;
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::vector<Slot> slots_;
  int pending_ = 0;
  int first_failed_ = -1;
  bool stop_ = false;
  std::vector<std::thread> threads_;  // last: started after every other member exists
};

}  // namespace ritsu::train
