// End-to-end: ritsud + ritsu-worker + ritsu as real processes on loopback.
#include <zmq.hpp>

#include <fstream>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/protocol.h"
#include "tests/integration/harness.h"

namespace ritsu::itest {
namespace {

using namespace std::chrono_literals;

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A shell loop printing "PREFIX i" for i in 1..n with a pause between lines.
std::vector<std::string> Ticker(const std::string& prefix, int n, const std::string& pause) {
  return {"/bin/sh", "-c", fmt::format("i=1; while [ $i -le {} ]; do echo {} $i; sleep {}; i=$((i+1)); done", n, prefix, pause)};
}

std::string ExpectedTicks(const std::string& prefix, int n) {
  std::string s;
  for (int i = 1; i <= n; ++i) s += fmt::format("{} {}\n", prefix, i);
  return s;
}

TEST(Orchestrator, TasksSpreadOverTwoWorkers) {
  Cluster c;
  c.StartScheduler();
  c.StartWorker("wa", "cpu0:mem=1G");
  c.StartWorker("wb", "cpu0:mem=1G");
  std::vector<uint64_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(c.SubmitExec({"--name", fmt::format("t{}", i)}, {"/bin/sh", "-c", "sleep 0.6; echo done $RITSU_TASK_ID"}));
  std::vector<std::string> wait = {"wait", "--timeout", "60s"};
  for (auto id : ids) wait.push_back(std::to_string(id));
  CmdResult w = c.Ritsu(wait, 90s);
  ASSERT_EQ(w.code, 0) << w.out << w.err;
  std::set<std::string> workers;
  for (auto id : ids) {
    auto j = c.Show(id);
    EXPECT_EQ(j["state"], "SUCCEEDED");
    ASSERT_EQ(j["attempts"].size(), 1u);
    workers.insert(j["attempts"][0]["worker"].get<std::string>());
    EXPECT_EQ(c.Ritsu({"logs", std::to_string(id)}).out, fmt::format("done {}\n", id));
  }
  // One slot each and four 0.6 s tasks submitted together: both workers must have been used.
  EXPECT_EQ(workers, (std::set<std::string>{"wa", "wb"}));
  CmdResult ws = c.Ritsu({"workers", "--json"});
  ASSERT_EQ(ws.code, 0);
  EXPECT_EQ(ws.Json()["workers"].size(), 2u);
}

TEST(Orchestrator, KilledWorkerTaskIsRequeuedAndFinishesElsewhere) {
  Cluster c;
  c.heartbeat_timeout = "1500ms";  // how long the dead worker's task waits before its requeue
  c.StartScheduler();
  c.StartWorker("doomed", "cpu0");
  uint64_t id = c.SubmitExec({"--max-attempts", "3"},
                             {"/bin/sh", "-c", "echo attempt $RITSU_ATTEMPT; echo run >> runs.txt; sleep 2; echo finished"});
  ASSERT_TRUE(WaitFor([&] { return c.State(id) == "RUNNING"; }, 20s)) << c.State(id);
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(c.dir() / "runs.txt"); }, 10s));
  c.KillWorker("doomed", SIGKILL);
  c.StartWorker("survivor", "cpu0");
  CmdResult w = c.Ritsu({"wait", std::to_string(id), "--timeout", "60s"}, 90s);
  ASSERT_EQ(w.code, 0) << w.out << w.err;
  auto j = c.Show(id);
  ASSERT_GE(j["attempts"].size(), 2u);
  EXPECT_EQ(j["attempts"][0]["worker"], "doomed");
  EXPECT_EQ(j["attempts"].back()["worker"], "survivor");
  EXPECT_EQ(j["attempts"].back()["exit_code"], 0);
  // The killed worker's child died with it (PDEATHSIG): it never printed "finished" twice.
  CmdResult logs = c.Ritsu({"logs", std::to_string(id)});
  EXPECT_EQ(logs.out, fmt::format("attempt {}\nfinished\n", j["attempts"].back()["attempt"].get<int>()));
}

