// A full disk: the write that fails is refused to whoever caused it, nothing of it stays in
// memory, reads go on, and writes work again by themselves once there is space.
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "scheduler/broker.h"
#include "scheduler/tests/core_fixture.h"
#include "scheduler/tests/fault_kv.h"

namespace ritsu::sched::testing {
namespace {

TEST(StoreFullTest, AFailedCommitIsRolledBackInMemory) {
  FaultKv kv;
  Store store(&kv);
  ASSERT_TRUE(store.Init().ok());
  FakeClock clock;
  Core core(&store, &clock, CoreOptions{});
  ASSERT_TRUE(core.Load().ok());
  ASSERT_TRUE(core.OnSubmit(Submit{{Exec("kept")}}).ok());
  ASSERT_TRUE(core.Commit().ok());

  kv.full = true;
  auto lost = core.OnSubmit(Submit{{Exec("not-stored"), Exec("not-stored-either")}});
  ASSERT_TRUE(lost.ok());
  ASSERT_EQ(lost->ids, (std::vector<TaskId>{2, 3}));
  Status st = core.Commit();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(IsNoSpace(st)) << st.ToString();
  EXPECT_NE(st.message().find("scheduler store is out of space"), std::string::npos);
  ASSERT_TRUE(core.Reload().ok());
  // Memory is the store again: no trace of the refused tasks, the counters did not move.
  EXPECT_FALSE(core.GetTask(2).ok());
  EXPECT_EQ(core.meta().next_task_id, 2u);
  EXPECT_EQ(core.queued_count(), 1u);
  EXPECT_EQ(core.meta().counts[static_cast<int>(TaskState::kQueued)], 1u);
  auto reads = core.OnStatus(StatusRequest{});
  ASSERT_TRUE(reads.ok());
  EXPECT_EQ(reads->tasks.size(), 1u);

  // Space comes back; the store needs resuming (RocksDB's background error), then ids go on.
  kv.full = false;
  ASSERT_TRUE(core.OnSubmit(Submit{{Exec("x")}}).ok());
  EXPECT_FALSE(core.Commit().ok());
  ASSERT_TRUE(core.Reload().ok());
  ASSERT_TRUE(kv.Resume().ok());
  auto again = core.OnSubmit(Submit{{Exec("stored")}});
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(core.Commit().ok());
  EXPECT_EQ(again->ids, std::vector<TaskId>{2});
  EXPECT_EQ(core.GetTask(2)->spec.name, "stored");
}

class BrokerFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_.Init().ok());
    core_ = std::make_unique<Core>(&store_, &clock_, CoreOptions{});
    ASSERT_TRUE(core_->Load().ok());
    BrokerOptions bo;
    bo.bind = "tcp://127.0.0.1:*";
    bo.store_retry_ms = 50;
    broker_ = std::make_unique<Broker>(core_.get(), &clock_, bo);
    broker_->SetKv(&kv_);
    ASSERT_TRUE(broker_->Bind().ok());
    thread_ = std::thread([this] { run_ = broker_->Run(&stop_); });
    sock_.set(zmq::sockopt::linger, 0);
    sock_.connect(broker_->endpoint());
  }
  void TearDown() override {
    stop_ = true;
    thread_.join();
  }
  template <typename Req>
  Message Call(const Req& r, uint64_t id) {
    sock_.send(zmq::buffer(Encode(id, r)), zmq::send_flags::none);
    for (;;) {
      zmq::pollitem_t items[] = {{sock_.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 1, std::chrono::milliseconds(5000));
      EXPECT_TRUE(items[0].revents & ZMQ_POLLIN) << "no reply to request " << id;
      if (!(items[0].revents & ZMQ_POLLIN)) return Message{};
      zmq::message_t m;
      (void)sock_.recv(m);
      auto d = Decode(std::string_view(static_cast<const char*>(m.data()), m.size()));
      EXPECT_TRUE(d.ok());
      if (d.ok() && d->request_id == id) return *d;
    }
  }

  FaultKv kv_;
  Store store_{&kv_};
  SystemClock clock_;
  std::unique_ptr<Core> core_;
  std::unique_ptr<Broker> broker_;
  std::atomic<bool> stop_{false};
  Status run_;
  std::thread thread_;
  zmq::context_t ctx_{1};
  zmq::socket_t sock_{ctx_, zmq::socket_type::dealer};
};

