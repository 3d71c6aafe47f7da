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

#include <fmt/format.h>

#include "worker/line_splitter.h"

extern char** environ;

namespace ritsu::worker {
namespace {

using Clock = std::chrono::steady_clock;

// After the main process exits, output still buffered in the pipes is read for at most this
// long; a process that left the group (setsid) and kept the pipe open cannot hold us longer.
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

Result<std::unique_ptr<Process>> Process::Start(const ProcessSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty())
    return Status::InvalidArgument("task has no command to run (argv is empty)");

  // Everything the child needs is prepared before fork: between fork and exec only
  // async-signal-safe calls are allowed (the worker is multi-threaded).
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  std::map<std::string, std::string> env_map;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env_map[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  for (const auto& [k, v] : spec.env) env_map[k] = v;
  std::vector<std::string> env_strings;
  env_strings.reserve(env_map.size());
  for (const auto& [k, v] : env_map) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  int out[2], err[2], exec_err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Status::IOError(fmt::format("pipe: {}", std::strerror(errno)));
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]); ::close(out[1]);
    return Status::IOError(fmt::format("pipe: {}", std::strerror(errno)));
  }
  if (::pipe2(exec_err, O_CLOEXEC) != 0) {
    ::close(out[0]); ::close(out[1]); ::close(err[0]); ::close(err[1]);
    return Status::IOError(fmt::format("pipe: {}", std::strerror(errno)));
  }
  int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const char* cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  const pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    for (int fd : {out[0], out[1], err[0], err[1], exec_err[0], exec_err[1], wake}) if (fd >= 0) ::close(fd);
    return Status::Unavailable(fmt::format("fork: {}", std::strerror(e)));
  }
  if (pid == 0) {
    // Child: own process group, fresh signal state, pipes on 1/2, /dev/null on 0.
    ::setpgid(0, 0);
    // If the worker dies (kill -9), its task dies with it instead of running on unsupervised
    // while the scheduler requeues it elsewhere. (Only the direct child gets the signal; a
    // task's own children follow when their pipes close or are left to it.)
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the worker died before prctl took effect
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGQUIT}) ::sigaction(s, &dfl, nullptr);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    int code = 0;
    if (cwd && ::chdir(cwd) != 0) {
      code = errno | (1 << 16);  // high bit: the error came from chdir, not exec
    } else {
      ::execvpe(argv[0], argv.data(), envp.data());
      code = errno;
    }
    ssize_t w = ::write(exec_err[1], &code, sizeof code);
    (void)w;
    ::_exit(127);
  }
  // Parent. setpgid here too, so a Cancel() racing the child's own setpgid still hits the group.
  ::setpgid(pid, pid);
  ::close(out[1]);
  ::close(err[1]);
  ::close(exec_err[1]);
  for (int fd : {out[0], err[0], exec_err[0]}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  std::unique_ptr<Process> p(new Process());
  p->pid_ = pid;
  p->program_ = spec.argv[0];
  p->out_fd_ = out[0];
  p->err_fd_ = err[0];
  p->exec_err_fd_ = exec_err[0];
  p->wake_fd_ = wake;
  p->timeout_ = spec.timeout;
  p->kill_grace_ = spec.kill_grace;
  p->started_ = Clock::now();
  return p;
}

Process::~Process() {
  if (pid_ > 0) {  // Wait() never ran to the end: do not leave the group behind.
    ::killpg(pid_, SIGKILL);
    int st;
    ::waitpid(pid_, &st, 0);
  }
  CloseFd(out_fd_);
  CloseFd(err_fd_);
  CloseFd(exec_err_fd_);
  CloseFd(wake_fd_);
}

void Process::WakeUp() {
  if (wake_fd_ < 0) return;
  uint64_t one = 1;
  ssize_t w = ::write(wake_fd_, &one, sizeof one);
  (void)w;
}

void Process::Cancel(std::chrono::milliseconds grace) {
  if (grace.count() >= 0) cancel_grace_ms_.store(grace.count());
  cancel_requested_.store(true);
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
  bool term_sent = false, exited = false;
  int status = 0;
  struct rusage ru {};
  auto ended = started_;
  // When the pipes are closed but the process has not been reaped yet (it is exiting), poll
  // for its exit with a short, growing interval rather than a fixed long sleep.
  int idle_poll_ms = 1;
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
    if (!exited) {
      auto begin_stop = [&] {
        ::killpg(pid_, SIGTERM);
        term_sent = true;
        int64_t g = cancel_grace_ms_.load();
        kill_at = now + (g >= 0 ? std::chrono::milliseconds(g) : kill_grace_);
      };
      if (cancel_requested_.load() && !term_sent) { result.cancelled = true; begin_stop(); }
      if (!term_sent && now >= deadline) { result.timed_out = true; begin_stop(); }
      if (now >= kill_at) { ::killpg(pid_, SIGKILL); kill_at = never; }
      pid_t r = ::wait4(pid_, &status, WNOHANG, &ru);
      if (r == pid_) {
        exited = true;
        ended = Clock::now();
        ::killpg(pid_, SIGKILL);  // stragglers the task left in its group
        drain_until = ended + kDrainAfterExit;
      }
    }
    if (exited && (out_fd_ < 0 && err_fd_ < 0)) break;
    if (exited && now >= drain_until) break;

    std::vector<pollfd> fds;
    if (out_fd_ >= 0) fds.push_back({out_fd_, POLLIN, 0});
    if (err_fd_ >= 0) fds.push_back({err_fd_, POLLIN, 0});
    fds.push_back({wake_fd_, POLLIN, 0});
    bool pipes_open = out_fd_ >= 0 || err_fd_ >= 0;
    auto wait_for = std::chrono::milliseconds(pipes_open ? 100 : idle_poll_ms);
    if (!pipes_open) idle_poll_ms = std::min(idle_poll_ms * 2, 50);
    for (auto t : {deadline, kill_at, drain_until}) {
      if (t != never && !(exited && t != drain_until)) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(t - now) + std::chrono::milliseconds(1);
        wait_for = std::max(std::chrono::milliseconds(0), std::min(wait_for, left));
      }
    }
    int pr = ::poll(fds.data(), fds.size(), int(wait_for.count()));
    if (pr < 0 && errno != EINTR) break;
    read_pipe(out_fd_, out_split);
    read_pipe(err_fd_, err_split);
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

  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
  result.wall_seconds = std::chrono::duration<double>(ended - started_).count();
  result.peak_rss_bytes = int64_t(ru.ru_maxrss) * 1024;  // Linux reports KiB
  pid_ = -1;
  return result;
}

}  // namespace ritsu::worker
