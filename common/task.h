// The task model shared by ritsud, ritsu-worker and the ritsu CLI.
//
// A task is a spec (what to run, on what resources) plus the scheduler's bookkeeping (state,
// attempts). The spec is `kind` + `argv` (+ cwd/env): the worker runs `argv` as is for kExec,
// and `ritsu-engine <kind> argv...` for kTrain/kEval/kMerge. The worker sets RITSU_METRICS_FILE
// in the child's environment; a child may write one JSON object of final metrics there, which
// comes back with the "finished" message and is stored with the attempt.
//
// Every struct here is also a wire type (msgpack map with the field names below), so renaming a
// field is a protocol change: see docs/protocol.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>

#include "common/status.h"

namespace ritsu {

using TaskId = uint64_t;   // 1, 2, 3 ... assigned by ritsud, never reused; 0 = none
using SweepId = uint64_t;  // same id space rules as TaskId, separate counter; 0 = none
using TimeMs = int64_t;    // milliseconds since the Unix epoch (wall clock of the scheduler)

enum class TaskKind : uint8_t { kExec = 0, kTrain = 1, kEval = 2, kMerge = 3 };

// PENDING waits for --after deps; QUEUED waits for a slot; ASSIGNED sent to a worker, not yet
// confirmed started; RUNNING the worker confirmed the child started. SUCCEEDED, FAILED and
// CANCELLED are final. CANCELLING: an ASSIGNED/RUNNING task asked to cancel whose processes may
// still exist; it becomes CANCELLED when the worker reports the attempt finished (or is lost),
// and keeps its slot busy until then. The values are stored (state index, counters): a new
// state is added at the end, never renumbered.
enum class TaskState : uint8_t {
  kPending = 0, kQueued = 1, kAssigned = 2, kRunning = 3,
  kSucceeded = 4, kFailed = 5, kCancelled = 6, kCancelling = 7,
};
enum class WorkerState : uint8_t { kAlive = 0, kDraining = 1, kLost = 2 };
}  // namespace ritsu

// Enums travel as their integer values.
MSGPACK_ADD_ENUM(ritsu::TaskKind);
MSGPACK_ADD_ENUM(ritsu::TaskState);
MSGPACK_ADD_ENUM(ritsu::WorkerState);

