// The agent against a scripted fake ritsud (a ROUTER socket in the test): the exact protocol
// sequence for one task, the resend of unacknowledged messages after a re-registration, and the
// spool being emptied by the acks.
#include "worker/agent.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "worker/process.h"
#include "worker/tests/fake_scheduler.h"
#include "worker/tests/faulty_fs.h"

namespace ritsu::worker {
namespace {

using namespace std::chrono_literals;

TEST(AgentTest, ReportsATaskResendsAfterReregisterAndEmptiesTheSpoolOnAcks) {
  auto dir = std::filesystem::temp_directory_path() / ("ritsu-agent-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  FakeScheduler fake;
  AgentConfig cfg;
  cfg.scheduler = fake.endpoint;
  cfg.name = "w-test";
  cfg.slots = *ParseSlotSpec("cpu0:mem=1G");
  cfg.spool_dir = dir.string();
  cfg.kill_grace = 1s;
  auto spool = Spool::Open(cfg.spool_dir);
  ASSERT_TRUE(spool.ok());
  Agent agent(cfg, std::move(spool).value());
  std::thread loop([&] { EXPECT_TRUE(agent.Run().ok()); });

  // 1. Register with the slots, nothing running.
  auto reg = fake.Next();
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  ASSERT_EQ(reg->type, MsgType::kRegister);
  auto r = reg->As<Register>();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, "w-test");
  ASSERT_EQ(r->slots.size(), 1u);
  EXPECT_EQ(r->slots[0].id, "cpu0");
  EXPECT_EQ(r->slots[0].mem_bytes, 1ull << 30);
  EXPECT_TRUE(r->running.empty());
  RegisterReply rr;
  rr.scheduler_id = "s1";
  rr.heartbeat_interval_ms = 100;
  rr.heartbeat_timeout_ms = 5000;
  fake.Send(reg->request_id, rr);

  // 2. Assign -> Started, chunks, Finished with exit code and metrics.
  Assign a;
  a.task_id = 5;
  a.attempt = 1;
  a.name = "t";
  a.argv = {"/bin/sh", "-c", "echo out1; echo err1 >&2; echo out2; echo '{\"x\": 1}' > \"$RITSU_METRICS_FILE\"; exit 2"};
  a.slots = {"cpu0"};
  fake.Send(0, a);
  Report first;
  CollectUntilFinished(fake, &first);
  ASSERT_TRUE(first.finished.has_value());
  EXPECT_EQ(first.finished->task_id, 5u);
  EXPECT_EQ(first.finished->exit_code, 2);
  EXPECT_EQ(first.finished->signal, 0);
  EXPECT_EQ(first.finished->metrics_json, "{\"x\":1}");
  EXPECT_EQ(first.out, "out1\nout2\n");
  EXPECT_EQ(first.err, "err1\n");

  // 3. Nothing was acked. The scheduler "restarts": it asks for a new registration. The attempt
  //    whose result is still unacked is reported as running, and everything is sent again.
  fake.scheduler_id = "s2";
  fake.ask_reregister = true;
  auto reg2 = fake.Next();
  ASSERT_TRUE(reg2.ok()) << reg2.status().ToString();
  ASSERT_EQ(reg2->type, MsgType::kRegister);
  auto r2 = reg2->As<Register>();
  ASSERT_TRUE(r2.ok());
  ASSERT_EQ(r2->running.size(), 1u);
  EXPECT_EQ(r2->running[0].task_id, 5u);
  rr.scheduler_id = "s2";
  fake.Send(reg2->request_id, rr);
  Report second;
  CollectUntilFinished(fake, &second);
  EXPECT_EQ(second.out, first.out);
  EXPECT_EQ(second.err, first.err);
  ASSERT_TRUE(second.finished.has_value());
  EXPECT_EQ(second.finished->exit_code, 2);

  // 4. Acks release everything from the spool.
  LogAck la;
  la.task_id = 5;
  la.attempt = 1;
  la.stream = LogStream::kStdout;
  la.acked_offset = second.out_end;
  fake.Send(0, la);
  la.stream = LogStream::kStderr;
  la.acked_offset = second.err_end;
  fake.Send(0, la);
  Ack ack;
  ack.ref = {5, 1};
  fake.Send(second.finished_rid, ack);
  // Give the agent a few heartbeats to apply them, then stop it.
  for (int i = 0; i < 3; ++i) (void)fake.Next(300ms);
  agent.RequestStop();
  loop.join();
  auto reopened = Spool::Open(dir.string());
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE((*reopened)->pending().empty()) << (*reopened)->pending().size() << " message(s) left";
  std::filesystem::remove_all(dir);
}

// An agent on its own thread, registered with a fake scheduler; stopped and cleaned up at the end.
class RunningAgent {
 public:
  explicit RunningAgent(const std::string& name, SpoolFs* fs = nullptr, AgentDeps deps = {}) : deps_(deps) {
    dir = std::filesystem::temp_directory_path() / ("ritsu-agent-test-" + std::to_string(::getpid()) + "-" + name);
    std::filesystem::remove_all(dir);
    cfg.scheduler = fake.endpoint;
    cfg.name = name;
    cfg.slots = *ParseSlotSpec("cpu0:mem=1G");
    cfg.spool_dir = dir.string();
    cfg.kill_grace = 1s;
    fs_ = fs;
  }
  ~RunningAgent() {
    if (agent) {
      agent->RequestStop();
      loop.join();
    }
    std::filesystem::remove_all(dir);
  }
  // Starts the agent and answers its Register; returns that Register.
  Register Start() {
    auto spool = Spool::Open(cfg.spool_dir, 8 << 20, fs_);
    EXPECT_TRUE(spool.ok()) << spool.status().ToString();
    agent = std::make_unique<Agent>(cfg, std::move(spool).value(), deps_);
    loop = std::thread([this] { EXPECT_TRUE(agent->Run().ok()); });
    auto reg = fake.Next();
    EXPECT_TRUE(reg.ok()) << reg.status().ToString();
    EXPECT_EQ(reg->type, MsgType::kRegister);
    RegisterReply rr;
    rr.scheduler_id = "s1";
    rr.heartbeat_interval_ms = 100;
    rr.heartbeat_timeout_ms = 5000;
    fake.Send(reg->request_id, rr);
    return *reg->As<Register>();
  }
  void Assign(TaskId id, const std::string& script) {
    ritsu::Assign a;
    a.task_id = id;
    a.attempt = 1;
    a.name = "t";
    a.argv = {"/bin/sh", "-c", script};
    a.slots = {"cpu0"};
    fake.Send(0, a);
  }

