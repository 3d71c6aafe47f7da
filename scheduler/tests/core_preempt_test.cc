// Preemption: an attempt the worker reports preempted (it asked the task to stop for a drain
// --requeue or its own stop, and the task checkpointed and exited 75) requeues the task without
// using up max_attempts; a user's cancel still wins; exit 75 on its own is a plain failure.
#include <gtest/gtest.h>

#include "scheduler/tests/core_fixture.h"

namespace ritsu::sched::testing {
namespace {

class PreemptFixture : public CoreFixture {
 protected:
  void FinishPreempted(const Peer& p, TaskId id, uint32_t attempt, bool preempted = true) {
    Finished f;
    f.task_id = id;
    f.attempt = attempt;
    f.exit_code = kPreemptedExitCode;
    f.preempted = preempted;
    auto r = core_->OnFinished(p, f);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    Commit();
  }
  std::vector<CancelTask> Cancels() {
    std::vector<CancelTask> out;
    for (auto& o : core_->TakeOutbox()) {
      auto m = Decode(o.frame);
      if (m.ok() && m->type == MsgType::kCancelTask) out.push_back(*m->As<CancelTask>());
    }
    return out;
  }
};

TEST_F(PreemptFixture, PreemptedAttemptIsRequeuedWithoutUsingAnAttempt) {
  TaskSpec s = Exec("train");
  s.max_attempts = 1;
  auto ids = SubmitOk({s});
  Peer w = RegisterWorker("w1", {CpuSlot("c0")});
  ASSERT_EQ(Schedule().size(), 1u);
  Start(w, ids[0], 1);
  FinishPreempted(w, ids[0], 1);
  EXPECT_EQ(StateOf(ids[0]), TaskState::kQueued);
  EXPECT_NE(Rec(ids[0]).reason.find("attempt 1 preempted on w1 at "), std::string::npos) << Rec(ids[0]).reason;
  EXPECT_EQ(Rec(ids[0]).preempted_attempts, 1u);
  auto attempts = store_->GetAttempts(ids[0]);
  ASSERT_TRUE(attempts.ok());
  ASSERT_EQ(attempts->size(), 1u);
  EXPECT_TRUE((*attempts)[0].preempted);
  EXPECT_EQ((*attempts)[0].exit_code, kPreemptedExitCode);

  // The worker was not drained, so it is stopping: nothing new goes there until it registers.
  EXPECT_TRUE(Schedule().empty());
  RegisterWorker("w1", {CpuSlot("c0")});
  auto again = Schedule();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 2u);
  Start(w, ids[0], 2);
  // max_attempts = 1, yet attempt 2 still counts as the first real one: a failure now fails it
  // (no third attempt), a success succeeds it.
  Finish(w, ids[0], 2, 1);
  EXPECT_EQ(StateOf(ids[0]), TaskState::kFailed);

  // The count survives a restart.
  Reopen();
  EXPECT_EQ(Rec(ids[0]).preempted_attempts, 1u);
}

TEST_F(PreemptFixture, PreemptedThenSucceedsWithMaxAttemptsOne) {
  TaskSpec s = Exec("train");
  auto ids = SubmitOk({s});
  Peer w = RegisterWorker("w1", {CpuSlot("c0")});
  Schedule();
  Start(w, ids[0], 1);
  FinishPreempted(w, ids[0], 1);
  RegisterWorker("w1", {CpuSlot("c0")});
  ASSERT_EQ(Schedule().size(), 1u);
  Start(w, ids[0], 2);
  Finish(w, ids[0], 2, 0);
  EXPECT_EQ(StateOf(ids[0]), TaskState::kSucceeded);
}

TEST_F(PreemptFixture, ExitSeventyFiveWithoutAPreemptionIsAFailure) {
  auto ids = SubmitOk({Exec("train")});
  Peer w = RegisterWorker("w1", {CpuSlot("c0")});
  Schedule();
  Start(w, ids[0], 1);
  FinishPreempted(w, ids[0], 1, /*preempted=*/false);
  EXPECT_EQ(StateOf(ids[0]), TaskState::kFailed);
  EXPECT_EQ(Rec(ids[0]).reason, "exit code 75");
  EXPECT_EQ(Rec(ids[0]).preempted_attempts, 0u);
}

TEST_F(PreemptFixture, UserCancelWinsOverAPreemptedExit) {
  auto ids = SubmitOk({Exec("train")});
  Peer w = RegisterWorker("w1", {CpuSlot("c0")});
  Schedule();
  Start(w, ids[0], 1);
  ASSERT_TRUE(core_->OnCancel(Cancel{{ids[0]}, 0, "not needed"}).ok());
  Commit();
  FinishPreempted(w, ids[0], 1);
  EXPECT_EQ(StateOf(ids[0]), TaskState::kCancelled);
  EXPECT_EQ(Rec(ids[0]).reason, "not needed");
  auto a = store_->GetAttempt(ids[0], 1);
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_FALSE((*a)->preempted);
}

TEST_F(PreemptFixture, DrainRequeuePreemptsRunningAttemptsWithTheTasksGrace) {
  TaskSpec a = Exec("a");
  a.kill_grace_ms = 7000;
  auto ids = SubmitOk({a, Exec("b")});
  Peer w = RegisterWorker("w1", {CpuSlot("c0"), CpuSlot("c1")});
  ASSERT_EQ(Schedule().size(), 2u);
  Start(w, ids[0], 1);
  Start(w, ids[1], 1);
  core_->TakeOutbox();
  // A plain drain preempts nothing.
  ASSERT_TRUE(core_->OnDrain(Drain{"w1", false, false}).ok());
  Commit();
  EXPECT_TRUE(Cancels().empty());
  ASSERT_TRUE(core_->OnDrain(Drain{"w1", false, true}).ok());
  Commit();
  auto cancels = Cancels();
  ASSERT_EQ(cancels.size(), 2u);
  for (const auto& c : cancels) {
    EXPECT_TRUE(c.preempt);
    EXPECT_EQ(c.attempt, 1u);
    EXPECT_EQ(c.grace_ms, c.task_id == ids[0] ? 7000 : 0);
  }
  EXPECT_EQ(StateOf(ids[0]), TaskState::kRunning) << "a preemption is only a request";
  FinishPreempted(w, ids[0], 1);
  EXPECT_EQ(StateOf(ids[0]), TaskState::kQueued);
  // A second worker takes it as attempt 2; the drained one gets nothing.
  Peer w2 = RegisterWorker("w2", {CpuSlot("c0")});
  auto as = Schedule();
  ASSERT_EQ(as.size(), 1u);
  EXPECT_EQ(as[0].task_id, ids[0]);
  EXPECT_EQ(as[0].attempt, 2u);
  EXPECT_EQ(Rec(ids[0]).worker, "w2");
  (void)w2;
}

}  // namespace
}  // namespace ritsu::sched::testing
