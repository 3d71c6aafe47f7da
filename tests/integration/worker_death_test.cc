// A task's whole process tree ends with its attempt: when its worker is SIGKILLed (the task is
// requeued elsewhere, so survivors would be a second copy), and when it is cancelled (Finished
// only once every descendant, setsid'd ones included, is gone). And SIGHUP (systemd's reload)
// does not stop a worker.
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/harness.h"
#include "worker/tests/proc_alive.h"

namespace ritsu::itest {
namespace {

using namespace std::chrono_literals;

using ritsu::proctest::Alive;

// The task, a background child and a setsid'd child (another session, outside the task's
// process group); all three pids end up in `pids` (written at once when complete).
std::vector<std::string> TreeTask(const std::filesystem::path& pids) {
  std::string p = pids.string();
  return {"/bin/sh", "-c",
          fmt::format("echo $$ > {0}.tmp; sleep 300 & echo $! >> {0}.tmp; "
                      "setsid sh -c 'echo $$ >> {0}.tmp; exec sleep 300' & sleep 0.2; mv {0}.tmp {0}; wait", p)};
}

std::vector<pid_t> ReadPids(const std::filesystem::path& pids) {
  std::vector<pid_t> out;
  std::ifstream in(pids);
  for (std::string line; std::getline(in, line);) if (!line.empty()) out.push_back(std::stoi(line));
  return out;
}

TEST(WorkerDeath, SigkilledWorkerTakesTheWholeTaskTreeWithIt) {
  Cluster c;
  c.StartScheduler();
  c.StartWorker("doomed", "cpu0");
  auto pids_file = c.dir() / "pids";
  uint64_t id = c.SubmitExec({}, TreeTask(pids_file));
  ASSERT_TRUE(WaitFor([&] { return ReadPids(pids_file).size() == 3; }, 20s)) << c.State(id) << c.Logs();
  auto pids = ReadPids(pids_file);
  for (pid_t p : pids) ASSERT_TRUE(Alive(p)) << p;
  c.KillWorker("doomed", SIGKILL);
  bool all_gone = WaitFor([&] { return std::none_of(pids.begin(), pids.end(), Alive); }, 5s);
  for (pid_t p : pids) EXPECT_FALSE(Alive(p)) << "pid " << p << " outlived its SIGKILLed worker";
  EXPECT_TRUE(all_gone) << c.Logs();
}

TEST(WorkerDeath, CancelEndsSetsidDescendantsBeforeReportingFinished) {
  Cluster c;
  c.StartScheduler();
  c.StartWorker("w", "cpu0");
  auto pids_file = c.dir() / "pids";
  uint64_t id = c.SubmitExec({}, TreeTask(pids_file));
  ASSERT_TRUE(WaitFor([&] { return ReadPids(pids_file).size() == 3; }, 20s)) << c.State(id) << c.Logs();
  auto pids = ReadPids(pids_file);
  CmdResult cancel = c.Ritsu({"cancel", std::to_string(id)});
  ASSERT_EQ(cancel.code, 0) << cancel.err;
  // The attempt is CANCELLED only once its Finished arrived; by then nothing may be left.
  ASSERT_TRUE(WaitFor([&] { return c.State(id) == "CANCELLED"; }, 30s)) << c.State(id) << c.Logs();
  for (pid_t p : pids) EXPECT_FALSE(Alive(p)) << "pid " << p << " was alive after Finished was reported";
}

TEST(WorkerDeath, SighupDoesNotStopTheWorker) {
  Cluster c;
  c.StartScheduler();
  Daemon& w = c.StartWorker("w", "cpu0");
  ASSERT_TRUE(WaitFor([&] { return w.Log().find("registered with") != std::string::npos; }, 20s)) << w.Log();
  w.Kill(SIGHUP);
  ASSERT_TRUE(WaitFor([&] { return w.Log().find("SIGHUP: nothing to reload") != std::string::npos; }, 10s)) << w.Log();
  EXPECT_TRUE(w.Running()) << w.Log();
  uint64_t id = c.SubmitExec({}, {"/bin/echo", "still serving"});
  EXPECT_EQ(c.Ritsu({"wait", std::to_string(id), "--timeout", "20s"}, 30s).code, 0) << c.Logs();
  EXPECT_EQ(c.Ritsu({"logs", std::to_string(id)}).out, "still serving\n");
}

}  // namespace
}  // namespace ritsu::itest
