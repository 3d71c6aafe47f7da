// The real ROUTER endpoint on loopback (in-memory store): requests and replies, a worker's
// whole conversation, long-poll logs, and garbage that must not stop it.
#include "scheduler/broker.h"

#include <random>
#include <thread>

#include <gtest/gtest.h>

namespace ritsu::sched {
namespace {

class BrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_.Init().ok());
    CoreOptions o;
    o.heartbeat_timeout_ms = 5000;
    core_ = std::make_unique<Core>(&store_, &clock_, o);
    ASSERT_TRUE(core_->Load().ok());
    BrokerOptions bo;
    bo.bind = "tcp://127.0.0.1:*";
    broker_ = std::make_unique<Broker>(core_.get(), &clock_, bo);
    Status st = broker_->Bind();
    ASSERT_TRUE(st.ok()) << st.ToString();
    thread_ = std::thread([this] { run_status_ = broker_->Run(&stop_); });
  }
  void TearDown() override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    EXPECT_TRUE(run_status_.ok()) << run_status_.ToString();
  }

  std::unique_ptr<zmq::socket_t> Connect() {
    auto s = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
    s->set(zmq::sockopt::linger, 0);
    s->connect(broker_->endpoint());
    return s;
  }
  // Receives one frame within 5 s (bounded: a hung broker fails the test instead of hanging).
  std::optional<Message> Recv(zmq::socket_t& s, int timeout_ms = 5000) {
    zmq::pollitem_t items[] = {{s.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(timeout_ms));
    if (!(items[0].revents & ZMQ_POLLIN)) return std::nullopt;
    zmq::message_t m;
    (void)s.recv(m);
    auto d = Decode(std::string_view(static_cast<const char*>(m.data()), m.size()));
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    if (!d.ok()) return std::nullopt;
    return std::move(*d);
  }
  template <typename Req>
  std::optional<Message> Call(zmq::socket_t& s, const Req& r, uint64_t id = 1) {
    s.send(zmq::buffer(Encode(id, r)), zmq::send_flags::none);
    return Recv(s);
  }

  std::unique_ptr<Kv> kv_ = NewMemKv();
  Store store_{kv_.get()};
  SystemClock clock_;
  std::unique_ptr<Core> core_;
  std::unique_ptr<Broker> broker_;
  std::atomic<bool> stop_{false};
  Status run_status_;
  std::thread thread_;
  zmq::context_t ctx_{1};
};

TEST_F(BrokerTest, GarbageGetsErrorsAndTheEndpointKeepsServing) {
  auto c = Connect();
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string junk(1 + rng() % 200, '\0');
    for (char& ch : junk) ch = static_cast<char>(rng());
    c->send(zmq::buffer(junk), zmq::send_flags::none);
  }
  // Two frames in one message, and an oversized frame.
  c->send(zmq::buffer(std::string("a")), zmq::send_flags::sndmore);
  c->send(zmq::buffer(std::string("b")), zmq::send_flags::none);
  c->send(zmq::buffer(std::string(kMaxFrameBytes + 10, 'x')), zmq::send_flags::none);
  int errors = 0;
  for (int i = 0; i < 202; ++i) {
    auto m = Recv(*c);
    ASSERT_TRUE(m.has_value()) << "no reply to garbage frame " << i;
    if (m->type == MsgType::kError) ++errors;
  }
  EXPECT_GE(errors, 195);  // a random frame could decode as something valid; errors are the rule
  // Still serving.
  auto st = Call(*c, StatusRequest{{}, 0, true, 0, {}}, 99);
  ASSERT_TRUE(st.has_value());
  ASSERT_EQ(st->type, MsgType::kStatusReply);
  EXPECT_EQ(st->request_id, 99u);
  // A reply type sent as a request, and a body of the wrong shape, get errors too.
  auto r = Call(*c, SubmitReply{{1}, {}}, 5);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->type, MsgType::kError);
  // Frames that do not decode still answer their request when the header is readable:
  // another protocol version, and a submit over the batch limit ("split the batch").
  msgpack::sbuffer v2;
  msgpack::packer<msgpack::sbuffer> pk(v2);
  pk.pack_array(4);
  pk.pack(kProtocolVersion + 1);
  pk.pack(static_cast<uint32_t>(MsgType::kStatus));
  pk.pack(uint64_t{31});
  pk.pack_map(0);
  c->send(zmq::buffer(std::string(v2.data(), v2.size())), zmq::send_flags::none);
  auto version = Recv(*c);
  ASSERT_TRUE(version.has_value());
  EXPECT_EQ(version->type, MsgType::kError);
  EXPECT_EQ(version->request_id, 31u);
  EXPECT_NE(version->As<ErrorReply>()->message.find("protocol version"), std::string::npos);
  Submit too_many;
  too_many.tasks.resize(kMaxSubmitBatch + 1);
  auto split = Call(*c, too_many, 32);
  ASSERT_TRUE(split.has_value());
  EXPECT_EQ(split->type, MsgType::kError);
  EXPECT_EQ(split->request_id, 32u);
  EXPECT_NE(split->As<ErrorReply>()->message.find("split the batch"), std::string::npos);
  auto unknown = Call(*c, Show{424242}, 6);
  ASSERT_TRUE(unknown.has_value());
  ASSERT_EQ(unknown->type, MsgType::kError);
  EXPECT_NE(unknown->As<ErrorReply>()->message.find("task 424242 does not exist"), std::string::npos);
}

