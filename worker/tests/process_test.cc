#include "worker/process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "worker/attempt_registry.h"
#include "worker/tests/proc_alive.h"

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

using ritsu::proctest::Alive;

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

// A task that leaves a plain background child and a setsid'd one (own session, outside the
// task's process group), each writing its pid to `pids` first.
std::string TreeScript(const std::filesystem::path& pids) {
  return "echo $$ > " + pids.string() + ".tmp; sleep 300 & echo $! >> " + pids.string() +
         ".tmp; setsid sh -c 'echo $$ >> " + pids.string() + ".tmp; exec sleep 300' & "
         "sleep 0.2; mv " + pids.string() + ".tmp " + pids.string() + "; echo ready; wait";
}

std::vector<pid_t> WaitForPids(const std::filesystem::path& pids, size_t n) {
  std::vector<pid_t> out;
  for (int i = 0; i < 500 && out.size() < n; ++i) {
    out.clear();
    std::ifstream in(pids);
    for (std::string line; std::getline(in, line);) if (!line.empty()) out.push_back(std::stoi(line));
    if (out.size() < n) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return out;
}

std::filesystem::path TempPath(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() / ("ritsu-process-test-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove(p);
  return p;
}

// A cancel reaches descendants that left the task's process group (setsid), and Wait() returns
// only once every one of them is gone.
TEST(ProcessTest, CancelKillsSetsidDescendantsBeforeReturning) {
  auto pids_file = TempPath("cancel-pids");
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", TreeScript(pids_file)};
  spec.kill_grace = std::chrono::milliseconds(200);
  auto p = Process::Start(spec);
  ASSERT_TRUE(p.ok());
  Process* proc = p->get();
  ProcessResult r = proc->Wait([&](OutputStream, std::string_view l) {
    if (l == "ready\n") proc->Cancel();
  });
  EXPECT_TRUE(r.cancelled);
  auto pids = WaitForPids(pids_file, 3);
  ASSERT_EQ(pids.size(), 3u);
  for (pid_t pid : pids) EXPECT_FALSE(Alive(pid)) << "pid " << pid << " outlived the cancel";
  std::filesystem::remove(pids_file);
}

// The main process exits normally; what it left behind (including a setsid'd process that kept
// stdout open) is killed before Wait() returns.
TEST(ProcessTest, LeftoversOfAFinishedTaskAreKilledEvenOutsideTheGroup) {
  Output o;
  auto t0 = std::chrono::steady_clock::now();
  ProcessResult r = RunSh("setsid sh -c 'echo $$; exec sleep 300' & sleep 0.2; echo main-done", &o);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(r.succeeded()) << r.Describe();
  ASSERT_EQ(o.out_lines.size(), 2u) << o.out;
  pid_t escaped = std::stoi(o.out_lines[0]);
  EXPECT_FALSE(Alive(escaped)) << "setsid'd leftover " << escaped << " survived the task";
  EXPECT_LT(secs, 5.0);
}

// The worker is SIGKILLed mid-task: the task, its background child and its setsid'd child all
// die within a few seconds (before: only the direct child got a parent-death signal).
TEST(ProcessTest, WorkerDeathKillsTheWholeTree) {
  auto pids_file = TempPath("death-pids");
  pid_t worker = ::fork();
  ASSERT_GE(worker, 0);
  if (worker == 0) {  // stands in for ritsu-worker
    ProcessSpec spec;
    spec.argv = {"/bin/sh", "-c", TreeScript(pids_file)};
    auto p = Process::Start(spec);
    if (p.ok()) (*p)->Wait([](OutputStream, std::string_view) {});
    ::_exit(0);
  }
  auto pids = WaitForPids(pids_file, 3);
  ::kill(worker, SIGKILL);
  int st;
  ::waitpid(worker, &st, 0);
  ASSERT_EQ(pids.size(), 3u);
  bool all_gone = false;
  for (int i = 0; i < 250 && !all_gone; ++i) {  // 5 s
    all_gone = std::none_of(pids.begin(), pids.end(), [](pid_t pid) { return Alive(pid); });
    if (!all_gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (pid_t pid : pids) EXPECT_FALSE(Alive(pid)) << "pid " << pid << " outlived its worker";
  std::filesystem::remove(pids_file);
}

// While paused nothing is read: a task writing more than a pipe holds blocks instead of losing
// output; after the pause every byte arrives, in order.
TEST(ProcessTest, PausedOutputBlocksTheTaskAndLosesNothing) {
  auto marker = TempPath("paused-marker");
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "seq 1 100000; touch " + marker.string()};
  auto p = Process::Start(spec);
  ASSERT_TRUE(p.ok());
  Process* proc = p->get();
  proc->SetPaused(true);
  std::thread resumer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    // ~590 KB of output cannot fit a 64 KiB pipe: the task must still be writing.
    EXPECT_FALSE(std::filesystem::exists(marker)) << "the task was not held back";
    proc->SetPaused(false);
  });
  std::string out;
  ProcessResult r = proc->Wait([&](OutputStream, std::string_view l) { out += l; });
  resumer.join();
  EXPECT_TRUE(r.succeeded());
  std::string expected;
  for (int i = 1; i <= 100000; ++i) expected += std::to_string(i) + "\n";
  EXPECT_TRUE(out == expected) << "output differs (" << out.size() << " vs " << expected.size() << " bytes)";
  EXPECT_TRUE(std::filesystem::exists(marker));
  std::filesystem::remove(marker);
}

}  // namespace
}  // namespace ritsu::worker
