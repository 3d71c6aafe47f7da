// The worker agent: one DEALER socket to ritsud, one event loop.
//
// - Registers with its slots and the attempts it is still running; re-registers after any
//   silence longer than the heartbeat timeout, after a heartbeat reply asking for it, or when the
//   scheduler id changes (ritsud restarted). Reconnects with exponential backoff (250 ms .. 5 s).
// - Heartbeats every interval the scheduler chose; the scheduler's replies are its heartbeat.
// - Assign -> a task through the ProcessLauncher (TaskRunner thread + Process under a shim);
//   CancelTask / cancel lists -> SIGTERM the task's tree, SIGKILL it after the grace.
// - Before registering, kills whatever task processes a previous incarnation left running
//   (AttemptRegistry::ReapLeftovers), so a task never runs twice.
// - A spool that cannot take more (disk full) pauses every task's output (back-pressure: the
//   children block on their pipes) and says so in each task's log; output resumes when space
//   returns. Only after spool_full_limit, or when stopping, is output dropped and counted.
// - Output lines are coalesced into LogChunk messages (per task attempt and stream, byte
//   offsets), Finished follows every chunk of its attempt. Both go through the Spool before
//   they are sent, are resent after every (re)registration, and leave it when ritsud acks them
//   (LogAck by offset, Ack by request id = spool seq). Tasks keep running while ritsud is away.
//
// Not thread-safe: Run() owns everything; RequestStop() may be called from a signal handler.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <zmq.hpp>

#include "auth/endpoint_security.h"
#include "common/protocol.h"
#include "common/status.h"
#include "worker/agent_deps.h"
#include "worker/attempt_registry.h"
#include "worker/metrics_tail.h"
#include "worker/slots.h"
#include "worker/spool.h"
#include "worker/task_runner.h"

namespace ritsu::worker {

struct AgentConfig {
  std::string scheduler;                 // tcp://HOST:PORT
  std::string name;
  std::string host;
  std::vector<LocalSlot> slots;
  std::vector<std::string> tags;
  std::string engine_path;
  std::string spool_dir;
  std::string instance_id;               // worker/instance_id.h; sent in Register
  // SIGTERM -> SIGKILL grace for a cancel whose CancelTask says grace_ms = 0, for the
  // scheduler's cancel lists, and when the worker stops.
  std::chrono::milliseconds kill_grace{std::chrono::seconds(10)};
  // How long a full / unwritable spool holds tasks' output back (the tasks block on their
  // pipes) before the worker gives up and drops output, counting it in Finished.log_bytes_lost.
  std::chrono::milliseconds spool_full_limit{std::chrono::minutes(10)};
  // Used until the first RegisterReply says otherwise.
  std::chrono::milliseconds heartbeat_interval{std::chrono::seconds(1)};
  std::chrono::milliseconds heartbeat_timeout{std::chrono::seconds(10)};
  // CURVE keys (--curve-server-key / --curve-secret-key); nullopt = plain TCP.
  std::optional<auth::ClientCurve> curve;
};

// The agent's side effects besides socket and spool; nullptr = the real one.
struct AgentDeps {
  ProcessLauncher* launcher = nullptr;
  Clock* clock = nullptr;
};

class Agent {
 public:
  Agent(AgentConfig cfg, std::unique_ptr<Spool> spool, AgentDeps deps = {});
  ~Agent();

  // Serves until RequestStop(); then cancels running tasks, waits for them (bounded by the kill
  // grace), tries briefly to deliver what is spooled, and returns.
  Status Run();
  void RequestStop() { stop_.store(true); }
  // SIGHUP (systemd's reload): logged; nothing a running worker could reload safely.
  void RequestReload() { reload_.store(true); }

 private:
  using StreamKey = std::tuple<TaskId, uint32_t, LogStream>;

