#include "worker/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "worker/attempt_registry.h"
#include "worker/line_splitter.h"
#include "worker/task_shim.h"

extern char** environ;

namespace ritsu::worker {
namespace {

using Clock = std::chrono::steady_clock;

// After the tree is gone, output still buffered in the pipes is read for at most this long
// (unpaused); only a write end held outside the tree (a killed shim) could make it matter.
constexpr auto kDrainAfterExit = std::chrono::seconds(1);

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", sig);
}

}  // namespace

std::string ProcessResult::Describe() const {
  if (!launch_error.empty()) return "could not start: " + launch_error;
  std::string why = cancelled ? " (cancelled)" : timed_out ? " (timeout)" : "";
  if (term_signal != 0) return "killed by " + SignalName(term_signal) + why;
  return fmt::format("exit {}{}", exit_code, why);
}

std::string RandomAttemptToken() {
  uint64_t v[2] = {0, 0};
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = ::read(fd, v, sizeof v);
    (void)n;
    ::close(fd);
  }
  v[1] ^= uint64_t(::getpid()) << 32 ^ uint64_t(Clock::now().time_since_epoch().count());
  return fmt::format("{:016x}{:016x}", v[0], v[1]);
}

namespace {

// Reads one ShimReport; false on EOF/error (the shim is gone) or when nothing came in time.
bool ReadReport(int fd, ShimReport* r, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int pr;
  do { pr = ::poll(&p, 1, timeout_ms); } while (pr < 0 && errno == EINTR);
  if (pr <= 0) return false;
  ssize_t n;
  do { n = ::read(fd, r, sizeof *r); } while (n < 0 && errno == EINTR);
  return n == ssize_t(sizeof *r);
}

}  // namespace

