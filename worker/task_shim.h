// The task shim: a tiny supervisor process between the worker and a task, so that a task's whole
// process tree ends when the attempt ends or when the worker dies, however it dies.
//
//   ritsu-worker ── shim (own session, PR_SET_CHILD_SUBREAPER) ── task (own process group) ── ...
//
// Why a shim and not PR_SET_PDEATHSIG on the task: that signal reaches only the direct child; a
// shell's children, a launcher's workers or a `setsid` child would run on after a SIGKILLed worker
// while ritsud requeues the task elsewhere (two copies writing one output dir). Why not the worker
// as subreaper: a dead worker can kill nothing. The shim outlives the worker by design: it
// watches a "lifeline" pipe whose only write end the worker holds, so the kernel tells it (EOF)
// the moment the worker is gone (SIGKILL, OOM kill, crash). Being a subreaper, every descendant
// whose parent exits is reparented to the shim, so "no children left" means "the tree is gone",
// including setsid'd processes that left the task's process group.
//
// The shim is forked from the (multi-threaded) worker and never execs: it uses only
// async-signal-safe system calls (no malloc, no stdio, no locks).
//
// Worker -> shim (control pipe, one byte per command): 'T' = SIGTERM every descendant,
// 'K' = SIGKILL every descendant until none is left. EOF = the worker died: 'K', then exit.
// Shim -> worker (report pipe, fixed-size records, each one atomic write):
//   kStarted {task pid} once the task is forked;
//   kExited {wait status of the task, peak RSS} after the task exited AND every descendant was
//   killed and reaped. The shim then exits 0. So the worker reports an attempt finished only once
//   its whole tree is gone.
//
// cgroup v2 (cgroup.kill) would also be complete, but needs a delegated, writable cgroup that
// lab hosts and CI containers (cgroup v1 / read-only) often lack; the shim works everywhere, so
// it is the one mechanism.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace ritsu::worker {

struct ShimReport {
  enum Kind : int32_t { kStarted = 1, kExited = 2 };
  int32_t kind = 0;
  int32_t task_pid = 0;
  int32_t wait_status = 0;
  int32_t fork_errno = 0;     // kExited without a task: the shim's fork failed
  int64_t peak_rss_kb = 0;
};

// Everything the shim needs, prepared before fork (no allocation afterwards).
struct ShimArgs {
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* cwd = nullptr;   // nullptr: keep the worker's
  int control_fd = -1;         // read end of the lifeline / control pipe
  int report_fd = -1;          // write end of the report pipe
  int out_fd = -1, err_fd = -1;  // write ends: the task's stdout / stderr
  int exec_err_fd = -1;        // CLOEXEC write end: the task writes errno here if exec fails
};

// Runs in the forked child; never returns.
[[noreturn]] void RunTaskShim(const ShimArgs& args);

// Fills `out` with every live or zombie descendant of `root` (found by scanning /proc for parent
// pids), at most `max`; returns how many. Async-signal-safe (the shim uses it); also used by the
// worker's reaper pass.
int ListDescendants(pid_t root, pid_t* out, int max);

}  // namespace ritsu::worker
