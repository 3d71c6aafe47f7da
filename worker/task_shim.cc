#include "worker/task_shim.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>

namespace ritsu::worker {
namespace {

// Everything below runs after fork in a multi-threaded program: system calls and plain loops
// only.

struct Dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

bool ParsePid(const char* s, pid_t* out) {
  if (*s == 0) return false;
  long v = 0;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9') return false;
    v = v * 10 + (*s - '0');
    if (v > 0x7fffffff) return false;
  }
  *out = pid_t(v);
  return true;
}

// "/proc/<pid>/stat" into buf.
void StatPath(pid_t pid, char* buf) {
  char digits[16];
  int n = 0;
  do { digits[n++] = char('0' + pid % 10); pid /= 10; } while (pid > 0);
  const char* pre = "/proc/";
  int i = 0;
  for (; pre[i]; ++i) buf[i] = pre[i];
  while (n > 0) buf[i++] = digits[--n];
  const char* post = "/stat";
  for (int j = 0; post[j]; ++j) buf[i++] = post[j];
  buf[i] = 0;
}

// Parent pid from /proc/<pid>/stat ("pid (comm) S ppid ..."; comm may hold spaces and ')').
pid_t ReadPpid(pid_t pid) {
  char path[40];
  StatPath(pid, path);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  char* close = nullptr;
  for (char* p = buf; *p; ++p) if (*p == ')') close = p;
  if (!close || close[1] != ' ' || close[2] == 0 || close[3] != ' ') return -1;
  long v = 0;
  for (char* p = close + 4; *p >= '0' && *p <= '9'; ++p) v = v * 10 + (*p - '0');
  return pid_t(v);
}

void Signal(pid_t self, int sig) {
  pid_t pids[4096];
  int n = ListDescendants(self, pids, 4096);
  for (int i = 0; i < n; ++i) ::kill(pids[i], sig);
}

[[noreturn]] void Die(int fd, const ShimReport& r) {
  ssize_t w = ::write(fd, &r, sizeof r);
  (void)w;
  ::_exit(0);
}

// SIGKILLs every descendant and reaps until the shim has no child left. Because the shim is a
// subreaper, a descendant whose parent died is now the shim's child, so ECHILD means the whole
// tree is gone. Records the task's status when it is among the reaped.
void KillTree(pid_t self, pid_t task, bool* task_reaped, int* task_status) {
  for (;;) {
    Signal(self, SIGKILL);
    int st = 0;
    pid_t r = ::waitpid(-1, &st, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return;  // ECHILD: nothing left
    // Reap whatever else died meanwhile before scanning /proc again (a scan reads every
    // process's stat file: once per batch, not once per child).
    do {
      if (r == task && !*task_reaped) { *task_reaped = true; *task_status = st; }
      r = ::waitpid(-1, &st, WNOHANG);
    } while (r > 0);
  }
}

}  // namespace

int ListDescendants(pid_t root, pid_t* out, int max) {
  constexpr int kMaxProcs = 32768;
  pid_t pid[kMaxProcs], ppid[kMaxProcs];
  int procs = 0;
  int dfd = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return 0;
  alignas(8) char buf[8192];
  for (;;) {
    long n = ::syscall(SYS_getdents64, dfd, buf, sizeof buf);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<Dirent64*>(buf + off);
      off += d->d_reclen;
      pid_t p;
      if (!ParsePid(d->d_name, &p) || procs >= kMaxProcs) continue;
      pid_t pp = ReadPpid(p);
      if (pp < 0) continue;  // gone meanwhile
      pid[procs] = p;
      ppid[procs] = pp;
      ++procs;
    }
  }
  ::close(dfd);
  // Transitive closure from root; repeat passes until nothing new (a child may be listed before
  // its parent).
  int found = 0;
  bool grew = true;
  while (grew && found < max) {
    grew = false;
    for (int i = 0; i < procs && found < max; ++i) {
      if (pid[i] == root) continue;
      bool parent_in = ppid[i] == root;
      for (int j = 0; j < found && !parent_in; ++j) parent_in = out[j] == ppid[i];
      if (!parent_in) continue;
      bool already = false;
      for (int j = 0; j < found && !already; ++j) already = out[j] == pid[i];
      if (already) continue;
      out[found++] = pid[i];
      grew = true;
    }
  }
  return found;
}

