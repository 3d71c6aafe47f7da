#include "worker/task_runner.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace ritsu::worker {
namespace {

class TaskRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ritsu-runner-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ctx_.metrics_dir = dir_.string();
    ctx_.engine_path = "/opt/ritsu/ritsu-engine";
    ctx_.slots = *ParseSlotSpec("gpu0,mig:MIG-x,cpu0");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs to the end, returns all events.
  std::vector<TaskEvent> RunToEnd(const Assign& a, TaskRunner** out = nullptr) {
    std::vector<TaskEvent> all;
    {
      TaskRunner r(a, ctx_, &q_);
      if (out) *out = &r;
      for (int i = 0; i < 500; ++i) {
        for (auto& e : q_.TakeAll()) all.push_back(std::move(e));
        if (!all.empty() && all.back().type == TaskEvent::Type::kExited) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    return all;
  }
  std::filesystem::path dir_;
  LaunchContext ctx_;
  EventQueue q_;
};

TEST_F(TaskRunnerTest, EngineKindsRunTheEngineWithTheKindFirst) {
  Assign a;
  a.task_id = 7;
  a.attempt = 2;
  a.kind = TaskKind::kEval;
  a.argv = {"--data", "x.json"};
  a.slots = {"MIG-x", "0"};
  a.env = {{"CUDA_VISIBLE_DEVICES", "spoofed"}, {"HF_HOME", "/cache"}};
  std::string metrics;
  ProcessSpec spec = BuildProcessSpec(a, ctx_, &metrics);
  EXPECT_EQ(spec.argv, (std::vector<std::string>{"/opt/ritsu/ritsu-engine", "eval", "--data", "x.json"}));
  EXPECT_EQ(metrics, (dir_ / "task-7-attempt-2.json").string());
  std::map<std::string, std::string> env;
  for (auto& [k, v] : spec.env) env[k] = v;  // later entries win, as in Process::Start
  EXPECT_EQ(env["CUDA_VISIBLE_DEVICES"], "MIG-x,0");
  EXPECT_EQ(env["HF_HOME"], "/cache");
  EXPECT_EQ(env["RITSU_TASK_ID"], "7");
  EXPECT_EQ(env["RITSU_ATTEMPT"], "2");
  EXPECT_EQ(env["RITSU_METRICS_FILE"], metrics);
}

TEST_F(TaskRunnerTest, ExecRunsArgvAndReportsEventsInOrder) {
  Assign a;
  a.task_id = 1;
  a.attempt = 1;
  a.argv = {"/bin/sh", "-c", "echo hi; echo oops >&2; echo '{\"accuracy\": 0.75}' > \"$RITSU_METRICS_FILE\"; exit 4"};
  a.slots = {"cpu0"};
  std::vector<TaskEvent> ev = RunToEnd(a);
  ASSERT_GE(ev.size(), 4u);
  EXPECT_EQ(ev.front().type, TaskEvent::Type::kStarted);
  EXPECT_GT(ev.front().pid, 0);
  EXPECT_EQ(ev.back().type, TaskEvent::Type::kExited);
  EXPECT_EQ(ev.back().result.exit_code, 4);
  std::string out, err;
  for (auto& e : ev) {
    if (e.type != TaskEvent::Type::kOutput) continue;
    (e.stream == LogStream::kStdout ? out : err) += e.data;
  }
  EXPECT_EQ(out, "hi\n");
  EXPECT_EQ(err, "oops\n");
  std::string problem;
  EXPECT_EQ(ReadMetricsFile((dir_ / "task-1-attempt-1.json").string(), &problem), "{\"accuracy\":0.75}");
  EXPECT_EQ(problem, "");
}

TEST_F(TaskRunnerTest, MetricsFileThatIsNotAnObjectIsIgnoredWithAReason) {
  std::filesystem::create_directories(dir_);
  auto path = (dir_ / "m.json").string();
  std::ofstream(path) << "[1, 2, 3]";
  std::string problem;
  EXPECT_EQ(ReadMetricsFile(path, &problem), "");
  EXPECT_NE(problem.find("not one JSON object"), std::string::npos);
  problem.clear();
  EXPECT_EQ(ReadMetricsFile((dir_ / "missing.json").string(), &problem), "");
  EXPECT_EQ(problem, "");
}

TEST_F(TaskRunnerTest, CancelBeforeStartNeverRunsTheCommand) {
  Assign a;
  a.task_id = 3;
  a.attempt = 1;
  auto marker = dir_ / "ran";
  a.argv = {"/bin/sh", "-c", "sleep 0.2; touch " + marker.string()};
  std::vector<TaskEvent> all;
  {
    TaskRunner r(a, ctx_, &q_);
    r.Cancel(std::chrono::milliseconds(0));
    for (int i = 0; i < 300; ++i) {
      for (auto& e : q_.TakeAll()) all.push_back(std::move(e));
      if (!all.empty() && all.back().type == TaskEvent::Type::kExited) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.back().type, TaskEvent::Type::kExited);
  EXPECT_TRUE(all.back().result.cancelled);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(std::filesystem::exists(marker));
}

}  // namespace
}  // namespace ritsu::worker
