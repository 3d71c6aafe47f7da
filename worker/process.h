// Runs one task attempt as a child process and supervises it to the end.
//
// The task runs under a task shim (task_shim.h): worker -> shim -> task. The task gets its own
// process group, its own working directory and extra environment, and stdout/stderr pipes that
// are read without blocking (poll) and split into lines. Wait() returns exit code or signal, wall
// time and peak RSS. Cancel() and the timeout SIGTERM every descendant (the group and setsid'd
// ones) and SIGKILL the whole tree after the grace period. When the main process exits, whatever
// it left running is killed; if the worker dies, the shim kills the tree. Wait() returns only
// once the whole tree is gone: a task never leaves stray processes on the worker.
//
// SetPaused(true) stops reading the pipes (the task blocks once they fill): the agent's
// back-pressure when its spool cannot take more output. Nothing is dropped.
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
  // RITSU_ATTEMPT_TOKEN for this tree; empty: a random one. The task runner chooses it so it
  // can record it before the fork.
  std::string attempt_token;
};

std::string RandomAttemptToken();

// Every process of a task tree carries RITSU_ATTEMPT_TOKEN=<random> in its environment, so the
// worker can still find descendants that escaped both the process group and the parent chain
// (a setsid'd orphan whose shim was killed too) -- see attempt_registry.h.
inline constexpr const char* kAttemptTokenEnv = "RITSU_ATTEMPT_TOKEN";

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

  pid_t pid() const { return pid_; }        // the task (its process group id too)
  pid_t shim_pid() const { return shim_pid_; }
  const std::string& token() const { return token_; }  // the RITSU_ATTEMPT_TOKEN value

  // Pumps output to on_line until the process has exited and its pipes are drained.
  // after_read, if given, runs after each batch of reads (and once at the end), so a caller
  // can hand on many lines at once instead of one by one.
  ProcessResult Wait(const LineFn& on_line, const std::function<void()>& after_read = nullptr);

  // Asks the process group to stop: SIGTERM now, SIGKILL after the grace period (the spec's
  // kill_grace, or `grace` when given).
  void Cancel(std::chrono::milliseconds grace = std::chrono::milliseconds(-1));

  // Thread-safe. While paused, Wait() reads nothing from the task's pipes (exit, cancel and
  // timeout still work); the drain after exit waits for the pause to end rather than drop output.
  void SetPaused(bool paused);

  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

 private:
  Process() = default;
  void WakeUp();

  void SendToShim(char cmd);

  pid_t pid_ = -1;
  pid_t shim_pid_ = -1;
  int control_fd_ = -1;   // write end of the shim's lifeline; closing it (or dying) kills the tree
  int report_fd_ = -1;    // the shim's reports (ShimReport)
  std::string program_;  // argv[0], for error messages
  std::string token_;
  int out_fd_ = -1, err_fd_ = -1;
  int exec_err_fd_ = -1;  // CLOEXEC pipe: the child writes errno here if exec fails
  int wake_fd_ = -1;      // eventfd that Cancel() uses to interrupt poll
  std::chrono::milliseconds timeout_{0};
  std::chrono::milliseconds kill_grace_{0};
  std::chrono::steady_clock::time_point started_;
  std::atomic<bool> cancel_requested_{false};
  std::atomic<int64_t> cancel_grace_ms_{-1};
  std::atomic<bool> paused_{false};
};

}  // namespace ritsu::worker
