// The CLI in-process: flag handling of submit exec, dispatch errors, and the client against a
// scripted fake ritsud (a ROUTER socket on loopback answering one request).
#include <unistd.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <zmq.hpp>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/render.h"
#include "common/spec_check.h"
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
           {"--max-attempts", "0"}, {"--timeout", "soon"}, {"--label", "novalue"}, {"--priority", "high"},
           // Range checks: int32 wrap-around, the scheduler's max_attempts, the 365-day timeout.
           {"--priority", "-2147483649"}, {"--priority", "2147483648"}, {"--priority", "1000001"}, {"--gpus", "65"},
           {"--max-attempts", "101"}, {"--timeout", "366d"}, {"--timeout", "100000000000d"}}) {
    auto a = SubmitExecParser().Parse({flag, value, "--", "true"});
    ASSERT_TRUE(a.ok()) << flag;
    auto s = BuildExecSpec(*a, "/w");
    ASSERT_FALSE(s.ok()) << flag << " " << value << " accepted";
    EXPECT_NE(s.status().message().find(flag), std::string::npos) << s.status().message();
  }
}

TEST(CliTest, PriorityOutOfRangeSaysTheRange) {
  auto a = SubmitExecParser().Parse({"--priority", "-2147483649", "--", "true"});
  ASSERT_TRUE(a.ok());
  auto s = BuildExecSpec(*a, "/w");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "--priority: -2147483649 is out of range [-1000000, 1000000]");
}

// What the CLI accepts, ritsud accepts: the CLI runs the scheduler's own check.
TEST(CliTest, SubmitExecAcceptsExactlyWhatTheSchedulerAccepts) {
  auto spec = [](std::vector<std::string> args) {
    args.insert(args.end(), {"--", "/bin/echo", "\xff not utf-8 is fine in argv"});
    auto a = SubmitExecParser().Parse(args);
    EXPECT_TRUE(a.ok());
    return BuildExecSpec(*a, "/w");
  };
  // The default name comes from argv[0], which may be any bytes: it is made a valid name.
  auto latin1 = BuildExecSpec(*SubmitExecParser().Parse({"--", "/opt/caf\xe9", "x"}), "/w");
  ASSERT_TRUE(latin1.ok()) << latin1.status().message();
  EXPECT_EQ(latin1->name, "caf\xef\xbf\xbd");
  EXPECT_EQ(latin1->argv[0], "/opt/caf\xe9");
  auto top = spec({"--max-attempts", "100", "--priority", "1000000", "--timeout", "365d", "--gpus", "64"});
  ASSERT_TRUE(top.ok()) << top.status().message();
  EXPECT_TRUE(ValidateSpec(*top, "tasks[0]").ok());

  auto long_name = spec({"--name", std::string(257, 'n')});
  ASSERT_FALSE(long_name.ok());
  EXPECT_EQ(long_name.status().message(), "name: 257 bytes, over the limit of 256");
  auto bad_name = spec({"--name", "caf\xe9"});
  ASSERT_FALSE(bad_name.ok());
  EXPECT_EQ(bad_name.status().message(), "name: 'caf\\xe9': invalid UTF-8 at byte 3");
  auto bad_label = spec({"--label", "k=\xff"});
  ASSERT_FALSE(bad_label.ok());
  EXPECT_NE(bad_label.status().message().find("labels[k]"), std::string::npos) << bad_label.status().message();
  std::vector<std::string> many;
  for (int i = 0; i <= 64; ++i) many.insert(many.end(), {"--label", fmt::format("k{}=v", i)});
  auto too_many = spec(many);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.status().message(), "labels: 65 labels, over the limit of 64");
  // Through the whole CLI: exit 2 before any scheduler is contacted.
  CliRun r = Cli({"--scheduler", "tcp://127.0.0.1:1", "submit", "exec", "--name", "bad\xff", "--", "true"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("ritsu submit exec: name:"), std::string::npos) << r.err;
}

TEST(CliTest, SweepSubmitOfADirectorySaysSo) {
  auto dir = std::filesystem::temp_directory_path() / fmt::format("ritsu-cli-test-dir-{}", ::getpid());
  std::filesystem::create_directories(dir);
  CliRun r = Cli({"--scheduler", "tcp://127.0.0.1:1", "sweep", "submit", dir.string()});
  std::filesystem::remove_all(dir);
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find(dir.string() + " is a directory; give the sweep file"), std::string::npos) << r.err;
}

