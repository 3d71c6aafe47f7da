#include "common/task.h"

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
}

}  // namespace
}  // namespace ritsu
