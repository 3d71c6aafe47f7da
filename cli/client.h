// Request/reply with ritsud over ZeroMQ (a DEALER socket, one frame per message, replies matched
// by request_id), with a bounded wait: a scheduler that does not answer is reported with the
// address tried and what to do, never waited on forever. Reusable by every CLI command and by
// tests/benchmarks that talk to ritsud as a client.
//
// Scheduler restarts: a request in flight when ritsud dies is gone with it (the new process
// never saw it), so a long poll (`wait`, `logs -f`) would sit out its whole timeout and fail.
// The client watches its connection (a ZeroMQ socket monitor, plus ZMTP heartbeats so a peer
// that vanished without a FIN is noticed too): when the connection drops before the reply,
// a request that may safely be delivered twice (MayResend) is sent again as soon as the new
// connection's handshake is done, provided that happens within the reply timeout. Requests that
// would act twice (submit, sweep submit, retry, cancel) are never resent; their "no reply"
// message then says the request may or may not have been applied.
#pragma once

#include <chrono>
#include <functional>
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
  // reply_timeout: how long to wait for ritsud beyond any long-poll time a request asks for,
  // and how long a lost connection may take to come back before a resendable request fails.
  explicit Client(std::string endpoint, std::chrono::milliseconds reply_timeout = std::chrono::seconds(5));
  ~Client();

  // Sends req, waits for the reply with the same request id. An ErrorReply becomes its Status;
  // silence past the timeout becomes Unavailable naming the endpoint.
  template <typename Rep, typename Req>
  Result<Rep> Call(const Req& req, std::chrono::milliseconds long_poll = std::chrono::milliseconds(0)) {
    auto msg = CallRaw(Encode(next_id_, req), next_id_, long_poll, MayResend(Req::kType));
    ++next_id_;
    if (!msg.ok()) return msg.status();
    return msg->template As<Rep>();
  }

  // A list request whose reply is paged (docs/protocol.md "Paging"): asks again with each
  // next_cursor until there is none and returns one reply holding every page's `rows`.
  // `before_next(req, rows_so_far)` may adjust the next request (e.g. the rows still wanted).
  template <typename Rep, typename Req, typename Row>
  Result<Rep> CallPaged(Req req, std::vector<Row> Rep::*rows,
                        const std::function<void(Req&, size_t)>& before_next = {}) {
    auto all = Call<Rep>(req);
    if (!all.ok()) return all.status();
    std::string cursor = all->next_cursor;
    for (size_t page = 1; !cursor.empty(); ++page) {
      if (page > kMaxPages) return Status::Internal("ritsud keeps returning pages; giving up after 100000");
      req.cursor = cursor;
      if (before_next) before_next(req, ((*all).*rows).size());
      auto more = Call<Rep>(req);
      if (!more.ok()) return more.status();
      for (auto& r : (*more).*rows) ((*all).*rows).push_back(std::move(r));
      if constexpr (requires { more->truncated; }) all->truncated = more->truncated;
      if (more->next_cursor == cursor) return Status::Internal("ritsud returned the same page cursor twice");
      cursor = more->next_cursor;
    }
    all->next_cursor.clear();
    return all;
  }

  // Sends an already encoded frame and returns the decoded reply (ErrorReply -> Status).
  // may_resend: send the frame again after a lost connection (see the file comment).
  Result<Message> CallRaw(const std::string& frame, uint64_t request_id, std::chrono::milliseconds long_poll,
                          bool may_resend = false);

  // Whether a second delivery of this request type is harmless: the queries, the long polls and
  // drain (setting a flag twice sets it once). Not submit, sweep submit, retry (a second run) or
  // cancel (its reply would call a task it cancelled "already finished").
  static bool MayResend(MsgType t);

  // How many times this client resent a request after a lost connection (for tests).
  int resends() const { return resends_; }

  const std::string& endpoint() const { return endpoint_; }

  // CURVE keys for every Client of this process (the CLI sets them once from
  // --curve-server-key / --curve-secret-key or $RITSU_SERVER_KEY / $RITSU_KEY); nullopt = plain.
  static void SetCurve(std::optional<auth::ClientCurve> curve);

  // What became of the connection while a request waited for its reply.
  enum class Lost {
    kNo,            // it stayed up (or never came up): plain silence
    kNotBack,       // it dropped, and no new one was made within the reply timeout
    kMaybeApplied,  // it dropped after a request that is never resent went out
  };
  // The "no reply" message: names the address and what to check, for plain or CURVE mode.
  static std::string NoReplyMessage(const std::string& endpoint, std::chrono::milliseconds waited, bool curve, Lost lost);

 private:
  enum class Event { kNone, kDisconnected, kConnected };
  void Reset();
  void CloseSockets();
  // The next connection event from the monitor, kNone if none is pending.
  Event NextEvent();
  static constexpr size_t kMaxPages = 100000;

  std::string endpoint_;
  std::chrono::milliseconds reply_timeout_;
  zmq::context_t ctx_{1};
  std::unique_ptr<zmq::socket_t> sock_;
  std::unique_ptr<zmq::socket_t> monitor_;  // PAIR end of sock_'s socket monitor
  uint64_t next_id_ = 1;
  int resets_ = 0;
  int resends_ = 0;
};

}  // namespace ritsu::cli
