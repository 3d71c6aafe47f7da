#include "worker/process.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

namespace ritsu::worker {
namespace {

struct Output {
  std::string out, err;
  std::vector<std::string> out_lines;
  Process::LineFn fn() {
    return [this](OutputStream s, std::string_view l) {
      if (s == OutputStream::kStdout) { out += l; out_lines.emplace_back(l); }
      else err += l;
    };
  }
};

ProcessResult RunSh(const std::string& script, Output* o, ProcessSpec spec = {}) {
  spec.argv = {"/bin/sh", "-c", script};
  auto p = Process::Start(spec);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return (*p)->Wait(o->fn());
}

TEST(ProcessTest, ReportsExitCodeAndSeparatesStreams) {
  Output o;
  ProcessResult r = RunSh("echo out1; echo err1 >&2; printf 'partial'; exit 3", &o);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.term_signal, 0);
  EXPECT_FALSE(r.succeeded());
  EXPECT_EQ(o.out, "out1\npartial");
  EXPECT_EQ(o.out_lines, (std::vector<std::string>{"out1\n", "partial"}));
  EXPECT_EQ(o.err, "err1\n");
  EXPECT_EQ(r.Describe(), "exit 3");
}

TEST(ProcessTest, ReportsTheSignalThatKilledIt) {
  Output o;
  ProcessResult r = RunSh("kill -SEGV $$", &o);
  EXPECT_EQ(r.term_signal, SIGSEGV);
  EXPECT_EQ(r.Describe(), "killed by SIGSEGV");
}

TEST(ProcessTest, MissingProgramIsALaunchErrorNotACrash) {
  ProcessSpec spec;
  spec.argv = {"/nonexistent/ritsu-no-such-program", "x"};
  auto p = Process::Start(spec);
  ASSERT_TRUE(p.ok());
  Output o;
  ProcessResult r = (*p)->Wait(o.fn());
  EXPECT_NE(r.launch_error.find("ritsu-no-such-program"), std::string::npos) << r.launch_error;
  EXPECT_NE(r.launch_error.find("No such file"), std::string::npos) << r.launch_error;
  EXPECT_FALSE(r.succeeded());
}

TEST(ProcessTest, EmptyArgvIsRejected) {
  ProcessSpec spec;
  EXPECT_FALSE(Process::Start(spec).ok());
}

TEST(ProcessTest, BadWorkingDirectoryIsALaunchError) {
  Output o;
  ProcessSpec spec;
  spec.cwd = "/nonexistent-ritsu-dir";
  ProcessResult r = RunSh("true", &o, spec);
  EXPECT_NE(r.launch_error.find("working directory"), std::string::npos) << r.launch_error;
}

TEST(ProcessTest, SetsCwdAndEnvironment) {
  Output o;
  ProcessSpec spec;
  spec.cwd = "/tmp";
  spec.env = {{"RITSU_TEST_VAR", "hello world"}, {"CUDA_VISIBLE_DEVICES", "MIG-abc"}};
  ProcessResult r = RunSh("pwd; echo \"$RITSU_TEST_VAR\"; echo \"$CUDA_VISIBLE_DEVICES\"", &o, spec);
  EXPECT_TRUE(r.succeeded()) << r.Describe();
  EXPECT_EQ(o.out, "/tmp\nhello world\nMIG-abc\n");
}

TEST(ProcessTest, ChildRunsInItsOwnProcessGroup) {
  Output o;
  ProcessResult r = RunSh("ps -o pgid= -p $$ | tr -d ' '; echo $$", &o);
  ASSERT_TRUE(r.succeeded());
  ASSERT_EQ(o.out_lines.size(), 2u);
  EXPECT_EQ(o.out_lines[0], o.out_lines[1]);  // pgid == pid
  EXPECT_NE(std::stoi(o.out_lines[0]), int(::getpgrp()));
}

// True while pid exists and is not a zombie (an orphan's zombie may linger if PID 1 is lazy).
bool Alive(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

// Cancel must reach a grandchild too (the whole group), and escalate to SIGKILL when SIGTERM
// is ignored.
TEST(ProcessTest, CancelKillsTheWholeGroupAndEscalates) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "trap '' TERM; sleep 30 & echo $!; wait"};
  spec.kill_grace = std::chrono::milliseconds(300);
  auto p = Process::Start(spec);
  ASSERT_TRUE(p.ok());
  Process* proc = p->get();
  std::thread canceller;
  pid_t grandchild = 0;
  auto t0 = std::chrono::steady_clock::now();
  ProcessResult r = proc->Wait([&](OutputStream s, std::string_view l) {
    if (s != OutputStream::kStdout || grandchild) return;
    grandchild = std::stoi(std::string(l));
    canceller = std::thread([proc] { proc->Cancel(); });
  });
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (canceller.joinable()) canceller.join();
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(r.cancelled);
  EXPECT_EQ(r.term_signal, SIGKILL) << r.Describe();
  EXPECT_LT(secs, 5.0);
  EXPECT_GE(secs, 0.25);  // SIGTERM was ignored: SIGKILL came only after the grace period
  EXPECT_NE(r.Describe().find("cancelled"), std::string::npos);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = !Alive(grandchild);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone) << "grandchild " << grandchild << " survived the cancel";
}

