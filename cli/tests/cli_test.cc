// The CLI in-process: flag handling of submit exec, dispatch errors, and the client against a
// scripted fake ritsud (a ROUTER socket on loopback answering one request).
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "cli/client.h"
#include "cli/commands.h"
#include "common/protocol.h"

namespace ritsu::cli {
namespace {

struct CliRun {
  int code;
  std::string out, err;
};

CliRun Cli(std::vector<std::string> args) {
  std::ostringstream out, err;
  int code = RunCli(args, out, err);
  return {code, out.str(), err.str()};
}

TEST(CliTest, SubmitExecBuildsTheSpecFromFlags) {
  auto a = SubmitExecParser().Parse({"--name", "eval-v1", "--gpus", "1", "--gpu-mem", "20G", "--tag", "a100", "--priority",
                                     "-5", "--after", "12", "--after", "13", "--max-attempts", "3", "--timeout", "2h",
                                     "--label", "trial=4", "--env", "HF_HOME=/cache", "--", "python", "eval.py", "--gpus", "9"});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto s = BuildExecSpec(*a, "/home/lab");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->name, "eval-v1");
  EXPECT_EQ(s->kind, TaskKind::kExec);
  EXPECT_EQ(s->argv, (std::vector<std::string>{"python", "eval.py", "--gpus", "9"}));
  EXPECT_EQ(s->cwd, "/home/lab");
  EXPECT_EQ(s->resources.gpus, 1u);
  EXPECT_EQ(s->resources.gpu_mem_bytes, 20ull << 30);
  EXPECT_EQ(s->resources.tags, (std::vector<std::string>{"a100"}));
  EXPECT_EQ(s->priority, -5);
  EXPECT_EQ(s->after, (std::vector<TaskId>{12, 13}));
  EXPECT_EQ(s->max_attempts, 3u);
  EXPECT_EQ(s->timeout_ms, 2 * 3600 * 1000);
  EXPECT_EQ(s->labels.at("trial"), "4");
  EXPECT_EQ(s->env.at("HF_HOME"), "/cache");
}

TEST(CliTest, SubmitExecDefaultsNameToTheProgram) {
  auto a = SubmitExecParser().Parse({"--", "/usr/bin/python3", "x.py"});
  ASSERT_TRUE(a.ok());
  auto s = BuildExecSpec(*a, "/w");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->name, "python3");
  EXPECT_EQ(s->resources.gpus, 0u);
  EXPECT_EQ(s->max_attempts, 1u);
}

TEST(CliTest, SubmitExecRejectsBadValuesNamingTheFlag) {
  for (auto [flag, value] : std::vector<std::pair<std::string, std::string>>{
           {"--gpus", "-1"}, {"--gpus", "two"}, {"--gpu-mem", "lots"}, {"--after", "0"}, {"--after", "x"},
           {"--max-attempts", "0"}, {"--timeout", "soon"}, {"--label", "novalue"}, {"--priority", "high"}}) {
    auto a = SubmitExecParser().Parse({flag, value, "--", "true"});
    ASSERT_TRUE(a.ok()) << flag;
    auto s = BuildExecSpec(*a, "/w");
    ASSERT_FALSE(s.ok()) << flag << " " << value << " accepted";
    EXPECT_NE(s.status().message().find(flag), std::string::npos) << s.status().message();
  }
}

