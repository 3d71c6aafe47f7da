#include "common/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "common/units.h"

namespace ritsu::log {
namespace {

std::string Timestamp() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms));
}

std::string FormatLine(Level level, std::string_view program, std::string_view message) {
  // One line per event: a message with embedded newlines would read as several events.
  std::string flat(message);
  for (char& c : flat) if (c == '\n') c = ' ';
  if (program.empty()) return fmt::format("{} {} {}\n", Timestamp(), LevelName(level), flat);
  return fmt::format("{} {} {}: {}\n", Timestamp(), LevelName(level), program, flat);
}

// write(2) until done: a line is one call in practice, but a signal may cut it short.
bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string Numbered(const std::string& path, int n) { return fmt::format("{}.{}", path, n); }

std::mutex g_installed_mu;
std::unique_ptr<Logger> g_installed;

}  // namespace

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kInfo: return "INFO";
    case Level::kWarn: return "WARN";
    case Level::kError: return "ERROR";
  }
  return "INFO";
}

Status SetMaxSizeFlag(std::string_view value, LogOptions* opts) {
  auto size = ParseSize(value);
  if (!size.ok()) return Status::InvalidArgument(fmt::format("--log-max-size: {}", size.status().message()));
  // Below a few lines per file rotation would churn on every write.
  if (*size < 4096) return Status::InvalidArgument(fmt::format("--log-max-size '{}': must be at least 4K", value));
  opts->max_size = *size;
  return Status::Ok();
}

Status SetKeepFlag(std::string_view value, LogOptions* opts) {
  int keep = -1;
  try {
    size_t used = 0;
    keep = std::stoi(std::string(value), &used);
    if (used != value.size()) keep = -1;
  } catch (...) {
    keep = -1;
  }
  if (keep < 0 || keep > kMaxKeep) {
    return Status::InvalidArgument(
        fmt::format("--log-keep '{}': must be a whole number of old files from 0 to {}", value, kMaxKeep));
  }
  opts->keep = keep;
  return Status::Ok();
}

Result<std::unique_ptr<Logger>> Logger::Open(const LogOptions& opts, std::string program) {
  if (opts.keep < 0 || opts.keep > kMaxKeep) return Status::InvalidArgument(fmt::format("--log-keep {}: out of range 0..{}", opts.keep, kMaxKeep));
  if (opts.max_size == 0) return Status::InvalidArgument("--log-max-size must not be 0");
  std::unique_ptr<Logger> logger(new Logger(opts, std::move(program)));
  if (!opts.file.empty()) {
    std::lock_guard<std::mutex> lock(logger->mu_);
    RITSU_RETURN_IF_ERROR(logger->OpenFileLocked());
  }
  if (!opts.file.empty() && opts.capture_stderr) logger->watcher_ = std::thread([p = logger.get()] { p->WatchCapturedSize(); });
  return logger;
}

Logger::~Logger() {
  if (watcher_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    stop_cv_.notify_all();
    watcher_.join();
  }
  if (saved_stderr_ >= 0) {
    ::dup2(saved_stderr_, STDERR_FILENO);
    ::close(saved_stderr_);
  }
  if (fd_ >= 0) ::close(fd_);
}

Status Logger::OpenFileLocked() {
  const std::string& path = opts_.file;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    int err = errno;
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) dir = ".";
    std::error_code ec;
    std::string why = std::strerror(err);
    if (!std::filesystem::exists(dir, ec)) why = fmt::format("directory {} does not exist", dir.string());
    else if (!std::filesystem::is_directory(dir, ec)) why = fmt::format("{} is not a directory", dir.string());
    else if (err == EACCES) why = fmt::format("directory {} is not writable by this user ({})", dir.string(), std::strerror(err));
    return Status::IOError(fmt::format("--log-file {}: cannot open for appending: {}", path, why));
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(fmt::format("--log-file {}: not a regular file (rotation renames it)", path));
  }
  if (opts_.capture_stderr) {
    if (saved_stderr_ < 0) saved_stderr_ = ::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    if (::dup2(fd, STDERR_FILENO) < 0) {
      int err = errno;
      ::close(fd);
      return Status::IOError(fmt::format("--log-file {}: cannot take over stderr: {}", path, std::strerror(err)));
    }
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  return Status::Ok();
}

// Asked of the file each time (not counted here): with capture_stderr other code appends too.
uint64_t Logger::CurrentSizeLocked() const {
  struct stat st {};
  if (fd_ < 0 || ::fstat(fd_, &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_size);
}

Status Logger::RotateLocked() {
  const std::string& path = opts_.file;
  std::error_code ec;
  if (opts_.keep == 0) {
    std::filesystem::remove(path, ec);
  } else {
    // PATH.(keep-1) -> PATH.keep replaces the oldest, ... PATH -> PATH.1. rename(2) is atomic,
    // and a line written by another module to the old descriptor meanwhile lands in PATH.1.
    for (int i = opts_.keep - 1; i >= 1; --i) {
      std::string from = Numbered(path, i);
      if (::access(from.c_str(), F_OK) != 0) continue;
      if (::rename(from.c_str(), Numbered(path, i + 1).c_str()) != 0) {
        return Status::IOError(fmt::format("rotating {}: rename {}: {}", path, from, std::strerror(errno)));
      }
    }
    if (::rename(path.c_str(), Numbered(path, 1).c_str()) != 0) {
      return Status::IOError(fmt::format("rotating {}: rename to {}: {}", path, Numbered(path, 1), std::strerror(errno)));
    }
  }
  return OpenFileLocked();
}

void Logger::ReportOnceLocked(const std::string& message) {
  if (reported_failure_) return;
  reported_failure_ = true;
  int fd = saved_stderr_ >= 0 ? saved_stderr_ : STDERR_FILENO;
  WriteAll(fd, FormatLine(Level::kError, program_, message));
}

void Logger::WatchCapturedSize() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_cv_.wait_for(lock, opts_.capture_check_interval, [&] { return stopping_; })) {
    if (CurrentSizeLocked() < opts_.max_size) continue;
    if (Status st = RotateLocked(); !st.ok()) ReportOnceLocked(st.message());
  }
}

void Logger::Write(Level level, std::string_view message) {
  std::string line = FormatLine(level, program_, message);
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ < 0) {
    WriteAll(STDERR_FILENO, line);
    return;
  }
  uint64_t size = CurrentSizeLocked();
  if (size > 0 && size + line.size() > opts_.max_size) {
    // On failure keep appending to the file we have; say so once where a person may see it.
    if (Status st = RotateLocked(); !st.ok()) ReportOnceLocked(st.message());
  }
  if (!WriteAll(fd_, line)) ReportOnceLocked(fmt::format("writing {}: {}", opts_.file, std::strerror(errno)));
  // Errors also go to the original stderr: a daemon that stops at start shows why in the journal
  // (systemctl status) without anyone knowing where its log file is.
  if (level == Level::kError) WriteAll(saved_stderr_ >= 0 ? saved_stderr_ : STDERR_FILENO, line);
}

void Install(std::unique_ptr<Logger> logger) {
  std::lock_guard<std::mutex> lock(g_installed_mu);
  g_installed = std::move(logger);
}

Logger* Installed() {
  std::lock_guard<std::mutex> lock(g_installed_mu);
  return g_installed.get();
}

void Write(Level level, std::string_view message) {
  if (Logger* logger = Installed()) {
    logger->Write(level, message);
    return;
  }
  WriteAll(STDERR_FILENO, FormatLine(level, "", message));
}

}  // namespace ritsu::log
