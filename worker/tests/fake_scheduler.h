// A scripted fake ritsud for agent tests: a ROUTER socket that answers heartbeats itself and
// hands every other message from the worker to the test.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "common/protocol.h"

namespace ritsu::worker {

using namespace std::chrono_literals;

class FakeScheduler {
 public:
  FakeScheduler() : sock_(ctx_, zmq::socket_type::router) {
    sock_.set(zmq::sockopt::linger, 0);
    sock_.bind("tcp://127.0.0.1:*");
    endpoint = sock_.get(zmq::sockopt::last_endpoint);
  }
  // Next message from the worker (answering heartbeats itself unless told otherwise).
  Result<Message> Next(std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      zmq::pollitem_t item{sock_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, 100ms);
      if (!(item.revents & ZMQ_POLLIN)) continue;
      zmq::message_t id, body;
      (void)sock_.recv(id);
      (void)sock_.recv(body);
      peer_ = std::string(static_cast<const char*>(id.data()), id.size());
      auto msg = Decode(std::string_view(static_cast<const char*>(body.data()), body.size()));
      if (!msg.ok()) return msg.status();
      if (msg->type == MsgType::kHeartbeat && answer_heartbeats) {
        HeartbeatReply r;
        r.scheduler_id = scheduler_id;
        r.reregister = ask_reregister;
        ask_reregister = false;
        Send(msg->request_id, r);
        continue;
      }
      return msg;
    }
    return Status::Unavailable("fake scheduler: nothing from the worker in time");
  }
  template <typename T>
  void Send(uint64_t rid, const T& m) {
    std::string f = Encode(rid, m);
    sock_.send(zmq::buffer(peer_), zmq::send_flags::sndmore);
    sock_.send(zmq::buffer(f));
  }
  std::string endpoint;
  std::string scheduler_id = "s1";
  bool answer_heartbeats = true;
  bool ask_reregister = false;

 private:
  zmq::context_t ctx_{1};
  zmq::socket_t sock_;
  std::string peer_;
};

struct Report {
  std::string out, err;
  std::vector<uint64_t> chunk_seqs;
  uint64_t out_end = 0, err_end = 0;
  std::optional<Finished> finished;
  uint64_t finished_rid = 0;
};

// Reads until Finished, checking that each stream's chunks are contiguous from offset 0.
inline void CollectUntilFinished(FakeScheduler& fake, Report* r) {
  for (;;) {
    auto m = fake.Next();
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    if (m->type == MsgType::kStarted) {
      auto s = m->As<Started>();
      ASSERT_TRUE(s.ok());
      EXPECT_GT(s->pid, 0);
      continue;
    }
    if (m->type == MsgType::kLogChunk) {
      auto c = m->As<LogChunk>();
      ASSERT_TRUE(c.ok());
      uint64_t& end = c->stream == LogStream::kStdout ? r->out_end : r->err_end;
      EXPECT_EQ(c->offset, end) << "gap or overlap in the chunks";
      end = c->offset + c->data.size();
      (c->stream == LogStream::kStdout ? r->out : r->err) += c->data;
      continue;
    }
    if (m->type == MsgType::kFinished) {
      auto f = m->As<Finished>();
      ASSERT_TRUE(f.ok());
      r->finished = *f;
      r->finished_rid = m->request_id;
      return;
    }
    ADD_FAILURE() << "unexpected " << MsgTypeName(m->type);
  }
}

}  // namespace ritsu::worker
