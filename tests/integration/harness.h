// Test harness for integration tests: real ritsud / ritsu-worker / ritsu binaries (from
// RITSU_BINARY_DIR) on loopback, each test in its own temp dir and port. Every process started
// here is killed (SIGKILL to its process group) and reaped when its handle goes away, so a
// failing assertion never leaves daemons behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ritsu::itest {

std::string BinaryPath(const std::string& rel);  // "scheduler/ritsud" -> RITSU_BINARY_DIR/...

// A free TCP port on 127.0.0.1 (bound then released; collisions are retried by the caller's
// start-up wait failing loudly rather than hanging).
int FreePort();

// A background process with stdout+stderr in a log file.
class Daemon {
 public:
  Daemon(std::vector<std::string> argv, std::filesystem::path log_file);
  ~Daemon();  // SIGKILL to the group + reap
  pid_t pid() const { return pid_; }
  void Kill(int sig);          // signal the process only
  int Wait(std::chrono::milliseconds timeout);  // exit status (or -1 on timeout)
  bool Running();
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_;
};

struct CmdResult {
  int code = -1;       // exit code; -1 if killed by the timeout
  std::string out, err;
  nlohmann::json Json() const;  // parses out (empty object on failure, test then fails on fields)
};

// Runs argv to completion (killed after timeout), capturing stdout and stderr.
CmdResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Polls cond every 50 ms until it holds or timeout passes.
bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout);

// One scheduler plus any number of workers in a temp dir.
class Cluster {
 public:
  Cluster();
  ~Cluster();
  const std::filesystem::path& dir() const { return dir_; }
  std::string endpoint() const;

  // Waits until it answers `ritsu status`; throws (ending the test) if it never does.
  void StartScheduler();
  void KillScheduler(int sig = 9);
  // slots "" = GPU discovery (NVML).
  // extra: more worker flags (e.g. --engine PATH for train/eval/merge tasks).
  Daemon& StartWorker(const std::string& name, const std::string& slots, const std::vector<std::string>& extra = {});
  void KillWorker(const std::string& name, int sig = 9);
  // The processes last started (nullptr before the first start): a test checks Running() to
  // tell a daemon that died on its own from one it killed.
  Daemon* scheduler() { return sched_.get(); }
  Daemon* worker(const std::string& name) {
    auto it = workers_.find(name);
    return it == workers_.end() ? nullptr : it->second.get();
  }

  // `ritsu --scheduler ENDPOINT args...`
  CmdResult Ritsu(std::vector<std::string> args, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  uint64_t SubmitExec(const std::vector<std::string>& flags, const std::vector<std::string>& cmd);
  nlohmann::json Show(uint64_t id);
  std::string State(uint64_t id);
  // Everything the processes logged: printed when a test fails.
  std::string Logs() const;

  // Short enough that a lost worker is noticed quickly, long enough (15 missed beats) that a
  // busy 2-core CI machine never loses a live one.
  std::string heartbeat_timeout = "3s";
  std::string heartbeat_interval = "200ms";

 private:
  std::filesystem::path dir_;
  int port_;
  std::unique_ptr<Daemon> sched_;
  int sched_starts_ = 0;
  std::map<std::string, std::unique_ptr<Daemon>> workers_;
};

}  // namespace ritsu::itest
