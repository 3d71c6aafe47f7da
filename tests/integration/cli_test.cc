// The ritsu CLI against real ritsud / ritsu-worker processes: long polls that survive a
// scheduler restart, the submit-time checks enforced by ritsud itself, JSON output of bytes that
// are not UTF-8, and a task's stdout and stderr kept apart by `ritsu logs`.
#include <signal.h>

#include <optional>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <zmq.hpp>

#include "common/protocol.h"
#include "tests/integration/harness.h"

namespace ritsu::itest {
namespace {

using namespace std::chrono_literals;

std::string Ticks(int n) {
  std::string s;
  for (int i = 1; i <= n; ++i) s += fmt::format("line {}\n", i);
  return s;
}

// `ritsu ARGS` on a thread, so the test can restart ritsud while the command waits.
class Background {
 public:
  Background(const Cluster& c, std::vector<std::string> args) {
    std::vector<std::string> argv = {BinaryPath("cli/ritsu"), "--scheduler", c.endpoint(), "--reply-timeout", "10s"};
    argv.insert(argv.end(), args.begin(), args.end());
    thread_ = std::thread([this, argv] { result_ = RunCommand(argv, 90s); });
  }
  ~Background() {
    if (thread_.joinable()) thread_.join();
  }
  CmdResult Finish() {
    thread_.join();
    return result_;
  }

