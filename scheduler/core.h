// The scheduler's state machine: tasks, attempts, workers, sweeps; every protocol request's
// effect. Single-threaded (the event loop owns it). No sockets, no real clock: the broker feeds
// it decoded messages and a Clock, and takes back replies and unsolicited messages, so tests
// drive it directly (scheduler/tests/core_test.cc).
//
// Durability rule: handlers change memory at once and add their writes to one pending batch.
// The caller must Commit() before sending any reply or outbound message produced since the last
// commit, so nobody is told about a state that is not on disk. If Commit fails, memory is ahead
// of disk: the caller either exits (a restart reloads the last durable state) or calls Reload,
// which does the same in place (the broker does that when the disk is full).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/protocol.h"
#include "scheduler/clock.h"
#include "scheduler/matcher.h"
#include "scheduler/store.h"

namespace ritsu::sched {

// Who sent a message: the ROUTER routing id, plus the authenticated identity once CURVE/ZAP is
// on (issue 6): the Z85 public key ("User-Id"), empty without authentication.
struct Peer {
  std::string routing_id;
  std::string user_id;
  std::string address;  // the remote IP ("Peer-Address"), for messages only; may be empty
};

// A message the scheduler sends on its own (assign, cancel_task) to a worker's routing id.
struct Outbound {
  std::string routing_id;
  std::string frame;
};

struct CoreOptions {
  int64_t heartbeat_interval_ms = 1000;
  int64_t heartbeat_timeout_ms = 10000;
  uint32_t reserve_after = 3;
  // Rows of one list reply (status, workers, sweep_status) stop here; the rest is paged. Leaves
  // room under kMaxFrameBytes for the frame header and the reply's other fields.
  size_t max_reply_bytes = kMaxFrameBytes - (256u << 10);
  std::string scheduler_id = "ritsud";  // random per start (see RegisterReply)
};

class Core {
 public:
  Core(Store* store, const Clock* clock, CoreOptions opts);

  // Loads counters, active tasks, workers and sweeps. Call once, after Store::Init.
  Status Load();

  // ---- mutating requests (writes go to the pending batch) ----
  Result<RegisterReply> OnRegister(const Peer& p, const Register& m);
  Result<HeartbeatReply> OnHeartbeat(const Peer& p, const Heartbeat& m);
  Result<Ack> OnStarted(const Peer& p, const Started& m);
  Result<LogAck> OnLogChunk(const Peer& p, const LogChunk& m);
  Result<Ack> OnFinished(const Peer& p, const Finished& m);
  Result<SubmitReply> OnSubmit(const Submit& m);
  Result<CancelReply> OnCancel(const Cancel& m);
  Result<RetryReply> OnRetry(const Retry& m);
  Result<Ack> OnDrain(const Drain& m);
  Result<SweepSubmitReply> OnSweepSubmit(const SweepSubmit& m);

  // Declares workers silent past the heartbeat timeout lost and requeues (or fails) their
  // attempts; also requeues assignments a live worker never acknowledged.
  void Tick();
  // Places queued tasks on free slots (adds Assign messages to the outbox).
  void Schedule();

  // Writes the pending batch (with counters) with a synced WAL. No-op when nothing changed.
  Status Commit();
  // After a failed Commit: forgets every change made since the last good one by reloading the
  // state from the store (and drops the outbox). Connections are forgotten too: workers are
  // asked to register again. Non-OK only when the store cannot be read.
  Status Reload();
  // Gives every known worker a full heartbeat timeout from now (after a store outage, during
  // which their heartbeats could not be taken).
  void GraceWorkers();
  bool HasPendingWrites() const { return !batch_.empty() || !dirty_attempts_.empty(); }
  std::vector<Outbound> TakeOutbox() { return std::exchange(outbox_, {}); }
  // Tasks whose state or log changed since the last call (wakes long polls).
  std::set<TaskId> TakeTouched() { return std::exchange(touched_, {}); }

