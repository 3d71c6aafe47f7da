// Request/reply with ritsud over ZeroMQ (a DEALER socket, one frame per message, replies matched
// by request_id), with a bounded wait: a scheduler that does not answer is reported with the
// address tried and what to do, never waited on forever. Reusable by every CLI command and by
// tests/benchmarks that talk to ritsud as a client.
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
  Result<Message> CallRaw(const std::string& frame, uint64_t request_id, std::chrono::milliseconds long_poll);

  const std::string& endpoint() const { return endpoint_; }

  // CURVE keys for every Client of this process (the CLI sets them once from
  // --curve-server-key / --curve-secret-key or $RITSU_SERVER_KEY / $RITSU_KEY); nullopt = plain.
  static void SetCurve(std::optional<auth::ClientCurve> curve);

 private:
  void Reset();
  static constexpr size_t kMaxPages = 100000;

  std::string endpoint_;
  std::chrono::milliseconds reply_timeout_;
  zmq::context_t ctx_{1};
  std::unique_ptr<zmq::socket_t> sock_;
  uint64_t next_id_ = 1;
};

}  // namespace ritsu::cli
