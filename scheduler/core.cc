#include "scheduler/core.h"

#include <algorithm>
#include <ctime>
#include <functional>

#include <fmt/format.h>

#include "common/spec_check.h"
#include "common/units.h"
#include "scheduler/sweep.h"

namespace ritsu::sched {
namespace {

constexpr size_t kDefaultStatusLimit = 1000;
constexpr size_t kMaxNameInReason = 80;

// Names are free text of any length: quote at most a short piece of one in a reason.
std::string Clip(const std::string& s, size_t n = kMaxNameInReason) {
  return s.size() <= n ? s : s.substr(0, n) + "...";
}
constexpr const char* kFreshReason = "waiting for the next scheduling pass";
constexpr size_t kDefaultLogBytes = 1 << 20;
constexpr size_t kMaxLogBytes = 4 << 20;

std::map<std::string, uint64_t> CountsMap(const std::array<uint64_t, kNumTaskStates>& c) {
  std::map<std::string, uint64_t> out;
  for (int i = 0; i < kNumTaskStates; ++i) out[TaskStateName(static_cast<TaskState>(i))] = c[i];
  return out;
}

// UTC "2026-12-05T03:21:27Z" for reasons a user reads.
std::string UtcTime(TimeMs ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string AttemptEnd(const Finished& f) {
  if (f.timed_out) return f.error.empty() ? "timed out" : f.error;
  if (!f.error.empty()) return f.error;
  if (f.signal != 0) return fmt::format("killed by signal {}", f.signal);
  return fmt::format("exit code {}", f.exit_code);
}

}  // namespace

Core::Core(Store* store, const Clock* clock, CoreOptions opts)
    : store_(store), clock_(clock), opts_(std::move(opts)) {}

Status Core::Load() {
  RITSU_ASSIGN_OR_RETURN(meta_, store_->LoadMeta());
  RITSU_ASSIGN_OR_RETURN(auto workers, store_->LoadWorkers());
  TimeMs now = clock_->NowMs();
  for (auto& w : workers) {
    WorkerRt rt;
    rt.drained = w.state == WorkerState::kDraining;
    // A worker known before the restart gets a full timeout to come back and re-register.
    if (w.state != WorkerState::kLost) w.last_heartbeat_ms = now;
    w.running.clear();
    w.busy_slots.clear();
    rt.info = std::move(w);
    workers_[rt.info.name] = std::move(rt);
  }
  RITSU_ASSIGN_OR_RETURN(auto sweeps, store_->LoadSweeps());
  for (auto& s : sweeps) sweeps_[s.id] = std::move(s);

  for (TaskState st : {TaskState::kPending, TaskState::kQueued, TaskState::kAssigned, TaskState::kRunning,
                       TaskState::kCancelling}) {
    RITSU_ASSIGN_OR_RETURN(auto ids, store_->TasksInState(st, 0));
    for (TaskId id : ids) {
      RITSU_ASSIGN_OR_RETURN(auto rec, store_->GetTask(id));
      if (!rec) return Status::Corruption(fmt::format("state index lists task {} but it is not stored", id));
      ActiveTask at;
      at.rec = std::move(*rec);
      if (st == TaskState::kQueued) queue_[{-static_cast<int64_t>(at.rec.spec.priority), at.rec.seq}] = id;
      if (st == TaskState::kAssigned || st == TaskState::kRunning || st == TaskState::kCancelling) {
        RITSU_ASSIGN_OR_RETURN(auto a, store_->GetAttempt(id, at.rec.attempt));
        if (!a) return Status::Corruption(fmt::format("task {} is {} but attempt {} is not stored", id, TaskStateName(st), at.rec.attempt));
        WorkerRt& w = workers_[a->worker];
        if (w.info.name.empty()) {  // not stored (should not happen): a placeholder that times out
          w.info.name = a->worker;
          w.info.last_heartbeat_ms = now;
        }
        w.running[{id, a->attempt}] = *a;
      }
      active_[id] = std::move(at);
    }
  }
  // Pending tasks: which deps are still open.
  for (auto& [id, at] : active_) {
    if (at.rec.state != TaskState::kPending) continue;
    for (TaskId dep : at.rec.spec.after) {
      if (auto it = active_.find(dep); it != active_.end()) {
        at.waiting_on.insert(dep);
        dependents_[dep].push_back(id);
      }
    }
  }
  // A pending task whose deps all ended (possible only if a dep failed and cancelling was
  // interrupted, which one batch per change prevents) is settled now.
  std::vector<TaskId> settle;
  for (auto& [id, at] : active_) {
    if (at.rec.state == TaskState::kPending && at.waiting_on.empty()) settle.push_back(id);
  }
  for (TaskId id : settle) {
    bool ok = true;
    std::string why;
    for (TaskId dep : active_[id].rec.spec.after) {
      auto d = GetAny(dep);
      if (d.ok() && d->state != TaskState::kSucceeded) { ok = false; why = fmt::format("dependency {} ended {}", dep, TaskStateName(d->state)); }
    }
    Transition(id, ok ? TaskState::kQueued : TaskState::kCancelled, ok ? "" : why);
  }
  return Commit();
}

TaskRecord* Core::Active(TaskId id) {
  auto it = active_.find(id);
  return it == active_.end() ? nullptr : &it->second.rec;
}

Core::WorkerRt* Core::WorkerByPeer(const Peer& p) {
  auto it = worker_by_routing_.find(p.routing_id);
  if (it == worker_by_routing_.end()) return nullptr;
  auto w = workers_.find(it->second);
  return w == workers_.end() ? nullptr : &w->second;
}

Result<TaskRecord> Core::GetAny(TaskId id) {
  if (auto* a = Active(id)) return *a;
  if (auto it = written_final_.find(id); it != written_final_.end()) return it->second;
  RITSU_ASSIGN_OR_RETURN(auto rec, store_->GetTask(id));
  if (!rec) return Status::NotFound(fmt::format("task {} does not exist", id));
  return std::move(*rec);
}

Result<TaskRecord> Core::GetTask(TaskId id) { return GetAny(id); }

// The one place a task changes state: counts, queue keys, the stored record and its state
// index, long-poll wake-ups, cancel messages, and the effect on dependents all follow from here.
// A final task may come back (retry): it must have been put into active_ with its final state.
void Core::Transition(TaskId id, TaskState to, const std::string& reason) {
  // Worklist so a failed task cancelling a long chain does not recurse deeply.
  std::vector<std::tuple<TaskId, TaskState, std::string>> work{{id, to, reason}};
  while (!work.empty()) {
    auto [tid, state, why] = std::move(work.back());
    work.pop_back();
    auto it = active_.find(tid);
    if (it == active_.end()) continue;  // already final
    TaskRecord& r = it->second.rec;
    TaskState from = r.state;
    if (from == state && state == TaskState::kCancelling) continue;  // already being cancelled
    if (from == TaskState::kQueued) queue_.erase({-static_cast<int64_t>(r.spec.priority), r.seq});
    if (IsTerminal(from)) written_final_.erase(tid);  // revived by retry
    --meta_.counts[static_cast<int>(from)];
    ++meta_.counts[static_cast<int>(state)];
    r.state = state;
    r.reason = why;
    r.updated_ms = clock_->NowMs();
    if (state == TaskState::kQueued) {
      queue_[{-static_cast<int64_t>(r.spec.priority), r.seq}] = tid;
      it->second.passes_blocked = 0;
      schedule_needed_ = true;
    }
    store_->PutTask(batch_, r, from);
    touched_.insert(tid);
    // An attempt that may have processes: tell its worker to stop it. The slot stays busy (the
    // attempt stays in the worker's `running`) until the worker reports it finished.
    if (state == TaskState::kCancelling) {
      auto w = workers_.find(r.worker);
      if (w != workers_.end() && w->second.running.count({tid, r.attempt})) {
        SendCancel(w->second, tid, r.attempt, r.spec.kill_grace_ms, why);
      }
    }
    // Dependents learn the outcome as soon as it is certain: a task being cancelled will end
    // CANCELLED whatever its process does now.
    if (IsTerminal(state) || state == TaskState::kCancelling) {
      auto deps = dependents_.find(tid);
      std::vector<TaskId> waiting = deps == dependents_.end() ? std::vector<TaskId>{} : std::move(deps->second);
      if (deps != dependents_.end()) dependents_.erase(deps);
      TaskState outcome = state == TaskState::kCancelling ? TaskState::kCancelled : state;
      for (TaskId d : waiting) {
        auto dit = active_.find(d);
        if (dit == active_.end()) continue;
        if (outcome == TaskState::kSucceeded) {
          dit->second.waiting_on.erase(tid);
          if (dit->second.waiting_on.empty() && dit->second.rec.state == TaskState::kPending) {
            work.emplace_back(d, TaskState::kQueued, "");
          }
        } else {
          work.emplace_back(d, CancelledStateOf(dit->second.rec.state),
                            fmt::format("dependency {} ({}) ended {}", tid, Clip(r.spec.name), TaskStateName(outcome)));
        }
      }
    }
    if (!IsTerminal(state)) continue;
    written_final_[tid] = std::move(r);
    active_.erase(it);
  }
}

// Cancelling a task that may have processes goes through CANCELLING; anything else ends at once.
TaskState Core::CancelledStateOf(TaskState s) {
  return s == TaskState::kAssigned || s == TaskState::kRunning || s == TaskState::kCancelling
             ? TaskState::kCancelling : TaskState::kCancelled;
}

void Core::SendCancel(WorkerRt& w, TaskId id, uint32_t attempt, int64_t grace_ms, const std::string& reason,
                      bool preempt) {
  if (w.routing_id.empty()) return;  // it will be told in its register reply
  CancelTask c{id, attempt, grace_ms, reason, preempt};
  outbox_.push_back(Outbound{w.routing_id, Encode(0, c)});
}

void Core::PutWorker(WorkerRt& w) {
  w.info.running.clear();
  w.info.busy_slots.clear();
  for (const auto& [k, a] : w.running) {
    w.info.running.push_back(TaskAttemptRef{k.first, k.second});
    for (const auto& s : a.slots) w.info.busy_slots.push_back(s);
  }
  if (w.info.state != WorkerState::kLost) w.info.state = w.drained ? WorkerState::kDraining : WorkerState::kAlive;
  store_->PutWorker(batch_, w.info);
}

void Core::RetryOrFail(TaskId id, const std::string& reason) {
  TaskRecord* r = Active(id);
  if (!r) return;
  // Attempts lost before starting and preempted ones are not failures of the task.
  uint32_t free_attempts = std::min(r->attempt, r->unstarted_attempts + r->preempted_attempts);
  if (r->attempt - free_attempts < r->spec.max_attempts) {
    Transition(id, TaskState::kQueued,
               fmt::format("attempt {} of {} failed: {}; queued again", r->attempt, r->spec.max_attempts, reason));
  } else {
    Transition(id, TaskState::kFailed,
               r->spec.max_attempts > 1 ? fmt::format("all {} attempts failed; last: {}", r->spec.max_attempts, reason) : reason);
  }
}

// Ends an attempt the worker will never report (worker lost, or it re-registered without it).
void Core::FinishAttemptOf(WorkerRt& w, AttemptKeyT key, const std::string& why_lost) {
  auto it = w.running.find(key);
  if (it == w.running.end()) return;
  Attempt a = std::move(it->second);
  w.running.erase(it);
  dirty_attempts_.erase({w.info.name, key});
  a.finished_ms = clock_->NowMs();
  a.error = why_lost;
  store_->PutAttempt(batch_, key.first, a);
  schedule_needed_ = true;
  TaskRecord* r = Active(key.first);
  if (r && r->attempt == key.second && r->state == TaskState::kCancelling) {
    // Its processes are gone with the worker (or the worker no longer runs them).
    Transition(key.first, TaskState::kCancelled, r->reason);
  } else if (r && r->attempt == key.second &&
             (r->state == TaskState::kAssigned || r->state == TaskState::kRunning)) {
    if (a.started_ms == 0) {
      // The process never started: the task did not run, so this try does not count against
      // max_attempts. Such losses have their own limit, or a worker that takes assignments
      // and never starts them would requeue the task forever.
      ++r->unstarted_attempts;
      if (r->unstarted_attempts >= kMaxUnstartedAttempts) {
        Transition(key.first, TaskState::kFailed,
                   fmt::format("{} attempts were lost before their process started (last: attempt {}, {}); "
                               "check the workers (ritsu workers) and retry it",
                               r->unstarted_attempts, key.second, why_lost));
      } else {
        Transition(key.first, TaskState::kQueued,
                   fmt::format("attempt {} never started ({}); queued again", key.second, why_lost));
      }
    } else {
      RetryOrFail(key.first, why_lost);
    }
  }
  touched_.insert(key.first);
}

void Core::LoseWorker(WorkerRt& w, const std::string& why) {
  std::vector<AttemptKeyT> keys;
  for (const auto& [k, a] : w.running) keys.push_back(k);
  for (const auto& k : keys) FinishAttemptOf(w, k, why);
  w.info.state = WorkerState::kLost;
  if (!w.routing_id.empty()) worker_by_routing_.erase(w.routing_id);
  w.routing_id.clear();
  PutWorker(w);
}

// ---------------------------------------------------------------------------------------------
// Worker messages

Result<RegisterReply> Core::OnRegister(const Peer& p, const Register& m) {
  if (m.name.empty()) return Status::InvalidArgument("register: name is empty (give the worker a --name)");
  std::set<std::string> ids;
  for (const auto& s : m.slots) {
    if (s.id.empty() || !ids.insert(s.id).second) {
      return Status::InvalidArgument(fmt::format("register: worker '{}' has an empty or duplicate slot id '{}'", m.name, s.id));
    }
  }
  TimeMs now = clock_->NowMs();
  if (auto held = workers_.find(m.name); held != workers_.end()) {
    // Two workers may not share a name (it defaults to the host name, so two on one host
    // collide by accident): a live holder keeps it unless this is the same worker restarted.
    const WorkerRt& h = held->second;
    bool live = h.info.state != WorkerState::kLost && !h.routing_id.empty() && h.routing_id != p.routing_id &&
                now - h.info.last_heartbeat_ms <= opts_.heartbeat_timeout_ms;
    bool same_instance = !m.instance_id.empty() && m.instance_id == h.info.instance_id;
    if (live && !same_instance) {
      return Status::AlreadyExists(fmt::format(
          "worker name '{}' is held by a live worker (connected from {}, host {}, last heartbeat {} ago); "
          "choose another --name",
          m.name, h.address.empty() ? "an unknown address" : h.address, h.info.host.empty() ? "?" : h.info.host,
          FormatDuration(now - h.info.last_heartbeat_ms)));
    }
  }
  WorkerRt& w = workers_[m.name];
  w.stopping = false;  // a (re)started worker takes work again
  if (!w.routing_id.empty() && w.routing_id != p.routing_id) worker_by_routing_.erase(w.routing_id);
  w.routing_id = p.routing_id;
  w.address = p.address;
  worker_by_routing_[p.routing_id] = m.name;
  w.info.name = m.name;
  w.info.host = m.host;
  w.info.instance_id = m.instance_id;
  w.info.slots = m.slots;
  w.info.tags = m.tags;
  if (w.info.registered_ms == 0 || w.info.state == WorkerState::kLost) w.info.registered_ms = now;
  w.info.state = WorkerState::kAlive;
  w.info.last_heartbeat_ms = now;

  RegisterReply reply;
  reply.scheduler_id = opts_.scheduler_id;
  reply.heartbeat_interval_ms = opts_.heartbeat_interval_ms;
  reply.heartbeat_timeout_ms = opts_.heartbeat_timeout_ms;
  // Reconcile: what it runs that we do not want, and what we think it runs that it lost.
  std::set<AttemptKeyT> reported;
  for (const auto& ref : m.running) {
    AttemptKeyT k{ref.task_id, ref.attempt};
    reported.insert(k);
    auto it = w.running.find(k);
    TaskRecord* r = Active(ref.task_id);
    // A CANCELLING attempt is not wanted either: it is told to stop (again), and stays on the
    // slot until reported finished.
    bool wanted = it != w.running.end() && r && r->attempt == ref.attempt &&
                  (r->state == TaskState::kAssigned || r->state == TaskState::kRunning);
    if (!wanted) {
      reply.cancel.push_back(ref);
      continue;
    }
    // It runs, so it started even if its "started" report was lost with the old connection.
    if (it->second.started_ms == 0) {
      it->second.started_ms = now;
      store_->PutAttempt(batch_, ref.task_id, it->second);
    }
    if (r->state == TaskState::kAssigned) Transition(ref.task_id, TaskState::kRunning, "");
  }
  std::vector<AttemptKeyT> lost;
  for (const auto& [k, a] : w.running) {
    if (!reported.count(k)) {
      TaskRecord* r = Active(k.first);
      if (r && r->state != TaskState::kAssigned && r->state != TaskState::kRunning &&
          r->state != TaskState::kCancelling) {
        continue;
      }
      lost.push_back(k);
    }
  }
  for (const auto& k : lost) {
    FinishAttemptOf(w, k, fmt::format("worker {} re-registered without this attempt running", m.name));
  }
  PutWorker(w);
  schedule_needed_ = true;
  return reply;
}

Result<HeartbeatReply> Core::OnHeartbeat(const Peer& p, const Heartbeat& m) {
  HeartbeatReply reply;
  reply.scheduler_id = opts_.scheduler_id;
  auto it = workers_.find(m.name);
  if (it == workers_.end() || it->second.info.state == WorkerState::kLost ||
      it->second.routing_id.empty()) {
    reply.reregister = true;
    return reply;
  }
  WorkerRt& w = it->second;
  if (w.routing_id != p.routing_id) {
    // Another connection: a reconnect of the same worker, or another worker using its name.
    // Only a register (with its instance id) may move the name to this connection.
    reply.reregister = true;
    return reply;
  }
  TimeMs now = clock_->NowMs();
  w.info.last_heartbeat_ms = now;
  std::set<AttemptKeyT> reported;
  for (const auto& ref : m.running) {
    AttemptKeyT k{ref.task_id, ref.attempt};
    reported.insert(k);
    TaskRecord* r = Active(ref.task_id);
    if (!w.running.count(k) || !r || r->attempt != ref.attempt) reply.cancel.push_back(ref);
  }
  // An assign the worker never acknowledged within the timeout was lost on the way.
  std::vector<AttemptKeyT> lost;
  for (const auto& [k, a] : w.running) {
    if (!reported.count(k) && a.started_ms == 0 && now - a.assigned_ms > opts_.heartbeat_timeout_ms) {
      lost.push_back(k);
    }
  }
  for (const auto& k : lost) {
    FinishAttemptOf(w, k, fmt::format("worker {} never started it (assignment lost)", w.info.name));
    PutWorker(w);
  }
  return reply;
}

Result<Ack> Core::OnStarted(const Peer& p, const Started& m) {
  WorkerRt* w = WorkerByPeer(p);
  if (!w) return Status::FailedPrecondition("started: this connection has not registered; send register first");
  Ack ack{TaskAttemptRef{m.task_id, m.attempt}};
  auto it = w->running.find({m.task_id, m.attempt});
  if (it == w->running.end()) return ack;  // stale: the heartbeat reply tells it to cancel
  it->second.started_ms = m.started_ms ? m.started_ms : clock_->NowMs();
  it->second.pid = m.pid;
  store_->PutAttempt(batch_, m.task_id, it->second);
  TaskRecord* r = Active(m.task_id);
  if (r && r->attempt == m.attempt && r->state == TaskState::kAssigned) {
    Transition(m.task_id, TaskState::kRunning, "");
  }
  return ack;
}

namespace {
// The part of a chunk that is new past the `have` bytes already stored (a chunk is resent when
// its ack was lost), or nullopt when it holds nothing new or starts after a gap.
std::optional<std::string_view> FreshPart(const LogChunk& m, uint64_t have) {
  if (m.offset > have || m.offset + m.data.size() <= have) return std::nullopt;
  return std::string_view(m.data).substr(have - m.offset);
}
}  // namespace

Result<LogAck> Core::OnLogChunk(const Peer& p, const LogChunk& m) {
  WorkerRt* w = WorkerByPeer(p);
  if (!w) return Status::FailedPrecondition("log_chunk: this connection has not registered; send register first");
  if (m.data.size() > kMaxLogChunkBytes) return Status::InvalidArgument("log_chunk: data over the chunk limit");
  LogAck ack{m.task_id, m.attempt, m.stream, 0};
  AttemptKeyT key{m.task_id, m.attempt};
  Attempt* a = nullptr;
  std::optional<Attempt> stored;
  auto it = w->running.find(key);
  if (it != w->running.end()) {
    a = &it->second;
  } else {
    // Late chunks of an attempt already ended here (resent from the worker's spool).
    RITSU_ASSIGN_OR_RETURN(stored, store_->GetAttempt(m.task_id, m.attempt));
    if (!stored) return Status::NotFound(fmt::format("log_chunk: task {} attempt {} does not exist", m.task_id, m.attempt));
    a = &*stored;
  }
  // The attempt's byte counts changed: store it with this turn's batch.
  auto attempt_changed = [&] {
    touched_.insert(m.task_id);
    if (stored) store_->PutAttempt(batch_, m.task_id, *stored);
    else dirty_attempts_.insert({w->info.name, key});
  };
  if (m.stream == LogStream::kMetrics) {
    // The metric series: same offsets and acks as a log stream, stored apart and bounded. A
    // chunk is stored whole (the worker cuts chunks at line ends) while the stored series is
    // the whole received one and stays under the limit; after the first chunk that does not
    // fit nothing more is stored, so the series is always a complete prefix.
    uint64_t& have = a->metrics_bytes;
    if (auto fresh = FreshPart(m, have)) {
      if (a->metrics_stored_bytes == have && have + fresh->size() <= kMaxMetricsSeriesBytes) {
        store_->PutMetrics(batch_, m.task_id, m.attempt, have, *fresh);
        a->metrics_stored_bytes += fresh->size();
      }
      have += fresh->size();
      attempt_changed();
    }
    ack.acked_offset = have;
    return ack;
  }
  uint64_t& have = m.stream == LogStream::kStderr ? a->stderr_bytes : a->stdout_bytes;
  if (auto fresh = FreshPart(m, have)) {
    store_->PutLog(batch_, m.task_id, m.attempt, a->log_bytes, m.stream, *fresh);
    a->log_bytes += fresh->size();
    have += fresh->size();
    attempt_changed();
  }
  // acked_offset = everything the store holds; a chunk after a gap is answered with the
  // offset to resend from.
  ack.acked_offset = have;
  return ack;
}

Result<Ack> Core::OnFinished(const Peer& p, const Finished& m) {
  WorkerRt* w = WorkerByPeer(p);
  if (!w) return Status::FailedPrecondition("finished: this connection has not registered; send register first");
  Ack ack{TaskAttemptRef{m.task_id, m.attempt}};
  AttemptKeyT key{m.task_id, m.attempt};
  auto it = w->running.find(key);
  if (it == w->running.end()) return ack;  // duplicate or stale report: already settled
  Attempt a = std::move(it->second);
  w->running.erase(it);
  dirty_attempts_.erase({w->info.name, key});
  TimeMs now = clock_->NowMs();
  a.finished_ms = now;
  if (a.started_ms == 0) a.started_ms = now - m.wall_ms;
  a.exit_code = m.exit_code;
  a.signal = m.signal;
  a.wall_ms = m.wall_ms;
  a.peak_rss_bytes = m.peak_rss_bytes;
  a.metrics_json = m.metrics_json;
  bool success = m.exit_code == 0 && m.signal == 0 && m.error.empty() && !m.timed_out;
  TaskRecord* r = Active(m.task_id);
  bool current = r && r->attempt == m.attempt;
  // A preemption requeues only a task that is still wanted: a user's cancel wins (CANCELLING
  // stays CANCELLED whatever the exit status).
  bool preempted = m.preempted && current && (r->state == TaskState::kAssigned || r->state == TaskState::kRunning);
  if (preempted) {
    a.preempted = true;
    a.error = fmt::format("preempted ({}); requeued without using an attempt", AttemptEnd(m));
    // Not drained, so the worker itself is stopping: give it nothing new until it re-registers.
    if (!w->drained) w->stopping = true;
  } else if (!success) {
    a.error = AttemptEnd(m);
  }
  store_->PutAttempt(batch_, m.task_id, a);
  PutWorker(*w);
  schedule_needed_ = true;
  touched_.insert(m.task_id);
  if (preempted) {
    r->exit_code = m.exit_code;
    ++r->preempted_attempts;
    Transition(m.task_id, TaskState::kQueued,
               fmt::format("attempt {} preempted on {} at {}; requeued", m.attempt, w->info.name, UtcTime(now)));
  } else if (r && r->attempt == m.attempt && r->state == TaskState::kCancelling) {
    r->exit_code = m.exit_code;
    Transition(m.task_id, TaskState::kCancelled, r->reason);  // its processes are gone now
  } else if (r && r->attempt == m.attempt && (r->state == TaskState::kAssigned || r->state == TaskState::kRunning)) {
    r->exit_code = m.exit_code;
    r->metrics_json = m.metrics_json;
    if (success) Transition(m.task_id, TaskState::kSucceeded, "");
    else RetryOrFail(m.task_id, a.error);
  }
  return ack;
}

// ---------------------------------------------------------------------------------------------
// Client requests

Result<std::vector<TaskId>> Core::CreateTasks(std::vector<TaskSpec> specs, SweepId sweep,
                                              std::vector<SubmitCancelled>* cancelled) {
  if (specs.empty()) return Status::InvalidArgument("submit: no tasks given");
  if (specs.size() > kMaxSubmitBatch) return Status::InvalidArgument("submit: too many tasks in one batch");
  // Validate everything before changing anything: a batch is stored whole or not at all.
  std::unordered_map<TaskId, std::pair<TaskState, std::string>> ended_deps;  // dep -> (state, name)
  for (size_t i = 0; i < specs.size(); ++i) {
    std::string where = fmt::format("tasks[{}]", i);
    RITSU_RETURN_IF_ERROR(ValidateSpec(specs[i], where));
    for (uint32_t bi : specs[i].after_in_batch) {
      if (bi >= specs.size() || bi == i) {
        return Status::InvalidArgument(fmt::format("{}.after_in_batch: index {} is not another task of this batch", where, bi));
      }
    }
    for (TaskId dep : specs[i].after) {
      if (dep == 0 || dep >= meta_.next_task_id) {
        return Status::NotFound(fmt::format("{}.after: task {} does not exist", where, dep));
      }
      if (const TaskRecord* a = Active(dep); a && a->state == TaskState::kCancelling) {
        ended_deps[dep] = {TaskState::kCancelled, a->spec.name};  // it will end CANCELLED
      } else if (!a && !ended_deps.count(dep)) {
        RITSU_ASSIGN_OR_RETURN(TaskRecord d, GetAny(dep));
        ended_deps[dep] = {d.state, d.spec.name};
      }
    }
  }
  // after_in_batch cycles (sweeps never make them; a hand-built batch might).
  {
    std::vector<int> mark(specs.size(), 0);
    std::function<bool(size_t)> cyclic = [&](size_t i) {
      if (mark[i] == 1) return true;
      if (mark[i] == 2) return false;
      mark[i] = 1;
      for (uint32_t d : specs[i].after_in_batch) if (cyclic(d)) return true;
      mark[i] = 2;
      return false;
    };
    for (size_t i = 0; i < specs.size(); ++i) {
      if (cyclic(i)) return Status::InvalidArgument(fmt::format("tasks[{}].after_in_batch: dependencies form a cycle", i));
    }
  }
  std::vector<TaskId> ids;
  TaskId first = meta_.next_task_id;
  for (size_t i = 0; i < specs.size(); ++i) ids.push_back(first + i);
  meta_.next_task_id += specs.size();
  TimeMs now = clock_->NowMs();
  std::vector<TaskId> to_cancel;
  std::vector<std::string> cancel_reason;
  for (size_t i = 0; i < specs.size(); ++i) {
    TaskSpec& s = specs[i];
    for (uint32_t bi : s.after_in_batch) s.after.push_back(ids[bi]);
    s.after_in_batch.clear();
    std::sort(s.after.begin(), s.after.end());
    s.after.erase(std::unique(s.after.begin(), s.after.end()), s.after.end());
    s.sweep_id = sweep;
    if (s.name.empty()) s.name = s.argv[0];
    ActiveTask at;
    at.rec.id = ids[i];
    at.rec.seq = meta_.next_seq++;
    at.rec.submitted_ms = now;
    at.rec.updated_ms = now;
    std::string failed_dep;
    for (TaskId dep : s.after) {
      store_->PutDependency(batch_, dep, ids[i]);
      if ((active_.count(dep) && !ended_deps.count(dep)) || (dep >= first && dep < first + specs.size())) {
        at.waiting_on.insert(dep);
        dependents_[dep].push_back(ids[i]);
        continue;
      }
      const auto& [dstate, dname] = ended_deps.at(dep);
      if (dstate != TaskState::kSucceeded && failed_dep.empty()) {
        failed_dep = fmt::format("dependency {} ({}) ended {}", dep, Clip(dname), TaskStateName(dstate));
      }
    }
    at.rec.spec = std::move(s);
    at.rec.state = at.waiting_on.empty() ? TaskState::kQueued : TaskState::kPending;
    at.rec.reason = at.rec.state == TaskState::kQueued ? kFreshReason : "";
    // A new task enters here; every later state change goes through Transition.
    ++meta_.counts[static_cast<int>(at.rec.state)];
    store_->PutTask(batch_, at.rec, std::nullopt);
    if (at.rec.state == TaskState::kQueued) {
      queue_[{-static_cast<int64_t>(at.rec.spec.priority), at.rec.seq}] = ids[i];
      fresh_queued_.push_back(ids[i]);
      schedule_needed_ = true;
    }
    if (!failed_dep.empty()) { to_cancel.push_back(ids[i]); cancel_reason.push_back(failed_dep); }
    active_[ids[i]] = std::move(at);
  }
  for (size_t i = 0; i < to_cancel.size(); ++i) {
    Transition(to_cancel[i], TaskState::kCancelled, cancel_reason[i]);
    if (cancelled) cancelled->push_back(SubmitCancelled{to_cancel[i], cancel_reason[i]});
  }
  return ids;
}

Result<SubmitReply> Core::OnSubmit(const Submit& m) {
  for (size_t i = 0; i < m.tasks.size(); ++i) {
    if (m.tasks[i].sweep_id != 0) return Status::InvalidArgument(fmt::format("tasks[{}].sweep_id: set by the scheduler, leave 0", i));
  }
  SubmitReply reply;
  RITSU_ASSIGN_OR_RETURN(reply.ids, CreateTasks(m.tasks, 0, &reply.cancelled));
  return reply;
}

Result<CancelReply> Core::OnCancel(const Cancel& m) {
  std::vector<TaskId> ids = m.task_ids;
  if (m.sweep_id != 0) {
    if (!sweeps_.count(m.sweep_id)) return Status::NotFound(fmt::format("sweep {} does not exist", m.sweep_id));
    RITSU_ASSIGN_OR_RETURN(auto sw, store_->TasksOfSweep(m.sweep_id));
    ids.insert(ids.end(), sw.begin(), sw.end());
  }
  if (ids.empty()) return Status::InvalidArgument("cancel: give task ids or a sweep id");
  for (TaskId id : ids) {
    if (!Active(id)) RITSU_RETURN_IF_ERROR(GetAny(id).status());  // unknown id -> NotFound
  }
  std::string reason = m.reason.empty() ? "cancelled by user" : m.reason;
  CancelReply reply;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  // Decide before changing anything: cancelling one task cascades to its dependents, which
  // still count as cancelled by this request.
  for (TaskId id : ids) (Active(id) ? reply.cancelled : reply.already_final).push_back(id);
  for (TaskId id : reply.cancelled) {
    // An earlier one of this request may have cancelled it already (it depended on that one).
    if (const TaskRecord* r = Active(id)) Transition(id, CancelledStateOf(r->state), reason);
  }
  return reply;
}

Result<RetryReply> Core::OnRetry(const Retry& m) {
  if (Active(m.task_id)) {
    return Status::FailedPrecondition(fmt::format("task {} has not ended ({}); only FAILED or CANCELLED tasks can be retried",
                                                  m.task_id, TaskStateName(Active(m.task_id)->state)));
  }
  RITSU_ASSIGN_OR_RETURN(TaskRecord r, GetAny(m.task_id));
  if (r.state == TaskState::kSucceeded) {
    return Status::FailedPrecondition(fmt::format("task {} SUCCEEDED; submit it again to run it again", m.task_id));
  }
  ActiveTask at;
  for (TaskId dep : r.spec.after) {
    if (Active(dep)) { at.waiting_on.insert(dep); continue; }
    RITSU_ASSIGN_OR_RETURN(TaskRecord d, GetAny(dep));
    if (d.state != TaskState::kSucceeded) {
      return Status::FailedPrecondition(fmt::format("task {} depends on task {} which ended {}; retry that one first",
                                                    m.task_id, dep, TaskStateName(d.state)));
    }
  }
  r.spec.max_attempts = std::max(r.spec.max_attempts, r.attempt + 1);
  r.unstarted_attempts = 0;  // a fresh allowance of assignments lost before starting
  TaskState to = at.waiting_on.empty() ? TaskState::kQueued : TaskState::kPending;
  for (TaskId dep : at.waiting_on) dependents_[dep].push_back(m.task_id);
  at.rec = std::move(r);  // still in its final state: Transition brings it back
  active_[m.task_id] = std::move(at);
  Transition(m.task_id, to, "retried by user");
  return RetryReply{m.task_id, to};
}

Result<Ack> Core::OnDrain(const Drain& m) {
  auto it = workers_.find(m.worker);
  if (it == workers_.end()) {
    std::vector<std::string> names;
    for (const auto& [n, w] : workers_) names.push_back(n);
    return Status::NotFound(fmt::format("no worker named '{}' (known: {})", m.worker,
                                        names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
  }
  WorkerRt& w = it->second;
  w.drained = !m.undrain;
  PutWorker(w);
  schedule_needed_ = true;
  if (m.requeue && !m.undrain) {
    // Preempt what runs there; each attempt reports back (preempted -> requeued, otherwise as
    // it ended). A CANCELLING attempt is already being stopped for good.
    for (const auto& [k, a] : w.running) {
      const TaskRecord* r = Active(k.first);
      if (!r || r->attempt != k.second || (r->state != TaskState::kAssigned && r->state != TaskState::kRunning)) continue;
      SendCancel(w, k.first, k.second, r->spec.kill_grace_ms,
                 fmt::format("worker {} drained with --requeue: checkpoint and move", w.info.name), /*preempt=*/true);
    }
  }
  return Ack{};
}

Result<SweepSubmitReply> Core::OnSweepSubmit(const SweepSubmit& m) {
  RITSU_ASSIGN_OR_RETURN(auto sweep, ExpandSweep(m.toml, m.file_name.empty() ? "sweep.toml" : m.file_name));
  std::vector<std::vector<uint32_t>> index_of;
  std::vector<TaskSpec> specs = FlattenSweep(sweep, &index_of);
  // Steps run where the sweep file is (as `ritsu submit` runs where it is called), and a
  // relative step cwd is taken from there.
  if (!m.base_dir.empty()) {
    for (auto& s : specs) {
      if (s.cwd.empty()) s.cwd = m.base_dir;
      else if (s.cwd[0] != '/') s.cwd = m.base_dir + "/" + s.cwd;
    }
  }
  SweepId sid = meta_.next_sweep_id;
  RITSU_ASSIGN_OR_RETURN(auto ids, CreateTasks(std::move(specs), sid, nullptr));
  ++meta_.next_sweep_id;
  SweepRecord rec;
  rec.id = sid;
  rec.name = sweep.name;
  rec.file_name = m.file_name;
  rec.max_concurrent = sweep.max_concurrent;
  rec.submitted_ms = clock_->NowMs();
  rec.toml = m.toml;
  for (size_t t = 0; t < sweep.trials.size(); ++t) {
    SweepTrial tr;
    tr.trial = sweep.trials[t].trial;
    tr.params = sweep.trials[t].params;
    for (size_t s = 0; s < sweep.trials[t].steps.size(); ++s) {
      tr.steps.push_back(SweepStepRef{sweep.trials[t].steps[s].step, ids[index_of[t][s]]});
    }
    rec.trials.push_back(std::move(tr));
  }
  store_->PutSweep(batch_, rec);
  sweeps_[sid] = rec;
  return SweepSubmitReply{sid, static_cast<uint32_t>(rec.trials.size()), std::move(ids)};
}

// ---------------------------------------------------------------------------------------------
// Periodic work

void Core::Tick() {
  TimeMs now = clock_->NowMs();
  for (auto& [name, w] : workers_) {
    if (w.info.state == WorkerState::kLost) continue;
    if (now - w.info.last_heartbeat_ms > opts_.heartbeat_timeout_ms) {
      LoseWorker(w, fmt::format("worker {} lost: no heartbeat for {}", name, FormatDuration(now - w.info.last_heartbeat_ms)));
      schedule_needed_ = true;
    }
  }
}

std::vector<MatchWorker> Core::MatchWorkers() const {
  std::vector<MatchWorker> out;
  for (const auto& [name, w] : workers_) {
    if (w.info.state == WorkerState::kLost) continue;
    MatchWorker mw;
    mw.name = name;
    mw.slots = w.info.slots;
    mw.tags = w.info.tags;
    mw.accepting = !w.drained && !w.stopping && !w.routing_id.empty();
    for (const auto& [k, a] : w.running) mw.busy.insert(a.slots.begin(), a.slots.end());
    out.push_back(std::move(mw));
  }
  return out;
}

void Core::Schedule() {
  if (!schedule_needed_) return;
  schedule_needed_ = false;
  if (queue_.empty()) return;
  std::vector<MatchWorker> workers = MatchWorkers();
  // No free slot anywhere: nothing can be placed, skip building the queue snapshot (this keeps
  // bulk submissions cheap while the workers are busy).
  size_t free_slots = 0;
  for (const auto& w : workers) {
    if (w.accepting) free_slots += w.slots.size() - std::min(w.slots.size(), w.busy.size());
  }
  // Tasks queued since the last pass that this pass does not reach get a plain reason.
  auto settle_fresh = [&] {
    for (TaskId id : fresh_queued_) {
      auto it = active_.find(id);
      if (it == active_.end() || it->second.rec.state != TaskState::kQueued) continue;
      std::string& reason = it->second.rec.reason;
      if (reason == kFreshReason) {
        reason = workers.empty() ? "no worker is registered yet" : "waiting for a free slot (all busy)";
      }
    }
    fresh_queued_.clear();
  };
  if (free_slots == 0) {
    settle_fresh();
    return;
  }
  MatchLimits limits;
  limits.reserve_after = opts_.reserve_after;
  for (const auto& [id, s] : sweeps_) if (s.max_concurrent) limits.sweep_cap[id] = s.max_concurrent;
  for (const auto& [name, w] : workers_) {
    for (const auto& [k, a] : w.running) {
      TaskRecord* r = Active(k.first);
      if (r && r->spec.sweep_id) ++limits.sweep_running[r->spec.sweep_id];
    }
  }
  std::vector<MatchTask> q;
  q.reserve(std::min(queue_.size(), limits.max_examined));
  for (const auto& [key, id] : queue_) {
    if (q.size() >= limits.max_examined) break;
    const ActiveTask& at = active_.at(id);
    q.push_back(MatchTask{id, at.rec.spec.resources, at.rec.spec.sweep_id, at.passes_blocked});
  }
  MatchResult res = Match(q, workers, limits);
  for (const auto& [id, why] : res.reasons) active_.at(id).rec.reason = why;
  for (TaskId id : res.blocked) ++active_.at(id).passes_blocked;
  TimeMs now = clock_->NowMs();
  for (const Placement& pl : res.placements) {
    WorkerRt& w = workers_.at(pl.worker);
    TaskRecord& r = active_.at(pl.task_id).rec;
    r.attempt += 1;
    r.worker = pl.worker;
    Attempt a;
    a.attempt = r.attempt;
    a.worker = pl.worker;
    a.slots = pl.slots;
    a.assigned_ms = now;
    store_->PutAttempt(batch_, pl.task_id, a);
    w.running[{pl.task_id, a.attempt}] = a;
    Transition(pl.task_id, TaskState::kAssigned, "");
    PutWorker(w);
    Assign as;
    as.task_id = pl.task_id;
    as.attempt = a.attempt;
    as.name = r.spec.name;
    as.kind = r.spec.kind;
    as.argv = r.spec.argv;
    as.cwd = r.spec.cwd;
    as.env = r.spec.env;
    as.slots = pl.slots;
    as.timeout_ms = r.spec.timeout_ms;
    outbox_.push_back(Outbound{w.routing_id, Encode(0, as)});
  }
  // A blocked task's reason can change only when the next pass runs; keep passes coming while
  // something is blocked so reservations take effect as slots free up.
  if (!res.placements.empty()) schedule_needed_ = true;
  settle_fresh();
}

Status Core::Commit() {
  for (const auto& [wname, key] : dirty_attempts_) {
    auto w = workers_.find(wname);
    if (w == workers_.end()) continue;
    auto a = w->second.running.find(key);
    if (a != w->second.running.end()) store_->PutAttempt(batch_, key.first, a->second);
  }
  dirty_attempts_.clear();
  if (batch_.empty()) return Status::Ok();
  store_->PutMeta(batch_, meta_);
  Status st = store_->Commit(batch_);
  batch_.Clear();
  written_final_.clear();
  return st;
}

Status Core::Reload() {
  batch_.Clear();
  active_.clear();
  written_final_.clear();
  queue_.clear();
  dependents_.clear();
  workers_.clear();
  worker_by_routing_.clear();
  sweeps_.clear();
  dirty_attempts_.clear();
  outbox_.clear();
  fresh_queued_.clear();
  schedule_needed_ = true;
  return Load();
}

void Core::GraceWorkers() {
  TimeMs now = clock_->NowMs();
  for (auto& [name, w] : workers_) {
    if (w.info.state != WorkerState::kLost) w.info.last_heartbeat_ms = now;
  }
}

// ---------------------------------------------------------------------------------------------
// Reads

TaskRow Core::RowOf(const TaskRecord& r) const {
  TaskRow row;
  row.id = r.id;
  row.name = r.spec.name;
  row.kind = r.spec.kind;
  row.state = r.state;
  row.attempt = r.attempt;
  row.priority = r.spec.priority;
  row.worker = r.worker;
  row.sweep_id = r.spec.sweep_id;
  row.submitted_ms = r.submitted_ms;
  row.updated_ms = r.updated_ms;
  row.reason = r.reason;
  row.metrics_json = r.metrics_json;
  return row;
}

// Paging: a list reply stops before its rows would pass the frame limit and returns a cursor.
namespace {

template <typename T>
size_t EncodedSize(const T& v) {
  msgpack::sbuffer buf;
  msgpack::pack(buf, v);
  return buf.size();
}

// A single row may not take more than a quarter of a page: its free-text fields are cut.
void FitRow(TaskRow& row, size_t budget) {
  if (EncodedSize(row) <= budget / 4) return;
  constexpr size_t kKeep = 4096;
  if (row.name.size() > kKeep) row.name = row.name.substr(0, kKeep) + "...(cut: use ritsu show)";
  if (row.reason.size() > kKeep) row.reason = row.reason.substr(0, kKeep) + "...(cut: use ritsu show)";
  if (row.metrics_json.size() > kKeep) row.metrics_json.clear();
}

Result<uint64_t> ParseCursor(const std::string& cursor, const char* what) {
  try {
    size_t used = 0;
    uint64_t v = std::stoull(cursor, &used);
    if (used == cursor.size() && !cursor.empty() && cursor[0] != '-') return v;
  } catch (const std::exception&) {
  }
  return Status::InvalidArgument(fmt::format("{}.cursor: '{}' is not a cursor this scheduler returned", what, Clip(cursor)));
}

}  // namespace

Result<StatusReply> Core::OnStatus(const StatusRequest& m) {
  StatusReply reply;
  reply.counts = CountsMap(meta_.counts);
  if (m.summary_only) return reply;
  size_t limit = m.limit ? m.limit : kDefaultStatusLimit;
  TaskId below = 0;  // rows are newest first: a page continues below the last id it sent
  if (!m.cursor.empty()) {
    RITSU_ASSIGN_OR_RETURN(below, ParseCursor(m.cursor, "status"));
  }
  std::vector<TaskId> ids;
  if (m.sweep_id != 0) {
    if (!sweeps_.count(m.sweep_id)) return Status::NotFound(fmt::format("sweep {} does not exist", m.sweep_id));
    RITSU_ASSIGN_OR_RETURN(ids, store_->TasksOfSweep(m.sweep_id));
    std::reverse(ids.begin(), ids.end());
    if (below) std::erase_if(ids, [&](TaskId id) { return id >= below; });
  } else if (!m.states.empty()) {
    for (TaskState st : m.states) {
      RITSU_ASSIGN_OR_RETURN(auto part, store_->TasksInState(st, limit + 1, below));
      ids.insert(ids.end(), part.begin(), part.end());
    }
    std::sort(ids.rbegin(), ids.rend());
  } else {
    TaskId top = below ? std::min(below, meta_.next_task_id) : meta_.next_task_id;
    for (TaskId id = top - 1; id >= 1 && ids.size() <= limit; --id) ids.push_back(id);
  }
  size_t used = 0;
  for (TaskId id : ids) {
    RITSU_ASSIGN_OR_RETURN(TaskRecord r, GetAny(id));
    if (!m.states.empty() && std::find(m.states.begin(), m.states.end(), r.state) == m.states.end()) continue;
    if (reply.tasks.size() >= limit) { reply.truncated = true; break; }
    TaskRow row = RowOf(r);
    FitRow(row, opts_.max_reply_bytes);
    size_t size = EncodedSize(row);
    if (!reply.tasks.empty() && used + size > opts_.max_reply_bytes) {
      reply.next_cursor = std::to_string(reply.tasks.back().id);
      break;
    }
    used += size;
    reply.tasks.push_back(std::move(row));
  }
  return reply;
}

Result<ShowReply> Core::OnShow(const Show& m) {
  ShowReply reply;
  RITSU_ASSIGN_OR_RETURN(reply.task, GetAny(m.task_id));
  RITSU_ASSIGN_OR_RETURN(reply.attempts, store_->GetAttempts(m.task_id));
  // The running attempt's live counters (log bytes) are newer in memory.
  for (auto& a : reply.attempts) {
    if (auto w = RunningWorkerOf(m.task_id, a.attempt)) a = workers_.at(*w).running.at({m.task_id, a.attempt});
  }
  RITSU_ASSIGN_OR_RETURN(reply.dependents, store_->Dependents(m.task_id));
  return reply;
}

std::optional<std::string> Core::RunningWorkerOf(TaskId id, uint32_t attempt) const {
  // Fast path: the task's current worker.
  auto it = active_.find(id);
  if (it != active_.end() && !it->second.rec.worker.empty()) {
    auto w = workers_.find(it->second.rec.worker);
    if (w != workers_.end() && w->second.running.count({id, attempt})) return w->first;
  }
  for (const auto& [name, w] : workers_) {
    if (w.running.count({id, attempt})) return name;
  }
  return std::nullopt;
}

Result<std::optional<LogsReply>> Core::OnLogs(const Logs& m) {
  RITSU_ASSIGN_OR_RETURN(TaskRecord r, GetAny(m.task_id));
  LogsReply reply;
  reply.task_id = m.task_id;
  reply.state = r.state;
  uint32_t attempt = m.attempt ? m.attempt : r.attempt;
  reply.attempt = attempt;
  reply.next_offset = m.offset;
  if (attempt == 0) {  // never ran yet
    reply.complete = IsTerminal(r.state);
    if (reply.complete || m.wait_ms <= 0) return std::optional<LogsReply>(reply);
    return std::optional<LogsReply>();
  }
  if (attempt > r.attempt) {
    return Status::NotFound(fmt::format("task {} has no attempt {} (it has {})", m.task_id, attempt, r.attempt));
  }
  auto running_on = RunningWorkerOf(m.task_id, attempt);
  uint64_t total = 0;
  if (running_on) {
    total = workers_.at(*running_on).running.at({m.task_id, attempt}).log_bytes;
  } else {
    RITSU_ASSIGN_OR_RETURN(auto a, store_->GetAttempt(m.task_id, attempt));
    total = a ? a->log_bytes : 0;
  }
  size_t max_bytes = m.max_bytes ? std::min<size_t>(m.max_bytes, kMaxLogBytes) : kDefaultLogBytes;
  if (m.offset < total) {
    RITSU_ASSIGN_OR_RETURN(reply.pieces, store_->ReadLog(m.task_id, attempt, m.offset, max_bytes));
    for (const auto& p : reply.pieces) reply.next_offset = p.offset + p.data.size();
  }
  bool attempt_over = !running_on;
  reply.complete = attempt_over && reply.next_offset >= total;
  if (reply.pieces.empty() && !reply.complete && m.wait_ms > 0) return std::optional<LogsReply>();
  return std::optional<LogsReply>(std::move(reply));
}

Result<MetricsReply> Core::OnMetrics(const MetricsRequest& m) {
  RITSU_ASSIGN_OR_RETURN(TaskRecord r, GetAny(m.task_id));
  MetricsReply reply;
  reply.task_id = m.task_id;
  uint32_t attempt = m.attempt ? m.attempt : r.attempt;
  reply.attempt = attempt;
  reply.next_offset = m.offset;
  if (attempt == 0) {  // never ran yet
    reply.complete = IsTerminal(r.state);
    return reply;
  }
  if (attempt > r.attempt) {
    return Status::NotFound(fmt::format("task {} has no attempt {} (it has {})", m.task_id, attempt, r.attempt));
  }
  auto running_on = RunningWorkerOf(m.task_id, attempt);
  Attempt a;
  if (running_on) {
    a = workers_.at(*running_on).running.at({m.task_id, attempt});
  } else {
    RITSU_ASSIGN_OR_RETURN(auto stored, store_->GetAttempt(m.task_id, attempt));
    if (stored) a = std::move(*stored);
  }
  reply.stored_bytes = a.metrics_stored_bytes;
  reply.dropped_bytes = a.metrics_bytes - a.metrics_stored_bytes;
  size_t max_bytes = m.max_bytes ? std::min<size_t>(m.max_bytes, kMaxLogBytes) : kDefaultLogBytes;
  if (m.offset < a.metrics_stored_bytes) {
    RITSU_ASSIGN_OR_RETURN(reply.data, store_->ReadMetrics(m.task_id, attempt, m.offset, max_bytes));
    reply.next_offset = m.offset + reply.data.size();
  }
  reply.complete = !running_on && reply.next_offset >= a.metrics_stored_bytes;
  return reply;
}

Result<WorkersReply> Core::OnWorkers(const Workers& m) {
  WorkersReply reply;
  size_t used = 0;
  // Workers by name; a page continues after the last name it sent.
  for (auto it = m.cursor.empty() ? workers_.begin() : workers_.upper_bound(m.cursor); it != workers_.end(); ++it) {
    const auto& [name, w] = *it;
    if (!m.include_lost && w.info.state == WorkerState::kLost) continue;
    WorkerInfo info = w.info;
    info.running.clear();
    info.busy_slots.clear();
    for (const auto& [k, a] : w.running) {
      info.running.push_back(TaskAttemptRef{k.first, k.second});
      info.busy_slots.insert(info.busy_slots.end(), a.slots.begin(), a.slots.end());
    }
    if (info.state != WorkerState::kLost) info.state = w.drained ? WorkerState::kDraining : WorkerState::kAlive;
    size_t size = EncodedSize(info);
    if (!reply.workers.empty() && used + size > opts_.max_reply_bytes) {
      reply.next_cursor = reply.workers.back().name;
      break;
    }
    used += size;
    reply.workers.push_back(std::move(info));
  }
  return reply;
}

Result<ExplainReply> Core::OnExplain(const Explain& m) {
  RITSU_ASSIGN_OR_RETURN(TaskRecord r, GetAny(m.task_id));
  ExplainReply reply{m.task_id, r.state, {}};
  auto& out = reply.reasons;
  switch (r.state) {
    case TaskState::kPending:
      for (TaskId dep : r.spec.after) {
        RITSU_ASSIGN_OR_RETURN(TaskRecord d, GetAny(dep));
        if (d.state == TaskState::kSucceeded) continue;
        std::string where = d.worker.empty() ? "" : fmt::format(" on worker {}", d.worker);
        out.push_back(fmt::format("waits for task {} ({}), which is {}{}", dep, Clip(d.spec.name), TaskStateName(d.state), where));
      }
      break;
    case TaskState::kQueued: {
      out.push_back(r.reason.empty() ? "waiting for the next scheduling pass" : r.reason);
      size_t ahead = 0;
      for (const auto& [key, id] : queue_) {
        if (id == r.id) break;
        ++ahead;
      }
      out.push_back(fmt::format("{} queued task(s) are ahead of it (priority {}, then submission order)", ahead, r.spec.priority));
      bool any = false;
      for (const auto& [name, w] : workers_) any |= w.info.state != WorkerState::kLost && !w.routing_id.empty();
      if (!any) out.push_back("no worker is connected: start ritsu-worker --scheduler ADDR");
      break;
    }
    case TaskState::kAssigned:
      out.push_back(fmt::format("assigned to worker {} (attempt {}), waiting for it to start the process", r.worker, r.attempt));
      break;
    case TaskState::kRunning:
      out.push_back(fmt::format("running on worker {} (attempt {} of {})", r.worker, r.attempt, r.spec.max_attempts));
      break;
    case TaskState::kCancelling:
      out.push_back(r.reason.empty() ? "cancelled" : r.reason);
      out.push_back(fmt::format("waiting for worker {} to report attempt {} ended (its processes are stopped after "
                                "SIGTERM and a grace of {}); its slot stays busy until then",
                                r.worker, r.attempt,
                                r.spec.kill_grace_ms ? FormatDuration(r.spec.kill_grace_ms) : "the worker's --kill-grace"));
      break;
    default:
      out.push_back(r.reason.empty() ? fmt::format("ended {}", TaskStateName(r.state)) : r.reason);
  }
  return reply;
}

Result<WaitReply> Core::OnWait(const Wait& m) {
  if (m.task_ids.empty()) return Status::InvalidArgument("wait: give at least one task id");
  // One row per task asked for, in one reply (no paging: the caller needs every state at once),
  // so the rows share the reply's budget: a row over its share loses its metrics (a task may
  // write up to 1 MiB of them; `show` has them) and has its text cut.
  if (m.task_ids.size() > kMaxWaitTasks) {
    return Status::InvalidArgument(fmt::format("wait: {} task ids; at most {} in one wait (use wait --sweep, or wait in parts)",
                                               m.task_ids.size(), kMaxWaitTasks));
  }
  const size_t share = opts_.max_reply_bytes / m.task_ids.size();
  WaitReply reply;
  reply.all_final = true;
  for (TaskId id : m.task_ids) {
    RITSU_ASSIGN_OR_RETURN(TaskRecord r, GetAny(id));
    reply.all_final &= IsTerminal(r.state);
    TaskRow row = RowOf(r);
    if (EncodedSize(row) > share) {
      row.metrics_json.clear();
      const size_t keep = std::max<size_t>(32, share / 4);
      if (row.name.size() > keep) row.name = row.name.substr(0, keep) + "...";
      if (row.reason.size() > keep) row.reason = row.reason.substr(0, keep) + "...";
    }
    reply.tasks.push_back(std::move(row));
  }
  return reply;
}

Result<SweepStatusReply> Core::OnSweepStatus(const SweepStatus& m) {
  auto it = sweeps_.find(m.sweep_id);
  if (it == sweeps_.end()) return Status::NotFound(fmt::format("sweep {} does not exist", m.sweep_id));
  const SweepRecord& s = it->second;
  SweepStatusReply reply;
  reply.sweep_id = s.id;
  reply.name = s.name;
  reply.max_concurrent = s.max_concurrent;
  uint64_t first = 0;  // a page continues at this trial index
  if (!m.cursor.empty()) {
    RITSU_ASSIGN_OR_RETURN(first, ParseCursor(m.cursor, "sweep_status"));
  }
  std::array<uint64_t, kNumTaskStates> counts{};
  size_t used = 0;
  bool full = false;
  for (size_t i = 0; i < s.trials.size(); ++i) {
    const auto& t = s.trials[i];
    SweepTrialRow row;
    row.trial = t.trial;
    row.params = t.params;
    for (const auto& st : t.steps) {
      RITSU_ASSIGN_OR_RETURN(TaskRecord r, GetAny(st.task_id));
      ++counts[static_cast<int>(r.state)];  // counts cover the whole sweep on every page
      row.steps.push_back(SweepTaskCell{st.step, st.task_id, r.state, r.metrics_json});
    }
    if (i < first || full) continue;
    size_t size = EncodedSize(row);
    if (!reply.trials.empty() && used + size > opts_.max_reply_bytes) {
      reply.next_cursor = std::to_string(i);
      full = true;
      continue;
    }
    used += size;
    reply.trials.push_back(std::move(row));
  }
  reply.counts = CountsMap(counts);
  return reply;
}

}  // namespace ritsu::sched
