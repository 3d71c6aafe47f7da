// The start-up reaper pass: processes a previous incarnation of the worker left running are
// found by recorded identity (pid + start time) and by their attempt token, and killed; a
// recorded pid that now belongs to another process (start time differs) is left alone.
#include "worker/attempt_registry.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "worker/process.h"

namespace ritsu::worker {
namespace {

// Starts `sleep 300` with an optional extra environment entry; the test reaps it.
pid_t StartSleeper(const std::string& env_entry) {
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string entry = env_entry;
    char* envp[] = {entry.empty() ? nullptr : entry.data(), nullptr};
    const char* argv[] = {"/bin/sleep", "300", nullptr};
    ::execve(argv[0], const_cast<char* const*>(argv), envp);
    ::_exit(127);
  }
  // Wait until it runs sleep (its start time is stable from fork on; exec must be done so the
  // environment check sees the token).
  for (int i = 0; i < 200; ++i) {
    std::error_code ec;
    if (std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec).filename() == "sleep") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pid;
}

// Reaps pid if it died; true if it is gone within ~2 s.
bool Dies(pid_t pid) {
  for (int i = 0; i < 100; ++i) {
    int st;
    if (::waitpid(pid, &st, WNOHANG) == pid) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

class AttemptRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ritsu-registry-test-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(AttemptRegistryTest, IdentityNeedsTheSameStartTime) {
  pid_t pid = StartSleeper("");
  ProcIdentity id = IdentityOf(pid);
  EXPECT_GT(id.start_ticks, 0u);
  EXPECT_TRUE(StillRunning(id));
  EXPECT_FALSE(StillRunning({id.pid, id.start_ticks + 1}));  // a reused pid is not "the same"
  ::kill(pid, SIGKILL);
  ASSERT_TRUE(Dies(pid));
  EXPECT_FALSE(StillRunning(id));
}

TEST_F(AttemptRegistryTest, ReaperKillsRecordedAndTokenMarkedProcessesOnly) {
  pid_t by_identity = StartSleeper("");
  pid_t by_token = StartSleeper(std::string(kAttemptTokenEnv) + "=tok-123");
  pid_t bystander = StartSleeper(std::string(kAttemptTokenEnv) + "=someone-else");
  pid_t reused = StartSleeper("");

  AttemptRegistry reg((dir_ / "running").string());
  ASSERT_TRUE(reg.Record({7, 1, "tok-123", {}, IdentityOf(by_identity)}).ok());
  // Recorded with a start time that is not this process's: its pid was "reused".
  ProcIdentity stale = IdentityOf(reused);
  stale.start_ticks += 1;
  ASSERT_TRUE(reg.Record({8, 2, "tok-other-unused", stale, {}}).ok());
  std::vector<std::string> problems;
  EXPECT_EQ(reg.List(&problems).size(), 2u);

  auto lines = reg.ReapLeftovers();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("task 7 attempt 1: killed 2 process(es)"), std::string::npos) << lines[0];
  EXPECT_TRUE(Dies(by_identity));
  EXPECT_TRUE(Dies(by_token));
  int st;
  EXPECT_EQ(::waitpid(bystander, &st, WNOHANG), 0) << "a process of another attempt was killed";
  EXPECT_EQ(::waitpid(reused, &st, WNOHANG), 0) << "a reused pid was killed";
  EXPECT_TRUE(reg.List(&problems).empty()) << "records are forgotten after the pass";
  for (pid_t p : {bystander, reused}) { ::kill(p, SIGKILL); Dies(p); }
}

TEST_F(AttemptRegistryTest, UnreadableRecordIsReportedAndRemoved) {
  std::filesystem::create_directories(dir_ / "running");
  { std::ofstream(dir_ / "running" / "task-1-attempt-1.json") << "{not json"; }
  AttemptRegistry reg((dir_ / "running").string());
  auto lines = reg.ReapLeftovers();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("task-1-attempt-1.json: unreadable attempt record"), std::string::npos) << lines[0];
  EXPECT_FALSE(std::filesystem::exists(dir_ / "running" / "task-1-attempt-1.json"));
}

}  // namespace
}  // namespace ritsu::worker
