// The scheduler state machine driven directly: submissions, placement order, the life of an
// attempt, failures, lost workers, restart reconciliation, logs, cancel/retry, sweeps.
#include "scheduler/core.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "scheduler/tests/core_fixture.h"

namespace ritsu::sched {
namespace {

using testing::CoreFixture;
using testing::CpuSlot;
using testing::Exec;
using testing::GpuSlot;

std::vector<TaskId> Ids(const std::vector<Assign>& as) {
  std::vector<TaskId> out;
  for (const auto& a : as) out.push_back(a.task_id);
  return out;
}

TEST_F(CoreFixture, PlacesByPriorityThenSubmissionOrder) {
  auto ids = SubmitOk({Exec("a", 0), Exec("b", 5), Exec("c", 0), Exec("d", 5), Exec("e", -1)});
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_TRUE(Schedule().empty());  // no worker yet
  EXPECT_EQ(Rec(ids[0]).reason, "no worker is registered yet");
  Peer w = RegisterWorker("w1", {CpuSlot("c0"), CpuSlot("c1"), CpuSlot("c2")});
  auto as = Schedule();
  // b and d (priority 5) first in submission order, then a (priority 0, first submitted).
  EXPECT_EQ(Ids(as), (std::vector<TaskId>{ids[1], ids[3], ids[0]}));
  EXPECT_EQ(as[0].slots, std::vector<std::string>{"c0"});
  EXPECT_EQ(as[0].attempt, 1u);
  EXPECT_EQ(StateOf(ids[1]), TaskState::kAssigned);
  EXPECT_EQ(StateOf(ids[2]), TaskState::kQueued);
  // A finish frees a slot: c (priority 0, before e) goes next.
  Start(w, ids[1], 1);
  EXPECT_EQ(StateOf(ids[1]), TaskState::kRunning);
  Finish(w, ids[1], 1, 0, R"({"accuracy":0.61})");
  EXPECT_EQ(StateOf(ids[1]), TaskState::kSucceeded);
  EXPECT_EQ(Rec(ids[1]).metrics_json, R"({"accuracy":0.61})");
  // `ritsu status` rows carry the metrics too (no per-row `show`).
  auto status = core_->OnStatus(StatusRequest{});
  ASSERT_TRUE(status.ok());
  int rows_with_metrics = 0;
  for (const auto& row : status->tasks) {
    if (row.id == ids[1]) {
      EXPECT_EQ(row.metrics_json, R"({"accuracy":0.61})");
    }
    if (!row.metrics_json.empty()) ++rows_with_metrics;
  }
  EXPECT_EQ(rows_with_metrics, 1);
  EXPECT_EQ(Ids(Schedule()), std::vector<TaskId>{ids[2]});
  EXPECT_EQ(core_->meta().counts[static_cast<int>(TaskState::kSucceeded)], 1u);
  EXPECT_EQ(core_->meta().counts[static_cast<int>(TaskState::kAssigned)], 3u);
  EXPECT_EQ(core_->meta().counts[static_cast<int>(TaskState::kQueued)], 1u);
}

TEST_F(CoreFixture, DependenciesQueueOnSuccessAndCancelOnFailure) {
  auto ids = SubmitOk({Exec("train"), Exec("eval"), Exec("merge")});
  TaskSpec eval2 = Exec("eval-after-train");
  eval2.after = {ids[0]};
  TaskSpec chain = Exec("report");
  chain.after_in_batch = {0};
  auto deps = SubmitOk({eval2, chain});
  EXPECT_EQ(StateOf(deps[0]), TaskState::kPending);
  EXPECT_EQ(StateOf(deps[1]), TaskState::kPending);
  EXPECT_EQ(Rec(deps[1]).spec.after, std::vector<TaskId>{deps[0]});

  Peer w = RegisterWorker("w1", {CpuSlot("c0")});
  auto as = Schedule();
  ASSERT_EQ(Ids(as), std::vector<TaskId>{ids[0]});
  Finish(w, ids[0], 1, 0);
  EXPECT_EQ(StateOf(deps[0]), TaskState::kQueued);
  EXPECT_EQ(StateOf(deps[1]), TaskState::kPending);

  // Next: ids[1] runs (submitted before deps[0]) and fails; nothing depends on it.
  ASSERT_EQ(Ids(Schedule()), std::vector<TaskId>{ids[1]});
  Finish(w, ids[1], 1, 3);
  EXPECT_EQ(StateOf(ids[1]), TaskState::kFailed);
  EXPECT_EQ(Rec(ids[1]).reason, "exit code 3");
  ASSERT_EQ(Ids(Schedule()), std::vector<TaskId>{ids[2]});
  Finish(w, ids[2], 1, 0);
  ASSERT_EQ(Ids(Schedule()), std::vector<TaskId>{deps[0]});
  Finish(w, deps[0], 1, 1);  // eval fails: report is cancelled with the reason
  EXPECT_EQ(StateOf(deps[1]), TaskState::kCancelled);
  EXPECT_NE(Rec(deps[1]).reason.find(fmt::format("dependency {} (eval-after-train) ended FAILED", deps[0])),
            std::string::npos) << Rec(deps[1]).reason;

  // A new task after a failed one is cancelled at once; after a missing one is refused.
  TaskSpec late = Exec("late");
  late.after = {ids[1]};
  auto l = SubmitOk({late});
  EXPECT_EQ(StateOf(l[0]), TaskState::kCancelled);
  TaskSpec bad = Exec("bad");
  bad.after = {9999};
  uint64_t before = core_->meta().next_task_id;
  auto r = core_->OnSubmit(Submit{{Exec("fine"), bad}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_NE(r.status().message().find("tasks[1].after: task 9999 does not exist"), std::string::npos);
  EXPECT_EQ(core_->meta().next_task_id, before);  // nothing of the batch was created
  EXPECT_FALSE(core_->HasPendingWrites());
}

TEST_F(CoreFixture, RejectsBadSpecsAndBatchCycles) {
  TaskSpec empty;
  auto r = core_->OnSubmit(Submit{{empty}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("tasks[0].argv"), std::string::npos);
  TaskSpec a = Exec("a"), b = Exec("b");
  a.after_in_batch = {1};
  b.after_in_batch = {0};
  r = core_->OnSubmit(Submit{{a, b}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cycle"), std::string::npos);
}

TEST_F(CoreFixture, LostWorkerRequeuesThenFailsWhenAttemptsRunOut) {
  TaskSpec s = Exec("flaky");
  s.max_attempts = 2;
  auto ids = SubmitOk({s});
  Peer w1 = RegisterWorker("w1", {CpuSlot("c0")});
  ASSERT_EQ(Ids(Schedule()), ids);
  Start(w1, ids[0], 1);
  clock_.Advance(5'000);
  core_->Tick();
  EXPECT_EQ(StateOf(ids[0]), TaskState::kRunning);  // within the timeout
  clock_.Advance(6'000);
  core_->Tick();
  Commit();
  EXPECT_EQ(StateOf(ids[0]), TaskState::kQueued);
  EXPECT_NE(Rec(ids[0]).reason.find("attempt 1 of 2 failed: worker w1 lost"), std::string::npos) << Rec(ids[0]).reason;
  EXPECT_TRUE(Schedule().empty());  // w1 is lost: nothing placed there

  Peer w2 = RegisterWorker("w2", {CpuSlot("c0")});
  auto as = Schedule();
  ASSERT_EQ(Ids(as), ids);
  EXPECT_EQ(as[0].attempt, 2u);
  Start(w2, ids[0], 2);
  // The lost worker comes back and reports attempt 1 finished: ignored (stale attempt).
  auto hb = core_->OnHeartbeat(w1, Heartbeat{"w1", {}});
  ASSERT_TRUE(hb.ok());
  EXPECT_TRUE(hb->reregister);
  auto stale = core_->OnFinished(w1, Finished{ids[0], 1, 0, 0, 10, 0, "", "", false});
  EXPECT_FALSE(stale.ok());  // this connection is not registered any more
  clock_.Advance(11'000);
  core_->Tick();
  Commit();
  EXPECT_EQ(StateOf(ids[0]), TaskState::kFailed);
  EXPECT_NE(Rec(ids[0]).reason.find("all 2 attempts failed"), std::string::npos);
  auto show = core_->OnShow(Show{ids[0]});
  ASSERT_TRUE(show.ok());
  ASSERT_EQ(show->attempts.size(), 2u);
  EXPECT_EQ(show->attempts[0].worker, "w1");
  EXPECT_EQ(show->attempts[1].worker, "w2");
  EXPECT_NE(show->attempts[1].error.find("lost"), std::string::npos);
}

TEST_F(CoreFixture, RestartReconcilesWithReturningWorkers) {
  auto ids = SubmitOk({Exec("kept"), Exec("forgotten"), Exec("queued")});
  Peer w = RegisterWorker("w1", {CpuSlot("c0"), CpuSlot("c1")});
  ASSERT_EQ(Ids(Schedule()), (std::vector<TaskId>{ids[0], ids[1]}));
  Start(w, ids[0], 1);
  Start(w, ids[1], 1);

  Reopen();  // scheduler restart: everything comes back from the store
  EXPECT_EQ(StateOf(ids[0]), TaskState::kRunning);
  EXPECT_EQ(StateOf(ids[2]), TaskState::kQueued);
  EXPECT_EQ(core_->queued_count(), 1u);
  EXPECT_TRUE(Schedule().empty());  // the worker has not re-registered with this process

  // The worker returns still running ids[0] (and a task the scheduler never gave it).
  RegisterWorker("w1", {CpuSlot("c0"), CpuSlot("c1")}, {TaskAttemptRef{ids[0], 1}, TaskAttemptRef{777, 1}});
  ASSERT_EQ(last_register_.cancel.size(), 1u);
  EXPECT_EQ(last_register_.cancel[0].task_id, 777u);
  EXPECT_EQ(StateOf(ids[0]), TaskState::kRunning);
  EXPECT_EQ(StateOf(ids[1]), TaskState::kFailed);  // max_attempts 1, worker lost it
  EXPECT_NE(Rec(ids[1]).reason.find("re-registered without"), std::string::npos);
  auto as = Schedule();
  EXPECT_EQ(Ids(as), std::vector<TaskId>{ids[2]});
  EXPECT_EQ(as[0].slots, std::vector<std::string>{"c1"});  // c0 still busy with ids[0]
}

TEST_F(CoreFixture, AnAssignmentLostBeforeStartingDoesNotUseAnAttempt) {
  auto ids = SubmitOk({Exec("once")});  // max_attempts 1
  RegisterWorker("w1", {CpuSlot("c0")});
  ASSERT_EQ(Ids(Schedule()), ids);
  // Scheduler restart: the assign never reached the worker, which returns running nothing.
  Reopen();
  RegisterWorker("w1", {CpuSlot("c0")});
  EXPECT_EQ(StateOf(ids[0]), TaskState::kQueued);
  EXPECT_NE(Rec(ids[0]).reason.find("attempt 1 never started"), std::string::npos) << Rec(ids[0]).reason;
  auto as = Schedule();
  ASSERT_EQ(Ids(as), ids);
  EXPECT_EQ(as[0].attempt, 2u);
  // A started attempt that is lost does count: max_attempts 1 -> FAILED.
  Peer w = RegisterWorker("w1", {CpuSlot("c0")}, {TaskAttemptRef{ids[0], 2}});
  Start(w, ids[0], 2);
  clock_.Advance(11'000);
  core_->Tick();
  Commit();
  EXPECT_EQ(StateOf(ids[0]), TaskState::kFailed);
}

TEST_F(CoreFixture, TaskOfAWorkerThatNeverReturnsIsRequeuedAfterTheTimeout) {
  TaskSpec s = Exec("t");
  s.max_attempts = 3;
  auto ids = SubmitOk({s});
  Peer w = RegisterWorker("w1", {CpuSlot("c0")});
  Schedule();
  Start(w, ids[0], 1);
  Reopen();
  clock_.Advance(9'000);
  core_->Tick();
  EXPECT_EQ(StateOf(ids[0]), TaskState::kRunning);
  clock_.Advance(2'000);
  core_->Tick();
  Commit();
  EXPECT_EQ(StateOf(ids[0]), TaskState::kQueued);
}

TEST_F(CoreFixture, LogsAreStoredInOrderDeduplicatedAndServedByOffset) {
  auto ids = SubmitOk({Exec("logger")});
  Peer w = RegisterWorker("w1", {CpuSlot("c0")});
  Schedule();
  Start(w, ids[0], 1);
  auto chunk = [&](LogStream s, uint64_t off, std::string data) {
    auto r = core_->OnLogChunk(w, LogChunk{ids[0], 1, s, off, std::move(data)});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    Commit();
    return r.ok() ? r->acked_offset : 0;
  };
  EXPECT_EQ(chunk(LogStream::kStdout, 0, "hello\n"), 6u);
  EXPECT_EQ(chunk(LogStream::kStderr, 0, "warn\n"), 5u);
  EXPECT_EQ(chunk(LogStream::kStdout, 3, "lo\nworld\n"), 12u);  // overlaps: only "world\n" new
  EXPECT_EQ(chunk(LogStream::kStdout, 0, "hello\n"), 12u);      // full duplicate
  EXPECT_EQ(chunk(LogStream::kStdout, 20, "gap"), 12u);          // gap: resend from 12

  auto r = core_->OnLogs(Logs{ids[0], 0, 0, 0, 0});
  ASSERT_TRUE(r.ok() && r->has_value());
  std::string all;
  for (const auto& p : (*r)->pieces) all += p.data;
  EXPECT_EQ(all, "hello\nwarn\nworld\n");
  EXPECT_EQ((*r)->next_offset, 17u);
  EXPECT_FALSE((*r)->complete);
  ASSERT_EQ((*r)->pieces.size(), 3u);
  EXPECT_EQ((*r)->pieces[1].stream, LogStream::kStderr);
  // From the middle of a chunk.
  auto mid = core_->OnLogs(Logs{ids[0], 1, 8, 0, 0});
  ASSERT_TRUE(mid.ok() && mid->has_value());
  EXPECT_EQ((*mid)->pieces[0].data, "rn\n");
  EXPECT_EQ((*mid)->pieces[0].offset, 8u);
  // Nothing new yet and a wait asked: park (nullopt).
  auto parked = core_->OnLogs(Logs{ids[0], 1, 17, 0, 1000});
  ASSERT_TRUE(parked.ok());
  EXPECT_FALSE(parked->has_value());
  // Attempt over: complete.
  Finish(w, ids[0], 1, 0);
  auto end = core_->OnLogs(Logs{ids[0], 1, 17, 0, 1000});
  ASSERT_TRUE(end.ok() && end->has_value());
  EXPECT_TRUE((*end)->complete);
  EXPECT_TRUE((*end)->pieces.empty());
  // The byte counters survived in the stored attempt.
  auto show = core_->OnShow(Show{ids[0]});
  EXPECT_EQ(show->attempts[0].log_bytes, 17u);
  EXPECT_EQ(show->attempts[0].stdout_bytes, 12u);
  EXPECT_EQ(show->attempts[0].stderr_bytes, 5u);
}

TEST_F(CoreFixture, CancelStopsRunningAndQueuedTasks) {
  TaskSpec slow = Exec("running");
  slow.kill_grace_ms = 2500;
  auto ids = SubmitOk({slow, Exec("queued")});
  Peer w = RegisterWorker("w1", {CpuSlot("c0")});
  Schedule();
  Start(w, ids[0], 1);
  auto r = core_->OnCancel(Cancel{{ids[0], ids[1]}, 0, ""});
  ASSERT_TRUE(r.ok());
  Commit();
  EXPECT_EQ(r->cancelled.size(), 2u);
  // The running one is CANCELLING until its processes are gone; the queued one ends at once.
  EXPECT_EQ(StateOf(ids[0]), TaskState::kCancelling);
  EXPECT_EQ(StateOf(ids[1]), TaskState::kCancelled);
  EXPECT_EQ(Rec(ids[1]).reason, "cancelled by user");
  EXPECT_EQ(core_->meta().counts[static_cast<int>(TaskState::kCancelling)], 1u);
  EXPECT_EQ(core_->meta().counts[static_cast<int>(TaskState::kRunning)], 0u);
  auto out = core_->TakeOutbox();
  ASSERT_EQ(out.size(), 1u);
  auto m = Decode(out[0].frame);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->type, MsgType::kCancelTask);
  EXPECT_EQ(m->As<CancelTask>()->task_id, ids[0]);
  EXPECT_EQ(m->As<CancelTask>()->grace_ms, 2500);  // the task's --kill-grace
  EXPECT_EQ(out[0].routing_id, w.routing_id);
  // Not final: it cannot be retried yet, and cancelling it again changes nothing.
  EXPECT_FALSE(core_->OnRetry(Retry{ids[0]}).ok());
  ASSERT_TRUE(core_->OnCancel(Cancel{{ids[0]}, 0, "again"}).ok());
  Commit();
  EXPECT_TRUE(core_->TakeOutbox().empty());
  EXPECT_EQ(Rec(ids[0]).reason, "cancelled by user");
  // The slot stays busy until the worker reports the attempt finished.
  auto more = SubmitOk({Exec("next")});
  EXPECT_TRUE(Schedule().empty());
  Finish(w, ids[0], 1, -1);
  EXPECT_EQ(StateOf(ids[0]), TaskState::kCancelled);
  EXPECT_EQ(Rec(ids[0]).reason, "cancelled by user");
  EXPECT_EQ(core_->meta().counts[static_cast<int>(TaskState::kCancelling)], 0u);
  EXPECT_EQ(Ids(Schedule()), more);
  // Cancelling again reports it as already final; an unknown id is an error.
  auto again = core_->OnCancel(Cancel{{ids[0]}, 0, ""});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->already_final, std::vector<TaskId>{ids[0]});
  EXPECT_FALSE(core_->OnCancel(Cancel{{4242}, 0, ""}).ok());
  // Retry brings it back with the next attempt number.
  auto rt = core_->OnRetry(Retry{ids[1]});
  ASSERT_TRUE(rt.ok()) << rt.status().ToString();
  Commit();
  EXPECT_EQ(StateOf(ids[1]), TaskState::kQueued);
  EXPECT_FALSE(core_->OnRetry(Retry{ids[1]}).ok());  // not final any more
}

TEST_F(CoreFixture, ImpossibleRequestStaysQueuedWithAVisibleReason) {
  auto ids = SubmitOk({Exec("huge", 0, 4), Exec("small", 0, 1)});
  RegisterWorker("heart01", {GpuSlot("MIG-a", 20), GpuSlot("MIG-b", 20)});
  auto as = Schedule();
  EXPECT_EQ(Ids(as), std::vector<TaskId>{ids[1]});
  EXPECT_EQ(StateOf(ids[0]), TaskState::kQueued);
  EXPECT_NE(Rec(ids[0]).reason.find("no worker could ever hold it: needs 4 GPU slot(s)"), std::string::npos)
      << Rec(ids[0]).reason;
  auto st = core_->OnStatus(StatusRequest{{TaskState::kQueued}, 0, false, 0, {}});
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(st->tasks.size(), 1u);
  EXPECT_NE(st->tasks[0].reason.find("could ever hold"), std::string::npos);
  auto ex = core_->OnExplain(Explain{ids[0]});
  ASSERT_TRUE(ex.ok());
  EXPECT_NE(ex->reasons[0].find("could ever hold"), std::string::npos);
}

TEST_F(CoreFixture, DrainedWorkerGetsNothingNew) {
  auto ids = SubmitOk({Exec("a")});
  RegisterWorker("w1", {CpuSlot("c0")});
  ASSERT_TRUE(core_->OnDrain(Drain{"w1", false}).ok());
  Commit();
  EXPECT_TRUE(Schedule().empty());
  auto ws = core_->OnWorkers(Workers{});
  ASSERT_EQ(ws->workers.size(), 1u);
  EXPECT_EQ(ws->workers[0].state, WorkerState::kDraining);
  EXPECT_FALSE(core_->OnDrain(Drain{"nope", false}).ok());
  ASSERT_TRUE(core_->OnDrain(Drain{"w1", true}).ok());
  Commit();
  EXPECT_EQ(Ids(Schedule()), ids);
}

TEST_F(CoreFixture, StatusCountsAndFilters) {
  auto ids = SubmitOk({Exec("a"), Exec("b"), Exec("c")});
  Peer w = RegisterWorker("w1", {CpuSlot("c0")});
  Schedule();
  Finish(w, ids[0], 1, 0);
  auto sum = core_->OnStatus(StatusRequest{{}, 0, true, 0, {}});
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(sum->counts["SUCCEEDED"], 1u);
  EXPECT_EQ(sum->counts["QUEUED"], 2u);
  EXPECT_EQ(sum->counts["RUNNING"], 0u);
  EXPECT_TRUE(sum->tasks.empty());
  auto all = core_->OnStatus(StatusRequest{{}, 0, false, 2, {}});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->tasks.size(), 2u);
  EXPECT_EQ(all->tasks[0].id, ids[2]);  // newest first
  EXPECT_TRUE(all->truncated);
  auto done = core_->OnStatus(StatusRequest{{TaskState::kSucceeded}, 0, false, 0, {}});
  ASSERT_EQ(done->tasks.size(), 1u);
  EXPECT_EQ(done->tasks[0].id, ids[0]);
  // Counters survive a restart.
  Reopen();
  auto again = core_->OnStatus(StatusRequest{{}, 0, true, 0, {}});
  EXPECT_EQ(again->counts, sum->counts);
}

TEST_F(CoreFixture, SweepExpandsIntoChainsAndRespectsMaxConcurrent) {
  SweepSubmit ss;
  ss.file_name = "grid.toml";
  ss.toml = R"(
[sweep]
name = "g"
max_concurrent = 1
[grid]
lr = ["1e-4", "2e-4"]
[trial]
output = "runs/lr{lr}"
[[step]]
name = "train"
argv = ["train", "--lr", "{lr}", "--out", "{trial.output}"]
[[step]]
name = "eval"
after = ["train"]
argv = ["eval", "{trial.output}"]
)";
  ss.base_dir = "/home/lab/sweeps";
  auto r = core_->OnSweepSubmit(ss);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  Commit();
  EXPECT_EQ(r->trials, 2u);
  EXPECT_EQ(Rec(r->task_ids[0]).spec.cwd, "/home/lab/sweeps");
  EXPECT_EQ(Rec(r->task_ids[0]).spec.sweep_id, r->sweep_id);
  ASSERT_EQ(r->task_ids.size(), 4u);
  EXPECT_EQ(StateOf(r->task_ids[1]), TaskState::kPending);  // eval of trial 0
  Peer w = RegisterWorker("w1", {CpuSlot("c0"), CpuSlot("c1")});
  auto as = Schedule();
  ASSERT_EQ(as.size(), 1u);  // cap 1 although two slots are free
  EXPECT_EQ(as[0].argv, (std::vector<std::string>{"train", "--lr", "1e-4", "--out", "runs/lr1e-4"}));
  EXPECT_NE(Rec(r->task_ids[2]).reason.find("max_concurrent"), std::string::npos);
  Finish(w, as[0].task_id, 1, 0, R"({"loss":1.5})");
  auto next = Schedule();
  ASSERT_EQ(next.size(), 1u);
  // Tasks keep their submission order (trial, then step), so trial 0's eval comes before
  // trial 1's train: a started trial finishes first.
  EXPECT_EQ(next[0].task_id, r->task_ids[1]);
  auto st = core_->OnSweepStatus(SweepStatus{r->sweep_id, {}});
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(st->trials.size(), 2u);
  EXPECT_EQ(st->trials[0].params.at("lr"), "1e-4");
  EXPECT_EQ(st->trials[0].steps[0].step, "train");
  EXPECT_EQ(st->trials[0].steps[0].state, TaskState::kSucceeded);
  EXPECT_EQ(st->trials[0].steps[0].metrics_json, R"({"loss":1.5})");
  EXPECT_EQ(st->counts["SUCCEEDED"], 1u);
  // Cancel the whole sweep.
  auto c = core_->OnCancel(Cancel{{}, r->sweep_id, ""});
  ASSERT_TRUE(c.ok());
  Commit();
  EXPECT_EQ(c->cancelled.size(), 3u);
  EXPECT_FALSE(core_->OnSweepSubmit(SweepSubmit{"bad.toml", "[grid\n", ""}).ok());
}

TEST_F(CoreFixture, WaitReportsFinalStates) {
  auto ids = SubmitOk({Exec("a")});
  auto w0 = core_->OnWait(Wait{ids, 1000});
  ASSERT_TRUE(w0.ok());
  EXPECT_FALSE(w0->all_final);
  Peer w = RegisterWorker("w1", {CpuSlot("c0")});
  Schedule();
  Finish(w, ids[0], 1, 0);
  auto w1 = core_->OnWait(Wait{ids, 1000});
  EXPECT_TRUE(w1->all_final);
  EXPECT_EQ(w1->tasks[0].state, TaskState::kSucceeded);
  EXPECT_FALSE(core_->OnWait(Wait{{999}, 0}).ok());
}

}  // namespace
}  // namespace ritsu::sched
