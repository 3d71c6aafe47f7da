// The durability rule end to end through the broker: when the store cannot commit, nobody is
// told anything (no reply, no assign) and the loop stops with an error, as ritsud then exits.
#include <thread>

#include <gtest/gtest.h>

#include "scheduler/broker.h"

namespace ritsu::sched {
namespace {

// An in-memory Kv whose writes start failing on request (like a disk that went away).
class FailingKv : public Kv {
 public:
  std::atomic<bool> fail{false};
  Status Write(const Batch& b, bool sync) override {
    if (fail) return Status::IOError("injected: disk full");
    return inner_->Write(b, sync);
  }
  Result<std::optional<std::string>> Get(Cf cf, std::string_view k) override { return inner_->Get(cf, k); }
  std::unique_ptr<Cursor> Scan(Cf cf, std::string_view s, std::string_view e, bool r) override { return inner_->Scan(cf, s, e, r); }
  Result<std::optional<std::pair<std::string, std::string>>> Floor(Cf cf, std::string_view k, std::string_view p) override {
    return inner_->Floor(cf, k, p);
  }

 private:
  std::unique_ptr<Kv> inner_ = NewMemKv();
};

TEST(DurabilityTest, NoReplyIsSentWhenTheCommitFails) {
  FailingKv kv;
  Store store(&kv);
  ASSERT_TRUE(store.Init().ok());
  SystemClock clock;
  Core core(&store, &clock, CoreOptions{});
  ASSERT_TRUE(core.Load().ok());
  BrokerOptions bo;
  bo.bind = "tcp://127.0.0.1:*";
  Broker broker(&core, &clock, bo);
  ASSERT_TRUE(broker.Bind().ok());
  std::atomic<bool> stop{false};
  Status run;
  std::thread t([&] { run = broker.Run(&stop); });

  zmq::context_t ctx(1);
  zmq::socket_t c(ctx, zmq::socket_type::dealer);
  c.set(zmq::sockopt::linger, 0);
  c.connect(broker.endpoint());
  TaskSpec s;
  s.argv = {"true"};
  // A read works while the store is healthy...
  c.send(zmq::buffer(Encode(1, StatusRequest{{}, 0, true, 0, {}})), zmq::send_flags::none);
  zmq::pollitem_t items[] = {{c.handle(), 0, ZMQ_POLLIN, 0}};
  zmq::poll(items, 1, std::chrono::milliseconds(5000));
  ASSERT_TRUE(items[0].revents & ZMQ_POLLIN);
  zmq::message_t m;
  (void)c.recv(m);

  // ...then the disk fails: the submit must not be acknowledged.
  kv.fail = true;
  c.send(zmq::buffer(Encode(2, Submit{{s}})), zmq::send_flags::none);
  t.join();  // the loop ends by itself on the failed commit (bounded: it is the next turn)
  EXPECT_FALSE(run.ok());
  EXPECT_NE(run.message().find("disk full"), std::string::npos) << run.ToString();
  items[0].revents = 0;
  zmq::poll(items, 1, std::chrono::milliseconds(200));
  EXPECT_FALSE(items[0].revents & ZMQ_POLLIN) << "a reply was sent for an uncommitted submit";
}

}  // namespace
}  // namespace ritsu::sched
