// The wire protocol between ritsud, ritsu-worker and the ritsu CLI (spec: docs/protocol.md).
//
// Transport: ritsud binds one ZeroMQ ROUTER socket; workers and clients connect DEALER sockets
// and send/receive exactly ONE frame per message (the ROUTER adds/strips the identity frame).
// Frame = msgpack array [version, type, request_id, body]:
//   version     uint   kProtocolVersion; any other value is refused with an ErrorReply
//   type        uint   MsgType below; unknown values are refused
//   request_id  uint   chosen by the sender; a reply carries the request's id so a client can
//                      match it. Unsolicited messages (assign, cancel_task, ...) use 0.
//   body        map    the message struct, keys = field names (MSGPACK_DEFINE_MAP); missing keys
//                      keep their defaults and unknown keys are ignored, so adding a field is
//                      compatible, removing or renaming one is a version bump.
// Limits: a frame is at most kMaxFrameBytes; a log chunk's data at most kMaxLogChunkBytes; a
// submit batch at most kMaxSubmitBatch tasks. Decoders enforce them and return an error.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>

#include "common/status.h"
#include "common/task.h"

namespace ritsu {

inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr size_t kMaxFrameBytes = 16u << 20;      // 16 MiB
inline constexpr size_t kMaxLogChunkBytes = 1u << 20;    // 1 MiB of log data per chunk
inline constexpr size_t kMaxSubmitBatch = 20000;         // tasks per submit
inline constexpr int64_t kMaxWaitMs = 60'000;            // long-poll cap (logs, wait)
inline constexpr size_t kMaxWaitTasks = 50'000;           // task ids in one wait (its rows share one frame)
// The exit status (EX_TEMPFAIL) by which a task says "I checkpointed after SIGTERM: run me again
// later". It means preemption only when the worker had asked for one (Finished::preempted).
inline constexpr int32_t kPreemptedExitCode = 75;

enum class MsgType : uint16_t {
  kError = 0,
  kAck = 1,
  // worker <-> scheduler
  kRegister = 10, kRegisterReply = 11,
  kHeartbeat = 12, kHeartbeatReply = 13,
  kAssign = 14,
  kStarted = 15,
  kLogChunk = 16, kLogAck = 17,
  kFinished = 18,
  kCancelTask = 19,
  // client -> scheduler (each answered by the *Reply type, or kError)
  kSubmit = 40, kSubmitReply = 41,
  kCancel = 42, kCancelReply = 43,
  kRetry = 44, kRetryReply = 45,
  kStatus = 46, kStatusReply = 47,
  kShow = 48, kShowReply = 49,
  kLogs = 50, kLogsReply = 51,
  kWorkers = 52, kWorkersReply = 53,
  kDrain = 54,                       // answered by kAck
  kExplain = 55, kExplainReply = 56,
  kWait = 57, kWaitReply = 58,
  kSweepSubmit = 59, kSweepSubmitReply = 60,
  kSweepStatus = 61, kSweepStatusReply = 62,
  kMetrics = 63, kMetricsReply = 64,
};
const char* MsgTypeName(MsgType t);    // "submit", "log_chunk", ...; "unknown" if not a type
bool IsKnownMsgType(uint32_t raw);

// ---------------------------------------------------------------------------------------------
// Generic replies

// Scheduler -> anyone, in reply to a request it could not serve (bad frame, unknown task, ...).
// Also worker -> scheduler when it cannot take an assign. `code` is Status::Code as int.
struct ErrorReply {
  static constexpr MsgType kType = MsgType::kError;
  int32_t code = 0;
  std::string message;
  MSGPACK_DEFINE_MAP(code, message)
};

// Scheduler -> worker/client: the request (matched by request_id) was durably applied.
// Sent for started, finished, drain. `ref` echoes the task it concerned, if any.
struct Ack {
  static constexpr MsgType kType = MsgType::kAck;
  TaskAttemptRef ref;
  MSGPACK_DEFINE_MAP(ref)
};

// ---------------------------------------------------------------------------------------------
// Worker <-> scheduler

// Worker -> scheduler, on connect and on every reconnect (and when a heartbeat reply says
// `reregister`). `running` lists what the worker is still running (task, attempt) so the
// scheduler can reconcile after its own restart.
struct Register {
  static constexpr MsgType kType = MsgType::kRegister;
  std::string name;                  // unique per worker; the identity used by drain/--host
  std::string host;                  // hostname, informational
  std::vector<Slot> slots;
  std::vector<std::string> tags;
  std::vector<TaskAttemptRef> running;
  std::string version;               // worker build version, informational
  // Random id the worker generated once and keeps in its spool directory. The same name with
  // the same id is that worker restarted (it takes the name over at once); the same name with
  // another id while the holder still heartbeats is refused (already exists). "" = old worker:
  // treated as a different instance.
  std::string instance_id;
  MSGPACK_DEFINE_MAP(name, host, slots, tags, running, version, instance_id)
};

// Scheduler -> worker, reply to Register. `cancel` = attempts the worker reported running that
// the scheduler no longer wants (task cancelled, or reassigned after a timeout): kill them and
// still report "finished" for them (that report is ignored). Heartbeat every
// heartbeat_interval_ms; the scheduler declares the worker lost after heartbeat_timeout_ms of
// silence, and the worker should consider the scheduler lost after the same time without a reply.
struct RegisterReply {
  static constexpr MsgType kType = MsgType::kRegisterReply;
  std::string scheduler_id;          // random per ritsud start: a change means "it restarted"
  int64_t heartbeat_interval_ms = 1000;
  int64_t heartbeat_timeout_ms = 10000;
  std::vector<TaskAttemptRef> cancel;
  MSGPACK_DEFINE_MAP(scheduler_id, heartbeat_interval_ms, heartbeat_timeout_ms, cancel)
};

// Worker -> scheduler every heartbeat_interval_ms. `running` as in Register.
struct Heartbeat {
  static constexpr MsgType kType = MsgType::kHeartbeat;
  std::string name;
  std::vector<TaskAttemptRef> running;
  MSGPACK_DEFINE_MAP(name, running)
};

// Scheduler -> worker, reply to every Heartbeat (the scheduler's side of "heartbeats both
// ways"). `reregister` = the scheduler does not know this worker (it restarted or declared it
// lost): send Register again. `cancel` as in RegisterReply.
struct HeartbeatReply {
  static constexpr MsgType kType = MsgType::kHeartbeatReply;
  std::string scheduler_id;
  bool reregister = false;
  std::vector<TaskAttemptRef> cancel;
  MSGPACK_DEFINE_MAP(scheduler_id, reregister, cancel)
};

// Scheduler -> worker, unsolicited (request_id 0): run this attempt on these slots. The worker
// answers Started (or Finished with `error` set when it could not start the child). For kind
// exec it runs `argv`; otherwise `ritsu-engine <kind> argv...`. CUDA_VISIBLE_DEVICES = the GPU
// slot ids joined by ','; RITSU_TASK_ID, RITSU_ATTEMPT and RITSU_METRICS_FILE are set too.
struct Assign {
  static constexpr MsgType kType = MsgType::kAssign;
  TaskId task_id = 0;
  uint32_t attempt = 0;
  std::string name;
  TaskKind kind = TaskKind::kExec;
  std::vector<std::string> argv;
  std::string cwd;
  std::map<std::string, std::string> env;
  std::vector<std::string> slots;    // slot ids (Slot::id) granted on this worker
  int64_t timeout_ms = 0;            // worker kills the group after this long; 0 = none
  MSGPACK_DEFINE_MAP(task_id, attempt, name, kind, argv, cwd, env, slots, timeout_ms)
};

// Worker -> scheduler once the child process exists. Answered by Ack.
struct Started {
  static constexpr MsgType kType = MsgType::kStarted;
  TaskId task_id = 0;
  uint32_t attempt = 0;
  int32_t pid = 0;
  TimeMs started_ms = 0;             // worker clock
  MSGPACK_DEFINE_MAP(task_id, attempt, pid, started_ms)
};

// kMetrics: the attempt's metric series (JSON object per line, from $RITSU_METRICS_SERIES); it
// travels and is acknowledged like a log stream but is stored apart (served by `metrics`, not
// part of `logs`). ritsud must know it before workers send it: upgrade ritsud first.
enum class LogStream : uint8_t { kStdout = 0, kStderr = 1, kMetrics = 2 };
const char* LogStreamName(LogStream s);   // "stdout", "stderr", "metrics"
}  // namespace ritsu
MSGPACK_ADD_ENUM(ritsu::LogStream);
namespace ritsu {

// Worker -> scheduler: bytes [offset, offset + data.size()) of one stream of one attempt.
// Chunks of a stream are sent in order; the worker keeps them in its spool until LogAck covers
// them. A chunk that starts before what is stored is trimmed (duplicate after reconnect); one
// that starts after it is refused with ErrorReply (a gap: resend from the acked offset).
struct LogChunk {
  static constexpr MsgType kType = MsgType::kLogChunk;
  TaskId task_id = 0;
  uint32_t attempt = 0;
  LogStream stream = LogStream::kStdout;
  uint64_t offset = 0;
  std::string data;                  // raw bytes (msgpack bin or str both accepted)
  MSGPACK_DEFINE_MAP(task_id, attempt, stream, offset, data)
};

// Scheduler -> worker: everything of this stream below `acked_offset` is durably stored.
struct LogAck {
  static constexpr MsgType kType = MsgType::kLogAck;
  TaskId task_id = 0;
  uint32_t attempt = 0;
  LogStream stream = LogStream::kStdout;
  uint64_t acked_offset = 0;
  MSGPACK_DEFINE_MAP(task_id, attempt, stream, acked_offset)
};

// Worker -> scheduler when the child exited (or could not start: exit_code -1, error set).
// Send after every log chunk of the attempt. Answered by Ack; stale attempts are acked and
// ignored, so the worker may drop it from its spool on any Ack.
struct Finished {
  static constexpr MsgType kType = MsgType::kFinished;
  TaskId task_id = 0;
  uint32_t attempt = 0;
  int32_t exit_code = -1;            // -1 when killed by a signal or never started
  int32_t signal = 0;
  int64_t wall_ms = 0;
  uint64_t peak_rss_bytes = 0;
  std::string metrics_json;          // content of RITSU_METRICS_FILE, "" if none/invalid
  std::string error;                 // "spawn failed: ...", "timeout after 2h", "cancelled"
  bool timed_out = false;
  // Bytes of the task's output the worker could not keep (its spool was unwritable for longer
  // than --spool-full-limit, or it was stopping); 0 = the log is complete. Optional: absent in
  // older workers' messages, so it decodes as 0.
  uint64_t log_bytes_lost = 0;
  // The worker had asked the attempt to stop for a preemption (CancelTask.preempt, or the worker
  // itself stopping) and it exited kPreemptedExitCode, or it was stopped before its process
  // started. The scheduler requeues the task without counting the attempt. Optional (false).
  bool preempted = false;
  MSGPACK_DEFINE_MAP(task_id, attempt, exit_code, signal, wall_ms, peak_rss_bytes, metrics_json,
                     error, timed_out, log_bytes_lost, preempted)
};

// Scheduler -> worker, unsolicited: stop this attempt (SIGTERM to its process tree, SIGKILL
// after grace_ms), then report Finished as usual, once the whole tree is gone.
// grace_ms = 0: the worker's own default (ritsu-worker --kill-grace).
struct CancelTask {
  static constexpr MsgType kType = MsgType::kCancelTask;
  TaskId task_id = 0;
  uint32_t attempt = 0;
  int64_t grace_ms = 0;              // the task's kill_grace_ms; 0 = the worker's --kill-grace
  std::string reason;
  // A preemption (drain --requeue), not a cancel: an exit with kPreemptedExitCode is then
  // reported as Finished.preempted. Optional (false).
  bool preempt = false;
  MSGPACK_DEFINE_MAP(task_id, attempt, grace_ms, reason, preempt)
};

// ---------------------------------------------------------------------------------------------
// Client -> scheduler (each gets its *Reply or an ErrorReply with the same request_id)

// Submit a batch; all tasks are stored in one durable write or none is (a bad spec or unknown
// --after id rejects the whole batch with an ErrorReply naming tasks[i].field).
struct Submit {
  static constexpr MsgType kType = MsgType::kSubmit;
  std::vector<TaskSpec> tasks;
  MSGPACK_DEFINE_MAP(tasks)
};
// A task of the batch that was stored CANCELLED at once because a dependency had already
// failed or been cancelled (the client should say so and exit non-zero).
struct SubmitCancelled {
  TaskId task_id = 0;
  std::string reason;                // "dependency 3 (prep) ended FAILED"
  MSGPACK_DEFINE_MAP(task_id, reason)
};
struct SubmitReply {
  static constexpr MsgType kType = MsgType::kSubmitReply;
  std::vector<TaskId> ids;           // in batch order
  std::vector<SubmitCancelled> cancelled;
  MSGPACK_DEFINE_MAP(ids, cancelled)
};

// Cancel tasks by id, or every non-final task of a sweep (sweep_id != 0).
struct Cancel {
  static constexpr MsgType kType = MsgType::kCancel;
  std::vector<TaskId> task_ids;
  SweepId sweep_id = 0;
  std::string reason;                // default "cancelled by user"
  MSGPACK_DEFINE_MAP(task_ids, sweep_id, reason)
};
struct CancelReply {
  static constexpr MsgType kType = MsgType::kCancelReply;
  std::vector<TaskId> cancelled;     // tasks that were not final and now are CANCELLED
  std::vector<TaskId> already_final; // tasks that had ended before
  MSGPACK_DEFINE_MAP(cancelled, already_final)
};

// Run a FAILED or CANCELLED task again (attempt + 1, max_attempts raised by one if needed).
struct Retry {
  static constexpr MsgType kType = MsgType::kRetry;
  TaskId task_id = 0;
  MSGPACK_DEFINE_MAP(task_id)
};
struct RetryReply {
  static constexpr MsgType kType = MsgType::kRetryReply;
  TaskId task_id = 0;
  TaskState state = TaskState::kQueued;  // QUEUED, or PENDING if its deps are not done
  MSGPACK_DEFINE_MAP(task_id, state)
};

// Task list and counts. `states` empty = all states; sweep_id 0 = all sweeps.
// summary_only = only counts (cheap even with millions of tasks). `limit` bounds the rows of
// this page (newest first); 0 = default 1000.
// Paging (every list reply): a reply stops adding rows before its frame would pass
// kMaxFrameBytes and sets `next_cursor`; ask again with `cursor` = that value (and the rows
// still wanted as `limit`) until `next_cursor` is "". Cursors are opaque strings.
struct StatusRequest {
  static constexpr MsgType kType = MsgType::kStatus;
  std::vector<TaskState> states;
  SweepId sweep_id = 0;
  bool summary_only = false;
  uint32_t limit = 0;
  std::string cursor;                // "" = from the newest
  MSGPACK_DEFINE_MAP(states, sweep_id, summary_only, limit, cursor)
};
struct TaskRow {                     // one line of `ritsu status`
  TaskId id = 0;
  std::string name;
  TaskKind kind = TaskKind::kExec;
  TaskState state = TaskState::kPending;
  uint32_t attempt = 0;
  int32_t priority = 0;
  std::string worker;
  SweepId sweep_id = 0;
  TimeMs submitted_ms = 0;
  TimeMs updated_ms = 0;
  std::string reason;
  std::string metrics_json;          // final metrics of the last finished attempt, or ""
  MSGPACK_DEFINE_MAP(id, name, kind, state, attempt, priority, worker, sweep_id, submitted_ms,
                     updated_ms, reason, metrics_json)
};
struct StatusReply {
  static constexpr MsgType kType = MsgType::kStatusReply;
  std::map<std::string, uint64_t> counts;  // state name -> number of tasks (all 8 present)
  std::vector<TaskRow> tasks;
  bool truncated = false;            // more rows matched than `limit`
  std::string next_cursor;           // "" = no more rows; else ask again from here
  MSGPACK_DEFINE_MAP(counts, tasks, truncated, next_cursor)
};

struct Show {
  static constexpr MsgType kType = MsgType::kShow;
  TaskId task_id = 0;
  MSGPACK_DEFINE_MAP(task_id)
};
struct ShowReply {
  static constexpr MsgType kType = MsgType::kShowReply;
  TaskRecord task;
  std::vector<Attempt> attempts;     // oldest first
  std::vector<TaskId> dependents;    // tasks that wait on this one
  MSGPACK_DEFINE_MAP(task, attempts, dependents)
};

// Log bytes of one attempt, both streams interleaved in arrival order. `offset` is a position in
// that combined log (start at 0, then pass back next_offset). attempt 0 = the latest attempt.
// wait_ms > 0 = long poll: if nothing is available at `offset`, hold the reply until data comes,
// the attempt ends, or wait_ms passes (capped at kMaxWaitMs). This is how `logs -f` follows.
struct Logs {
  static constexpr MsgType kType = MsgType::kLogs;
  TaskId task_id = 0;
  uint32_t attempt = 0;
  uint64_t offset = 0;
  uint32_t max_bytes = 0;            // 0 = 1 MiB; capped at 4 MiB
  int64_t wait_ms = 0;
  MSGPACK_DEFINE_MAP(task_id, attempt, offset, max_bytes, wait_ms)
};
struct LogPiece {
  LogStream stream = LogStream::kStdout;
  uint64_t offset = 0;               // combined offset of data[0]
  std::string data;
  MSGPACK_DEFINE_MAP(stream, offset, data)
};
struct LogsReply {
  static constexpr MsgType kType = MsgType::kLogsReply;
  TaskId task_id = 0;
  uint32_t attempt = 0;              // the attempt served (resolved when 0 was asked)
  std::vector<LogPiece> pieces;
  uint64_t next_offset = 0;
  // The attempt is over and every byte up to next_offset was sent: stop following.
  bool complete = false;
  TaskState state = TaskState::kPending;
  MSGPACK_DEFINE_MAP(task_id, attempt, pieces, next_offset, complete, state)
};

struct Workers {
  static constexpr MsgType kType = MsgType::kWorkers;
  bool include_lost = true;          // also list workers declared lost
  std::string cursor;                // paging, as StatusRequest
  MSGPACK_DEFINE_MAP(include_lost, cursor)
};
struct WorkersReply {
  static constexpr MsgType kType = MsgType::kWorkersReply;
  std::vector<WorkerInfo> workers;   // by name
  std::string next_cursor;
  MSGPACK_DEFINE_MAP(workers, next_cursor)
};

// Stop giving new tasks to a worker (running ones finish). undrain = accept work again.
// requeue = also preempt its running attempts (CancelTask.preempt with each task's kill grace):
// those that checkpoint and exit kPreemptedExitCode are requeued without using an attempt.
struct Drain {
  static constexpr MsgType kType = MsgType::kDrain;
  std::string worker;
  bool undrain = false;
  bool requeue = false;
  MSGPACK_DEFINE_MAP(worker, undrain, requeue)
};

// Why is this task not running (or why did it end)?
struct Explain {
  static constexpr MsgType kType = MsgType::kExplain;
  TaskId task_id = 0;
  MSGPACK_DEFINE_MAP(task_id)
};
struct ExplainReply {
  static constexpr MsgType kType = MsgType::kExplainReply;
  TaskId task_id = 0;
  TaskState state = TaskState::kPending;
  std::vector<std::string> reasons;  // one line each, most important first
  MSGPACK_DEFINE_MAP(task_id, state, reasons)
};

// Long poll until every task is final or timeout_ms passes (capped at kMaxWaitMs; the CLI
// loops for longer waits).
struct Wait {
  static constexpr MsgType kType = MsgType::kWait;
  std::vector<TaskId> task_ids;
  int64_t timeout_ms = 0;
  MSGPACK_DEFINE_MAP(task_ids, timeout_ms)
};
struct WaitReply {
  static constexpr MsgType kType = MsgType::kWaitReply;
  std::vector<TaskRow> tasks;        // same order as asked
  bool all_final = false;
  MSGPACK_DEFINE_MAP(tasks, all_final)
};

// The metric series of one attempt (LogStream::kMetrics bytes: one JSON object per line), from
// `offset` (a position in the stored series; start at 0, pass back next_offset). attempt 0 = the
// latest. A reply holds whole lines only.
struct MetricsRequest {
  static constexpr MsgType kType = MsgType::kMetrics;
  TaskId task_id = 0;
  uint32_t attempt = 0;
  uint64_t offset = 0;
  uint32_t max_bytes = 0;            // 0 = 1 MiB; capped at 4 MiB
  MSGPACK_DEFINE_MAP(task_id, attempt, offset, max_bytes)
};
struct MetricsReply {
  static constexpr MsgType kType = MsgType::kMetricsReply;
  TaskId task_id = 0;
  uint32_t attempt = 0;              // the attempt served (resolved when 0 was asked)
  std::string data;                  // JSONL from offset
  uint64_t next_offset = 0;
  uint64_t stored_bytes = 0;         // the series stored so far (next_offset == it: all read)
  uint64_t dropped_bytes = 0;        // received past the per-attempt limit and not stored
  bool complete = false;             // the attempt is over and everything was sent
  MSGPACK_DEFINE_MAP(task_id, attempt, data, next_offset, stored_bytes, dropped_bytes, complete)
};

// A sweep file (TOML, docs/sweeps.md), sent as text; the scheduler expands and stores it.
struct SweepSubmit {
  static constexpr MsgType kType = MsgType::kSweepSubmit;
  std::string file_name;             // for error messages only
  std::string toml;
  std::string base_dir;              // absolute directory of the file on the client: the
                                     // steps' working directory (a relative step cwd is under it)
  MSGPACK_DEFINE_MAP(file_name, toml, base_dir)
};
struct SweepSubmitReply {
  static constexpr MsgType kType = MsgType::kSweepSubmitReply;
  SweepId sweep_id = 0;
  uint32_t trials = 0;
  std::vector<TaskId> task_ids;
  MSGPACK_DEFINE_MAP(sweep_id, trials, task_ids)
};

struct SweepStatus {
  static constexpr MsgType kType = MsgType::kSweepStatus;
  SweepId sweep_id = 0;
  std::string cursor;                // paging of `trials`, as StatusRequest
  MSGPACK_DEFINE_MAP(sweep_id, cursor)
};
struct SweepTaskCell {               // one step of one trial
  std::string step;                  // chain step name ("train", "eval"); "main" without a chain
  TaskId task_id = 0;
  TaskState state = TaskState::kPending;
  std::string metrics_json;
  MSGPACK_DEFINE_MAP(step, task_id, state, metrics_json)
};
struct SweepTrialRow {
  uint32_t trial = 0;
  std::map<std::string, std::string> params;  // parameter -> value as substituted
  std::vector<SweepTaskCell> steps;
  MSGPACK_DEFINE_MAP(trial, params, steps)
};
struct SweepStatusReply {
  static constexpr MsgType kType = MsgType::kSweepStatusReply;
  SweepId sweep_id = 0;
  std::string name;
  uint32_t max_concurrent = 0;       // 0 = no cap
  std::map<std::string, uint64_t> counts;  // state name -> tasks (of the whole sweep)
  std::vector<SweepTrialRow> trials;
  std::string next_cursor;
  MSGPACK_DEFINE_MAP(sweep_id, name, max_concurrent, counts, trials, next_cursor)
};

// ---------------------------------------------------------------------------------------------
// Codec

// A decoded frame: header fields plus the body, still as a msgpack object (owned here).
class Message {
 public:
  uint32_t version = 0;
  MsgType type = MsgType::kError;
  uint64_t request_id = 0;