  // ---- reads (call after Commit: they read the store) ----
  Result<StatusReply> OnStatus(const StatusRequest& m);
  Result<ShowReply> OnShow(const Show& m);
  // nullopt = nothing at that offset yet and the attempt is still going: park the request.
  Result<std::optional<LogsReply>> OnLogs(const Logs& m);
  Result<WorkersReply> OnWorkers(const Workers& m);
  Result<ExplainReply> OnExplain(const Explain& m);
  Result<WaitReply> OnWait(const Wait& m);  // all_final tells the caller whether to park
  Result<SweepStatusReply> OnSweepStatus(const SweepStatus& m);
  Result<MetricsReply> OnMetrics(const MetricsRequest& m);

  // For tests and benchmarks.
  const StoreMeta& meta() const { return meta_; }
  Result<TaskRecord> GetTask(TaskId id);
  size_t queued_count() const { return queue_.size(); }

 private:
  struct ActiveTask {
    TaskRecord rec;
    std::set<TaskId> waiting_on;     // PENDING: deps not yet SUCCEEDED
    uint32_t passes_blocked = 0;     // matcher anti-starvation credit (memory only)
  };
  using AttemptKeyT = std::pair<TaskId, uint32_t>;
  struct WorkerRt {
    WorkerInfo info;
    std::string routing_id;          // empty until it registers with this ritsud process
    std::string address;             // its connection's remote address (messages only)
    bool drained = false;
    // It reported a preempted attempt without being drained: it is stopping (SIGTERM to the
    // worker). No new work until it registers again (memory only: a restart re-registers it).
    bool stopping = false;
    std::map<AttemptKeyT, Attempt> running;  // attempts on it (ASSIGNED/RUNNING, or cancelled
                                             // but not yet reported finished)
  };

  TaskRecord* Active(TaskId id);
  WorkerRt* WorkerByPeer(const Peer& p);
  Result<TaskRecord> GetAny(TaskId id);   // active, written in this batch, or stored
  // Every task-state change (see core.cc).
  void Transition(TaskId id, TaskState to, const std::string& reason);
  static TaskState CancelledStateOf(TaskState s);
  void FinishAttemptOf(WorkerRt& w, AttemptKeyT key, const std::string& why_lost);
  void RetryOrFail(TaskId id, const std::string& reason);
  void LoseWorker(WorkerRt& w, const std::string& why);
  void PutWorker(WorkerRt& w);
  void SendCancel(WorkerRt& w, TaskId id, uint32_t attempt, int64_t grace_ms, const std::string& reason,
                  bool preempt = false);
  Result<std::vector<TaskId>> CreateTasks(std::vector<TaskSpec> specs, SweepId sweep,
                                          std::vector<SubmitCancelled>* cancelled);
  TaskRow RowOf(const TaskRecord& r) const;
  std::vector<MatchWorker> MatchWorkers() const;
  std::optional<std::string> RunningWorkerOf(TaskId id, uint32_t attempt) const;

  Store* store_;
  const Clock* clock_;
  CoreOptions opts_;
  StoreMeta meta_;
  Batch batch_;
  std::unordered_map<TaskId, ActiveTask> active_;
  std::unordered_map<TaskId, TaskRecord> written_final_;  // tasks made final in this batch
  std::map<std::pair<int64_t, uint64_t>, TaskId> queue_;  // (-priority, seq) -> QUEUED task
  std::unordered_map<TaskId, std::vector<TaskId>> dependents_;  // dep -> PENDING dependents
  std::map<std::string, WorkerRt> workers_;
  std::unordered_map<std::string, std::string> worker_by_routing_;
  std::map<SweepId, SweepRecord> sweeps_;
  std::set<std::pair<std::string, AttemptKeyT>> dirty_attempts_;  // (worker, attempt) to write
  std::vector<Outbound> outbox_;
  std::set<TaskId> touched_;
  std::vector<TaskId> fresh_queued_;  // queued since the last pass (their reason is a placeholder)
  bool schedule_needed_ = true;
};

}  // namespace ritsu::sched
