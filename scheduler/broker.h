// The network side of ritsud: one ZeroMQ ROUTER socket for workers and clients, and the event
// loop that feeds the Core.
//
// Loop turn: wait for frames (or the next tick), take every frame already queued (up to
// max_batch), apply the mutating ones to the Core, run heartbeat checks and matching, commit
// ONE synced batch for all of them (group commit), then send the replies and assignments, then
// answer reads and wake long polls (logs -f, wait) whose tasks changed.
//
// Bad input never stops the loop: a frame that is not one message, does not decode, has another
// protocol version, an unknown type or an oversized body gets an ErrorReply carrying the
// request's id whenever the frame's header is readable (0 only when it is not), and is counted
// in stats().bad_frames.
//
// A full disk never stops it either: a commit that fails for lack of space is rolled back
// (Core::Reload), its writers are told "scheduler store is out of space: ...", and until a
// write succeeds again the loop serves reads, refuses writes at once, tries one write turn per
// store_retry_ms (after Kv::Resume) and logs the outage once a minute.
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
  int64_t store_retry_ms = 2000;     // while the disk is full: how often a write is tried again
  int64_t outage_log_ms = 60000;     // while the disk is full: how often it is logged
};

struct BrokerStats {
  uint64_t frames_in = 0;
  uint64_t bad_frames = 0;           // refused before reaching the Core
  uint64_t errors = 0;               // requests the Core refused
  uint64_t commits = 0;
  uint64_t refused_no_space = 0;     // write requests refused because the store was full
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
  // The store under the Core, to resume it after a failed write (optional; tests may omit it).
  void SetKv(Kv* kv) { kv_ = kv; }
  bool store_full() const { return outage_.active; }

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
  struct Reply {
    Incoming to;
    uint64_t request_id = 0;
    bool applied = false;            // the Core applied the request: only true after the commit
    std::string frame;
  };
  struct Outage {
    bool active = false;
    TimeMs since = 0;
    TimeMs next_try = 0;
    TimeMs next_log = 0;
    uint64_t refused_since_log = 0;
    std::string error;
  };
  void HandleWrite(const Incoming& in, const Message& m);
  // Commits the turn's changes. False = the loop must stop (*fatal says why).
  bool CommitTurn(Status* fatal);
  Status OutOfSpace() const;
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
  Kv* kv_ = nullptr;
  Outage outage_;
  std::list<Parked> parked_;
  std::vector<Reply> replies_;                              // sent after the commit
  std::vector<std::pair<Incoming, Message>> reads_;        // answered after the commit
};

}  // namespace ritsu::sched
