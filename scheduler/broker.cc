#include "scheduler/broker.h"

#include <fmt/format.h>

#include "common/log.h"
#include "common/units.h"

namespace ritsu::sched {
namespace {

bool IsRead(MsgType t) {
  switch (t) {
    case MsgType::kStatus: case MsgType::kShow: case MsgType::kLogs: case MsgType::kWorkers:
    case MsgType::kExplain: case MsgType::kWait: case MsgType::kSweepStatus: case MsgType::kMetrics:
      return true;
    default:
      return false;
  }
}

template <typename Reply>
std::string EncodeResult(uint64_t request_id, const Result<Reply>& r, BrokerStats* stats) {
  if (!r.ok()) {
    ++stats->errors;
    return EncodeError(request_id, r.status());
  }
  return Encode(request_id, r.value());
}

}  // namespace

Broker::Broker(Core* core, const Clock* clock, BrokerOptions opts)
    : core_(core), clock_(clock), opts_(std::move(opts)), ctx_(1) {}

Broker::~Broker() {
  if (router_) router_->close();
  ctx_.close();
}

Status Broker::Bind() {
  try {
    router_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::router);
    router_->set(zmq::sockopt::linger, 0);
    // The transport refuses absurd frames outright (it disconnects the sender); frames between
    // kMaxFrameBytes and this get a proper error reply from the decoder.
    router_->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(4 * kMaxFrameBytes));
    router_->set(zmq::sockopt::sndhwm, 1000);
    router_->set(zmq::sockopt::rcvhwm, 10000);
    if (socket_setup_) RITSU_RETURN_IF_ERROR(socket_setup_(*router_));
    router_->bind(opts_.bind);
    endpoint_ = router_->get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    std::string hint;
    if (e.num() == EADDRINUSE) hint = " (another process, maybe another ritsud, listens there: stop it or choose another --bind port)";
    else if (e.num() == EINVAL || e.num() == EPROTONOSUPPORT) hint = " (expected tcp://HOST:PORT, e.g. tcp://0.0.0.0:7070)";
    else if (e.num() == EADDRNOTAVAIL || e.num() == ENODEV) hint = " (no local interface has that address)";
    return Status::Unavailable(fmt::format("cannot bind {}: {}{}", opts_.bind, e.what(), hint));
  }
  return Status::Ok();
}

bool Broker::Receive(Incoming* in) {
  zmq::message_t id;
  if (!router_->recv(id, zmq::recv_flags::dontwait)) return false;
  in->peer.routing_id.assign(static_cast<const char*>(id.data()), id.size());
  in->peer.user_id.clear();
  in->peer.address.clear();
  in->req_delimiter = false;
  in->payload.clear();
  std::vector<zmq::message_t> parts;
  while (router_->get(zmq::sockopt::rcvmore)) {
    zmq::message_t part;
    (void)router_->recv(part, zmq::recv_flags::none);
    parts.push_back(std::move(part));
  }
  ++stats_.frames_in;
  if (parts.size() == 2 && parts[0].size() == 0) {  // REQ envelope: "", payload
    in->req_delimiter = true;
    parts.erase(parts.begin());
  }
  if (parts.size() != 1) {
    // Not one message: mark it with an impossible payload so the decoder refuses it.
    in->payload.clear();
    return true;
  }
  if (authorize_) {
    try {
      const char* uid = parts[0].gets("User-Id");
      if (uid) in->peer.user_id = uid;
    } catch (const zmq::error_t&) {
      // No User-Id without CURVE: the authorizer sees an empty one.
    }
  }
  try {
    const char* addr = parts[0].gets("Peer-Address");
    in->peer.address = addr ? addr : "";
  } catch (const zmq::error_t&) {
    in->peer.address.clear();  // not a TCP connection (inproc in tests)
  }
  in->payload.assign(static_cast<const char*>(parts[0].data()), parts[0].size());
  return true;
}