TEST(ProcessTest, CancelWithCustomGraceEndsAPoliteProcessBySigterm) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "echo go; exec sleep 30"};
  auto p = Process::Start(spec);
  ASSERT_TRUE(p.ok());
  Process* proc = p->get();
  ProcessResult r = proc->Wait([&](OutputStream, std::string_view l) {
    if (l == "go\n") proc->Cancel(std::chrono::milliseconds(5000));
  });
  EXPECT_EQ(r.term_signal, SIGTERM);
  EXPECT_LT(r.wall_seconds, 4.0);
}

TEST(ProcessTest, TimeoutStopsTheProcess) {
  Output o;
  ProcessSpec spec;
  spec.timeout = std::chrono::milliseconds(200);
  spec.kill_grace = std::chrono::milliseconds(200);
  ProcessResult r = RunSh("sleep 30", &o, spec);
  EXPECT_TRUE(r.timed_out);
  EXPECT_NE(r.term_signal, 0);
  EXPECT_LT(r.wall_seconds, 3.0);
  EXPECT_NE(r.Describe().find("timeout"), std::string::npos);
}

// `--timeout 1000000d` overflowed the deadline (steady_clock counts nanoseconds) into the past:
// the task was killed at once with "timeout after 0.0s". It must saturate to "never".
TEST(ProcessTest, HugeTimeoutIsNoTimeout) {
  Output o;
  ProcessSpec spec;
  spec.timeout = std::chrono::milliseconds(1'000'000LL * 86'400'000);
  ProcessResult r = RunSh("sleep 0.2; echo slept", &o, spec);
  EXPECT_FALSE(r.timed_out) << r.Describe();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(o.out, "slept\n");
}

TEST(ProcessTest, BackgroundLeftoversDoNotHoldTheResult) {
  // The main process exits while a background child keeps stdout open: Wait must return promptly
  // and the leftover is killed with the group.
  Output o;
  auto t0 = std::chrono::steady_clock::now();
  ProcessResult r = RunSh("sleep 30 & echo main-done", &o);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(r.succeeded());
  EXPECT_EQ(o.out, "main-done\n");
  EXPECT_LT(secs, 5.0);
}

TEST(ProcessTest, MeasuresPeakRss) {
  // The shell holds a 64 MiB string (command substitution) in its own memory.
  Output o;
  ProcessResult r = RunSh("x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo ${#x}", &o);
  ASSERT_TRUE(r.succeeded()) << r.Describe() << o.err;
  EXPECT_EQ(o.out, "67108864\n");
  // At least the 64 MiB string; no upper bound tighter than 1 GiB because the shell may grow
  // its buffer by doubling (dash peaks near 130 MiB here).
  EXPECT_GE(r.peak_rss_bytes, 64ll << 20);
  EXPECT_LT(r.peak_rss_bytes, 1ll << 30);
}

TEST(ProcessTest, LargeOutputIsCapturedCompletely) {
  Output o;
  ProcessResult r = RunSh("i=0; while [ $i -lt 20000 ]; do echo line-$i; i=$((i+1)); done", &o);
  ASSERT_TRUE(r.succeeded());
  EXPECT_EQ(o.out_lines.size(), 20000u);
  EXPECT_EQ(o.out_lines.front(), "line-0\n");
  EXPECT_EQ(o.out_lines.back(), "line-19999\n");
}

}  // namespace
}  // namespace ritsu::worker
