// What the agent needs from the outside world besides its socket and spool, behind small
// interfaces so tests can drive it with fakes: a clock (spool-full limit, heartbeats, backoff)
// and a process launcher (tasks as handles that take cancels and pauses and post their events).
// With a fake launcher and clock, cancel-grace and spool-full sequences are exact unit tests
// without child processes or sleeps (worker/tests/agent_seam_test.cc).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/protocol.h"

namespace ritsu::worker {

class EventQueue;
struct LaunchContext;

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual time_point Now() = 0;
};
Clock* SteadyClock();  // std::chrono::steady_clock

// One running attempt. Its events (started, output, exited) go to the EventQueue given at launch;
// kExited is the last one, after which the agent destroys the handle.
class TaskHandle {
 public:
  virtual ~TaskHandle() = default;
  // SIGTERM the task's tree now, SIGKILL it after `grace`. Thread-safe.
  virtual void Cancel(std::chrono::milliseconds grace) = 0;
  // Stop / resume reading the task's output (back-pressure). Thread-safe.
  virtual void SetOutputPaused(bool paused) = 0;
  virtual const TaskAttemptRef& ref() const = 0;
  // RITSU_METRICS_FILE of the attempt ("" = none).
  virtual const std::string& metrics_path() const = 0;
};

class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;
  virtual std::unique_ptr<TaskHandle> Launch(const Assign& a, const LaunchContext& ctx, EventQueue* events) = 0;
};
ProcessLauncher* RealProcessLauncher();  // TaskRunner: a thread per attempt, Process under a shim

}  // namespace ritsu::worker
