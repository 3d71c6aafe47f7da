// Worker names: a name held by a live worker is refused to another worker instance; the same
// instance (its spool id) restarted takes it over at once.
#include <gtest/gtest.h>

#include "scheduler/tests/core_fixture.h"

namespace ritsu::sched::testing {
namespace {

class IdentityTest : public CoreFixture {
 protected:
  Result<RegisterReply> Reg(const std::string& routing, const std::string& name, const std::string& instance,
                            std::vector<TaskAttemptRef> running = {}) {
    Register m;
    m.name = name;
    m.host = "hostof-" + routing;
    m.instance_id = instance;
    m.slots = {CpuSlot("c0")};
    m.running = std::move(running);
    auto r = core_->OnRegister(Peer{routing, "", "10.0.0." + routing}, m);
    Commit();
    return r;
  }
};

TEST_F(IdentityTest, ANameHeldByALiveWorkerIsRefusedNamingTheHolder) {
  auto ids = SubmitOk({Exec("long")});
  ASSERT_TRUE(Reg("1", "heart01", "spool-a").ok());
  ASSERT_EQ(Schedule().size(), 1u);
  ASSERT_TRUE(core_->OnStarted(Peer{"1", "", ""}, Started{ids[0], 1, 99, clock_.NowMs()}).ok());
  Commit();
  clock_.Advance(1'200);
  ASSERT_TRUE(core_->OnHeartbeat(Peer{"1", "", ""}, Heartbeat{"heart01", {TaskAttemptRef{ids[0], 1}}}).ok());
  // A second worker process with the same (default) name.
  auto r = Reg("2", "heart01", "spool-b");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kAlreadyExists);
  EXPECT_NE(r.status().message().find("worker name 'heart01' is held by a live worker"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("10.0.0.1"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("choose another --name"), std::string::npos);
  // The holder and its task are untouched; the intruder's heartbeats get "register first".
  EXPECT_EQ(StateOf(ids[0]), TaskState::kRunning);
  auto hb = core_->OnHeartbeat(Peer{"2", "", ""}, Heartbeat{"heart01", {}});
  ASSERT_TRUE(hb.ok());
  EXPECT_TRUE(hb->reregister);
  auto own = core_->OnHeartbeat(Peer{"1", "", ""}, Heartbeat{"heart01", {TaskAttemptRef{ids[0], 1}}});
  ASSERT_TRUE(own.ok());
  EXPECT_FALSE(own->reregister);
  EXPECT_TRUE(own->cancel.empty());
  EXPECT_EQ(StateOf(ids[0]), TaskState::kRunning);
}

TEST_F(IdentityTest, TheSameInstanceRestartedTakesItsNameOverAtOnce) {
  auto ids = SubmitOk({Exec("long")});
  ASSERT_TRUE(Reg("1", "heart01", "spool-a").ok());
  ASSERT_EQ(Schedule().size(), 1u);
  ASSERT_TRUE(core_->OnStarted(Peer{"1", "", ""}, Started{ids[0], 1, 99, clock_.NowMs()}).ok());
  Commit();
  // Restarted (new connection) with the same spool: still runs the task.
  auto r = Reg("3", "heart01", "spool-a", {TaskAttemptRef{ids[0], 1}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->cancel.empty());
  EXPECT_EQ(StateOf(ids[0]), TaskState::kRunning);
  // The old connection is not the worker any more.
  EXPECT_FALSE(core_->OnFinished(Peer{"1", "", ""}, Finished{ids[0], 1, 0, 0, 1, 0, "", "", false}).ok());
  Finish(Peer{"3", "", ""}, ids[0], 1, 0);
  EXPECT_EQ(StateOf(ids[0]), TaskState::kSucceeded);
}

TEST_F(IdentityTest, ANameWhoseHolderWentSilentCanBeTaken) {
  ASSERT_TRUE(Reg("1", "heart01", "spool-a").ok());
  clock_.Advance(10'500);  // past the heartbeat timeout, before Tick declared it lost
  auto r = Reg("2", "heart01", "spool-b");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto ws = core_->OnWorkers(Workers{});
  ASSERT_TRUE(ws.ok());
  ASSERT_EQ(ws->workers.size(), 1u);
  EXPECT_EQ(ws->workers[0].instance_id, "spool-b");
  // After a scheduler restart nobody holds a connection: the first to register gets the name.
  Reopen();
  EXPECT_TRUE(Reg("5", "heart01", "spool-c").ok());
  EXPECT_FALSE(Reg("6", "heart01", "spool-b").ok());
}

}  // namespace
}  // namespace ritsu::sched::testing
