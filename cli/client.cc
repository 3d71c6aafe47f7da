#include "cli/client.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace ritsu::cli {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

Client::Client(std::string endpoint, milliseconds reply_timeout)
    : endpoint_(std::move(endpoint)), reply_timeout_(reply_timeout) {
  Reset();
}

Client::~Client() { CloseSockets(); }

namespace {
std::optional<auth::ClientCurve>& ProcessCurve() {
  static std::optional<auth::ClientCurve> curve;
  return curve;
}
}  // namespace

void Client::SetCurve(std::optional<auth::ClientCurve> curve) { ProcessCurve() = std::move(curve); }

bool Client::MayResend(MsgType t) {
  switch (t) {
    case MsgType::kStatus:
    case MsgType::kShow:
    case MsgType::kLogs:
    case MsgType::kWorkers:
    case MsgType::kDrain:
    case MsgType::kExplain:
    case MsgType::kWait:
    case MsgType::kSweepStatus:
      return true;
    default:
      return false;
  }
}

void Client::CloseSockets() {
  if (sock_) {
    (void)zmq_socket_monitor(sock_->handle(), nullptr, 0);
    sock_->close();
  }
  if (monitor_) monitor_->close();
}

void Client::Reset() {
  CloseSockets();
  sock_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
  sock_->set(zmq::sockopt::linger, 0);
  // Keys were validated when loaded; a failure here would be a libzmq without CURVE, and the
  // request then times out with the usual "no reply" message.
  if (ProcessCurve()) (void)auth::ApplyClientCurve(sock_->handle(), *ProcessCurve());
  sock_->set(zmq::sockopt::maxmsgsize, int64_t(kMaxFrameBytes) + 1024);
  // ZMTP heartbeats: a scheduler host that vanished without closing the connection is noticed
  // within the reply timeout, like a killed process is noticed at once. The peer's I/O thread
  // answers the pings, so a busy scheduler is not mistaken for a dead one.
  sock_->set(zmq::sockopt::heartbeat_ivl, 1000);
  sock_->set(zmq::sockopt::heartbeat_timeout, int(std::max<int64_t>(reply_timeout_.count(), 2000)));
  // The monitor reports connection drops and completed handshakes (after CURVE, if used).
  std::string mon_addr = fmt::format("inproc://ritsu-client-monitor-{}-{}", static_cast<void*>(this), resets_++);
  if (zmq_socket_monitor(sock_->handle(), mon_addr.c_str(), ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED) == 0) {
    monitor_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::pair);
    monitor_->set(zmq::sockopt::linger, 0);
    monitor_->connect(mon_addr);
  } else {
    monitor_.reset();  // no resends; requests behave as before
  }
  sock_->connect(endpoint_);
}

Client::Event Client::NextEvent() {
  if (!monitor_) return Event::kNone;
  // A monitor event is two frames: 6 bytes (uint16 event, uint32 value), then the address.
  zmq::message_t head, addr;
  if (!monitor_->recv(head, zmq::recv_flags::dontwait)) return Event::kNone;
  if (head.more()) (void)monitor_->recv(addr);
  if (head.size() < 2) return Event::kNone;
  uint16_t ev = 0;
  std::memcpy(&ev, head.data(), sizeof ev);
  if (ev == ZMQ_EVENT_DISCONNECTED) return Event::kDisconnected;
  if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) return Event::kConnected;
  return Event::kNone;
}

