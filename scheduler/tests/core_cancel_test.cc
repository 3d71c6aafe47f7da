// CANCELLING (a cancelled task is CANCELLED only once its processes are gone), the task's kill
// grace, submits after a failed dependency, and the bound on attempts lost before starting.
#include <gtest/gtest.h>

#include "scheduler/tests/core_fixture.h"

namespace ritsu::sched::testing {
namespace {

std::vector<TaskId> Ids(const std::vector<Assign>& as) {
  std::vector<TaskId> out;
  for (const auto& a : as) out.push_back(a.task_id);
  return out;
}

TEST_F(CoreFixture, CancellingEndsCancelledWhenTheWorkerIsLost) {
  TaskSpec s = Exec("stuck");
  s.max_attempts = 3;  // a lost worker would normally requeue it
  auto ids = SubmitOk({s});
  Peer w = RegisterWorker("w1", {CpuSlot("c0")});
  ASSERT_EQ(Ids(Schedule()), ids);
  Start(w, ids[0], 1);
  ASSERT_TRUE(core_->OnCancel(Cancel{{ids[0]}, 0, "enough"}).ok());
  Commit();
  EXPECT_EQ(StateOf(ids[0]), TaskState::kCancelling);
  clock_.Advance(11'000);
  core_->Tick();
  Commit();
  EXPECT_EQ(StateOf(ids[0]), TaskState::kCancelled);
  EXPECT_EQ(Rec(ids[0]).reason, "enough");
  EXPECT_EQ(core_->queued_count(), 0u);
}

TEST_F(CoreFixture, CancellingSurvivesARestartAndIsSettledByTheWorkersRegister) {
  auto ids = SubmitOk({Exec("a"), Exec("b")});
  Peer w = RegisterWorker("w1", {CpuSlot("c0"), CpuSlot("c1")});
  ASSERT_EQ(Schedule().size(), 2u);
  Start(w, ids[0], 1);
  Start(w, ids[1], 1);
  ASSERT_TRUE(core_->OnCancel(Cancel{{ids[0], ids[1]}, 0, ""}).ok());
  Commit();
  Reopen();
  EXPECT_EQ(StateOf(ids[0]), TaskState::kCancelling);
  EXPECT_EQ(core_->meta().counts[static_cast<int>(TaskState::kCancelling)], 2u);
  // The worker comes back still running a (told to stop it again) but no longer b.
  RegisterWorker("w1", {CpuSlot("c0"), CpuSlot("c1")}, {TaskAttemptRef{ids[0], 1}});
  ASSERT_EQ(last_register_.cancel.size(), 1u);
  EXPECT_EQ(last_register_.cancel[0].task_id, ids[0]);
  EXPECT_EQ(StateOf(ids[0]), TaskState::kCancelling);
  EXPECT_EQ(StateOf(ids[1]), TaskState::kCancelled);
  // a's slot is still busy: one new task gets the other slot only.
  auto more = SubmitOk({Exec("c"), Exec("d")});
  EXPECT_EQ(Ids(Schedule()), std::vector<TaskId>{more[0]});
}

TEST_F(CoreFixture, DependentsOfACancellingTaskAreCancelledAtOnce) {
  auto ids = SubmitOk({Exec("train")});
  Peer w = RegisterWorker("w1", {CpuSlot("c0")});
  Schedule();
  Start(w, ids[0], 1);
  TaskSpec eval = Exec("eval");
  eval.after = {ids[0]};
  auto dep = SubmitOk({eval});
  ASSERT_TRUE(core_->OnCancel(Cancel{{ids[0]}, 0, ""}).ok());
  Commit();
  EXPECT_EQ(StateOf(ids[0]), TaskState::kCancelling);
  EXPECT_EQ(StateOf(dep[0]), TaskState::kCancelled);
  // A task submitted after the cancelling one is cancelled at once, and the reply says so.
  auto r = core_->OnSubmit(Submit{{eval}});
  ASSERT_TRUE(r.ok());
  Commit();
  ASSERT_EQ(r->cancelled.size(), 1u);
  EXPECT_EQ(r->cancelled[0].task_id, r->ids[0]);
  EXPECT_EQ(StateOf(r->ids[0]), TaskState::kCancelled);
}

TEST_F(CoreFixture, SubmitAfterAFailedTaskSaysItWasCancelled) {
  auto ids = SubmitOk({Exec("prep")});
  Peer w = RegisterWorker("w1", {CpuSlot("c0")});
  Schedule();
  Start(w, ids[0], 1);
  Finish(w, ids[0], 1, 3);
  ASSERT_EQ(StateOf(ids[0]), TaskState::kFailed);
  TaskSpec next = Exec("next");
  next.after = {ids[0]};
  auto r = core_->OnSubmit(Submit{{Exec("independent"), next}});
  ASSERT_TRUE(r.ok());
  Commit();
  ASSERT_EQ(r->ids.size(), 2u);
  ASSERT_EQ(r->cancelled.size(), 1u);
  EXPECT_EQ(r->cancelled[0].task_id, r->ids[1]);
  EXPECT_NE(r->cancelled[0].reason.find("dependency 1 (prep) ended FAILED"), std::string::npos) << r->cancelled[0].reason;
  EXPECT_EQ(StateOf(r->ids[1]), TaskState::kCancelled);
}

TEST_F(CoreFixture, AttemptsLostBeforeStartingHaveTheirOwnLimit) {
  auto ids = SubmitOk({Exec("never-started")});  // max_attempts 1
  Peer w = RegisterWorker("w1", {CpuSlot("c0")});
  // The worker takes every assignment and never starts it (nor reports it running).
  for (uint32_t i = 1; i < kMaxUnstartedAttempts; ++i) {
    auto as = Schedule();
    ASSERT_EQ(Ids(as), ids) << "round " << i;
    clock_.Advance(11'000);
    ASSERT_TRUE(core_->OnHeartbeat(w, Heartbeat{"w1", {}}).ok());
    Commit();
    ASSERT_EQ(StateOf(ids[0]), TaskState::kQueued) << "round " << i;
  }
  ASSERT_EQ(Ids(Schedule()), ids);
  clock_.Advance(11'000);
  ASSERT_TRUE(core_->OnHeartbeat(w, Heartbeat{"w1", {}}).ok());
  Commit();
  EXPECT_EQ(StateOf(ids[0]), TaskState::kFailed);
  EXPECT_NE(Rec(ids[0]).reason.find("lost before their process started"), std::string::npos) << Rec(ids[0]).reason;
  EXPECT_EQ(Rec(ids[0]).attempt, kMaxUnstartedAttempts);
  EXPECT_TRUE(Schedule().empty());
  // A retry gives it a fresh allowance.
  ASSERT_TRUE(core_->OnRetry(Retry{ids[0]}).ok());
  Commit();
  EXPECT_EQ(Rec(ids[0]).unstarted_attempts, 0u);
  EXPECT_EQ(Ids(Schedule()), ids);
}

}  // namespace
}  // namespace ritsu::sched::testing