Result<std::unique_ptr<Process>> Process::Start(const ProcessSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty())
    return Status::InvalidArgument("task has no command to run (argv is empty)");

  // Everything the shim and the task need is prepared before fork: between fork and exec only
  // async-signal-safe calls are allowed (the worker is multi-threaded).
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  std::string token = spec.attempt_token.empty() ? RandomAttemptToken() : spec.attempt_token;
  std::map<std::string, std::string> env_map;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env_map[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  for (const auto& [k, v] : spec.env) env_map[k] = v;
  env_map[kAttemptTokenEnv] = token;  // last: the task cannot override the marker
  std::vector<std::string> env_strings;
  env_strings.reserve(env_map.size());
  for (const auto& [k, v] : env_map) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  // out, err, exec_err, control (worker writes), report (shim writes). All CLOEXEC: the shim
  // closes what it does not need itself, and exec closes the rest in the task.
  int fds[5][2];
  int made = 0;
  for (; made < 5; ++made) {
    if (::pipe2(fds[made], O_CLOEXEC) != 0) break;
  }
  if (made < 5) {
    int e = errno;
    for (int i = 0; i < made; ++i) { ::close(fds[i][0]); ::close(fds[i][1]); }
    return Status::IOError(fmt::format("pipe: {}", std::strerror(e)));
  }
  auto [out, err, exec_err, control, report] = std::tuple{fds[0], fds[1], fds[2], fds[3], fds[4]};
  int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

  ShimArgs args;
  args.argv = argv.data();
  args.envp = envp.data();
  args.cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  args.control_fd = control[0];
  args.report_fd = report[1];
  args.out_fd = out[1];
  args.err_fd = err[1];
  args.exec_err_fd = exec_err[1];

  pid_t shim = ::fork();
  if (shim < 0) {
    int e = errno;
    for (auto& f : fds) { ::close(f[0]); ::close(f[1]); }
    if (wake >= 0) ::close(wake);
    return Status::Unavailable(fmt::format("fork: {}", std::strerror(e)));
  }
  if (shim == 0) RunTaskShim(args);  // never returns
  for (int fd : {out[1], err[1], exec_err[1], control[0], report[1]}) ::close(fd);
  for (int fd : {out[0], err[0], exec_err[0], report[0]}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  std::unique_ptr<Process> p(new Process());
  p->shim_pid_ = shim;
  p->control_fd_ = control[1];
  p->report_fd_ = report[0];
  p->program_ = spec.argv[0];
  p->token_ = token;
  p->out_fd_ = out[0];
  p->err_fd_ = err[0];
  p->exec_err_fd_ = exec_err[0];
  p->wake_fd_ = wake;
  p->timeout_ = spec.timeout;
  p->kill_grace_ = spec.kill_grace;
  p->started_ = Clock::now();

  // The shim reports the task's pid right after forking it (bounded wait: a shim that cannot
  // even do that is treated as a failed start; the destructor kills and reaps it).
  ShimReport rep;
  if (!ReadReport(p->report_fd_, &rep, 10000) || rep.kind != ShimReport::kStarted) {
    std::string why = rep.kind == ShimReport::kExited && rep.fork_errno
                          ? std::strerror(rep.fork_errno) : "the task supervisor did not start";
    return Status::Unavailable(fmt::format("fork: {}", why));
  }
  p->pid_ = rep.task_pid;
  return p;
}

Process::~Process() {
  if (shim_pid_ > 0) {  // Wait() never ran to the end: do not leave the tree behind.
    SendToShim('K');
    CloseFd(control_fd_);  // EOF: the shim kills the tree even if it missed the byte
    int st;
    ::waitpid(shim_pid_, &st, 0);
  }
  for (int* fd : {&out_fd_, &err_fd_, &exec_err_fd_, &wake_fd_, &control_fd_, &report_fd_}) CloseFd(*fd);
}

void Process::WakeUp() {
  if (wake_fd_ < 0) return;
  uint64_t one = 1;
  ssize_t w = ::write(wake_fd_, &one, sizeof one);
  (void)w;
}

void Process::SendToShim(char cmd) {
  if (control_fd_ < 0) return;
  ssize_t w;
  do { w = ::write(control_fd_, &cmd, 1); } while (w < 0 && errno == EINTR);
}

void Process::Cancel(std::chrono::milliseconds grace) {
  if (grace.count() >= 0) cancel_grace_ms_.store(grace.count());
  cancel_requested_.store(true);
  WakeUp();
}

void Process::SetPaused(bool paused) {
  paused_.store(paused);
  WakeUp();
}

ProcessResult Process::Wait(const LineFn& on_line, const std::function<void()>& after_read) {
  ProcessResult result;
  LineSplitter out_split([&](std::string_view l) { on_line(OutputStream::kStdout, l); });
  LineSplitter err_split([&](std::string_view l) { on_line(OutputStream::kStderr, l); });

  const auto never = Clock::time_point::max();
  // Saturating: started_ + a timeout of centuries would overflow into the past (killed at once).
  const auto deadline = timeout_.count() <= 0 ? never
                        : timeout_ >= std::chrono::duration_cast<std::chrono::milliseconds>(never - started_) ? never
                                                                                                           : started_ + timeout_;
  auto kill_at = never;
  auto drain_until = never;
  bool term_sent = false, exited = false, shim_lost = false;
  ShimReport final_report;
  auto ended = started_;
  char buf[64 * 1024];

  auto read_pipe = [&](int& fd, LineSplitter& split) {
    while (fd >= 0) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) { split.Feed(std::string_view(buf, size_t(n))); continue; }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      split.Flush();  // EOF (or a read error): the partial last line still counts
      CloseFd(fd);
    }
  };

  for (;;) {
    auto now = Clock::now();
    const bool paused = paused_.load();
    if (!exited) {
      auto begin_stop = [&] {
        SendToShim('T');  // SIGTERM to the task's group and every other descendant
        term_sent = true;
        int64_t g = cancel_grace_ms_.load();
        kill_at = now + (g >= 0 ? std::chrono::milliseconds(g) : kill_grace_);
      };
      if (cancel_requested_.load() && !term_sent) { result.cancelled = true; begin_stop(); }
      if (!term_sent && now >= deadline) { result.timed_out = true; begin_stop(); }
      if (now >= kill_at) { SendToShim('K'); kill_at = never; }
      // The shim reports kExited only after the task exited and its whole tree was reaped.
      ShimReport rep;
      ssize_t n = ::read(report_fd_, &rep, sizeof rep);
      if (n == ssize_t(sizeof rep) && rep.kind == ShimReport::kExited) final_report = rep;
      if ((n == ssize_t(sizeof rep) && rep.kind == ShimReport::kExited) || n == 0) {
        exited = true;
        shim_lost = n == 0;
        ended = Clock::now();
        int st;
        ::waitpid(shim_pid_, &st, 0);  // it exits right after its report
        shim_pid_ = -1;
        drain_until = ended + kDrainAfterExit;
      }
    }
    // Pipes are read to EOF; the drain bound only matters if something outside the tree kept a
    // write end (the shim was killed), and it does not run while output is paused.
    if (paused && exited) drain_until = now + kDrainAfterExit;
    if (exited && (out_fd_ < 0 && err_fd_ < 0)) break;
    if (exited && now >= drain_until) break;

    std::vector<pollfd> fds;
    if (!paused && out_fd_ >= 0) fds.push_back({out_fd_, POLLIN, 0});
    if (!paused && err_fd_ >= 0) fds.push_back({err_fd_, POLLIN, 0});
    if (!exited) fds.push_back({report_fd_, POLLIN, 0});
    fds.push_back({wake_fd_, POLLIN, 0});
    auto wait_for = std::chrono::milliseconds(100);
    for (auto t : {deadline, kill_at, drain_until}) {
      if (t != never && !(exited && t != drain_until)) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(t - now) + std::chrono::milliseconds(1);
        wait_for = std::max(std::chrono::milliseconds(0), std::min(wait_for, left));
      }
    }
    int pr = ::poll(fds.data(), fds.size(), int(wait_for.count()));
    if (pr < 0 && errno != EINTR) break;
    if (!paused_.load()) {
      read_pipe(out_fd_, out_split);
      read_pipe(err_fd_, err_split);
    }
    if (after_read) after_read();
    uint64_t drain;
    while (::read(wake_fd_, &drain, sizeof drain) > 0) {}
  }
  out_split.Flush();
  err_split.Flush();
  if (after_read) after_read();
  CloseFd(out_fd_);
  CloseFd(err_fd_);

  int code = 0;
  if (::read(exec_err_fd_, &code, sizeof code) == ssize_t(sizeof code)) {
    bool in_chdir = code & (1 << 16);
    int e = code & 0xffff;
    result.launch_error = in_chdir ? fmt::format("cannot enter the working directory of '{}': {}", program_, std::strerror(e))
                                   : fmt::format("cannot run '{}': {}", program_, std::strerror(e));
  }
  CloseFd(exec_err_fd_);

  if (shim_lost) {
    // Someone killed the shim itself: end what is left of the tree from here, as the start-up
    // reaper pass would (the task by identity, escaped descendants by their token).
    AttemptRecord rec;
    rec.token = token_;
    rec.task = IdentityOf(pid_);
    KillAttemptLeftovers(rec);
    result.term_signal = SIGKILL;  // the tree was killed, whatever the task itself was doing
  } else {
    int status = final_report.wait_status;
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
  }
  result.wall_seconds = std::chrono::duration<double>(ended - started_).count();
  result.peak_rss_bytes = final_report.peak_rss_kb * 1024;  // Linux reports KiB
  return result;
}

}  // namespace ritsu::worker
