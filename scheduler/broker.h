// The network side of ritsud: one ZeroMQ ROUTER socket for workers and clients, and the event
// loop that feeds the Core.
//
// Loop turn: wait for frames (or the next tick), take every frame already queued (up to
// max_batch), apply the mutating ones to the Core, run heartbeat checks and matching, commit
// ONE synced batch for all of them (group commit), then send the replies and assignments, then
// answer reads and wake long polls (logs -f, wait) whose tasks changed.
//
// Bad input never stops the loop: a frame that is not one message, does not decode, has another
// protocol version, an unknown type or an oversized body gets an ErrorReply (request_id 0 when
// the header could not be read) and is counted in stats().bad_frames.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "scheduler/core.h"

namespace ritsu::sched {

struct BrokerOptions {
  std::string bind = "tcp://127.0.0.1:7070";
  int64_t tick_ms = 200;             // heartbeat-timeout checks at least this often
  size_t max_batch = 4096;           // frames handled per loop turn (one commit)
  size_t max_parked = 10000;         // long polls held at once; beyond that they answer at once
};

struct BrokerStats {
  uint64_t frames_in = 0;
  uint64_t bad_frames = 0;           // refused before reaching the Core
  uint64_t errors = 0;               // requests the Core refused
  uint64_t commits = 0;
};

class Broker {
 public:
  // Called for every decoded request before it reaches the Core; return non-OK to refuse it
  // (issue 6 plugs CURVE/ZAP roles in here). Default: allow everything.
  using Authorizer = std::function<Status(const Peer& peer, MsgType type)>;
  // Called once on the ROUTER socket before bind (issue 6: CURVE server options).
  using SocketSetup = std::function<Status(zmq::socket_t& router)>;

  Broker(Core* core, const Clock* clock, BrokerOptions opts);
  ~Broker();

  void SetAuthorizer(Authorizer a) { authorize_ = std::move(a); }
  void SetSocketSetup(SocketSetup s) { socket_setup_ = std::move(s); }

  // Creates and binds the socket. "port in use" and bad addresses come back as errors.
  Status Bind();
  // The bound endpoint (with the real port when bound to port 0 / "*").
  std::string endpoint() const { return endpoint_; }
  // The socket's context: the ZAP handler (auth/zap_handler.h) must run on it (issue 6).
  void* zmq_context() { return ctx_.handle(); }
  // Serves until *stop becomes true. Returns non-OK only when the store failed (the caller
  // must exit: memory may be ahead of disk).
  Status Run(const std::atomic<bool>* stop);
  const BrokerStats& stats() const { return stats_; }

 private:
  struct Incoming {
    Peer peer;
    bool req_delimiter = false;      // the peer is a REQ socket: keep its empty frame
    std::string payload;
  };
  struct Parked {
    Incoming from;
    uint64_t request_id = 0;
    MsgType type = MsgType::kLogs;
    Logs logs;
    Wait wait;
    TimeMs deadline = 0;
  };

  bool Receive(Incoming* in);        // false when nothing more is queued
  void Send(const Peer& to, bool req_delimiter, const std::string& frame);
  void HandleWrite(const Incoming& in, const Message& m);
  // Answers a read; returns false if it was parked instead.
  bool HandleRead(const Incoming& in, const Message& m);
  void WakeParked(const std::set<TaskId>& touched, bool force_expired);

  Core* core_;
  const Clock* clock_;
  BrokerOptions opts_;
  zmq::context_t ctx_;
  std::unique_ptr<zmq::socket_t> router_;
  std::string endpoint_;
  Authorizer authorize_;
  SocketSetup socket_setup_;
  BrokerStats stats_;
  std::list<Parked> parked_;
  std::vector<std::pair<Incoming, std::string>> replies_;  // sent after the commit
  std::vector<std::pair<Incoming, Message>> reads_;        // answered after the commit
};

}  // namespace ritsu::sched
