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

TEST(TaskTest, ValidateSpecNamesTheField) {
  TaskSpec s;
  Status st = ValidateSpec(s, "tasks[3]");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().rfind("tasks[3].argv", 0), 0u) << st.message();
  s.argv = {"true"};
  EXPECT_TRUE(ValidateSpec(s, "t").ok());
  s.max_attempts = 0;
  EXPECT_NE(ValidateSpec(s, "t").message().find("max_attempts"), std::string::npos);
  s.max_attempts = 1;
  s.env["A=B"] = "x";
  EXPECT_NE(ValidateSpec(s, "t").message().find("env"), std::string::npos);
}

}  // namespace
}  // namespace ritsu