TEST_F(BrokerFullTest, WritesAreRefusedReadsServedAndServiceComesBackByItself) {
  TaskSpec s = Exec("job");
  Message first = Call(Submit{{s}}, 1);
  ASSERT_EQ(first.type, MsgType::kSubmitReply);

  kv_.full = true;
  Message refused = Call(Submit{{s}}, 2);
  ASSERT_EQ(refused.type, MsgType::kError);
  EXPECT_EQ(refused.request_id, 2u);
  EXPECT_NE(refused.As<ErrorReply>()->message.find("scheduler store is out of space"), std::string::npos)
      << refused.As<ErrorReply>()->message;
  // Refused at once while the outage lasts, and reads still work.
  Message again = Call(Submit{{s}}, 3);
  ASSERT_EQ(again.type, MsgType::kError);
  Message read = Call(StatusRequest{}, 4);
  ASSERT_EQ(read.type, MsgType::kStatusReply);
  EXPECT_EQ(read.As<StatusReply>()->tasks.size(), 1u);
  EXPECT_TRUE(broker_->store_full());

  kv_.full = false;  // space is freed: the next write (after the retry interval) succeeds
  Message ok;
  for (int i = 0; i < 100; ++i) {
    ok = Call(Submit{{s}}, 10 + i);
    if (ok.type == MsgType::kSubmitReply) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(ok.type, MsgType::kSubmitReply);
  EXPECT_EQ(ok.As<SubmitReply>()->ids, std::vector<TaskId>{2});  // nothing refused left a trace
  EXPECT_GE(kv_.resumes.load(), 1);
  EXPECT_FALSE(broker_->store_full());
  stop_ = true;
  thread_.join();
  thread_ = std::thread([] {});
  EXPECT_TRUE(run_.ok()) << run_.ToString();
  EXPECT_GE(broker_->stats().refused_no_space, 2u);
}

// The real RocksDB on a tiny tmpfs (needs root to mount; skipped otherwise).
TEST(StoreFullTest, RealRocksDbOnAFullFilesystemRecoversWhenSpaceReturns) {
  namespace fs = std::filesystem;
  fs::path mnt = fs::temp_directory_path() / ("ritsu-full-" + std::to_string(getpid()));
  fs::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=4m") != 0) {
    fs::remove(mnt);
    GTEST_SKIP() << "cannot mount a tmpfs here (not root?): the fault-injecting Kv tests cover this";
  }
  struct Unmount {
    fs::path p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); std::error_code ec; fs::remove_all(p, ec); }
  } unmount{mnt};
  const std::string dir = (mnt / "data").string();
  FakeClock clock;
  size_t acknowledged = 0;
  {
    auto kv = OpenRocksKv(dir);
    ASSERT_TRUE(kv.ok()) << kv.status().ToString();
    Store store(kv->get());
    ASSERT_TRUE(store.Init().ok());
    Core core(&store, &clock, CoreOptions{});
    ASSERT_TRUE(core.Load().ok());
    TaskSpec big = Exec("big");
    big.env["PAD"] = std::string(64 << 10, 'p');
    Status failed;
    for (int i = 0; i < 200 && failed.ok(); ++i) {
      ASSERT_TRUE(core.OnSubmit(Submit{{big}}).ok());
      failed = core.Commit();
      if (failed.ok()) ++acknowledged;
    }
    ASSERT_FALSE(failed.ok()) << "4 MiB never filled up";
    EXPECT_TRUE(IsNoSpace(failed)) << failed.ToString();
    ASSERT_TRUE(core.Reload().ok());
    auto st = core.OnStatus(StatusRequest{{}, 0, true, 0, {}});
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->counts.at("QUEUED"), acknowledged);  // reads work, nothing refused is counted
    // Space returns: after Resume the next write goes through.
    ASSERT_EQ(::mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT, "size=64m"), 0);
    // (RocksDB's own recovery may hold the error for a poll period: retry as ritsud does.)
    Status ok;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 300; ++i) {
      Status resumed = (*kv)->Resume();
      ASSERT_TRUE(resumed.ok() || IsNoSpace(resumed)) << resumed.ToString();
      ASSERT_TRUE(core.OnSubmit(Submit{{Exec("after")}}).ok());
      ok = core.Commit();
      if (ok.ok()) break;
      ASSERT_TRUE(core.Reload().ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(ok.ok()) << ok.ToString();
    std::printf("writes resumed %.1f s after space returned\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  // Everything acknowledged is there after a restart.
  auto kv = OpenRocksKv(dir);
  ASSERT_TRUE(kv.ok()) << kv.status().ToString();
  Store store(kv->get());
  ASSERT_TRUE(store.Init().ok());
  Core core(&store, &clock, CoreOptions{});
  ASSERT_TRUE(core.Load().ok());
  EXPECT_EQ(core.queued_count(), acknowledged + 1);
  EXPECT_EQ(core.meta().next_task_id, acknowledged + 2);
}

}  // namespace
}  // namespace ritsu::sched::testing