namespace ritsu {
inline constexpr int kNumTaskStates = 8;

const char* TaskKindName(TaskKind k);          // "exec", "train", "eval", "merge"
Result<TaskKind> ParseTaskKind(std::string_view s);
const char* TaskStateName(TaskState s);        // "PENDING", ... "CANCELLED", "CANCELLING"
Result<TaskState> ParseTaskState(std::string_view s);  // case-insensitive
bool IsTerminal(TaskState s);                  // SUCCEEDED, FAILED, CANCELLED

// What a task needs from one worker. gpus == 0 means "no GPU" (runs beside GPU tasks on any
// worker that has a free CPU-only slot or any slot; see scheduler/matcher.h).
struct Resources {
  uint32_t gpus = 0;
  uint64_t gpu_mem_bytes = 0;      // per GPU: every chosen slot must have at least this much
  std::vector<std::string> tags;   // every tag must be offered by the worker
  std::string host;                // if set, only the worker with this name
  MSGPACK_DEFINE_MAP(gpus, gpu_mem_bytes, tags, host)
};

struct TaskSpec {
  std::string name;                // free text; defaults to argv[0] in the CLI
  TaskKind kind = TaskKind::kExec;
  std::vector<std::string> argv;   // must not be empty
  std::string cwd;                 // empty = the worker's working directory
  std::map<std::string, std::string> env;  // added to the worker's environment
  Resources resources;
  int32_t priority = 0;            // higher runs first; FIFO within a priority
  uint32_t max_attempts = 1;       // >= 1; a lost worker or failure retries until this many
  int64_t timeout_ms = 0;          // wall-clock limit per attempt; 0 = none
  std::vector<TaskId> after;       // must all SUCCEED before this task is queued
  // Dependencies on other tasks of the same submit batch, by their index in the batch (lets a
  // client submit train + eval in one round trip). Resolved into `after` by ritsud.
  std::vector<uint32_t> after_in_batch;
  SweepId sweep_id = 0;            // set by ritsud for tasks expanded from a sweep
  std::map<std::string, std::string> labels;  // free key/values (sweep trial, params, ...)
  // How long `ritsu cancel` lets the task's processes exit after SIGTERM before SIGKILL;
  // 0 = the worker's --kill-grace.
  int64_t kill_grace_ms = 0;
  MSGPACK_DEFINE_MAP(name, kind, argv, cwd, env, resources, priority, max_attempts, timeout_ms,
                     after, after_in_batch, sweep_id, labels, kill_grace_ms)
};

// One try at running a task. attempt numbers start at 1.
struct Attempt {
  uint32_t attempt = 0;
  std::string worker;               // worker name
  std::vector<std::string> slots;   // slot ids on that worker
  TimeMs assigned_ms = 0;
  TimeMs started_ms = 0;
  TimeMs finished_ms = 0;
  int32_t pid = 0;
  int32_t exit_code = -1;           // -1 = did not exit normally (see signal / error)
  int32_t signal = 0;               // signal that ended the child, 0 = none
  int64_t wall_ms = 0;
  uint64_t peak_rss_bytes = 0;
  std::string metrics_json;         // what the child wrote to RITSU_METRICS_FILE, or ""
  std::string error;                // why this attempt ended abnormally (worker lost, spawn...)
  uint64_t stdout_bytes = 0;        // bytes of each stream stored so far (next expected offset)
  uint64_t stderr_bytes = 0;
  uint64_t log_bytes = 0;           // both streams together, in arrival order (see logs)
  // Outcome PREEMPTED: stopped for a preemption after a checkpoint (Finished.preempted); the
  // task was requeued and this attempt does not count against max_attempts.
  bool preempted = false;
  // The metric series (LogStream::kMetrics): bytes received (the stream's next expected offset)
  // and bytes stored, a prefix of them (at most kMaxMetricsSeriesBytes per attempt).
  uint64_t metrics_bytes = 0;
  uint64_t metrics_stored_bytes = 0;
  MSGPACK_DEFINE_MAP(attempt, worker, slots, assigned_ms, started_ms, finished_ms, pid, exit_code,
                     signal, wall_ms, peak_rss_bytes, metrics_json, error, stdout_bytes,
                     stderr_bytes, log_bytes, preempted, metrics_bytes, metrics_stored_bytes)
};

// The scheduler's record of a task (what `show` returns without the attempt list).
struct TaskRecord {
  TaskId id = 0;
  TaskSpec spec;
  TaskState state = TaskState::kPending;
  uint32_t attempt = 0;             // current/last attempt number, 0 = never assigned
  uint64_t seq = 0;                 // submission order (FIFO tie-break)
  TimeMs submitted_ms = 0;
  TimeMs updated_ms = 0;
  std::string worker;               // worker of the current attempt, if any
  // Why the task is where it is: the failed dependency, the unmet resource, the cancel reason,
  // the failure of the last attempt. Shown by `status` and `explain`.
  std::string reason;
  int32_t exit_code = -1;           // of the last finished attempt
  std::string metrics_json;         // of the last finished attempt
  // Attempts lost before their process started (assignment lost in a scheduler crash, worker
  // died before starting it): they do not count against spec.max_attempts, but have their own
  // limit (kMaxUnstartedAttempts) so a worker that accepts work and never starts it cannot
  // requeue a task forever.
  uint32_t unstarted_attempts = 0;
  // Attempts that ended preempted (Attempt::preempted): they do not count against
  // spec.max_attempts either.
  uint32_t preempted_attempts = 0;
  MSGPACK_DEFINE_MAP(id, spec, state, attempt, seq, submitted_ms, updated_ms, worker, reason,
                     exit_code, metrics_json, unstarted_attempts, preempted_attempts)
};

// The metric series of one attempt is stored up to this many bytes (about 20k training-step
// records); later records are counted and dropped, so the stored series is always its start.
inline constexpr uint64_t kMaxMetricsSeriesBytes = 4u << 20;

// A task whose attempts were lost before starting this many times is FAILED.
inline constexpr uint32_t kMaxUnstartedAttempts = 5;
// Upper bound of TaskSpec::kill_grace_ms.
inline constexpr int64_t kMaxKillGraceMs = 3'600'000;

// One schedulable unit offered by a worker: a GPU, a MIG slice, or a CPU-only test slot.
struct Slot {
  std::string id;                   // "0", "MIG-5c1f...", "cpu0": unique within the worker
  std::string name;                 // "NVIDIA A100-SXM4-40GB MIG 2g.20gb", "cpu"
  uint64_t mem_bytes = 0;
  std::string compute_capability;   // "8.0"; empty for CPU slots
  bool is_gpu = false;              // CPU-only slots serve tasks with resources.gpus == 0
  MSGPACK_DEFINE_MAP(id, name, mem_bytes, compute_capability, is_gpu)
};

// (task, attempt) pair: what a worker says it runs; what the scheduler tells it to stop.
struct TaskAttemptRef {
  TaskId task_id = 0;
  uint32_t attempt = 0;
  MSGPACK_DEFINE_MAP(task_id, attempt)
};

const char* WorkerStateName(WorkerState s);    // "alive", "draining", "lost"

struct WorkerInfo {
  std::string name;
  std::string host;
  std::vector<Slot> slots;
  std::vector<std::string> tags;
  WorkerState state = WorkerState::kAlive;
  TimeMs registered_ms = 0;
  TimeMs last_heartbeat_ms = 0;
  std::vector<TaskAttemptRef> running;  // what the scheduler believes runs there
  std::vector<std::string> busy_slots;  // slot ids in use
  std::string instance_id;              // Register::instance_id of the worker holding the name
  MSGPACK_DEFINE_MAP(name, host, slots, tags, state, registered_ms, last_heartbeat_ms, running,
                     busy_slots, instance_id)
};

// ValidateSpec (the checks of a spec a client sent) is in common/spec_check.h.

}  // namespace ritsu
