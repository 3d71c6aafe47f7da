// Runs one task attempt as a child process and supervises it to the end.
//
// The child gets its own process group (so cancel reaches everything it spawned), its own
// working directory and extra environment, and stdout/stderr pipes that are read without
// blocking (poll) and split into lines. Wait() returns exit code or signal, wall time and peak
// RSS (wait4 rusage). Cancel() and the timeout send SIGTERM to the group and SIGKILL after the
// grace period. When the main process exits, whatever is left in its group is killed: a task
// never leaves stray processes on the worker.
//
// Thread-safety: Start/Wait on one thread; Cancel() may be called from any thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace ritsu::worker {

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is looked up on PATH like a shell would
  std::string cwd;                // empty: the worker's own working directory
  // Added to (or overriding) the worker's environment, e.g. CUDA_VISIBLE_DEVICES.
  std::vector<std::pair<std::string, std::string>> env;
  std::chrono::milliseconds timeout{0};  // 0: none
  std::chrono::milliseconds kill_grace{std::chrono::seconds(5)};
};

enum class OutputStream { kStdout = 0, kStderr = 1 };

struct ProcessResult {
  int exit_code = -1;    // meaningful when term_signal == 0
  int term_signal = 0;   // signal that ended the process, 0 if it exited
  bool timed_out = false;
  bool cancelled = false;
  double wall_seconds = 0;
  int64_t peak_rss_bytes = 0;
  // Set when the command could not be started at all (exec failed: not found, not executable,
  // bad cwd); the process then counts as exit code 127.
  std::string launch_error;

  bool succeeded() const { return term_signal == 0 && exit_code == 0 && launch_error.empty(); }
  std::string Describe() const;  // "exit 0", "killed by SIGKILL (timeout)", ...
};

class Process {
 public:
  using LineFn = std::function<void(OutputStream, std::string_view line)>;

  // Forks and execs. Fails (without a child left behind) when the spec is unusable: empty argv,
  // pipe/fork failure. A missing program is reported by Wait() as launch_error, because the
  // error is only known inside the child.
  static Result<std::unique_ptr<Process>> Start(const ProcessSpec& spec);
  ~Process();

  pid_t pid() const { return pid_; }

  // Pumps output to on_line until the process has exited and its pipes are drained.
  // after_read, if given, runs after each batch of reads (and once at the end), so a caller
  // can hand on many lines at once instead of one by one.
  ProcessResult Wait(const LineFn& on_line, const std::function<void()>& after_read = nullptr);

  // Asks the process group to stop: SIGTERM now, SIGKILL after the grace period (the spec's
  // kill_grace, or `grace` when given).
  void Cancel(std::chrono::milliseconds grace = std::chrono::milliseconds(-1));

  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

 private:
  Process() = default;
  void WakeUp();

  pid_t pid_ = -1;
  std::string program_;  // argv[0], for error messages
  int out_fd_ = -1, err_fd_ = -1;
  int exec_err_fd_ = -1;  // CLOEXEC pipe: the child writes errno here if exec fails
  int wake_fd_ = -1;      // eventfd that Cancel() uses to interrupt poll
  std::chrono::milliseconds timeout_{0};
  std::chrono::milliseconds kill_grace_{0};
  std::chrono::steady_clock::time_point started_;
  std::atomic<bool> cancel_requested_{false};
  std::atomic<int64_t> cancel_grace_ms_{-1};
};

}  // namespace ritsu::worker