void RunTaskShim(const ShimArgs& a) {
  const pid_t self = ::getpid();
  // Close every inherited descriptor but ours: above all the write ends of other tasks'
  // lifelines (a concurrent fork copies them), which would keep those shims from seeing EOF.
  {
    int keep[] = {a.control_fd, a.report_fd, a.out_fd, a.err_fd, a.exec_err_fd};
    int n = int(sizeof keep / sizeof keep[0]);
    for (int i = 1; i < n; ++i)
      for (int j = i; j > 0 && keep[j] < keep[j - 1]; --j) { int t = keep[j]; keep[j] = keep[j - 1]; keep[j - 1] = t; }
    unsigned lo = 3;
    for (int i = 0; i < n; ++i) {
      if (keep[i] < int(lo)) continue;
      if (unsigned(keep[i]) > lo) ::syscall(SYS_close_range, lo, unsigned(keep[i]) - 1, 0u);
      lo = unsigned(keep[i]) + 1;
    }
    ::syscall(SYS_close_range, lo, ~0u, 0u);
  }
  // Own session: a signal to the worker's process group (a terminal's ^C, a supervisor's
  // killpg) must not kill the shim and orphan the task; the shim ends with its lifeline instead.
  ::setsid();
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2}) ::sigaction(s, &ign, nullptr);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::sigprocmask(SIG_SETMASK, &chld, nullptr);
  int sfd = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);

  ShimReport rep;
  pid_t task = ::fork();
  if (task < 0) {
    rep.kind = ShimReport::kExited;
    rep.fork_errno = errno;
    Die(a.report_fd, rep);
  }
  if (task == 0) {
    // The task: own process group (cancel's SIGTERM reaches it and what it spawns), default
    // signal state (ignored signals would survive exec), pipes on 1/2, /dev/null on 0.
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; ++s) ::sigaction(s, &dfl, nullptr);  // fails harmlessly for KILL/STOP
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(a.out_fd, 1);
    ::dup2(a.err_fd, 2);
    int code = 0;
    if (a.cwd && ::chdir(a.cwd) != 0) {
      code = errno | (1 << 16);  // high bit: the error came from chdir, not exec
    } else {
      ::execvpe(a.argv[0], a.argv, a.envp);
      code = errno;
    }
    ssize_t w = ::write(a.exec_err_fd, &code, sizeof code);
    (void)w;
    ::_exit(127);
  }
  ::setpgid(task, task);  // also here, so a 'T' racing the child's own setpgid hits the group
  // The task has its copies; the shim's would keep the worker's pipes open after the tree died.
  ::close(a.out_fd);
  ::close(a.err_fd);
  ::close(a.exec_err_fd);
  rep.kind = ShimReport::kStarted;
  rep.task_pid = task;
  ssize_t w = ::write(a.report_fd, &rep, sizeof rep);
  (void)w;

  bool task_reaped = false;
  int task_status = 0;
  auto finish = [&]() {
    KillTree(self, task, &task_reaped, &task_status);
    struct rusage ru {};
    ::getrusage(RUSAGE_CHILDREN, &ru);  // the largest of the task and every reaped descendant
    ShimReport done;
    done.kind = ShimReport::kExited;
    done.task_pid = task;
    done.wait_status = task_status;
    done.peak_rss_kb = ru.ru_maxrss;
    Die(a.report_fd, done);
  };
  for (;;) {
    pollfd fds[2] = {{a.control_fd, POLLIN, 0}, {sfd, POLLIN, 0}};
    // Without a signalfd (should not happen) fall back to polling for exits every 50 ms.
    int pr = ::poll(fds, sfd >= 0 ? 2 : 1, sfd >= 0 ? -1 : 50);
    if (pr < 0 && errno != EINTR) finish();
    if (sfd >= 0 && (fds[1].revents & POLLIN)) {
      signalfd_siginfo si;
      while (::read(sfd, &si, sizeof si) > 0) {}
    }
    for (;;) {
      int st = 0;
      pid_t r = ::waitpid(-1, &st, WNOHANG);
      if (r <= 0) break;
      if (r == task) { task_reaped = true; task_status = st; }
    }
    if (task_reaped) finish();  // leftovers of a finished task die with it
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char cmd[16];
      ssize_t n = ::read(a.control_fd, cmd, sizeof cmd);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) finish();  // EOF: the worker is gone; so is its task
      for (ssize_t i = 0; i < n; ++i) {
        if (cmd[i] == 'K') finish();
        if (cmd[i] == 'T') { ::kill(-task, SIGTERM); Signal(self, SIGTERM); }
      }
    }
  }
}

}  // namespace ritsu::worker