TEST(CliTest, NoReplyMessageFitsTheSecurityMode) {
  using Lost = Client::Lost;
  std::string plain = Client::NoReplyMessage("tcp://10.0.0.5:7070", std::chrono::milliseconds(5000), false, Lost::kNo);
  EXPECT_NE(plain.find("no reply from ritsud at tcp://10.0.0.5:7070 within 5.0s"), std::string::npos) << plain;
  EXPECT_NE(plain.find("--bind tcp://10.0.0.5:7070 --insecure"), std::string::npos) << plain;
  std::string curve = Client::NoReplyMessage("tcp://10.0.0.5:7070", std::chrono::milliseconds(5000), true, Lost::kNo);
  EXPECT_EQ(curve.find("--insecure"), std::string::npos) << curve;
  EXPECT_NE(curve.find("--bind tcp://10.0.0.5:7070 --curve-secret-key"), std::string::npos) << curve;
  EXPECT_NE(curve.find("RITSU_SERVER_KEY"), std::string::npos) << curve;
  std::string lost = Client::NoReplyMessage("tcp://h:1", std::chrono::milliseconds(1000), false, Lost::kMaybeApplied);
  EXPECT_NE(lost.find("may or may not have been applied"), std::string::npos) << lost;
  std::string gone = Client::NoReplyMessage("tcp://h:1", std::chrono::milliseconds(1000), false, Lost::kNotBack);
  EXPECT_NE(gone.find("ritsud at tcp://h:1 closed the connection and did not take a new one within 1.0s"), std::string::npos)
      << gone;
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

ShowReply BrokenTextShowReply() {
  ShowReply rep;
  rep.task.id = 7;
  rep.task.state = TaskState::kFailed;
  // Stored before submit checked UTF-8 (or argv, which may be any bytes).
  rep.task.spec.name = "bad\xff name";
  rep.task.spec.argv = {"/bin/echo", "\xfe\xff"};
  rep.task.spec.labels["k\xc3"] = "v\x80";
  Attempt a1, a2;
  a1.attempt = 1; a1.worker = "w1"; a1.finished_ms = 1000; a1.exit_code = 37; a1.error = "exit 37";
  a2.attempt = 2; a2.worker = "w1"; a2.finished_ms = 2000; a2.exit_code = -1; a2.signal = 9; a2.error = "killed by SIGKILL";
  rep.attempts = {a1, a2};
  return rep;
}

TEST(CliTest, JsonOutputOfInvalidUtf8NeverThrows) {
  FakeScheduler fake([](const Message& m) { return Encode(m.request_id, BrokenTextShowReply()); });
  CliRun r = Cli({"--scheduler", fake.endpoint(), "show", "7", "--json"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  auto j = nlohmann::json::parse(r.out);  // valid JSON (UTF-8), the bad bytes as U+FFFD
  EXPECT_EQ(j["spec"]["name"], "bad\xef\xbf\xbd name");
  EXPECT_EQ(j["spec"]["argv"][1], "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(j["attempts"][1]["signal_name"], "SIGKILL");
}

TEST(CliTest, StatusJsonOfInvalidUtf8NeverThrows) {
  FakeScheduler fake([](const Message& m) {
    StatusReply rep;
    TaskRow row;
    row.id = 1;
    row.name = "\xff\xfe";
    rep.tasks = {row};
    return Encode(m.request_id, rep);
  });
  CliRun r = Cli({"--scheduler", fake.endpoint(), "status", "--json"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["tasks"][0]["name"], "\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(CliTest, ShowPrintsNonZeroExitCodesAndSignalNames) {
  FakeScheduler fake([](const Message& m) { return Encode(m.request_id, BrokenTextShowReply()); });
  CliRun r = Cli({"--scheduler", fake.endpoint(), "show", "7"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  std::istringstream lines(r.out);
  std::string line, try1, try2;
  while (std::getline(lines, line)) {
    if (line.rfind("1  ", 0) == 0) try1 = line;
    if (line.rfind("2  ", 0) == 0) try2 = line;
  }
  EXPECT_NE(try1.find("  37  "), std::string::npos) << r.out;  // the exit code, not "-"
  EXPECT_NE(try2.find("SIGKILL"), std::string::npos) << r.out;
}

LogsReply TwoStreams(const Message& m) {
  LogsReply rep;
  rep.task_id = 3;
  rep.attempt = 1;
  rep.pieces = {{LogStream::kStdout, 0, "out 1\n"}, {LogStream::kStderr, 6, "err 1\n"}, {LogStream::kStdout, 12, "out 2\n"}};
  rep.next_offset = 18;
  rep.complete = true;
  rep.state = TaskState::kSucceeded;
  (void)m;
  return rep;
}

TEST(CliTest, LogsKeepsStdoutAndStderrApart) {
  FakeScheduler fake([](const Message& m) { return Encode(m.request_id, TwoStreams(m)); });
  CliRun r = Cli({"--scheduler", fake.endpoint(), "logs", "3"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "out 1\nout 2\n");
  EXPECT_EQ(r.err, "err 1\n");
}

TEST(CliTest, LogsMergedIsOneOrderedStreamOnStdout) {
  FakeScheduler fake([](const Message& m) { return Encode(m.request_id, TwoStreams(m)); });
  CliRun r = Cli({"--scheduler", fake.endpoint(), "logs", "3", "--merged"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "out 1\nerr 1\nout 2\n");
  EXPECT_EQ(r.err, "");
  CliRun both = Cli({"logs", "3", "--merged", "--stdout-only"});
  EXPECT_EQ(both.code, kExitUsage);
}

// A fake ritsud that "crashes" after receiving its first request (closes the socket without a
// reply, as a kill -9 would) and comes back on the same address after `down`, then answers
// every request until stopped. Counts what it received by type.
class RestartingScheduler {
 public:
  explicit RestartingScheduler(std::chrono::milliseconds down) {
    auto first = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::router);
    first->set(zmq::sockopt::linger, 0);
    first->bind("tcp://127.0.0.1:*");
    endpoint_ = first->get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this, down, first = std::move(first)]() mutable {
      if (!Serve(*first, /*reply=*/false)) return;
      first->close();  // the "crash": the request dies with the process
      std::this_thread::sleep_for(down);
      zmq::socket_t again(ctx_, zmq::socket_type::router);
      again.set(zmq::sockopt::linger, 0);
      again.bind(endpoint_);
      while (!stop_ && Serve(again, /*reply=*/true)) {
      }
    });
  }
  ~RestartingScheduler() {
    stop_ = true;
    thread_.join();
  }
  const std::string& endpoint() const { return endpoint_; }
  int received(MsgType t) const { return counts_[int(t)].load(); }

 private:
  // One request (false after 5 s of silence or when stopping).
  bool Serve(zmq::socket_t& sock, bool reply) {
    zmq::pollitem_t item{sock.handle(), 0, ZMQ_POLLIN, 0};
    for (int i = 0; i < 50 && !stop_; ++i) {
      zmq::poll(&item, 1, std::chrono::milliseconds(100));
      if (!(item.revents & ZMQ_POLLIN)) continue;
      zmq::message_t id, body;
      (void)sock.recv(id);
      (void)sock.recv(body);
      auto msg = Decode(std::string_view(static_cast<const char*>(body.data()), body.size()));
      if (!msg.ok()) return false;
      counts_[int(msg->type)]++;
      if (!reply) return true;
      std::string out = msg->type == MsgType::kSubmit ? Encode(msg->request_id, SubmitReply{{9}, {}})
                                                      : Encode(msg->request_id, StatusReply{});
      sock.send(id, zmq::send_flags::sndmore);
      sock.send(zmq::buffer(out));
      return true;
    }
    return false;
  }

  zmq::context_t ctx_{1};
  std::string endpoint_;
  std::atomic<bool> stop_{false};
  std::array<std::atomic<int>, 128> counts_{};
  std::thread thread_;
};

TEST(ClientTest, ResendsAQueryWhenTheSchedulerRestarts) {
  RestartingScheduler fake(std::chrono::milliseconds(300));
  Client c(fake.endpoint(), std::chrono::seconds(3));
  // A long poll that the restart would otherwise leave hanging for all of its 20 s.
  auto t0 = std::chrono::steady_clock::now();
  auto rep = c.Call<StatusReply>(StatusRequest{}, std::chrono::seconds(20));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  EXPECT_EQ(c.resends(), 1);
  EXPECT_EQ(fake.received(MsgType::kStatus), 2);
  EXPECT_LT(secs, 15.0);  // generous: the point is "not the whole long poll"
}

TEST(ClientTest, ASchedulerThatStaysDownFailsWithinTheReplyTimeout) {
  RestartingScheduler fake(std::chrono::milliseconds(2000));  // back only after the client gave up
  Client c(fake.endpoint(), std::chrono::milliseconds(500));
  auto t0 = std::chrono::steady_clock::now();
  auto rep = c.Call<StatusReply>(StatusRequest{}, std::chrono::seconds(30));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(rep.ok());
  EXPECT_EQ(rep.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(rep.status().message().find("closed the connection and did not take a new one within 0.5s"), std::string::npos)
      << rep.status().message();
  EXPECT_LT(secs, 10.0);  // not the 30 s long poll: the drop was seen, the scheduler given 0.5 s
}

TEST(ClientTest, NeverResendsASubmit) {
  RestartingScheduler fake(std::chrono::milliseconds(100));
  Client c(fake.endpoint(), std::chrono::milliseconds(1500));
  Submit sub;
  TaskSpec s;
  s.argv = {"true"};
  sub.tasks = {s};
  auto rep = c.Call<SubmitReply>(sub);
  ASSERT_FALSE(rep.ok());
  EXPECT_EQ(rep.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(rep.status().message().find("may or may not have been applied"), std::string::npos) << rep.status().message();
  EXPECT_EQ(c.resends(), 0);
  EXPECT_EQ(fake.received(MsgType::kSubmit), 1);
  EXPECT_FALSE(Client::MayResend(MsgType::kRetry));
  EXPECT_FALSE(Client::MayResend(MsgType::kSweepSubmit));
  EXPECT_TRUE(Client::MayResend(MsgType::kWait));
  EXPECT_TRUE(Client::MayResend(MsgType::kLogs));
}

}  // namespace
}  // namespace ritsu::cli
