// The daemons' own diagnostic log (ritsud, ritsu-worker): one line per event,
//   2026-11-22T03:20:01.123Z INFO ritsud: serving on tcp://127.0.0.1:7070 ...
// written to stderr (the journal, the supervisor's file) or, with --log-file PATH, to a file that
// rotates by size: PATH -> PATH.1 -> ... -> PATH.N, the oldest dropped. Task output streamed from
// children is not this log: it goes to the scheduler's log store.
//
// With a file and capture_stderr, the log also takes over file descriptor 2, so the lines other
// modules still print with fprintf(stderr, ...) (the worker agent, the ZAP handler) land in the
// same file. Those writes bypass Write(), so a watcher thread also checks the size every
// `capture_check_interval` and rotates a file that reached the limit: such a file may pass
// max_size by what was printed within one interval. (A pipe and a reader thread would keep the
// limit exact but lose the last lines of a crashing daemon, which matter most.)
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include <fmt/format.h>

#include "common/status.h"

namespace ritsu::log {

enum class Level { kInfo, kWarn, kError };
std::string_view LevelName(Level level);  // "INFO", "WARN", "ERROR"

struct LogOptions {
  std::string file;                          // empty: stderr
  uint64_t max_size = 50ull * 1024 * 1024;   // rotate before a line would take the file past this
  int keep = 5;                              // old files kept: PATH.1 (newest) .. PATH.keep
  bool capture_stderr = false;               // dup2 the file onto fd 2 (the daemons set this)
  std::chrono::milliseconds capture_check_interval{1000};
};

// The defaults as the flags spell them, for usage texts.
inline constexpr const char* kDefaultMaxSizeFlag = "50M";
inline constexpr int kMaxKeep = 100;

// --log-file / --log-max-size / --log-keep, shared by both daemons so they accept the same values.
// Each returns an error naming the flag; `opts` is changed only on success.
Status SetMaxSizeFlag(std::string_view value, LogOptions* opts);
Status SetKeepFlag(std::string_view value, LogOptions* opts);

class Logger {
 public:
  // Opens (creating, O_APPEND) the file when opts.file is set. A missing or unwritable directory is
  // an error naming the path, so a daemon can refuse to start before it serves anything.
  static Result<std::unique_ptr<Logger>> Open(const LogOptions& opts, std::string program);
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  // Thread-safe: one write(2) per line under a mutex, rotation under the same mutex. A failed
  // write or rotation is reported once on the original stderr and does not stop the daemon.
  // kError lines go to the original stderr as well as to the file.
  void Write(Level level, std::string_view message);

  const LogOptions& options() const { return opts_; }

 private:
  Logger(LogOptions opts, std::string program) : opts_(std::move(opts)), program_(std::move(program)) {}
  Status OpenFileLocked();
  Status RotateLocked();
  uint64_t CurrentSizeLocked() const;
  void ReportOnceLocked(const std::string& message);
  void WatchCapturedSize();

  LogOptions opts_;
  std::string program_;
  std::mutex mu_;
  int fd_ = -1;               // the log file, or -1 for stderr
  int saved_stderr_ = -1;     // the original fd 2 when capture_stderr took it over
  bool reported_failure_ = false;
  bool stopping_ = false;
  std::condition_variable stop_cv_;
  std::thread watcher_;       // only with a file and capture_stderr
};

// The process-wide logger the free functions below write to; before Install (or after a
// nullptr Install) they write the same timestamped line to stderr, without a program name.
void Install(std::unique_ptr<Logger> logger);
Logger* Installed();
void Write(Level level, std::string_view message);

template <typename... Args>
void Info(fmt::format_string<Args...> f, Args&&... args) { Write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...)); }
template <typename... Args>
void Warn(fmt::format_string<Args...> f, Args&&... args) { Write(Level::kWarn, fmt::format(f, std::forward<Args>(args)...)); }
template <typename... Args>
void Error(fmt::format_string<Args...> f, Args&&... args) { Write(Level::kError, fmt::format(f, std::forward<Args>(args)...)); }

}  // namespace ritsu::log