  void Connect();
  void SendRegister();
  void SendHeartbeat();
  bool SendFrame(const std::string& frame);
  void PumpSpool();
  void HandleFrame(std::string_view frame);
  void HandleAssign(const Assign& a);
  void CancelAttempt(const TaskAttemptRef& ref, std::chrono::milliseconds grace, const std::string& why,
                     bool preempt = false);
  void HandleEvents();
  bool FlushOutput();
  void FinishAttempt(const TaskEvent& ev);
  bool SpoolDeferredFinished();
  void RetrySpool();
  void SpoolFull(const Status& why);
  void SpoolHasSpace();
  void NoteToTask(const TaskAttemptRef& ref, const std::string& line);
  void PollSeries(const TaskAttemptRef& ref, MetricsTail& tail, bool final);
  void PollAllSeries();
  void IndexSpooled();
  std::vector<TaskAttemptRef> RunningRefs() const;
  void Log(const std::string& line) const;

  AgentConfig cfg_;
  std::unique_ptr<Spool> spool_;
  ProcessLauncher* launcher_;
  Clock* clock_;
  std::atomic<bool> stop_{false};
  bool stopping_ = false;                // Run saw stop_: tasks preempted, no new ones taken
  Status fatal_;                         // why Run stops by itself (the name is taken)
  std::atomic<bool> reload_{false};
  AttemptRegistry registry_;
  LaunchContext launch_;

  zmq::context_t ctx_{1};
  std::unique_ptr<zmq::socket_t> sock_;
  bool registered_ = false;
  std::string scheduler_id_;
  uint64_t register_request_id_ = 0;
  uint64_t next_request_id_ = 1ull << 62;  // above any spool seq, so replies are unambiguous
  Clock::time_point last_recv_{}, last_heartbeat_sent_{}, register_sent_{}, last_sync_{};
  std::chrono::milliseconds backoff_{250};
  std::chrono::milliseconds hb_interval_, hb_timeout_;
  uint64_t spool_sent_up_to_ = 0;  // highest spool seq handed to ZeroMQ since (re)registering
  bool unsynced_ = false;

  EventQueue events_;
  std::map<std::pair<TaskId, uint32_t>, std::unique_ptr<TaskHandle>> tasks_;
  // Attempts asked to stop for a preemption (CancelTask.preempt, or this worker stopping): an
  // exit with kPreemptedExitCode is then reported as Finished.preempted.
  std::set<std::pair<TaskId, uint32_t>> preempting_;
  // Each running attempt's $RITSU_METRICS_SERIES, read every kSeriesPollEvery and once more when
  // it exits; new lines become its kMetrics stream.
  std::map<std::pair<TaskId, uint32_t>, MetricsTail> series_;
  Clock::time_point last_series_poll_{};
  std::map<StreamKey, uint64_t> stream_offset_;      // next byte offset of each stream
  std::map<StreamKey, std::string> pending_output_;  // lines not yet put into a chunk
  // Spooled log chunks by stream: chunk end offset -> spool seq (LogAck releases by offset).
  std::map<StreamKey, std::map<uint64_t, uint64_t>> chunk_index_;
  // Attempts whose Finished is spooled but not acked, by spool seq. They are still reported as
  // "running" in Register/Heartbeat: otherwise a restarted ritsud would write off an attempt
  // that ended while it was down before the resent Finished reaches it.
  std::map<uint64_t, TaskAttemptRef> unacked_finished_;

  // Back-pressure state. While spool_full_, every task's output is paused and Finished reports
  // wait in deferred_finished_ (in order, after their attempts' chunks); their attempts are
  // still reported as running.
  bool spool_full_ = false;
  bool dropping_output_ = false;   // gave up waiting: output is dropped and counted
  Clock::time_point spool_full_since_{};
  std::string spool_full_reason_;
  std::deque<Finished> deferred_finished_;
  std::map<std::pair<TaskId, uint32_t>, uint64_t> lost_bytes_;  // per attempt, while dropping
  // Attempts that exited with output still held back: what of it is dropped later is added to
  // their Finished when it is spooled.
  std::set<std::pair<TaskId, uint32_t>> lost_counted_late_;
};

}  // namespace ritsu::worker