TEST(Orchestrator, SchedulerKilledUnderLoadEveryTaskEndsOnceWithFullLog) {
  Cluster c;
  c.heartbeat_timeout = "5s";  // the restart below takes well under this: no requeue
  c.StartScheduler();
  c.StartWorker("w1", "cpu0,cpu1");
  c.StartWorker("w2", "cpu0,cpu1");
  constexpr int kTasks = 12, kLines = 40;
  std::vector<uint64_t> ids;
  for (int i = 0; i < kTasks; ++i) {
    auto cmd = Ticker("line", kLines, "0.03");
    cmd[2] = "echo run >> runs-$RITSU_TASK_ID.txt; " + cmd[2];
    ids.push_back(c.SubmitExec({}, cmd));
  }
  std::this_thread::sleep_for(800ms);
  c.KillScheduler(SIGKILL);
  std::this_thread::sleep_for(700ms);
  c.StartScheduler();
  std::vector<std::string> wait = {"wait", "--timeout", "90s"};
  for (auto id : ids) wait.push_back(std::to_string(id));
  CmdResult w = c.Ritsu(wait, 120s);
  ASSERT_EQ(w.code, 0) << w.out << w.err;
  for (auto id : ids) {
    auto j = c.Show(id);
    EXPECT_EQ(j["state"], "SUCCEEDED") << id;
    EXPECT_EQ(j["attempts"].size(), 1u) << "task " << id << " ran more than once";
    EXPECT_EQ(ReadAll(c.dir() / fmt::format("runs-{}.txt", id)), "run\n") << "task " << id;
    EXPECT_EQ(c.Ritsu({"logs", std::to_string(id)}).out, ExpectedTicks("line", kLines)) << "task " << id;
  }
}

// The worker's spool end to end: a task ends while ritsud is down, then the worker itself is
// killed; the restarted worker resends the spooled log and result from disk.
TEST(Orchestrator, RestartedWorkerResendsSpooledResults) {
  Cluster c;
  c.heartbeat_timeout = "5s";
  c.StartScheduler();
  c.StartWorker("w", "cpu0");
  uint64_t id = c.SubmitExec({}, {"/bin/sh", "-c", "echo start; sleep 1; echo end; echo err >&2; touch done.txt"});
  ASSERT_TRUE(WaitFor([&] { return c.State(id) == "RUNNING"; }, 20s));
  c.KillScheduler(SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(c.dir() / "done.txt"); }, 20s));
  std::this_thread::sleep_for(500ms);  // the worker spools the result right after the exit
  c.KillWorker("w", SIGKILL);
  c.StartScheduler();
  Daemon& again = c.StartWorker("w", "cpu0");
  CmdResult w = c.Ritsu({"wait", std::to_string(id), "--timeout", "30s"}, 40s);
  ASSERT_EQ(w.code, 0) << w.out << w.err;
  // The result really came from the spool on disk, not from a still-running process.
  EXPECT_NE(again.Log().find("undelivered message(s) from an earlier run"), std::string::npos) << again.Log();
  auto j = c.Show(id);
  EXPECT_EQ(j["attempts"].size(), 1u);
  EXPECT_EQ(c.Ritsu({"logs", std::to_string(id), "--stdout-only"}).out, "start\nend\n");
  EXPECT_EQ(j["attempts"][0]["stderr_bytes"], 4);
}