TEST_F(BrokerTest, WorkerAndClientConversation) {
  auto client = Connect();
  auto worker = Connect();
  Register reg;
  reg.name = "w1";
  reg.slots = {Slot{"c0", "cpu", 0, "", false}};
  auto rr = Call(*worker, reg, 1);
  ASSERT_TRUE(rr.has_value());
  ASSERT_EQ(rr->type, MsgType::kRegisterReply) << MsgTypeName(rr->type);

  TaskSpec s;
  s.name = "hello";
  s.argv = {"echo", "hello"};
  auto sub = Call(*client, Submit{{s}}, 2);
  ASSERT_TRUE(sub.has_value());
  ASSERT_EQ(sub->type, MsgType::kSubmitReply);
  TaskId id = sub->As<SubmitReply>()->ids.at(0);

  auto as = Recv(*worker);
  ASSERT_TRUE(as.has_value());
  ASSERT_EQ(as->type, MsgType::kAssign);
  EXPECT_EQ(as->As<Assign>()->task_id, id);
  auto ack = Call(*worker, Started{id, 1, 100, 0}, 3);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->type, MsgType::kAck);

  // A follower waits before any output exists; a chunk wakes it.
  client->send(zmq::buffer(Encode(4, Logs{id, 0, 0, 0, 10000})), zmq::send_flags::none);
  EXPECT_FALSE(Recv(*client, 200).has_value());  // parked
  auto la = Call(*worker, LogChunk{id, 1, LogStream::kStdout, 0, "hello\n"}, 5);
  ASSERT_TRUE(la.has_value());
  ASSERT_EQ(la->type, MsgType::kLogAck);
  EXPECT_EQ(la->As<LogAck>()->acked_offset, 6u);
  auto lr = Recv(*client);
  ASSERT_TRUE(lr.has_value());
  ASSERT_EQ(lr->type, MsgType::kLogsReply);
  EXPECT_EQ(lr->request_id, 4u);
  auto logs = *lr->As<LogsReply>();
  ASSERT_EQ(logs.pieces.size(), 1u);
  EXPECT_EQ(logs.pieces[0].data, "hello\n");
  EXPECT_EQ(logs.next_offset, 6u);

  // wait parks until finished.
  client->send(zmq::buffer(Encode(6, Wait{{id}, 10000})), zmq::send_flags::none);
  EXPECT_FALSE(Recv(*client, 200).has_value());
  Finished f;
  f.task_id = id;
  f.attempt = 1;
  f.exit_code = 0;
  auto fa = Call(*worker, f, 7);
  ASSERT_TRUE(fa.has_value());
  EXPECT_EQ(fa->type, MsgType::kAck);
  auto wr = Recv(*client);
  ASSERT_TRUE(wr.has_value());
  ASSERT_EQ(wr->type, MsgType::kWaitReply);
  EXPECT_TRUE(wr->As<WaitReply>()->all_final);
  EXPECT_EQ(wr->As<WaitReply>()->tasks[0].state, TaskState::kSucceeded);

  auto end = Call(*client, Logs{id, 0, 6, 0, 10000}, 8);
  ASSERT_TRUE(end.has_value());
  EXPECT_TRUE(end->As<LogsReply>()->complete);
}

TEST_F(BrokerTest, SecondBindOnTheSamePortIsRefused) {
  Broker other(core_.get(), &clock_, BrokerOptions{broker_->endpoint()});
  Status st = other.Bind();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("Address already in use"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace ritsu::sched