 private:
  std::thread thread_;
  CmdResult result_;
};

// A ritsud that dies by SIGKILL and comes back while `wait` and `logs -f` are waiting on it.
void RestartScheduler(Cluster& c) {
  std::this_thread::sleep_for(700ms);  // the clients' long polls have reached ritsud
  c.KillScheduler(SIGKILL);
  std::this_thread::sleep_for(300ms);
  c.StartScheduler();
}

TEST(CliIntegration, WaitSurvivesASchedulerRestart) {
  Cluster c;
  c.heartbeat_timeout = "10s";  // the worker is not written off during the restart
  c.StartScheduler();
  c.StartWorker("w", "cpu0");
  uint64_t id = c.SubmitExec({}, {"/bin/sh", "-c", "sleep 3; echo done"});
  ASSERT_TRUE(WaitFor([&] { return c.State(id) == "RUNNING"; }, 20s));
  Background wait(c, {"wait", std::to_string(id)});
  RestartScheduler(c);
  // Without a resend the long poll was lost with the old process: `wait` sat out its 60 s and
  // failed with exit 3 although the task succeeded.
  CmdResult w = wait.Finish();
  EXPECT_EQ(w.code, 0) << w.out << w.err;
  EXPECT_NE(w.out.find("SUCCEEDED"), std::string::npos) << w.out;
  EXPECT_EQ(c.State(id), "SUCCEEDED");
}

TEST(CliIntegration, LogsFollowSurvivesASchedulerRestart) {
  Cluster c;
  c.heartbeat_timeout = "10s";
  c.StartScheduler();
  c.StartWorker("w", "cpu0");
  constexpr int kLines = 30;
  uint64_t id = c.SubmitExec(
      {}, {"/bin/sh", "-c", fmt::format("i=1; while [ $i -le {} ]; do echo line $i; sleep 0.1; i=$((i+1)); done", kLines)});
  ASSERT_TRUE(WaitFor([&] { return c.State(id) == "RUNNING"; }, 20s));
  Background follow(c, {"logs", "-f", std::to_string(id)});
  RestartScheduler(c);
  CmdResult f = follow.Finish();
  EXPECT_EQ(f.code, 0) << f.err;
  EXPECT_EQ(f.out, Ticks(kLines)) << f.err;  // every line once, none lost in the restart
}

// Sends one Submit frame as another client could (no CLI checks) and returns the reply.
std::optional<Message> RawSubmit(const Cluster& c, const TaskSpec& spec) {
  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.connect(c.endpoint());
  Submit sub;
  sub.tasks = {spec};
  s.send(zmq::buffer(Encode(77, sub)), zmq::send_flags::none);
  zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, std::chrono::milliseconds(10000));
  zmq::message_t m;
  if (!(item.revents & ZMQ_POLLIN) || !s.recv(m, zmq::recv_flags::dontwait)) {
    return std::nullopt;
  }
  auto msg = Decode(std::string_view(static_cast<const char*>(m.data()), m.size()));
  if (!msg.ok()) return std::nullopt;
  return *msg;
}

std::string RawSubmitError(const Cluster& c, const TaskSpec& spec) {
  std::optional<Message> m = RawSubmit(c, spec);
  if (!m) return "no readable reply";
  if (m->type != MsgType::kError) return "accepted";
  auto e = m->As<ErrorReply>();
  return e.ok() ? e->message : "undecodable error";
}

TEST(CliIntegration, SchedulerRefusesWhatTheCliRefuses) {
  Cluster c;
  c.StartScheduler();
  TaskSpec s;
  s.argv = {"/bin/true"};
  s.name = "bad\xff";
  EXPECT_EQ(RawSubmitError(c, s), "tasks[0].name: 'bad\\xff': invalid UTF-8 at byte 3");
  s.name = std::string(300, 'n');
  EXPECT_EQ(RawSubmitError(c, s), "tasks[0].name: 300 bytes, over the limit of 256");
  s.name = "ok";
  for (int i = 0; i < 65; ++i) s.labels[fmt::format("k{}", i)] = "v";
  EXPECT_EQ(RawSubmitError(c, s), "tasks[0].labels: 65 labels, over the limit of 64");
  s.labels.clear();
  s.priority = -2147483647 - 1;
  EXPECT_EQ(RawSubmitError(c, s), "tasks[0].priority: -2147483648 is out of range [-1000000, 1000000]");
  s.priority = 0;
  s.timeout_ms = int64_t(1e15);
  EXPECT_NE(RawSubmitError(c, s).find("tasks[0].timeout_ms"), std::string::npos);
  // The CLI refuses the same before sending anything, with exit 2.
  CmdResult r = c.Ritsu({"submit", "exec", "--name", "bad\xff", "--", "/bin/true"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("name: 'bad\\xff': invalid UTF-8"), std::string::npos) << r.err;
  // Nothing was stored by any of these.
  EXPECT_EQ(c.Ritsu({"status", "--json"}).Json()["tasks"].size(), 0u);
}

TEST(CliIntegration, BytesThatAreNotUtf8RenderAsJson) {
  Cluster c;
  c.StartScheduler();
  c.StartWorker("w", "cpu0");
  // argv may carry any bytes (a Latin-1 file name); it is stored and run as given.
  uint64_t id = c.SubmitExec({"--name", "latin1"}, {"/bin/echo", "caf\xe9"});
  CmdResult w = c.Ritsu({"wait", std::to_string(id), "--timeout", "30s", "--json"}, 40s);
  ASSERT_EQ(w.code, 0) << w.out << w.err;
  EXPECT_TRUE(w.Json()["all_succeeded"].get<bool>()) << w.out;
  CmdResult show = c.Ritsu({"show", std::to_string(id), "--json"});
  ASSERT_EQ(show.code, 0) << show.err;  // was an uncaught JSON exception, exit 134
  EXPECT_EQ(show.Json()["spec"]["argv"][1], "caf\xef\xbf\xbd") << show.out;
  CmdResult st = c.Ritsu({"status", "--json"});
  ASSERT_EQ(st.code, 0) << st.err;
  EXPECT_EQ(st.Json()["tasks"].size(), 1u);
  EXPECT_EQ(c.Ritsu({"logs", std::to_string(id)}).out, "caf\xe9\n");  // the task's own bytes
}

TEST(CliIntegration, LogsKeepsTheTasksStreamsApart) {
  Cluster c;
  c.StartScheduler();
  c.StartWorker("w", "cpu0");
  uint64_t id = c.SubmitExec({}, {"/bin/sh", "-c", "echo out 1; sleep 0.3; echo err 1 >&2; sleep 0.3; echo out 2"});
  CmdResult w = c.Ritsu({"wait", std::to_string(id), "--timeout", "30s"}, 40s);
  ASSERT_EQ(w.code, 0) << w.out << w.err;
  CmdResult split = c.Ritsu({"logs", std::to_string(id)});
  EXPECT_EQ(split.code, 0);
  EXPECT_EQ(split.out, "out 1\nout 2\n");
  EXPECT_EQ(split.err, "err 1\n");
  CmdResult merged = c.Ritsu({"logs", std::to_string(id), "--merged"});
  EXPECT_EQ(merged.out, "out 1\nerr 1\nout 2\n");
  EXPECT_EQ(merged.err, "");
  CmdResult only = c.Ritsu({"logs", std::to_string(id), "--stdout-only"});
  EXPECT_EQ(only.out, "out 1\nout 2\n");
  EXPECT_EQ(only.err, "");
}

}  // namespace
}  // namespace ritsu::itest