TEST(Orchestrator, CancelRunningAndQueuedTasks) {
  Cluster c;
  c.StartScheduler();
  c.StartWorker("w", "cpu0");
  uint64_t running = c.SubmitExec({}, {"/bin/sh", "-c", "trap 'echo got TERM; exit 143' TERM; echo started; sleep 30 & wait"});
  uint64_t queued = c.SubmitExec({}, {"/bin/sh", "-c", "echo must not run > queued-ran.txt"});
  ASSERT_TRUE(WaitFor([&] { return c.Ritsu({"logs", std::to_string(running)}).out == "started\n"; }, 20s));
  EXPECT_EQ(c.State(queued), "QUEUED");
  auto t0 = std::chrono::steady_clock::now();
  CmdResult cancel = c.Ritsu({"cancel", std::to_string(running), std::to_string(queued)});
  ASSERT_EQ(cancel.code, 0) << cancel.err;
  CmdResult w = c.Ritsu({"wait", std::to_string(running), std::to_string(queued), "--timeout", "30s"}, 40s);
  EXPECT_EQ(w.code, 1) << "cancelled tasks are not SUCCEEDED: wait must say so\n" << w.out << w.err;
  EXPECT_EQ(c.State(running), "CANCELLED");
  EXPECT_EQ(c.State(queued), "CANCELLED");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 15s);
  // The running task got SIGTERM (its trap ran) and its output up to the end was kept.
  ASSERT_TRUE(WaitFor([&] { return c.Ritsu({"logs", std::to_string(running)}).out == "started\ngot TERM\n"; }, 10s))
      << c.Ritsu({"logs", std::to_string(running)}).out;
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(std::filesystem::exists(c.dir() / "queued-ran.txt"));
  // The slot is free again: a new task runs.
  uint64_t after = c.SubmitExec({}, {"/bin/echo", "free"});
  EXPECT_EQ(c.Ritsu({"wait", std::to_string(after), "--timeout", "20s"}, 30s).code, 0);
}

TEST(Orchestrator, FollowLogsWhileTheyGrow) {
  Cluster c;
  c.StartScheduler();
  c.StartWorker("w", "cpu0");
  uint64_t id = c.SubmitExec({}, Ticker("tick", 25, "0.1"));
  auto follow_out = c.dir() / "follow.out";
  Daemon follower({BinaryPath("cli/ritsu"), "--scheduler", c.endpoint(), "logs", "-f", std::to_string(id)}, follow_out);
  // Part of the output arrives while the task is still running...
  ASSERT_TRUE(WaitFor([&] { return ReadAll(follow_out).find("tick 3\n") != std::string::npos; }, 20s)) << ReadAll(follow_out);
  EXPECT_EQ(ReadAll(follow_out).find("tick 25\n"), std::string::npos);
  // ...and the follower ends by itself once the task is done, with every line exactly once.
  EXPECT_EQ(follower.Wait(30s), 0);
  EXPECT_EQ(ReadAll(follow_out), ExpectedTicks("tick", 25));
  EXPECT_EQ(c.State(id), "SUCCEEDED");
}

TEST(Orchestrator, GarbageFramesDoNotStopTheScheduler) {
  Cluster c;
  c.StartScheduler();
  c.StartWorker("w", "cpu0");
  {
    zmq::context_t ctx(1);
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    s.connect(c.endpoint());
    std::mt19937 rng(1234);
    std::vector<std::string> frames = {"", "\xc1", "not msgpack at all", std::string(1, '\x94'),
                                       std::string("\x94\x63\x0a\x01\x80", 5),   // protocol version 99
                                       std::string("\x94\x01\xcd\x27\x0f\x01\x80", 7),  // unknown type 9999
                                       std::string(17 << 20, 'x')};            // over the frame limit
    for (int i = 0; i < 200; ++i) {
      std::string f(rng() % 300, '\0');
      for (auto& ch : f) ch = char(rng());
      frames.push_back(f);
    }
    for (const auto& f : frames) s.send(zmq::buffer(f), zmq::send_flags::dontwait);
    // Multi-frame message too.
    s.send(zmq::str_buffer("a"), zmq::send_flags::sndmore);
    s.send(zmq::str_buffer("b"), zmq::send_flags::none);
    std::this_thread::sleep_for(500ms);
  }
  CmdResult st = c.Ritsu({"status", "--summary"});
  EXPECT_EQ(st.code, 0) << st.err;
  uint64_t id = c.SubmitExec({}, {"/bin/echo", "still serving"});
  CmdResult w = c.Ritsu({"wait", std::to_string(id), "--timeout", "20s"}, 30s);
  EXPECT_EQ(w.code, 0) << w.out << w.err;
  EXPECT_EQ(c.Ritsu({"logs", std::to_string(id)}).out, "still serving\n");
}

