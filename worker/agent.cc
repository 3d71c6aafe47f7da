#include "worker/agent.h"

#include <unistd.h>

#include <algorithm>
#include <type_traits>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>

namespace ritsu::worker {
namespace {

constexpr size_t kChunkBytes = 256 * 1024;  // coalesce lines into chunks up to this size
constexpr auto kLogSyncEvery = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);
constexpr auto kSeriesPollEvery = std::chrono::milliseconds(200);

TimeMs NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Clock* SteadyClock() {
  struct Steady : Clock {
    time_point Now() override { return std::chrono::steady_clock::now(); }
  };
  static Steady clock;
  return &clock;
}

ProcessLauncher* RealProcessLauncher() {
  struct Real : ProcessLauncher {
    std::unique_ptr<TaskHandle> Launch(const Assign& a, const LaunchContext& ctx, EventQueue* events) override {
      return std::make_unique<TaskRunner>(a, ctx, events);
    }
  };
  static Real launcher;
  return &launcher;
}

Agent::Agent(AgentConfig cfg, std::unique_ptr<Spool> spool, AgentDeps deps)
    : cfg_(std::move(cfg)), spool_(std::move(spool)),
      launcher_(deps.launcher ? deps.launcher : RealProcessLauncher()), clock_(deps.clock ? deps.clock : SteadyClock()),
      registry_((std::filesystem::path(cfg_.spool_dir) / "running").string()),
      hb_interval_(cfg_.heartbeat_interval), hb_timeout_(cfg_.heartbeat_timeout) {
  launch_.engine_path = cfg_.engine_path;
  launch_.slots = cfg_.slots;
  launch_.metrics_dir = (std::filesystem::path(cfg_.spool_dir) / "metrics").string();
  launch_.kill_grace = cfg_.kill_grace;
  launch_.registry = &registry_;
  IndexSpooled();
}

Agent::~Agent() {
  for (auto& [k, t] : tasks_) t->Cancel(std::chrono::milliseconds(0));
  tasks_.clear();  // joins the threads
}

void Agent::Log(const std::string& line) const {
  std::time_t t = std::time(nullptr);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  std::fprintf(stderr, "%s ritsu-worker[%s]: %s\n", ts, cfg_.name.c_str(), line.c_str());
}

// Rebuilds the chunk index from what a previous run left in the spool, so LogAcks for those
// chunks release them after the resend.
void Agent::IndexSpooled() {
  for (const auto& [seq, frame] : spool_->pending()) {
    auto msg = Decode(frame);
    if (msg.ok() && msg->type == MsgType::kFinished) {
      auto f = msg->As<Finished>();
      if (f.ok()) unacked_finished_[seq] = {f->task_id, f->attempt};
      continue;
    }
    if (!msg.ok() || msg->type != MsgType::kLogChunk) continue;
    auto chunk = msg->As<LogChunk>();
    if (!chunk.ok()) continue;
    chunk_index_[{chunk->task_id, chunk->attempt, chunk->stream}][chunk->offset + chunk->data.size()] = seq;
  }
  if (!spool_->pending().empty())
    Log(fmt::format("spool holds {} undelivered message(s) from an earlier run; they will be resent", spool_->pending().size()));
  if (spool_->discarded_tail_bytes() > 0)
    Log(fmt::format("spool had a torn tail of {} bytes (crash mid-write); it was cut off", spool_->discarded_tail_bytes()));
}

void Agent::Connect() {
  if (sock_) sock_->close();
  sock_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
  sock_->set(zmq::sockopt::linger, 0);
  sock_->set(zmq::sockopt::sndhwm, 100000);
  sock_->set(zmq::sockopt::rcvhwm, 100000);
  sock_->set(zmq::sockopt::reconnect_ivl, 100);
  sock_->set(zmq::sockopt::reconnect_ivl_max, 2000);
  if (cfg_.curve) {
    Status st = auth::ApplyClientCurve(sock_->handle(), *cfg_.curve);
    if (!st.ok()) Log(fmt::format("CURVE setup failed: {}", st.ToString()));
  }
  sock_->connect(cfg_.scheduler);
  registered_ = false;
  spool_sent_up_to_ = 0;
}

bool Agent::SendFrame(const std::string& frame) {
  if (!sock_) return false;
  try {
    auto r = sock_->send(zmq::buffer(frame), zmq::send_flags::dontwait);
    return r.has_value();
  } catch (const zmq::error_t& e) {
    Log(fmt::format("send failed: {}", e.what()));
    return false;
  }
}

std::vector<TaskAttemptRef> Agent::RunningRefs() const {
  std::vector<TaskAttemptRef> refs;
  for (const auto& [k, t] : tasks_) refs.push_back(t->ref());
  for (const auto& [seq, ref] : unacked_finished_) refs.push_back(ref);
  for (const auto& f : deferred_finished_) refs.push_back({f.task_id, f.attempt});
  return refs;
}

void Agent::SendRegister() {
  Register r;
  r.name = cfg_.name;
  r.host = cfg_.host;
  for (const auto& ls : cfg_.slots) r.slots.push_back(ls.slot);
  r.tags = cfg_.tags;
  r.running = RunningRefs();
  r.version = "ritsu-worker 0.1";
  r.instance_id = cfg_.instance_id;
  register_request_id_ = next_request_id_++;
  SendFrame(Encode(register_request_id_, r));
  register_sent_ = clock_->Now();
}

void Agent::SendHeartbeat() {
  Heartbeat hb;
  hb.name = cfg_.name;
  hb.running = RunningRefs();
  SendFrame(Encode(next_request_id_++, hb));
  last_heartbeat_sent_ = clock_->Now();
}

// Hands spooled messages to ZeroMQ in seq order, as far as its queue takes them.
void Agent::PumpSpool() {
  if (!registered_) return;
  const auto& pending = spool_->pending();
  for (auto it = pending.upper_bound(spool_sent_up_to_); it != pending.end(); ++it) {
    if (!SendFrame(it->second)) return;  // queue full: continue on the next loop turn
    spool_sent_up_to_ = it->first;
  }
}

void Agent::NoteToTask(const TaskAttemptRef& ref, const std::string& line) {
  pending_output_[{ref.task_id, ref.attempt, LogStream::kStderr}] += "ritsu-worker: " + line + "\n";
}

void Agent::PollSeries(const TaskAttemptRef& ref, MetricsTail& tail, bool final) {
  std::vector<std::string> notes;
  std::string lines = tail.Poll(final, &notes);
  for (const auto& n : notes) NoteToTask(ref, n);
  if (!lines.empty()) pending_output_[{ref.task_id, ref.attempt, LogStream::kMetrics}] += lines;
}

// While the spool is full the files are left alone: they keep what is not read yet on disk.
void Agent::PollAllSeries() {
  if (spool_full_ && !dropping_output_) return;
  if (clock_->Now() - last_series_poll_ < kSeriesPollEvery) return;
  last_series_poll_ = clock_->Now();
  for (auto& [k, tail] : series_) PollSeries({k.first, k.second}, tail, false);
}

// The spool could not take a message: pause every task's output until it can (the children
// block on full pipes; nothing is dropped) and say so once in each task's log.
void Agent::SpoolFull(const Status& why) {
  if (spool_full_) return;
  spool_full_ = true;
  spool_full_since_ = clock_->Now();
  spool_full_reason_ = why.message();
  Log(fmt::format("spool full ({}): pausing the output of {} running task(s) until space returns",
                  spool_full_reason_, tasks_.size()));
  for (auto& [k, t] : tasks_) {
    t->SetOutputPaused(true);
    NoteToTask(t->ref(), fmt::format("spool full ({}): pausing this task's output until space returns", spool_full_reason_));
  }
}

void Agent::SpoolHasSpace() {
  if (!spool_full_) return;
  double secs = std::chrono::duration<double>(clock_->Now() - spool_full_since_).count();
  Log(fmt::format("spool has space again after {:.1f}s: resuming task output", secs));
  spool_full_ = false;
  dropping_output_ = false;
  for (auto& [k, t] : tasks_) t->SetOutputPaused(false);
  // Only the notes fit for running tasks; finished ones got theirs with their Finished.
  for (auto& [k, t] : tasks_) {
    auto lost = lost_bytes_.find(k);
    if (lost != lost_bytes_.end())
      NoteToTask(t->ref(), fmt::format("{} bytes of this task's output were lost: the spool was unwritable ({}) for over {}s",
                                       lost->second, spool_full_reason_, cfg_.spool_full_limit.count() / 1000.0));
    NoteToTask(t->ref(), "spool has space again: resuming this task's output");
  }
}

// Turns pending output into spooled chunks. Returns false (keeping what did not fit, in order)
// when the spool refused one; while dropping_output_, what does not fit is counted as lost.
bool Agent::FlushOutput() {
  for (auto it = pending_output_.begin(); it != pending_output_.end();) {
    const StreamKey& key = it->first;
    std::string& buf = it->second;
    size_t pos = 0;
    while (pos < buf.size()) {
      size_t n = std::min(buf.size() - pos, kMaxLogChunkBytes);
      if (std::get<2>(key) == LogStream::kMetrics && pos + n < buf.size()) {
        // Metric chunks hold whole lines: ritsud stores (or, past its limit, drops) whole chunks.
        size_t nl = buf.rfind('\n', pos + n - 1);
        if (nl != std::string::npos && nl >= pos) n = nl + 1 - pos;
      }
      LogChunk c;
      std::tie(c.task_id, c.attempt, c.stream) = key;
      c.offset = stream_offset_[key];
      c.data = buf.substr(pos, n);
      auto appended = spool_->Append(Encode(spool_->next_seq(), c), false);
      if (!appended.ok()) {
        if (!dropping_output_) {
          buf.erase(0, pos);
          SpoolFull(appended.status());
          return false;
        }
        // Not spooled means not sent: the stream's offsets skip nothing, the bytes are just gone.
        lost_bytes_[{c.task_id, c.attempt}] += buf.size() - pos;
        break;
      }
      if (spool_full_) SpoolHasSpace();  // (adds notes to pending_output_: a new map entry is fine)
      stream_offset_[key] += n;
      chunk_index_[key][c.offset + n] = *appended;
      unsynced_ = true;
      pos += n;
    }
    it = pending_output_.erase(it);
  }
  return true;
}

// Spools the Finished reports that are waiting, in order, once all output before them is in.
bool Agent::SpoolDeferredFinished() {
  while (!deferred_finished_.empty()) {
    if (!FlushOutput()) return false;
    Finished& f = deferred_finished_.front();
    // Output of this attempt that was still waiting when it exited and has only now been
    // given up on (the spool-full limit passed after the exit) counts too.
    if (lost_counted_late_.erase({f.task_id, f.attempt})) {
      if (auto lost = lost_bytes_.find({f.task_id, f.attempt}); lost != lost_bytes_.end()) {
        f.log_bytes_lost += lost->second;
        lost->second = 0;
      }
    }
    auto appended = spool_->Append(Encode(spool_->next_seq(), f), true);
    if (!appended.ok()) {
      if (!dropping_output_) { SpoolFull(appended.status()); return false; }
      // Given up on the spool: the report can still go out once; it is just not crash-safe. It
      // waits for a registration (still reported as running meanwhile), or ritsud would requeue
      // an attempt that ended.
      if (!registered_) return false;
      Log(fmt::format("task {} attempt {}: {}; sending the result without spooling", f.task_id, f.attempt,
                      appended.status().ToString()));
      SendFrame(Encode(next_request_id_++, f));
    } else {
      if (spool_full_) SpoolHasSpace();
      unacked_finished_[*appended] = {f.task_id, f.attempt};
      last_sync_ = clock_->Now();
      unsynced_ = false;
    }
    // Its output is all spooled (FlushOutput above): the offsets are not needed any more.
    for (auto st : {LogStream::kStdout, LogStream::kStderr, LogStream::kMetrics}) stream_offset_.erase({f.task_id, f.attempt, st});
    lost_bytes_.erase({f.task_id, f.attempt});  // (its own "bytes were lost" note may be among them)
    deferred_finished_.pop_front();
  }
  return true;
}

// Once per loop turn: try again what the spool refused; after spool_full_limit (or when the
// worker is stopping and the grace is over) stop holding output back and count what is lost.
void Agent::RetrySpool() {
  if (spool_full_ && !dropping_output_ && clock_->Now() - spool_full_since_ >= cfg_.spool_full_limit) {
    Log(fmt::format("spool still unwritable after {}s ({}): dropping task output from now on; each attempt's "
                    "Finished reports the bytes lost", cfg_.spool_full_limit.count() / 1000.0, spool_full_reason_));
    dropping_output_ = true;
    for (auto& [k, t] : tasks_) t->SetOutputPaused(false);
  }
  if (SpoolDeferredFinished()) FlushOutput();
}

void Agent::FinishAttempt(const TaskEvent& ev) {
  auto it = tasks_.find({ev.ref.task_id, ev.ref.attempt});
  std::string metrics_path = it != tasks_.end() ? it->second->metrics_path() : "";
  const ProcessResult& r = ev.result;
  Finished f;
  f.task_id = ev.ref.task_id;
  f.attempt = ev.ref.attempt;
  f.exit_code = r.term_signal == 0 && r.launch_error.empty() ? r.exit_code : -1;
  f.signal = r.term_signal;
  f.wall_ms = int64_t(r.wall_seconds * 1000);
  f.peak_rss_bytes = uint64_t(std::max<int64_t>(0, r.peak_rss_bytes));
  f.timed_out = r.timed_out;
  // Preempted: asked to stop for a preemption and either checkpointed (exit 75 after the
  // SIGTERM) or never started. Exit 75 without that request is an ordinary failure.
  bool preempt_asked = preempting_.erase({f.task_id, f.attempt}) > 0;
  bool never_started = r.cancelled && !r.launch_error.empty();
  bool checkpointed = r.launch_error.empty() && r.term_signal == 0 && r.exit_code == kPreemptedExitCode;
  if (preempt_asked && (checkpointed || never_started)) {
    f.preempted = true;
    if (never_started) f.error = r.launch_error;
  } else if (!r.launch_error.empty()) f.error = r.launch_error;
  else if (r.cancelled) f.error = "cancelled";
  else if (r.timed_out) f.error = fmt::format("timeout after {:.1f}s", r.wall_seconds);
  if (!metrics_path.empty()) {
    std::string problem;
    f.metrics_json = ReadMetricsFile(metrics_path, &problem);
    // Tell the user where they will look: the task's own stderr.
    if (!problem.empty()) NoteToTask(ev.ref, "RITSU_METRICS_FILE " + problem);
    std::error_code ec;
    std::filesystem::remove(metrics_path, ec);
  }
  Log(fmt::format("task {} attempt {}: {}{}", f.task_id, f.attempt, r.Describe(), f.preempted ? " (preempted)" : ""));
  // The rest of the metric series, before the Finished that follows every byte of the attempt.
  if (auto s = series_.find({f.task_id, f.attempt}); s != series_.end()) {
    PollSeries(ev.ref, s->second, /*final=*/true);
    std::error_code ec;
    std::filesystem::remove(s->second.path(), ec);
    series_.erase(s);
  }
  if (it != tasks_.end()) tasks_.erase(it);  // joins the (finished) thread
  // Every chunk of the attempt goes before its Finished: flush, then spool the report, or leave
  // it waiting behind its output while the spool is full.
  if (!FlushOutput() && !dropping_output_) lost_counted_late_.insert({f.task_id, f.attempt});
  if (auto lost = lost_bytes_.find({f.task_id, f.attempt}); lost != lost_bytes_.end()) {
    f.log_bytes_lost = lost->second;
    NoteToTask(ev.ref, fmt::format("{} bytes of this task's output were lost: the spool was unwritable ({})",
                                   lost->second, spool_full_reason_));
    lost_bytes_.erase(lost);
  }
  deferred_finished_.push_back(std::move(f));
  SpoolDeferredFinished();
}

void Agent::HandleEvents() {
  for (TaskEvent& ev : events_.TakeAll()) {
    switch (ev.type) {
      case TaskEvent::Type::kStarted: {
        Started s;
        s.task_id = ev.ref.task_id;
        s.attempt = ev.ref.attempt;
        s.pid = ev.pid;
        s.started_ms = NowMs();
        // Not spooled: if it is lost, Register/Heartbeat `running` and Finished still tell.
        if (registered_) SendFrame(Encode(next_request_id_++, s));
        break;
      }
      case TaskEvent::Type::kOutput: {
        std::string& buf = pending_output_[{ev.ref.task_id, ev.ref.attempt, ev.stream}];
        buf += ev.data;
        if (buf.size() >= kChunkBytes && !spool_full_) FlushOutput();
        break;
      }
      case TaskEvent::Type::kExited:
        FinishAttempt(ev);
        break;
    }
  }
  PollAllSeries();
  RetrySpool();
  if (unsynced_ && clock_->Now() - last_sync_ >= kLogSyncEvery) {
    Status st = spool_->Sync();
    if (!st.ok()) Log(st.ToString());
    last_sync_ = clock_->Now();
    unsynced_ = false;
  }
}

void Agent::HandleAssign(const Assign& a) {
  if (tasks_.count({a.task_id, a.attempt})) return;  // duplicate delivery
  if (stopping_) {
    // Crossed the stop in flight: not started, so reported preempted (requeued, not counted).
    Finished f;
    f.task_id = a.task_id;
    f.attempt = a.attempt;
    f.preempted = true;
    f.error = fmt::format("worker {} is stopping; not started", cfg_.name);
    Log(fmt::format("task {} attempt {}: {}", a.task_id, a.attempt, f.error));
    deferred_finished_.push_back(std::move(f));
    SpoolDeferredFinished();
    return;
  }
  for (const auto& id : a.slots) {
    bool known = std::any_of(cfg_.slots.begin(), cfg_.slots.end(), [&](const LocalSlot& s) { return s.slot.id == id; });
    if (!known) {
      Finished f;
      f.task_id = a.task_id;
      f.attempt = a.attempt;
      f.error = fmt::format("worker {} has no slot '{}'", cfg_.name, id);
      Log(f.error);
      deferred_finished_.push_back(std::move(f));
      SpoolDeferredFinished();
      return;
    }
  }
  Log(fmt::format("task {} attempt {}: starting '{}' on slot(s) {}", a.task_id, a.attempt, a.name, fmt::join(a.slots, ",")));
  std::string series = SeriesPathFor(launch_.metrics_dir, a.task_id, a.attempt);
  std::error_code ec;
  std::filesystem::create_directories(launch_.metrics_dir, ec);
  std::filesystem::remove(series, ec);  // a file from an earlier run of this attempt
  series_.insert_or_assign({a.task_id, a.attempt}, MetricsTail(series));
  auto runner = launcher_->Launch(a, launch_, &events_);
  if (spool_full_ && !dropping_output_) {
    runner->SetOutputPaused(true);
    NoteToTask(runner->ref(), fmt::format("spool full ({}): pausing this task's output until space returns", spool_full_reason_));
  }
  tasks_[{a.task_id, a.attempt}] = std::move(runner);
}

void Agent::CancelAttempt(const TaskAttemptRef& ref, std::chrono::milliseconds grace, const std::string& why,
                          bool preempt) {
  auto it = tasks_.find({ref.task_id, ref.attempt});
  if (it == tasks_.end()) return;
  if (preempt) preempting_.insert({ref.task_id, ref.attempt});
  Log(fmt::format("task {} attempt {}: {} ({})", ref.task_id, ref.attempt, preempt ? "preempt" : "cancel", why));
  it->second->Cancel(grace);
}

void Agent::HandleFrame(std::string_view frame) {
  auto msg = Decode(frame);
  if (!msg.ok()) {
    Log(fmt::format("ignoring a bad frame from the scheduler: {}", msg.status().ToString()));
    return;
  }
  last_recv_ = clock_->Now();
  switch (msg->type) {
    case MsgType::kRegisterReply: {
      auto r = msg->As<RegisterReply>();
      if (!r.ok() || msg->request_id != register_request_id_) break;  // reply to an older try
      registered_ = true;
      backoff_ = std::chrono::milliseconds(250);
      if (r->heartbeat_interval_ms > 0) hb_interval_ = std::chrono::milliseconds(r->heartbeat_interval_ms);
      if (r->heartbeat_timeout_ms > 0) hb_timeout_ = std::chrono::milliseconds(r->heartbeat_timeout_ms);
      if (scheduler_id_ != r->scheduler_id)
        Log(fmt::format("registered with {} (scheduler {}), {} slot(s), {} running task(s), {} spooled message(s) to resend",
                        cfg_.scheduler, r->scheduler_id, cfg_.slots.size(), tasks_.size(), spool_->pending().size()));
      scheduler_id_ = r->scheduler_id;
      for (const auto& ref : r->cancel) CancelAttempt(ref, cfg_.kill_grace, "the scheduler no longer wants it");
      spool_sent_up_to_ = 0;
      PumpSpool();
      break;
    }
    case MsgType::kHeartbeatReply: {
      auto r = msg->As<HeartbeatReply>();
      if (!r.ok()) break;
      if (r->reregister || r->scheduler_id != scheduler_id_) {
        Log("the scheduler asks this worker to register again");
        registered_ = false;
        SendRegister();
        break;
      }
      for (const auto& ref : r->cancel) CancelAttempt(ref, cfg_.kill_grace, "the scheduler no longer wants it");
      break;
    }
    case MsgType::kAssign: {
      auto a = msg->As<Assign>();
      if (!a.ok()) { Log(a.status().ToString()); break; }
      HandleAssign(*a);
      break;
    }
    case MsgType::kCancelTask: {
      auto c = msg->As<CancelTask>();
      if (!c.ok()) break;
      // grace_ms 0 (or absent): the scheduler leaves the grace to this worker's --kill-grace.
      auto grace = c->grace_ms > 0 ? std::chrono::milliseconds(c->grace_ms) : cfg_.kill_grace;
      CancelAttempt({c->task_id, c->attempt}, grace, c->reason.empty() ? "cancelled" : c->reason, c->preempt);
      break;
    }
    case MsgType::kLogAck: {
      auto a = msg->As<LogAck>();
      if (!a.ok()) break;
      auto idx = chunk_index_.find({a->task_id, a->attempt, a->stream});
      if (idx == chunk_index_.end()) break;
      auto& ends = idx->second;
      for (auto e = ends.begin(); e != ends.end() && e->first <= a->acked_offset;) {
        Status st = spool_->Ack(e->second);
        if (!st.ok()) Log(st.ToString());
        e = ends.erase(e);
      }
      if (ends.empty()) chunk_index_.erase(idx);
      break;
    }
    case MsgType::kAck: {
      if (msg->request_id < (1ull << 62)) {  // a spooled message (Finished)
        unacked_finished_.erase(msg->request_id);
        Status st = spool_->Ack(msg->request_id);
        if (!st.ok()) Log(st.ToString());
      }
      break;
    }
    case MsgType::kError: {
      auto e = msg->As<ErrorReply>();
      if (!e.ok()) break;
      if (msg->request_id == register_request_id_ && e->code == int32_t(Status::Code::kAlreadyExists)) {
        // Another live worker holds this name: retrying cannot help, say so and stop.
        Log(e->message);
        fatal_ = Status::AlreadyExists(e->message);
        stop_.store(true);
        break;
      }
      if (registered_ && e->code == int32_t(Status::Code::kFailedPrecondition)) {
        // ritsud restarted and does not know this connection yet: register (and resend) now
        // instead of waiting for the next heartbeat reply to say so.
        Log("the scheduler does not know this worker (it restarted?); registering again");
        registered_ = false;
        SendRegister();
        break;
      }
      if (!registered_ && e->code == int32_t(Status::Code::kFailedPrecondition)) break;  // already on it
      Log(fmt::format("scheduler refused request {}: {}", msg->request_id, e->message));
      break;
    }
    default:
      Log(fmt::format("ignoring unexpected message '{}' from the scheduler", MsgTypeName(msg->type)));
  }
}

Status Agent::Run() {
  // Before registering: a task must not run here while ritsud requeues it elsewhere.
  for (const std::string& line : registry_.ReapLeftovers()) Log(line);
  Log(fmt::format("connecting to {} with {} slot(s)", cfg_.scheduler, cfg_.slots.size()));
  Connect();
  SendRegister();
  last_recv_ = clock_->Now();
  Clock::time_point stop_began{};
  bool& stopping = stopping_;

  for (;;) {
    auto now = clock_->Now();
    if (reload_.exchange(false))
      Log("SIGHUP: nothing to reload (flags and --config are read at start; restart the worker to change them)");
    if (stop_.load() && !stopping) {
      stopping = true;
      stop_began = now;
      // A worker stopped by SIGTERM/SIGINT (systemd stop, a closing time window) preempts its
      // tasks: those that checkpoint and exit 75 within the grace are requeued, not failed.
      Log("stopping: preempting running tasks");
      for (auto& [k, t] : tasks_) {
        preempting_.insert(k);
        t->Cancel(cfg_.kill_grace);
      }
    }
    if (stopping) {
      // A spool that stays full does not hold the stop up beyond the grace: what cannot be
      // spooled then is dropped and counted (the Finished reports still go out, unspooled).
      if (spool_full_ && !dropping_output_ && now - stop_began > cfg_.kill_grace + std::chrono::seconds(1)) {
        Log("stopping with a full spool: dropping the output that does not fit");
        dropping_output_ = true;
        for (auto& [k, t] : tasks_) t->SetOutputPaused(false);
      }
      bool delivered = (spool_->pending().empty() || !registered_) && deferred_finished_.empty();
      bool out_of_time = now - stop_began > cfg_.kill_grace + std::chrono::seconds(2);
      if (tasks_.empty() && (delivered || out_of_time)) {
        if (!deferred_finished_.empty())
          Log(fmt::format("stopping: {} result(s) could be neither spooled nor sent; ritsud will requeue those attempts",
                          deferred_finished_.size()));
        break;
      }
    }

    if (!registered_) {
      if (now - register_sent_ >= backoff_) {
        // A fresh socket drops whatever the old one still queued for a dead peer.
        Connect();
        SendRegister();
        backoff_ = std::min(backoff_ * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kMaxBackoff));
      }
    } else {
      if (now - last_recv_ > hb_timeout_) {
        Log(fmt::format("no word from the scheduler at {} for {} ms; reconnecting (tasks keep running)",
                        cfg_.scheduler, hb_timeout_.count()));
        registered_ = false;
        register_sent_ = Clock::time_point{};
        continue;
      }
      if (now - last_heartbeat_sent_ >= hb_interval_) SendHeartbeat();
      PumpSpool();
    }

    zmq::pollitem_t items[] = {
        {sock_->handle(), 0, ZMQ_POLLIN, 0},
        {nullptr, events_.wake_fd(), ZMQ_POLLIN, 0},
    };
    auto wait = std::chrono::milliseconds(50);
    try {
      zmq::poll(items, 2, wait);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) return Status::Internal(fmt::format("zmq poll: {}", e.what()));
    }
    if (items[0].revents & ZMQ_POLLIN) {
      for (int i = 0; i < 1000; ++i) {  // bounded so task events are not starved
        zmq::message_t m;
        auto got = sock_->recv(m, zmq::recv_flags::dontwait);
        if (!got) break;
        HandleFrame(std::string_view(static_cast<const char*>(m.data()), m.size()));
      }
    }
    HandleEvents();
  }
  Status st = spool_->Sync();
  Log("stopped");
  if (!fatal_.ok()) return fatal_;
  return st;
}

}  // namespace ritsu::worker
