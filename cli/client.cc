#include "cli/client.h"

#include <fmt/format.h>

namespace ritsu::cli {

Client::Client(std::string endpoint, std::chrono::milliseconds reply_timeout)
    : endpoint_(std::move(endpoint)), reply_timeout_(reply_timeout) {
  Reset();
}

Client::~Client() {
  if (sock_) sock_->close();
}

namespace {
std::optional<auth::ClientCurve>& ProcessCurve() {
  static std::optional<auth::ClientCurve> curve;
  return curve;
}
}  // namespace

void Client::SetCurve(std::optional<auth::ClientCurve> curve) { ProcessCurve() = std::move(curve); }

void Client::Reset() {
  if (sock_) sock_->close();
  sock_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
  sock_->set(zmq::sockopt::linger, 0);
  // Keys were validated when loaded; a failure here would be a libzmq without CURVE, and the
  // request then times out with the usual "no reply" message.
  if (ProcessCurve()) (void)auth::ApplyClientCurve(sock_->handle(), *ProcessCurve());
  sock_->set(zmq::sockopt::maxmsgsize, int64_t(kMaxFrameBytes) + 1024);
  sock_->connect(endpoint_);
}

Result<Message> Client::CallRaw(const std::string& frame, uint64_t request_id, std::chrono::milliseconds long_poll) {
  try {
    sock_->send(zmq::buffer(frame), zmq::send_flags::none);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(fmt::format("cannot send to ritsud at {}: {}", endpoint_, e.what()));
  }
  auto deadline = std::chrono::steady_clock::now() + long_poll + reply_timeout_;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    zmq::pollitem_t item{sock_->handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(&item, 1, left);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      return Status::Unavailable(fmt::format("waiting for ritsud at {}: {}", endpoint_, e.what()));
    }
    if (!(item.revents & ZMQ_POLLIN)) continue;
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
  return Status::Unavailable(fmt::format(
      "no reply from ritsud at {} within {:.1f}s. Is it running? Start one with `ritsud --data-dir DIR --bind {} --insecure`, "
      "or point --scheduler / RITSU_SCHEDULER at the right address{}",
      endpoint_, double((long_poll + reply_timeout_).count()) / 1000.0, endpoint_,
      // A CURVE handshake the scheduler refuses looks exactly like silence.
      ProcessCurve() ? ". With CURVE, also check that --curve-server-key / RITSU_SERVER_KEY is this scheduler's "
                       "public key and that your key is in its allowlist (ritsu keys list on the scheduler host)"
                     : ""));
}

}  // namespace ritsu::cli