TEST(Orchestrator, FailedDependencyCancelsDependents) {
  Cluster c;
  c.StartScheduler();
  c.StartWorker("w", "cpu0");
  uint64_t a = c.SubmitExec({"--name", "train"}, {"/bin/sh", "-c", "echo boom >&2; exit 7"});
  // `a` may already have failed when `b` is submitted: then submit says so and exits 1.
  CmdResult sb = c.Ritsu({"submit", "exec", "--name", "eval", "--after", std::to_string(a), "--", "/bin/echo", "never"});
  ASSERT_TRUE(sb.code == 0 || (sb.code == 1 && sb.err.find("cancelled at once") != std::string::npos)) << sb.out << sb.err;
  uint64_t b = std::stoull(sb.out);
  CmdResult w = c.Ritsu({"wait", std::to_string(b), "--timeout", "30s"}, 40s);
  EXPECT_EQ(w.code, 1) << w.out << w.err;
  auto ja = c.Show(a);
  auto jb = c.Show(b);
  EXPECT_EQ(ja["state"], "FAILED");
  EXPECT_EQ(ja["attempts"][0]["exit_code"], 7);
  EXPECT_EQ(jb["state"], "CANCELLED");
  EXPECT_NE(jb.value("reason", "").find(std::to_string(a)), std::string::npos) << jb["reason"];
  EXPECT_EQ(jb["attempts"].size(), 0u);
  EXPECT_EQ(c.Ritsu({"logs", std::to_string(a)}).err, "boom\n");  // the task's stderr, on stderr
}

TEST(Orchestrator, ImpossibleRequestStaysQueuedWithVisibleReason) {
  Cluster c;
  c.StartScheduler();
  c.StartWorker("w", "cpu0:mem=1G");
  uint64_t id = c.SubmitExec({"--gpus", "4", "--gpu-mem", "80G"}, {"/bin/echo", "x"});
  // The reason passes through "waiting ..." until the matcher has seen the worker's slots; wait
  // for the final verdict, which then stays (no worker will ever hold 4 GPUs of 80G here).
  std::string reason;
  ASSERT_TRUE(WaitFor([&] {
    CmdResult st = c.Ritsu({"status", "--json"});
    nlohmann::json j = st.Json();  // a named value: range-for would not keep a temporary alive
    for (const auto& t : j["tasks"])
      if (t["id"] == id) reason = t["reason"].get<std::string>();
    return reason.find("no worker could ever hold it") != std::string::npos;
  }, 15s)) << "last reason: " << reason;
  EXPECT_EQ(c.State(id), "QUEUED");
  CmdResult human = c.Ritsu({"status"});
  EXPECT_NE(human.out.find(reason.substr(0, 20)), std::string::npos) << human.out;
  CmdResult ex = c.Ritsu({"explain", std::to_string(id)});
  EXPECT_EQ(ex.code, 0);
  EXPECT_NE(ex.out.find("QUEUED"), std::string::npos) << ex.out;
  EXPECT_GT(ex.out.size(), 30u);
  // --timeout of wait gives exit 4 while it stays queued.
  EXPECT_EQ(c.Ritsu({"wait", std::to_string(id), "--timeout", "300ms"}).code, 4);
}

TEST(Orchestrator, SweepRunsEveryTrialAndReportsMetrics) {
  Cluster c;
  c.StartScheduler();
  c.StartWorker("w", "cpu0,cpu1");
  std::ofstream(c.dir() / "sweep.toml") << R"(
[sweep]
name = "demo"
max_concurrent = 1

[grid]
lr = ["0.1", "0.2"]

[base]
cwd = ")" << c.dir().string() << R"("

[[step]]
name = "main"
kind = "exec"
argv = ["/bin/sh", "-c", "echo lr={lr}; echo '{{\"acc\": {lr}}}' > $RITSU_METRICS_FILE"]
)";
  CmdResult sub = c.Ritsu({"sweep", "submit", (c.dir() / "sweep.toml").string(), "--json"});
  ASSERT_EQ(sub.code, 0) << sub.err;
  auto js = sub.Json();
  ASSERT_EQ(js["trials"], 2);
  std::vector<std::string> wait = {"wait", "--timeout", "30s"};
  for (const auto& id : js["task_ids"]) wait.push_back(std::to_string(id.get<uint64_t>()));
  CmdResult w = c.Ritsu(wait, 40s);
  ASSERT_EQ(w.code, 0) << w.out << w.err;
  CmdResult st = c.Ritsu({"sweep", "status", std::to_string(js["sweep_id"].get<uint64_t>()), "--json"});
  ASSERT_EQ(st.code, 0) << st.err;
  std::set<double> accs;
  nlohmann::json sj = st.Json();
  for (const auto& t : sj["trials"]) accs.insert(t["steps"][0]["metrics"]["acc"].get<double>());
  EXPECT_EQ(accs, (std::set<double>{0.1, 0.2}));
  CmdResult human = c.Ritsu({"sweep", "status", std::to_string(js["sweep_id"].get<uint64_t>())});
  EXPECT_NE(human.out.find("acc=0.2"), std::string::npos) << human.out;
}