  std::filesystem::path dir;
  FakeScheduler fake;
  AgentConfig cfg;
  std::unique_ptr<Agent> agent;
  std::thread loop;

 private:
  SpoolFs* fs_ = nullptr;
  AgentDeps deps_;
};

std::string Seq(int n) {
  std::string s;
  for (int i = 1; i <= n; ++i) s += std::to_string(i) + "\n";
  return s;
}

// The disk under the spool is full while a task writes ~2 MB: the task is held back (it blocks
// on its pipe), its log says why once, and when space returns every byte arrives, in order.
TEST(AgentTest, FullSpoolPausesTheTaskAndEveryByteArrivesInOrder) {
  FaultyFs fs;
  RunningAgent ra("spool-full", &fs);
  ra.Start();
  auto marker = ra.dir / "task-done";
  fs.full = true;
  ra.Assign(11, "seq 1 300000; touch " + marker.string());
  auto started = ra.fake.Next();
  ASSERT_TRUE(started.ok());
  EXPECT_EQ(started->type, MsgType::kStarted);
  std::this_thread::sleep_for(700ms);
  EXPECT_GT(fs.refused.load(), 0);
  EXPECT_FALSE(std::filesystem::exists(marker)) << "the task ran on while its output could not be kept";
  fs.full = false;  // space returns
  Report r;
  CollectUntilFinished(ra.fake, &r);
  ASSERT_TRUE(r.finished.has_value());
  EXPECT_EQ(r.finished->exit_code, 0);
  EXPECT_EQ(r.finished->log_bytes_lost, 0u);
  EXPECT_TRUE(r.out == Seq(300000)) << "stdout differs: " << r.out.size() << " bytes";
  const std::string note = "ritsu-worker: spool full (";
  size_t at = r.err.find(note);
  ASSERT_NE(at, std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(note, at + 1), std::string::npos) << "one note per episode: " << r.err;
  EXPECT_NE(r.err.find("pausing this task's output until space returns"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("resuming this task's output"), std::string::npos) << r.err;
}

// A spool that stays unwritable past --spool-full-limit: output is dropped, the task finishes,
// and its Finished (sent without the spool) counts the bytes lost.
TEST(AgentTest, SpoolUnwritablePastTheLimitCountsTheLostBytes) {
  FaultyFs fs;
  RunningAgent ra("spool-lost", &fs);
  ra.cfg.spool_full_limit = 300ms;
  ra.Start();
  fs.full = true;
  ra.Assign(12, "seq 1 50000");
  Report r;
  CollectUntilFinished(ra.fake, &r);
  ASSERT_TRUE(r.finished.has_value());
  EXPECT_EQ(r.finished->exit_code, 0);
  const uint64_t out_bytes = Seq(50000).size();
  EXPECT_GE(r.finished->log_bytes_lost, out_bytes);
  EXPECT_LT(r.finished->log_bytes_lost, out_bytes + 1000);  // plus the worker's own notes at most
  EXPECT_TRUE(r.out.empty());
  fs.full = false;  // so the agent's final sync on stop succeeds
}

// CancelTask.grace_ms = 0 means "the worker's --kill-grace": the task's TERM trap has time to
// finish (exit 3). A grace the scheduler gives is used as is (1 ms: SIGKILL first).
TEST(AgentTest, CancelGraceZeroUsesTheWorkersKillGrace) {
  RunningAgent ra("grace");
  ra.cfg.kill_grace = 1500ms;
  ra.Start();
  const std::string script = "trap 'sleep 0.3; exit 3' TERM; echo ready; while :; do sleep 0.05; done";
  for (auto [id, grace_ms] : {std::pair<TaskId, int64_t>{21, 0}, std::pair<TaskId, int64_t>{22, 1}}) {
    ra.Assign(id, script);
    bool cancelled = false;
    std::optional<Finished> fin;
    for (int i = 0; i < 100 && !fin; ++i) {
      auto m = ra.fake.Next();
      ASSERT_TRUE(m.ok()) << m.status().ToString();
      if (m->type == MsgType::kLogChunk && !cancelled && m->As<LogChunk>()->data.find("ready") != std::string::npos) {
        CancelTask c;
        c.task_id = id;
        c.attempt = 1;
        c.grace_ms = grace_ms;
        c.reason = "test";
        ra.fake.Send(0, c);
        cancelled = true;
      }
      if (m->type == MsgType::kFinished) fin = *m->As<Finished>();
    }
    ASSERT_TRUE(fin.has_value());
    EXPECT_EQ(fin->error, "cancelled");
    if (grace_ms == 0) {
      EXPECT_EQ(fin->exit_code, 3) << "signal " << fin->signal << ": the worker's 1.5 s grace was not used";
    } else {
      EXPECT_EQ(fin->signal, SIGKILL) << "exit " << fin->exit_code << ": the 1 ms grace was not used";
    }
  }
}

// Before it registers, the agent kills what a previous incarnation's attempts left running.
TEST(AgentTest, StartupReaperKillsLeftoversBeforeRegistering) {
  RunningAgent ra("reaper");
  pid_t leftover = ::fork();
  if (leftover == 0) {
    std::string env = std::string(kAttemptTokenEnv) + "=left-by-the-last-run";
    char* envp[] = {env.data(), nullptr};
    const char* argv[] = {"/bin/sleep", "300", nullptr};
    ::execve(argv[0], const_cast<char* const*>(argv), envp);
    ::_exit(127);
  }
  ASSERT_GT(leftover, 0);
  ProcIdentity id;
  for (int i = 0; i < 200; ++i) {  // until it runs sleep, so its environment is the new one
    std::error_code ec;
    if (std::filesystem::read_symlink("/proc/" + std::to_string(leftover) + "/exe", ec).filename() == "sleep") break;
    std::this_thread::sleep_for(5ms);
  }
  id = IdentityOf(leftover);
  AttemptRegistry reg((ra.dir / "running").string());
  ASSERT_TRUE(reg.Record({31, 2, "left-by-the-last-run", {}, id}).ok());
  ra.Start();  // returns once the Register arrived
  int st = 0;
  pid_t r = 0;
  for (int i = 0; i < 50 && r == 0; ++i) {  // a kill is delivered at once; reaping it takes a moment
    r = ::waitpid(leftover, &st, WNOHANG);
    if (r == 0) std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(r, leftover) << "the leftover process is still running";
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  std::vector<std::string> problems;
  EXPECT_TRUE(reg.List(&problems).empty());
}

// ---- The agent with a fake launcher and a fake clock: exact sequences, no child processes. ----

class FakeClock : public Clock {
 public:
  time_point Now() override {
    if (auto_advance) t_ += int64_t(1000) * 1000 * 1000;  // 1 s per call: a stopping agent's bounds pass
    return time_point(std::chrono::nanoseconds(t_.load()));
  }
  void Advance(std::chrono::nanoseconds d) { t_ += d.count(); }
  std::atomic<bool> auto_advance{false};

 private:
  std::atomic<int64_t> t_{int64_t(1000) * 1000 * 1000 * 1000};
};

class FakeTask : public TaskHandle {
 public:
  FakeTask(const ritsu::Assign& a, EventQueue* events) : ref_{a.task_id, a.attempt}, events_(events) {}
  void Cancel(std::chrono::milliseconds grace) override {
    std::lock_guard<std::mutex> lock(mu_);
    cancels_.push_back(grace);
  }
  void SetOutputPaused(bool p) override { paused = p; }
  const TaskAttemptRef& ref() const override { return ref_; }
  const std::string& metrics_path() const override { return metrics_path_; }

  std::vector<std::chrono::milliseconds> cancels() {
    std::lock_guard<std::mutex> lock(mu_);
    return cancels_;
  }
  void Output(LogStream s, std::string data) {
    TaskEvent ev;
    ev.type = TaskEvent::Type::kOutput;
    ev.ref = ref_;
    ev.stream = s;
    ev.data = std::move(data);
    events_->Push(std::move(ev));
  }
  // The agent destroys this handle once it handled the event: do not touch it afterwards.
  void Exit(int code) {
    TaskEvent ev;
    ev.type = TaskEvent::Type::kExited;
    ev.ref = ref_;
    ev.result.exit_code = code;
    events_->Push(std::move(ev));
  }
  std::atomic<bool> paused{false};

 private:
  TaskAttemptRef ref_;
  EventQueue* events_;
  std::string metrics_path_;
  std::mutex mu_;
  std::vector<std::chrono::milliseconds> cancels_;
};

class FakeLauncher : public ProcessLauncher {
 public:
  std::unique_ptr<TaskHandle> Launch(const ritsu::Assign& a, const LaunchContext&, EventQueue* events) override {
    auto t = std::make_unique<FakeTask>(a, events);
    std::lock_guard<std::mutex> lock(mu_);
    launched_[a.task_id] = t.get();
    return t;
  }
  FakeTask* Get(TaskId id) {
    FakeTask* t = nullptr;
    EXPECT_TRUE(Until([&] {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = launched_.find(id);
      t = it == launched_.end() ? nullptr : it->second;
      return t != nullptr;
    })) << "task " << id << " was never launched";
    return t;
  }
  // The agent acts on its own thread: wait (bounded) until it did what the test expects.
  static bool Until(const std::function<bool()>& cond) {
    for (int i = 0; i < 5000; ++i) {
      if (cond()) return true;
      std::this_thread::sleep_for(1ms);
    }
    return cond();
  }

 private:
  std::mutex mu_;
  std::map<TaskId, FakeTask*> launched_;
};

LogChunk NextChunk(FakeScheduler& fake) {
  for (;;) {
    auto m = fake.Next();
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    if (!m.ok()) return {};
    if (m->type == MsgType::kLogChunk) return *m->As<LogChunk>();
  }
}

TEST(AgentSeamTest, CancelUsesTheSchedulersGraceOrTheWorkersWhenItSendsZero) {
  FakeLauncher launcher;
  FakeClock clock;
  RunningAgent ra("seam-grace", nullptr, {&launcher, &clock});
  ra.cfg.kill_grace = 4321ms;
  ra.Start();
  ra.Assign(41, "unused: the fake launcher runs nothing");
  FakeTask* t = launcher.Get(41);
  ASSERT_NE(t, nullptr);
  for (int64_t grace_ms : {0, 2500}) {
    CancelTask c;
    c.task_id = 41;
    c.attempt = 1;
    c.grace_ms = grace_ms;
    ra.fake.Send(0, c);
  }
  ASSERT_TRUE(FakeLauncher::Until([&] { return t->cancels().size() == 2; }));
  EXPECT_EQ(t->cancels()[0], 4321ms) << "grace_ms 0 must mean the worker's --kill-grace";
  EXPECT_EQ(t->cancels()[1], 2500ms);
  EXPECT_EQ(CancelTask{}.grace_ms, 0) << "an absent grace_ms decodes as 0 = the worker's default";
  t->Exit(0);
  Report r;
  CollectUntilFinished(ra.fake, &r);
  clock.auto_advance = true;
}

// Spool full, space returns: paused, one note, resumed, every byte in order. Spool full for
// longer than the limit: output dropped and counted exactly in log_bytes_lost.
TEST(AgentSeamTest, SpoolFullSequence) {
  FakeLauncher launcher;
  FakeClock clock;
  FaultyFs fs;
  RunningAgent ra("seam-spool", &fs, {&launcher, &clock});
  ra.cfg.spool_full_limit = 2s;  // below the 5 s heartbeat timeout, which the fake clock also drives
  ra.Start();
  ra.Assign(42, "unused");
  FakeTask* t = launcher.Get(42);
  ASSERT_NE(t, nullptr);
  const std::string reason = "writing spool " + (ra.dir / "spool.log").string() + ": No space left on device";
  const std::string pause_note = "ritsu-worker: spool full (" + reason + "): pausing this task's output until space returns\n";

  t->Output(LogStream::kStdout, "line 1\n");
  LogChunk c = NextChunk(ra.fake);
  EXPECT_EQ(c.offset, 0u);
  EXPECT_EQ(c.data, "line 1\n");

  // Episode 1: full, then space returns.
  fs.full = true;
  t->Output(LogStream::kStdout, "line 2\n");
  ASSERT_TRUE(FakeLauncher::Until([&] { return t->paused.load(); })) << "output was not paused";
  t->Output(LogStream::kStdout, "line 3\n");  // already in flight when the pause began
  fs.full = false;
  ASSERT_TRUE(FakeLauncher::Until([&] { return !t->paused.load(); })) << "output was not resumed";
  std::string out, err;
  while (out != "line 2\nline 3\n" || err.find("resuming") == std::string::npos) {
    LogChunk k = NextChunk(ra.fake);
    ASSERT_FALSE(k.data.empty());
    std::string& s = k.stream == LogStream::kStdout ? out : err;
    EXPECT_EQ(k.offset, (k.stream == LogStream::kStdout ? 7 : 0) + s.size()) << "gap or overlap";
    s += k.data;
  }
  EXPECT_EQ(err, pause_note + "ritsu-worker: spool has space again: resuming this task's output\n");

  // Episode 2: full past the limit.
  fs.full = true;
  t->Output(LogStream::kStdout, "line 4\n");
  ASSERT_TRUE(FakeLauncher::Until([&] { return t->paused.load(); }));
  clock.Advance(3s);
  ASSERT_TRUE(FakeLauncher::Until([&] { return !t->paused.load(); })) << "the limit did not end the pause";
  t->Output(LogStream::kStdout, "gone\n");
  t->Exit(0);
  std::optional<Finished> fin;
  while (!fin) {
    auto m = ra.fake.Next();
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_NE(m->type, MsgType::kLogChunk) << "nothing could be spooled, so nothing is sent";
    if (m->type == MsgType::kFinished) fin = *m->As<Finished>();
  }
  EXPECT_EQ(fin->log_bytes_lost, std::string("line 4\n").size() + pause_note.size() + std::string("gone\n").size());
  fs.full = false;
  clock.auto_advance = true;
}

Finished NextFinished(FakeScheduler& fake) {
  for (int i = 0; i < 1000; ++i) {
    auto m = fake.Next();
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    if (!m.ok()) return {};
    if (m->type == MsgType::kFinished) return *m->As<Finished>();
  }
  ADD_FAILURE() << "no finished report";
  return {};
}

// Exit 75 is "preempted" only after the worker asked for a preemption; after a plain cancel or
// on its own it is an ordinary exit status.
TEST(AgentSeamTest, ExitSeventyFiveIsPreemptedOnlyAfterAPreemptRequest) {
  FakeLauncher launcher;
  FakeClock clock;
  RunningAgent ra("seam-preempt", nullptr, {&launcher, &clock});
  ra.Start();
  struct Case { TaskId id; bool send_cancel; bool preempt; bool want_preempted; };
  for (Case c : {Case{61, true, true, true}, Case{62, true, false, false}, Case{63, false, false, false}}) {
    ra.Assign(c.id, "unused");
    FakeTask* t = launcher.Get(c.id);
    ASSERT_NE(t, nullptr);
    if (c.send_cancel) {
      CancelTask ct;
      ct.task_id = c.id;
      ct.attempt = 1;
      ct.grace_ms = 3000;
      ct.preempt = c.preempt;
      ra.fake.Send(0, ct);
      ASSERT_TRUE(FakeLauncher::Until([&] { return t->cancels().size() == 1; }));
      EXPECT_EQ(t->cancels()[0], 3000ms);
    }
    t->Exit(kPreemptedExitCode);
    Finished f = NextFinished(ra.fake);
    EXPECT_EQ(f.task_id, c.id);
    EXPECT_EQ(f.exit_code, kPreemptedExitCode);
    EXPECT_EQ(f.preempted, c.want_preempted) << "task " << c.id;
    if (c.want_preempted) {
      EXPECT_EQ(f.error, "");
    }
  }
  clock.auto_advance = true;
}

// A worker told to stop (SIGTERM/SIGINT) preempts its tasks: the one that checkpoints (exit 75)
// is reported preempted, one killed otherwise is not, and an assignment that crosses the stop
// is not started and reported preempted (the scheduler requeues it without counting it).
TEST(AgentSeamTest, StoppingWorkerPreemptsItsTasksAndRefusesNewOnes) {
  FakeLauncher launcher;
  FakeClock clock;
  RunningAgent ra("seam-stop", nullptr, {&launcher, &clock});
  ra.cfg.kill_grace = 2500ms;
  ra.Start();
  ra.Assign(71, "unused");
  ra.Assign(72, "unused");
  FakeTask* t1 = launcher.Get(71);
  FakeTask* t2 = launcher.Get(72);
  ASSERT_TRUE(t1 && t2);
  ra.agent->RequestStop();
  ASSERT_TRUE(FakeLauncher::Until([&] { return t1->cancels().size() == 1 && t2->cancels().size() == 1; }));
  EXPECT_EQ(t1->cancels()[0], 2500ms);
  ra.Assign(73, "unused");
  Finished refused = NextFinished(ra.fake);
  EXPECT_EQ(refused.task_id, 73u);
  EXPECT_TRUE(refused.preempted);
  EXPECT_NE(refused.error.find("stopping"), std::string::npos) << refused.error;
  t1->Exit(kPreemptedExitCode);
  Finished f1 = NextFinished(ra.fake);
  EXPECT_EQ(f1.task_id, 71u);
  EXPECT_TRUE(f1.preempted);
  t2->Exit(143);
  Finished f2 = NextFinished(ra.fake);
  EXPECT_EQ(f2.task_id, 72u);
  EXPECT_FALSE(f2.preempted);
  clock.auto_advance = true;
}

}  // namespace
}  // namespace ritsu::worker
