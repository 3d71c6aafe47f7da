#include "common/task.h"
#include "common/spec_check.h"

#include <gtest/gtest.h>

namespace ritsu {
namespace {

TEST(TaskTest, StateAndKindNamesRoundTrip) {
  for (int i = 0; i < kNumTaskStates; ++i) {
    auto s = static_cast<TaskState>(i);
    auto back = ParseTaskState(TaskStateName(s));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(*ParseTaskState("running"), TaskState::kRunning);
  EXPECT_FALSE(ParseTaskState("DONE").ok());
  EXPECT_EQ(*ParseTaskKind("eval"), TaskKind::kEval);
  EXPECT_FALSE(ParseTaskKind("finetune").ok());
  EXPECT_TRUE(IsTerminal(TaskState::kCancelled));
  EXPECT_FALSE(IsTerminal(TaskState::kRunning));
  // CANCELLING: stored as 7 (after every older state), not final.
  EXPECT_EQ(static_cast<int>(TaskState::kCancelling), 7);
  EXPECT_EQ(kNumTaskStates, 8);
  EXPECT_STREQ(TaskStateName(TaskState::kCancelling), "CANCELLING");
  EXPECT_FALSE(IsTerminal(TaskState::kCancelling));
}

TEST(TaskTest, KillGraceIsValidated) {
  TaskSpec s;
  s.argv = {"true"};
  s.kill_grace_ms = 30'000;
  EXPECT_TRUE(ValidateSpec(s, "t").ok());
  s.kill_grace_ms = -1;
  Status st = ValidateSpec(s, "tasks[0]");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("tasks[0].kill_grace_ms"), std::string::npos) << st.message();
  s.kill_grace_ms = kMaxKillGraceMs + 1;
  EXPECT_FALSE(ValidateSpec(s, "t").ok());
}

}  // namespace
}  // namespace ritsu