// GPU machines only (skipped where NVML finds nothing, e.g. CI): discovered slots are
// advertised with their facts and a --gpus 1 task sees exactly its GPU's UUID.
TEST(Orchestrator, DiscoveredGpuSlotsRunGpuTasks) {
  CmdResult check = RunCommand({BinaryPath("worker/ritsu-worker"), "--check", "--name", "gpu-check"});
  ASSERT_EQ(check.code, 0) << check.err;
  if (check.out.find("slots      0\n") != std::string::npos) GTEST_SKIP() << "no GPU found by NVML: " << check.out;
  Cluster c;
  c.StartScheduler();
  c.StartWorker("gpu", "");
  ASSERT_TRUE(WaitFor([&] { return c.Ritsu({"workers", "--json"}).Json()["workers"].size() == 1; }, 20s));
  nlohmann::json workers = c.Ritsu({"workers", "--json"}).Json();
  for (const auto& s : workers["workers"][0]["slots"]) {
    EXPECT_TRUE(s["is_gpu"].get<bool>());
    EXPECT_GT(s["mem_bytes"].get<uint64_t>(), 1ull << 30);
    EXPECT_FALSE(s["compute_capability"].get<std::string>().empty());
  }
  uint64_t id = c.SubmitExec({"--gpus", "1"}, {"/bin/sh", "-c", "echo \"cvd=$CUDA_VISIBLE_DEVICES\"; nvidia-smi -L"});
  CmdResult w = c.Ritsu({"wait", std::to_string(id), "--timeout", "60s"}, 70s);
  ASSERT_EQ(w.code, 0) << w.out << w.err;
  std::string log = c.Ritsu({"logs", std::to_string(id)}).out;
  size_t at = log.find("cvd=");
  ASSERT_NE(at, std::string::npos) << log;
  std::string cvd = log.substr(at + 4, log.find('\n', at) - at - 4);
  EXPECT_TRUE(cvd.rfind("GPU-", 0) == 0 || cvd.rfind("MIG-", 0) == 0) << cvd;
  EXPECT_EQ(cvd.find(','), std::string::npos) << "one GPU asked, several visible: " << cvd;
  EXPECT_NE(log.find(cvd, at + 4 + cvd.size()), std::string::npos) << "nvidia-smi -L does not list " << cvd << "\n" << log;
}