TEST(CliTest, MissingCommandAndUnknownFlagAreUsageErrors) {
  CliRun r = Cli({"submit", "exec", "--gpus", "1"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("missing CMD"), std::string::npos) << r.err;
  r = Cli({"submit", "exec", "--gpu", "1", "--", "true"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("did you mean --gpus?"), std::string::npos) << r.err;
  r = Cli({"submit", "exce", "--", "true"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("did you mean 'exec'"), std::string::npos) << r.err;
}

TEST(CliTest, UnknownCommandSuggestsAndListsHelp) {
  CliRun r = Cli({"stauts"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("did you mean 'status'?"), std::string::npos) << r.err;
  r = Cli({});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("commands:"), std::string::npos);
  r = Cli({"help"});
  EXPECT_EQ(r.code, kExitOk);
  for (const auto& c : Commands()) EXPECT_NE(r.out.find(c.name), std::string::npos) << c.name;
}

TEST(CliTest, BadIdsAreUsageErrors) {
  for (auto args : std::vector<std::vector<std::string>>{{"show", "abc"}, {"logs", "0"}, {"wait"}, {"cancel"}, {"show", "1", "2"}}) {
    CliRun r = Cli(args);
    EXPECT_EQ(r.code, kExitUsage) << args[0];
    EXPECT_FALSE(r.err.empty());
  }
}

TEST(CliTest, UnreachableSchedulerNamesTheAddressAndExits3) {
  // Port 1 on loopback: nothing listens, ZeroMQ keeps retrying; the bounded wait must end it.
  auto t0 = std::chrono::steady_clock::now();
  CliRun r = Cli({"--scheduler", "tcp://127.0.0.1:1", "--reply-timeout", "300ms", "status"});
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.code, kExitUnavailable);
  EXPECT_NE(r.err.find("tcp://127.0.0.1:1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Is it running?"), std::string::npos) << r.err;
  EXPECT_LT(secs, 3.0);
  CliRun bad = Cli({"--scheduler", "localhost:7070", "status"});
  EXPECT_EQ(bad.code, kExitUsage);
  EXPECT_NE(bad.err.find("tcp://HOST:PORT"), std::string::npos);
}

// A fake ritsud: answers the first request with `reply(request)`.
class FakeScheduler {
 public:
  explicit FakeScheduler(std::function<std::string(const Message&)> reply) : sock_(ctx_, zmq::socket_type::router) {
    sock_.set(zmq::sockopt::linger, 0);
    sock_.bind("tcp://127.0.0.1:*");
    endpoint_ = sock_.get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this, reply] {
      zmq::pollitem_t item{sock_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(5000));
      if (!(item.revents & ZMQ_POLLIN)) return;
      zmq::message_t id, body;
      (void)sock_.recv(id);
      (void)sock_.recv(body);
      auto msg = Decode(std::string_view(static_cast<const char*>(body.data()), body.size()));
      if (!msg.ok()) return;
      received_type_ = msg->type;
      std::string out = reply(*msg);
      sock_.send(id, zmq::send_flags::sndmore);
      sock_.send(zmq::buffer(out));
    });
  }
  ~FakeScheduler() { thread_.join(); }
  const std::string& endpoint() const { return endpoint_; }
  MsgType received_type_ = MsgType::kError;

 private:
  zmq::context_t ctx_{1};
  zmq::socket_t sock_;
  std::string endpoint_;
  std::thread thread_;
};

TEST(CliTest, SubmitSendsTheSpecAndPrintsTheId) {
  std::vector<std::string> argv_seen;
  FakeScheduler fake([&](const Message& m) {
    auto req = m.As<Submit>();
    if (req.ok() && !req->tasks.empty()) argv_seen = req->tasks[0].argv;
    SubmitReply rep;
    rep.ids = {42};
    return Encode(m.request_id, rep);
  });
  CliRun r = Cli({"--scheduler", fake.endpoint(), "submit", "exec", "--", "echo", "hi"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "42\n");
  EXPECT_EQ(argv_seen, (std::vector<std::string>{"echo", "hi"}));
}

TEST(CliTest, SchedulerErrorIsPrintedWithExit1) {
  FakeScheduler fake([](const Message& m) {
    return EncodeError(m.request_id, Status::NotFound("task 99 does not exist"));
  });
  CliRun r = Cli({"--scheduler", fake.endpoint(), "show", "99"});
  EXPECT_EQ(fake.received_type_, MsgType::kShow);
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_NE(r.err.find("task 99 does not exist"), std::string::npos) << r.err;
}

TEST(CliTest, WaitExitCodeReflectsTheOutcome) {
  FakeScheduler fake([](const Message& m) {
    WaitReply rep;
    rep.all_final = true;
    TaskRow ok, bad;
    ok.id = 1; ok.state = TaskState::kSucceeded;
    bad.id = 2; bad.state = TaskState::kFailed; bad.reason = "exit 3";
    rep.tasks = {ok, bad};
    return Encode(m.request_id, rep);
  });
  CliRun r = Cli({"--scheduler", fake.endpoint(), "wait", "1", "2"});
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_NE(r.out.find("FAILED"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ritsu::cli
