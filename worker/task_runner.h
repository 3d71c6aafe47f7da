// Runs one assigned attempt on its own thread: builds the child's command line and environment
// from the Assign message, starts it through Process, and posts what happens (started, output
// lines, exit) to an EventQueue that the agent's single-threaded event loop drains.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/protocol.h"
#include "worker/agent_deps.h"
#include "worker/attempt_registry.h"
#include "worker/process.h"
#include "worker/slots.h"

namespace ritsu::worker {

struct TaskEvent {
  enum class Type { kStarted, kOutput, kExited };
  Type type = Type::kOutput;
  TaskAttemptRef ref;
  LogStream stream = LogStream::kStdout;
  std::string data;          // kOutput: whole lines (each with its '\n'), a partial last line at the end
  int32_t pid = 0;           // kStarted
  ProcessResult result;      // kExited
};

// Multi-producer (task threads) / single-consumer (the agent loop) queue whose wake_fd becomes
// readable when events are waiting, so the loop can poll it beside the ZeroMQ socket.
class EventQueue {
 public:
  EventQueue();
  ~EventQueue();
  void Push(TaskEvent ev);
  std::deque<TaskEvent> TakeAll();
  int wake_fd() const { return wake_fd_; }

 private:
  std::mutex mu_;
  std::deque<TaskEvent> events_;  // guarded by mu_
  int wake_fd_ = -1;
};

// How to turn an Assign into a process.
struct LaunchContext {
  std::string engine_path;              // ritsu-engine for train/eval/merge
  std::vector<LocalSlot> slots;         // this worker's slots (for CUDA_VISIBLE_DEVICES)
  std::string metrics_dir;              // RITSU_METRICS_FILE lives here, one file per attempt
  std::chrono::milliseconds kill_grace{std::chrono::seconds(10)};
  // Where each attempt's process identity is recorded while it runs (nullptr: nowhere).
  AttemptRegistry* registry = nullptr;
};

ProcessSpec BuildProcessSpec(const Assign& a, const LaunchContext& ctx, std::string* metrics_path);

// $RITSU_METRICS_SERIES of an attempt: the JSONL file the task appends metric records to, which
// the agent tails (worker/metrics_tail.h). In metrics_dir, one per attempt.
std::string SeriesPathFor(const std::string& metrics_dir, TaskId task_id, uint32_t attempt);

// Reads what the child wrote to RITSU_METRICS_FILE: the text if it is one JSON object (at most
// 1 MiB), else "" and *problem says why (a missing file is not a problem).
std::string ReadMetricsFile(const std::string& path, std::string* problem);

class TaskRunner : public TaskHandle {
 public:
  // Starts the thread at once.
  TaskRunner(const Assign& a, const LaunchContext& ctx, EventQueue* events);
  ~TaskRunner() override;  // joins

  // Thread-safe; effective even if the child has not been started yet.
  void Cancel(std::chrono::milliseconds grace) override;
  // Thread-safe: stop / resume reading the child's output (back-pressure, Process::SetPaused).
  void SetOutputPaused(bool paused) override;
  const TaskAttemptRef& ref() const override { return ref_; }
  const std::string& metrics_path() const override { return metrics_path_; }
  std::vector<std::string> slots() const { return slots_; }

 private:
  void Run(ProcessSpec spec);

  TaskAttemptRef ref_;
  std::vector<std::string> slots_;
  std::string metrics_path_;
  EventQueue* events_;
  std::mutex mu_;
  Process* process_ = nullptr;     // guarded by mu_; valid while the child runs
  bool cancelled_ = false;         // guarded by mu_
  std::chrono::milliseconds cancel_grace_{0};
  bool paused_ = false;            // guarded by mu_
  AttemptRegistry* registry_ = nullptr;
  std::thread thread_;
};

}  // namespace ritsu::worker