TEST(Orchestrator, BadCommandLinesGetClearErrors) {
  Cluster c;  // nothing started: none of these may need a scheduler
  CmdResult r = c.Ritsu({"submit", "exec", "--gpus", "1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("missing CMD"), std::string::npos) << r.err;
  r = c.Ritsu({"submit", "exec", "--gpuz", "1", "--", "true"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("did you mean --gpus?"), std::string::npos) << r.err;
  r = c.Ritsu({"stat"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("did you mean"), std::string::npos) << r.err;
  r = c.Ritsu({"--reply-timeout", "300ms", "status"});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find(c.endpoint()), std::string::npos) << r.err;
  r = RunCommand({BinaryPath("worker/ritsu-worker"), "--slots", "gpu-zero"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--slots entry 'gpu-zero'"), std::string::npos) << r.err;
  r = RunCommand({BinaryPath("worker/ritsu-worker"), "--nmae", "x"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("did you mean --name?"), std::string::npos) << r.err;
  r = RunCommand({BinaryPath("worker/ritsu-worker"), "--check", "--slots", "cpu0:mem=2G,mig:MIG-abc:mem=20G"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("MIG-abc"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ritsu::itest

namespace ritsu::itest {
namespace {

using namespace std::chrono_literals;

TEST(Orchestrator, ASecondWorkerWithATakenNameIsRefusedAndTheFirstKeepsItsTask) {
  Cluster c;
  c.StartScheduler();
  c.StartWorker("heart01", "cpu0");
  uint64_t id = c.SubmitExec({}, {"/bin/sh", "-c", "echo started; sleep 2; echo done"});
  ASSERT_TRUE(WaitFor([&] { return c.State(id) == "RUNNING"; }, 20s)) << c.Logs();
  // Same name (the default is the host name), its own spool: another worker instance.
  Daemon second({BinaryPath("worker/ritsu-worker"), "--scheduler", c.endpoint(), "--name", "heart01",
                 "--spool-dir", (c.dir() / "spool-second").string(), "--slots", "cpu0"},
                c.dir() / "worker-second.log");
  int code = second.Wait(20s);
  EXPECT_NE(code, 0) << second.Log();
  EXPECT_NE(code, -1) << "the refused worker did not exit\n" << second.Log();
  EXPECT_NE(second.Log().find("worker name 'heart01' is held by a live worker"), std::string::npos) << second.Log();
  EXPECT_NE(second.Log().find("choose another --name"), std::string::npos) << second.Log();
  CmdResult w = c.Ritsu({"wait", std::to_string(id), "--timeout", "30s"}, 40s);
  EXPECT_EQ(w.code, 0) << w.out << w.err << c.Logs();
  auto j = c.Show(id);
  EXPECT_EQ(j["attempts"].size(), 1u) << "the first worker's task was disturbed";
}

TEST(Orchestrator, StatusOfManyHugeRowsReturnsEveryRow) {
  // Names are bounded at submit now, but a row still carries the task's final metrics, which a
  // task writes (up to 1 MiB): 20 tasks with 900 kB each are 18 MB of rows, more than one frame.
  Cluster c;
  c.StartScheduler();
  c.StartWorker("w", "cpu0,cpu1");
  const std::string script =
      "printf '{\"blob\":\"%s\"}' \"$(head -c 900000 /dev/zero | tr '\\000' a)\" > \"$RITSU_METRICS_FILE\"";
  std::vector<std::string> wait = {"wait", "--timeout", "120s"};
  for (int i = 0; i < 20; ++i) {
    uint64_t id = c.SubmitExec({"--name", fmt::format("big-{}", i)}, {"/bin/sh", "-c", script});
    ASSERT_NE(id, 0u);
    wait.push_back(std::to_string(id));
  }
  CmdResult w = c.Ritsu(wait, 150s);
  ASSERT_EQ(w.code, 0) << w.out << w.err;
  CmdResult plain = c.Ritsu({"status"}, 60s);
  EXPECT_EQ(plain.code, 0) << plain.err;
  CmdResult st = c.Ritsu({"status", "--json"}, 60s);
  ASSERT_EQ(st.code, 0) << st.err;
  ASSERT_GT(st.out.size(), kMaxFrameBytes);  // it could not have come in one reply
  auto j = st.Json();
  ASSERT_EQ(j["tasks"].size(), 20u);
  EXPECT_EQ(j["tasks"][0]["id"], 20);
  EXPECT_EQ(j["tasks"][19]["id"], 1);
  EXPECT_EQ(j["truncated"], false);
}

TEST(Orchestrator, SubmitAfterAFailedTaskSaysItWasCancelledAndExitsNonZero) {
  Cluster c;
  c.StartScheduler();
  c.StartWorker("w", "cpu0");
  uint64_t a = c.SubmitExec({}, {"/bin/sh", "-c", "exit 3"});
  EXPECT_EQ(c.Ritsu({"wait", std::to_string(a), "--timeout", "30s"}, 40s).code, 1);
  CmdResult r = c.Ritsu({"submit", "exec", "--after", std::to_string(a), "--", "/bin/echo", "never"});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("was cancelled at once"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ended FAILED"), std::string::npos) << r.err;
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(c.State(std::stoull(r.out)), "CANCELLED");
}

}  // namespace
}  // namespace ritsu::itest
