// Placement of queued tasks onto free worker slots. Pure: no I/O, no clock; the core feeds it a
// snapshot and applies the result.
//
// Policy (docs/protocol.md "Scheduling"):
//  - Tasks are considered highest priority first, FIFO (submission order) within a priority.
//  - A task with gpus = N >= 1 needs N GPU slots of one worker, each with mem >= gpu_mem_bytes.
//    A task with gpus = 0 needs one slot of any kind (CPU slots preferred) with enough memory.
//    Tags must all be offered by the worker; host pins the worker by name.
//  - Backfill: a task that does not fit now does not stop smaller tasks behind it from taking
//    slots it cannot use. To keep a big task from starving, every pass in which a task is
//    blocked while a task behind it was placed adds one to its `passes_blocked`; once that
//    reaches `reserve_after`, the task reserves the worker where it fits best (the most free
//    fitting slots): from then on no task behind it is placed on that worker until it starts.
//  - A task that no registered worker could ever hold (even with every slot free) is not
//    blocked: it gets a reason saying what is missing and never reserves anything.
//  - Sweep caps: a task of a sweep whose running count has reached its max_concurrent waits.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/task.h"

namespace ritsu::sched {

struct MatchTask {
  TaskId id = 0;
  Resources resources;
  SweepId sweep_id = 0;
  uint32_t passes_blocked = 0;
};

struct MatchWorker {
  std::string name;
  std::vector<Slot> slots;
  std::set<std::string> busy;        // slot ids in use
  std::vector<std::string> tags;
  bool accepting = true;             // false = draining or lost: nothing new goes there
};

struct Placement {
  TaskId task_id = 0;
  std::string worker;
  std::vector<std::string> slots;
};

struct MatchResult {
  std::vector<Placement> placements;       // in decision order
  std::map<TaskId, std::string> reasons;   // why each unplaced task examined still waits
  std::vector<TaskId> blocked;             // tasks to credit one more blocked pass
  std::map<TaskId, std::string> reservations;  // task -> worker it holds a reservation on
};

struct MatchLimits {
  uint32_t reserve_after = 3;
  // At most this many queue entries are examined per pass, so a pass stays cheap with a huge
  // backlog; tasks further back keep the reason they had.
  size_t max_examined = 10000;
  std::map<SweepId, uint32_t> sweep_cap;       // sweep -> max_concurrent (absent/0 = none)
  std::map<SweepId, uint32_t> sweep_running;   // sweep -> tasks ASSIGNED or RUNNING now
};

// `queue` must already be in priority-then-FIFO order.
MatchResult Match(const std::vector<MatchTask>& queue, const std::vector<MatchWorker>& workers,
                  const MatchLimits& limits);

// Why `r` could never run on any of `workers` (empty string = some worker could hold it).
std::string NeverFitsReason(const Resources& r, const std::vector<MatchWorker>& workers);

}  // namespace ritsu::sched