void Broker::Send(const Peer& to, bool req_delimiter, const std::string& frame) {
  try {
    router_->send(zmq::buffer(to.routing_id), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    if (req_delimiter) router_->send(zmq::message_t(), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    router_->send(zmq::buffer(frame), zmq::send_flags::dontwait);
  } catch (const zmq::error_t&) {
    // Peer gone or its queue full: ROUTER drops; the peer's retry/spool logic recovers.
  }
}

void Broker::HandleWrite(const Incoming& in, const Message& m) {
  std::string reply;
  uint64_t rid = m.request_id;
  bool applied = false;
  auto run = [&](auto tag, auto fn) {
    using T = decltype(tag);
    auto body = m.As<T>();
    if (!body.ok()) { ++stats_.bad_frames; reply = EncodeError(rid, body.status()); return; }
    auto result = fn(*body);
    applied = result.ok();
    reply = EncodeResult(rid, result, &stats_);
  };
  switch (m.type) {
    case MsgType::kRegister: run(Register{}, [&](const Register& b) { return core_->OnRegister(in.peer, b); }); break;
    case MsgType::kHeartbeat: run(Heartbeat{}, [&](const Heartbeat& b) { return core_->OnHeartbeat(in.peer, b); }); break;
    case MsgType::kStarted: run(Started{}, [&](const Started& b) { return core_->OnStarted(in.peer, b); }); break;
    case MsgType::kLogChunk: run(LogChunk{}, [&](const LogChunk& b) { return core_->OnLogChunk(in.peer, b); }); break;
    case MsgType::kFinished: run(Finished{}, [&](const Finished& b) { return core_->OnFinished(in.peer, b); }); break;
    case MsgType::kSubmit: run(Submit{}, [&](const Submit& b) { return core_->OnSubmit(b); }); break;
    case MsgType::kCancel: run(Cancel{}, [&](const Cancel& b) { return core_->OnCancel(b); }); break;
    case MsgType::kRetry: run(Retry{}, [&](const Retry& b) { return core_->OnRetry(b); }); break;
    case MsgType::kDrain: run(Drain{}, [&](const Drain& b) { return core_->OnDrain(b); }); break;
    case MsgType::kSweepSubmit: run(SweepSubmit{}, [&](const SweepSubmit& b) { return core_->OnSweepSubmit(b); }); break;
    case MsgType::kError:
    case MsgType::kAck:
      return;  // a worker's error/ack to an unsolicited message needs no answer
    default:
      ++stats_.bad_frames;
      reply = EncodeError(rid, Status::InvalidArgument(fmt::format(
          "'{}' is a reply type; the scheduler does not accept it as a request", MsgTypeName(m.type))));
  }
  replies_.push_back(Reply{in, rid, applied, std::move(reply)});
}

bool Broker::HandleRead(const Incoming& in, const Message& m) {
  uint64_t rid = m.request_id;
  std::string reply;
  switch (m.type) {
    case MsgType::kStatus: {
      auto b = m.As<StatusRequest>();
      reply = b.ok() ? EncodeResult(rid, core_->OnStatus(*b), &stats_) : EncodeError(rid, b.status());
      break;
    }
    case MsgType::kShow: {
      auto b = m.As<Show>();
      reply = b.ok() ? EncodeResult(rid, core_->OnShow(*b), &stats_) : EncodeError(rid, b.status());
      break;
    }
    case MsgType::kWorkers: {
      auto b = m.As<Workers>();
      reply = b.ok() ? EncodeResult(rid, core_->OnWorkers(*b), &stats_) : EncodeError(rid, b.status());
      break;
    }
    case MsgType::kExplain: {
      auto b = m.As<Explain>();
      reply = b.ok() ? EncodeResult(rid, core_->OnExplain(*b), &stats_) : EncodeError(rid, b.status());
      break;
    }
    case MsgType::kSweepStatus: {
      auto b = m.As<SweepStatus>();
      reply = b.ok() ? EncodeResult(rid, core_->OnSweepStatus(*b), &stats_) : EncodeError(rid, b.status());
      break;
    }
    case MsgType::kMetrics: {
      auto b = m.As<MetricsRequest>();
      reply = b.ok() ? EncodeResult(rid, core_->OnMetrics(*b), &stats_) : EncodeError(rid, b.status());
      break;
    }
    case MsgType::kLogs: {
      auto b = m.As<Logs>();
      if (!b.ok()) { reply = EncodeError(rid, b.status()); break; }
      auto r = core_->OnLogs(*b);
      if (!r.ok()) { ++stats_.errors; reply = EncodeError(rid, r.status()); break; }
      if (!r->has_value()) {
        if (parked_.size() < opts_.max_parked) {
          Parked p{in, rid, MsgType::kLogs, *b, {}, clock_->NowMs() + std::min(b->wait_ms, kMaxWaitMs)};
          parked_.push_back(std::move(p));
          return false;
        }
        Logs now = *b;
        now.wait_ms = 0;
        r = core_->OnLogs(now);
        if (!r.ok() || !r->has_value()) { reply = EncodeError(rid, r.ok() ? Status::Internal("logs") : r.status()); break; }
      }
      reply = Encode(rid, **r);
      break;
    }
    case MsgType::kWait: {
      auto b = m.As<Wait>();
      if (!b.ok()) { reply = EncodeError(rid, b.status()); break; }
      auto r = core_->OnWait(*b);
      if (!r.ok()) { ++stats_.errors; reply = EncodeError(rid, r.status()); break; }
      if (!r->all_final && b->timeout_ms > 0 && parked_.size() < opts_.max_parked) {
        Parked p{in, rid, MsgType::kWait, {}, *b, clock_->NowMs() + std::min(b->timeout_ms, kMaxWaitMs)};
        parked_.push_back(std::move(p));
        return false;
      }
      reply = Encode(rid, *r);
      break;
    }
    default:
      return true;
  }
  Send(in.peer, in.req_delimiter, reply);
  return true;
}

void Broker::WakeParked(const std::set<TaskId>& touched, bool force_expired) {
  TimeMs now = clock_->NowMs();
  for (auto it = parked_.begin(); it != parked_.end();) {
    bool expired = force_expired && now >= it->deadline;
    bool relevant = false;
    if (it->type == MsgType::kLogs) relevant = touched.count(it->logs.task_id) > 0;
    else for (TaskId id : it->wait.task_ids) relevant |= touched.count(id) > 0;
    if (!expired && !relevant) { ++it; continue; }
    std::string reply;
    bool done = true;
    if (it->type == MsgType::kLogs) {
      Logs q = it->logs;
      if (expired) q.wait_ms = 0;
      auto r = core_->OnLogs(q);
      if (!r.ok()) reply = EncodeError(it->request_id, r.status());
      else if (r->has_value()) reply = Encode(it->request_id, **r);
      else done = false;
    } else {
      auto r = core_->OnWait(it->wait);
      if (!r.ok()) reply = EncodeError(it->request_id, r.status());
      else if (r->all_final || expired) reply = Encode(it->request_id, *r);
      else done = false;
    }
    if (!done) { ++it; continue; }
    Send(it->from.peer, it->from.req_delimiter, reply);
    it = parked_.erase(it);
  }
}

Status Broker::OutOfSpace() const {
  return Status::Unavailable(fmt::format(
      "{}; ritsud refuses changes until space is freed and will retry by itself (reads still work)",
      outage_.error));
}

bool Broker::CommitTurn(Status* fatal) {
  TimeMs now = clock_->NowMs();
  Status st = core_->Commit();
  if (st.ok()) {
    ++stats_.commits;
    if (outage_.active) {
      log::Info("the store accepts writes again after {} out of space; serving normally",
                FormatDuration(now - outage_.since));
      outage_ = Outage{};
      // Heartbeats could not be taken during the outage: nobody is lost for that.
      core_->GraceWorkers();
    }
    return true;
  }
  if (!IsNoSpace(st)) {
    *fatal = st.Annotate("committing to the store (ritsud stops; restart it to recover)");
    return false;
  }
  // Nothing of this turn reached the disk: forget it in memory too, and tell the writers.
  Status reload = core_->Reload();
  if (!reload.ok()) {
    *fatal = reload.Annotate("reloading the store after a failed write (ritsud stops)");
    return false;
  }
  if (!outage_.active) {
    outage_.active = true;
    outage_.since = now;
    outage_.next_log = now + opts_.outage_log_ms;
    log::Error("{}: refusing writes, serving reads; retrying every {}", st.message(), FormatDuration(opts_.store_retry_ms));
  }
  outage_.error = st.message();
  outage_.next_try = now + opts_.store_retry_ms;
  Status refused = OutOfSpace();
  for (auto& r : replies_) {
    if (!r.applied) continue;
    r.frame = EncodeError(r.request_id, refused);
    ++stats_.refused_no_space;
    ++outage_.refused_since_log;
  }
  return true;
}

Status Broker::Run(const std::atomic<bool>* stop) {
  TimeMs next_tick = clock_->NowMs() + opts_.tick_ms;
  while (!stop->load()) {
    TimeMs now = clock_->NowMs();
    int64_t timeout = std::max<int64_t>(0, std::min<int64_t>(next_tick - now, 100));
    zmq::pollitem_t items[] = {{router_->handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 1, std::chrono::milliseconds(timeout));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      return Status::Internal(fmt::format("zmq poll: {}", e.what()));
    }
    now = clock_->NowMs();
    // While the disk is full, one turn per store_retry_ms tries writes again; the others
    // refuse them at once.
    bool writes_allowed = !outage_.active || now >= outage_.next_try;
    if (outage_.active && writes_allowed && kv_ != nullptr) {
      Status resumed = kv_->Resume();
      if (!resumed.ok() && !IsNoSpace(resumed)) log::Warn("{}", resumed.message());
    }
    if (outage_.active && now >= outage_.next_log) {
      log::Error("{} (for {}; {} write request(s) refused in the last {})", outage_.error,
                 FormatDuration(now - outage_.since), outage_.refused_since_log, FormatDuration(opts_.outage_log_ms));
      outage_.refused_since_log = 0;
      outage_.next_log = now + opts_.outage_log_ms;
    }
    Incoming in;
    for (size_t n = 0; n < opts_.max_batch && Receive(&in); ++n) {
      auto m = Decode(in.payload);
      if (!m.ok()) {
        ++stats_.bad_frames;
        // Answer the request that was sent whenever its header can be read.
        replies_.push_back(Reply{in, PeekRequestId(in.payload), false, EncodeError(PeekRequestId(in.payload), m.status())});
        continue;
      }
      if (authorize_) {
        Status st = authorize_(in.peer, m->type);
        if (!st.ok()) {
          ++stats_.errors;
          replies_.push_back(Reply{in, m->request_id, false, EncodeError(m->request_id, st)});
          continue;
        }
      }
      if (IsRead(m->type)) {
        reads_.emplace_back(in, std::move(*m));
      } else if (!writes_allowed) {
        if (m->type == MsgType::kError || m->type == MsgType::kAck) continue;
        ++stats_.refused_no_space;
        ++outage_.refused_since_log;
        replies_.push_back(Reply{in, m->request_id, false, EncodeError(m->request_id, OutOfSpace())});
      } else {
        HandleWrite(in, *m);
      }
    }
    now = clock_->NowMs();
    // No heartbeat checks while the disk is full: a loss could not be recorded, and workers
    // cannot register meanwhile, so they would all look lost when space returns.
    if (now >= next_tick && !outage_.active) {
      core_->Tick();
      next_tick = now + opts_.tick_ms;
    }
    if (writes_allowed) core_->Schedule();
    if (core_->HasPendingWrites()) {
      Status fatal;
      if (!CommitTurn(&fatal)) return fatal;
    }
    for (auto& r : replies_) Send(r.to.peer, r.to.req_delimiter, r.frame);
    replies_.clear();
    for (auto& out : core_->TakeOutbox()) Send(Peer{out.routing_id, {}, {}}, false, out.frame);
    for (auto& [from, m] : reads_) HandleRead(from, m);
    reads_.clear();
    WakeParked(core_->TakeTouched(), true);
  }
  return Status::Ok();
}

}  // namespace ritsu::sched
