// Request/reply with ritsud over ZeroMQ (a DEALER socket, one frame per message, replies matched
// by request_id), with a bounded wait: a scheduler that does not answer is reported with the
// address tried and what to do, never waited on forever. Reusable by every CLI command and by
// tests/benchmarks that talk to ritsud as a client.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <zmq.hpp>

#include "auth/endpoint_security.h"
#include "common/protocol.h"
#include "common/status.h"

namespace ritsu::cli {

class Client {
 public:
  // reply_timeout: how long to wait for ritsud beyond any long-poll time a request asks for.
  explicit Client(std::string endpoint, std::chrono::milliseconds reply_timeout = std::chrono::seconds(5));
  ~Client();

  // Sends req, waits for the reply with the same request id. An ErrorReply becomes its Status;
  // silence past the timeout becomes Unavailable naming the endpoint.
  template <typename Rep, typename Req>
  Result<Rep> Call(const Req& req, std::chrono::milliseconds long_poll = std::chrono::milliseconds(0)) {
    auto msg = CallRaw(Encode(next_id_, req), next_id_, long_poll);
    ++next_id_;
    if (!msg.ok()) return msg.status();
    return msg->template As<Rep>();
  }

  // Sends an already encoded frame and returns the decoded reply (ErrorReply -> Status).
  Result<Message> CallRaw(const std::string& frame, uint64_t request_id, std::chrono::milliseconds long_poll);

  const std::string& endpoint() const { return endpoint_; }

  // CURVE keys for every Client of this process (the CLI sets them once from
  // --curve-server-key / --curve-secret-key or $RITSU_SERVER_KEY / $RITSU_KEY); nullopt = plain.
  static void SetCurve(std::optional<auth::ClientCurve> curve);

 private:
  void Reset();

  std::string endpoint_;
  std::chrono::milliseconds reply_timeout_;
  zmq::context_t ctx_{1};
  std::unique_ptr<zmq::socket_t> sock_;
  uint64_t next_id_ = 1;
};

}  // namespace ritsu::cli
