// Preemption end to end: `ritsu drain WORKER --requeue` and a worker stopped by SIGTERM ask
// their tasks to checkpoint; a task that does (exit 75) is requeued onto another worker without
// using up max_attempts and resumes from its checkpoint there.
#include <csignal>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/harness.h"

namespace ritsu::itest {
namespace {

using namespace std::chrono_literals;

// Resumes from ./ckpt-ID if present; else works until SIGTERM, then writes the checkpoint and
// exits 75 (what the trainer does).
std::vector<std::string> CheckpointingTask() {
  return {"/bin/sh", "-c",
          "ck=ckpt-$RITSU_TASK_ID; echo attempt $RITSU_ATTEMPT; "
          "if [ -f $ck ]; then echo resumed from step $(cat $ck); exit 0; fi; "
          "trap 'echo checkpoint; echo 7 > $ck; exit 75' TERM; echo ready; while :; do sleep 0.05; done"};
}

void ExpectPreemptedThenSucceeded(Cluster& c, uint64_t id, const std::string& first, const std::string& second) {
  CmdResult w = c.Ritsu({"wait", std::to_string(id), "--timeout", "60s"}, 90s);
  ASSERT_EQ(w.code, 0) << w.out << w.err << c.Logs();
  auto j = c.Show(id);
  EXPECT_EQ(j["state"], "SUCCEEDED");
  ASSERT_EQ(j["attempts"].size(), 2u) << j.dump(2);
  EXPECT_EQ(j["spec"]["max_attempts"], 1);
  EXPECT_EQ(j["preempted_attempts"], 1);
  EXPECT_EQ(j["attempts"][0]["worker"], first);
  EXPECT_EQ(j["attempts"][0]["outcome"], "PREEMPTED");
  EXPECT_EQ(j["attempts"][0]["exit_code"], 75);
  EXPECT_EQ(j["attempts"][1]["worker"], second);
  EXPECT_EQ(j["attempts"][1]["outcome"], "SUCCEEDED");
  EXPECT_EQ(c.Ritsu({"logs", std::to_string(id), "--attempt", "1"}).out, "attempt 1\nready\ncheckpoint\n");
  EXPECT_EQ(c.Ritsu({"logs", std::to_string(id), "--attempt", "2"}).out, "attempt 2\nresumed from step 7\n");
  CmdResult show = c.Ritsu({"show", std::to_string(id)});
  EXPECT_NE(show.out.find("PREEMPTED"), std::string::npos) << show.out;
}

TEST(Preempt, DrainRequeueMovesACheckpointingTaskWithoutUsingAnAttempt) {
  Cluster c;
  c.StartScheduler();
  c.StartWorker("wa", "cpu0");
  uint64_t id = c.SubmitExec({"--max-attempts", "1"}, CheckpointingTask());
  ASSERT_TRUE(WaitFor([&] { return c.Ritsu({"logs", std::to_string(id)}).out == "attempt 1\nready\n"; }, 20s))
      << c.Ritsu({"logs", std::to_string(id)}).out << c.Logs();
  c.StartWorker("wb", "cpu0");
  CmdResult d = c.Ritsu({"drain", "wa", "--requeue"});
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_NE(d.out.find("checkpoint and move"), std::string::npos) << d.out;
  ExpectPreemptedThenSucceeded(c, id, "wa", "wb");
}

TEST(Preempt, WorkerStoppedBySigtermPreemptsItsTask) {
  Cluster c;
  c.StartScheduler();
  c.StartWorker("wa", "cpu0");
  uint64_t id = c.SubmitExec({}, CheckpointingTask());
  ASSERT_TRUE(WaitFor([&] { return c.Ritsu({"logs", std::to_string(id)}).out == "attempt 1\nready\n"; }, 20s))
      << c.Logs();
  c.worker("wa")->Kill(SIGTERM);
  ASSERT_EQ(c.worker("wa")->Wait(20s), 0) << c.Logs();
  c.StartWorker("wb", "cpu0");
  ExpectPreemptedThenSucceeded(c, id, "wa", "wb");
}

TEST(Preempt, UserCancelStillCancelsATaskThatExitsSeventyFive) {
  Cluster c;
  c.StartScheduler();
  c.StartWorker("wa", "cpu0");
  uint64_t id = c.SubmitExec({"--max-attempts", "3"}, CheckpointingTask());
  ASSERT_TRUE(WaitFor([&] { return c.Ritsu({"logs", std::to_string(id)}).out == "attempt 1\nready\n"; }, 20s));
  ASSERT_EQ(c.Ritsu({"cancel", std::to_string(id)}).code, 0);
  CmdResult w = c.Ritsu({"wait", std::to_string(id), "--timeout", "30s"}, 40s);
  EXPECT_EQ(w.code, 1);
  EXPECT_EQ(c.State(id), "CANCELLED");
  EXPECT_EQ(c.Show(id)["attempts"].size(), 1u);
}

}  // namespace
}  // namespace ritsu::itest