  // Converts the body to T; fails if T::kType != type or the body does not fit T.
  template <typename T>
  Result<T> As() const;

  // Internal: set by Decode.
  std::shared_ptr<msgpack::object_handle> handle_;
  const msgpack::object* body_ = nullptr;
};

// Encodes one frame. Never fails for well-formed structs.
template <typename T>
std::string Encode(uint64_t request_id, const T& body);

// The request_id of a frame whose header [version, type, request_id, ...] is readable, even
// when the rest is not (another version, a bad or oversized body): every error reply then
// answers its request. 0 when not even the header can be read.
uint64_t PeekRequestId(std::string_view frame);

// Parses one frame: rejects frames over kMaxFrameBytes, non-msgpack bytes, trailing bytes, a
// header that is not [uint, uint, uint, map], another protocol version, an unknown type.
// Nesting and container sizes are limited so garbage cannot exhaust memory.
Result<Message> Decode(std::string_view frame);

// Convenience: ErrorReply frame from a Status.
std::string EncodeError(uint64_t request_id, const Status& status);
// ErrorReply body -> Status with the sender's code and message.
Status ErrorToStatus(const ErrorReply& e);

// ---- implementation of the templates ----

namespace protocol_internal {
void PackHeader(msgpack::packer<msgpack::sbuffer>& pk, MsgType type, uint64_t request_id);
Status BodyMismatch(MsgType want, MsgType got);
Status BodyConvertError(MsgType type, const std::string& field, const char* what);
std::string MapKeyAt(const msgpack::object& map, uint32_t i);

// The first top-level field of `body` that does not convert to T's field of that name ("" if
// none does alone): names the culprit of a "std::bad_cast".
template <typename T>
std::string FindBadField(const msgpack::object& body) {
  if (body.type != msgpack::type::MAP) return "";
  for (uint32_t i = 0; i < body.via.map.size; ++i) {
    msgpack::object one;
    one.type = msgpack::type::MAP;
    one.via.map.size = 1;
    one.via.map.ptr = &body.via.map.ptr[i];
    T probe;
    try {
      one.convert(probe);
    } catch (const std::exception&) {
      return MapKeyAt(body, i);
    }
  }
  return "";
}
Status CheckLimits(MsgType type, const msgpack::object& body);
}  // namespace protocol_internal

template <typename T>
std::string Encode(uint64_t request_id, const T& body) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  protocol_internal::PackHeader(pk, T::kType, request_id);
  pk.pack(body);
  return std::string(buf.data(), buf.size());
}

template <typename T>
Result<T> Message::As() const {
  if (type != T::kType) return protocol_internal::BodyMismatch(T::kType, type);
  T out;
  try {
    body_->convert(out);
  } catch (const std::exception& e) {
    return protocol_internal::BodyConvertError(type, protocol_internal::FindBadField<T>(*body_), e.what());
  }
  return out;
}

}  // namespace ritsu
