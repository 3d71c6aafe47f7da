// Which task processes this worker started, on disk: one small file per running attempt under
// <spool-dir>/running/, written (synced) before the task is forked and updated with its process
// identities once it runs, removed once its whole tree is gone.
//
// Why: the task shim (task_shim.h) ends a tree when the worker dies, but if the shim dies too
// (SIGKILL of both, a crash of the machine's OOM killer picking both) the tree would run on
// while ritsud requeues the task. So the worker's start-up reaper pass (ReapLeftovers), before
// it registers, kills whatever a previous incarnation's attempts left:
//   - the recorded shim and task if they still are the same processes (pid AND start time from
//     /proc/PID/stat field 22, so a reused pid is not mistaken for them), and their descendants;
//   - every process whose environment carries the attempt's RITSU_ATTEMPT_TOKEN (catches
//     setsid'd orphans that were reparented to init).
// Only processes of the worker's own user can be read or killed; that is where its tasks run.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/status.h"

namespace ritsu::worker {

struct ProcIdentity {
  int32_t pid = 0;
  uint64_t start_ticks = 0;  // /proc/PID/stat field 22; 0 = unknown
};

// Start time of pid in clock ticks since boot, or 0 if it does not exist (or is a zombie).
uint64_t ProcStartTicks(pid_t pid);
ProcIdentity IdentityOf(pid_t pid);
// True while the very process `id` names is alive (not a zombie, not a reused pid).
bool StillRunning(const ProcIdentity& id);

struct AttemptRecord {
  TaskId task_id = 0;
  uint32_t attempt = 0;
  std::string token;      // RITSU_ATTEMPT_TOKEN of the tree
  ProcIdentity shim, task;
};

// SIGKILLs everything left of one attempt (see above) until nothing is found (bounded); returns
// how many processes it signalled.
int KillAttemptLeftovers(const AttemptRecord& rec);

class AttemptRegistry {
 public:
  explicit AttemptRegistry(std::string dir);  // created on first Record
  const std::string& dir() const { return dir_; }

  // Thread-safe (one file per attempt, written to a temp name and renamed).
  Status Record(const AttemptRecord& rec);
  void Remove(TaskId task_id, uint32_t attempt);
  // Unreadable files are reported in *problems and removed.
  std::vector<AttemptRecord> List(std::vector<std::string>* problems) const;

  // The start-up reaper pass: kills the leftovers of every recorded attempt and forgets them.
  // Returns one line per attempt that still had processes (for the worker's log).
  std::vector<std::string> ReapLeftovers();

 private:
  std::string PathFor(TaskId task_id, uint32_t attempt) const;
  std::string dir_;
};

}  // namespace ritsu::worker