std::string Client::NoReplyMessage(const std::string& endpoint, milliseconds waited, bool curve, Lost lost) {
  const double secs = double(waited.count()) / 1000.0;
  std::string msg = lost == Lost::kNotBack
                        ? fmt::format("ritsud at {} closed the connection and did not take a new one within {:.1f}s. ", endpoint, secs)
                        : fmt::format("no reply from ritsud at {} within {:.1f}s. ", endpoint, secs);
  if (lost == Lost::kMaybeApplied)
    msg += "The connection dropped after the request was sent, so it may or may not have been applied: check with "
           "`ritsu status` before sending it again. ";
  if (curve) {
    // A CURVE handshake the scheduler refuses looks exactly like silence.
    msg += fmt::format(
        "Is it running? Start one with `ritsud --data-dir DIR --bind {} --curve-secret-key FILE --allowlist FILE`. "
        "Check that --scheduler / RITSU_SCHEDULER is its address, that --curve-server-key / RITSU_SERVER_KEY is its "
        "public key, and that your key is in its allowlist (ritsu keys list on the scheduler host)",
        endpoint);
  } else {
    msg += fmt::format(
        "Is it running? Start one with `ritsud --data-dir DIR --bind {} --insecure` (loopback development), or point "
        "--scheduler / RITSU_SCHEDULER at the right address. A scheduler that uses CURVE does not answer a plain "
        "client: give --curve-server-key and --curve-secret-key (docs/security.md)",
        endpoint);
  }
  return msg;
}

Result<Message> Client::CallRaw(const std::string& frame, uint64_t request_id, milliseconds long_poll, bool may_resend) {
  // Connection events from before this request (an earlier drop, the first handshake) say
  // nothing about it.
  while (NextEvent() != Event::kNone) {
  }
  auto send = [&]() -> Status {
    try {
      sock_->send(zmq::buffer(frame), zmq::send_flags::none);
    } catch (const zmq::error_t& e) {
      return Status::Unavailable(fmt::format("cannot send to ritsud at {}: {}", endpoint_, e.what()));
    }
    return Status::Ok();
  };
  RITSU_RETURN_IF_ERROR(send());
  const milliseconds full_wait = long_poll + reply_timeout_;
  auto deadline = Clock::now() + full_wait;
  bool lost = false;             // the connection dropped after the request went out
  bool lost_unresent = false;    // ... and the request may not be resent
  for (;;) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    zmq::pollitem_t items[2] = {{sock_->handle(), 0, ZMQ_POLLIN, 0}, {monitor_ ? monitor_->handle() : nullptr, 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, monitor_ ? 2 : 1, left);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      return Status::Unavailable(fmt::format("waiting for ritsud at {}: {}", endpoint_, e.what()));
    }
    if (monitor_ && (items[1].revents & ZMQ_POLLIN)) {
      for (Event ev; (ev = NextEvent()) != Event::kNone;) {
        if (ev == Event::kDisconnected && !lost) {
          lost = true;
          if (!may_resend) { lost_unresent = true; continue; }
          // The scheduler (restarting) has the reply timeout to take a connection again.
          deadline = Clock::now() + reply_timeout_;
        } else if (ev == Event::kConnected && lost && may_resend) {
          // ZeroMQ reconnects by itself; what it cannot do is deliver again what the old
          // connection carried. The duplicate a still-queued copy might make is harmless here:
          // its reply has the same request id and is skipped as late.
          lost = false;
          ++resends_;
          RITSU_RETURN_IF_ERROR(send());
          deadline = Clock::now() + full_wait;
        }
      }
    }
    if (!(items[0].revents & ZMQ_POLLIN)) continue;
    zmq::message_t m;
    if (!sock_->recv(m, zmq::recv_flags::dontwait)) continue;
    auto msg = Decode(std::string_view(static_cast<const char*>(m.data()), m.size()));
    if (!msg.ok()) return msg.status().Annotate(fmt::format("bad reply from ritsud at {}", endpoint_));
    if (msg->request_id != request_id) continue;  // a late reply to an earlier request
    if (msg->type == MsgType::kError) {
      auto e = msg->As<ErrorReply>();
      if (!e.ok()) return e.status();
      return ErrorToStatus(*e);
    }
    return msg;
  }
  // The request may still be queued in the socket: drop it so it is not delivered later.
  Reset();
  const Lost why = lost_unresent ? Lost::kMaybeApplied : lost ? Lost::kNotBack : Lost::kNo;
  return Status::Unavailable(
      NoReplyMessage(endpoint_, why == Lost::kNotBack ? reply_timeout_ : full_wait, ProcessCurve().has_value(), why));
}

}  // namespace ritsu::cli
