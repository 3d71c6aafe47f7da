// The ritsud binary's refusals: each bad start exits non-zero with a message that names the
// problem, and leaves the data dir as it was.
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "common/protocol.h"
#include "scheduler/kv.h"

namespace {

struct RunResult {
  int code;
  std::string output;
};

// Runs ritsud with `args` (bounded by timeout(1): a start that does not refuse is killed).
RunResult Ritsud(const std::string& args) {
  std::string cmd = "timeout 10 " RITSU_BINARY_DIR "/scheduler/ritsud " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (p && fgets(buf, sizeof buf, p)) out += buf;
  int st = p ? pclose(p) : -1;
  return RunResult{WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

class RitsudCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ritsud-cli-test-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(RitsudCliTest, MissingAndUnknownFlags) {
  RunResult r = Ritsud("--bind tcp://127.0.0.1:1");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("--data-dir is required"), std::string::npos) << r.output;
  r = Ritsud("--data-dir " + dir_.string() + " --bind tcp://127.0.0.1:1 --frobnicate");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("unknown argument '--frobnicate'"), std::string::npos) << r.output;
  r = Ritsud("--data-dir " + dir_.string() + " --bind tcp://127.0.0.1:1 --heartbeat-timeout soon");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("--heartbeat-timeout"), std::string::npos) << r.output;
}

TEST_F(RitsudCliTest, OtherSchemaVersionIsRefused) {
  {
    auto kv = ritsu::sched::OpenRocksKv(dir_.string());
    ASSERT_TRUE(kv.ok());
    ritsu::sched::Batch b;
    b.Put(ritsu::sched::Cf::kMeta, "schema_version", "7");
    ASSERT_TRUE((*kv)->Write(b, true).ok());
  }
  RunResult r = Ritsud("--data-dir " + dir_.string() + " --bind tcp://127.0.0.1:1");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("schema version 7"), std::string::npos) << r.output;
}

TEST_F(RitsudCliTest, PortInUseIsRefused) {
  zmq::context_t ctx(1);
  zmq::socket_t holder(ctx, zmq::socket_type::router);
  holder.set(zmq::sockopt::linger, 0);
  holder.bind("tcp://127.0.0.1:*");
  std::string ep = holder.get(zmq::sockopt::last_endpoint);
  RunResult r = Ritsud("--data-dir " + dir_.string() + " --insecure --bind " + ep);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("cannot bind " + ep), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Address already in use"), std::string::npos) << r.output;
}

TEST_F(RitsudCliTest, DataDirLockedByAnotherProcess) {
  auto kv = ritsu::sched::OpenRocksKv(dir_.string());  // holds the RocksDB LOCK
  ASSERT_TRUE(kv.ok());
  RunResult r = Ritsud("--data-dir " + dir_.string() + " --bind tcp://127.0.0.1:*");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("locked by another process"), std::string::npos) << r.output;
}

}  // namespace

namespace sighup {

// Asks ritsud for a status summary; true when it answers within the timeout.
bool Answers(zmq::socket_t& s, uint64_t id) {
  s.send(zmq::buffer(ritsu::Encode(id, ritsu::StatusRequest{{}, 0, true, 0, {}})), zmq::send_flags::none);
  for (int i = 0; i < 100; ++i) {
    zmq::pollitem_t items[] = {{s.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(100));
    if (!(items[0].revents & ZMQ_POLLIN)) continue;
    zmq::message_t m;
    (void)s.recv(m);
    auto d = ritsu::Decode(std::string_view(static_cast<const char*>(m.data()), m.size()));
    if (d.ok() && d->request_id == id) return d->type == ritsu::MsgType::kStatusReply;
  }
  return false;
}

}  // namespace sighup

TEST_F(RitsudCliTest, SighupWithoutCurveDoesNotStopIt) {
  // A free port: bind one, release it.
  std::string ep;
  {
    zmq::context_t ctx(1);
    zmq::socket_t probe(ctx, zmq::socket_type::router);
    probe.bind("tcp://127.0.0.1:*");
    ep = probe.get(zmq::sockopt::last_endpoint);
  }
  std::string log = (dir_.string() + ".log");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    FILE* f = freopen(log.c_str(), "w", stderr);
    (void)f;
    execl(RITSU_BINARY_DIR "/scheduler/ritsud", "ritsud", "--data-dir", dir_.c_str(), "--bind", ep.c_str(),
          "--insecure", static_cast<char*>(nullptr));
    _exit(127);
  }
  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.connect(ep);
  bool up = sighup::Answers(s, 1);
  if (up) {
    kill(pid, SIGHUP);  // what `systemctl reload ritsud` sends
    up = sighup::Answers(s, 2);
  }
  kill(pid, SIGTERM);
  int st = 0;
  waitpid(pid, &st, 0);
  std::string out;
  if (FILE* f = fopen(log.c_str(), "r")) {
    char buf[512];
    while (fgets(buf, sizeof buf, f)) out += buf;
    fclose(f);
  }
  std::remove(log.c_str());
  EXPECT_TRUE(up) << "ritsud stopped answering after SIGHUP\n" << out;
  ASSERT_TRUE(WIFEXITED(st)) << "ritsud was killed by signal " << (WIFSIGNALED(st) ? WTERMSIG(st) : 0) << "\n" << out;
  EXPECT_EQ(WEXITSTATUS(st), 0) << out;
  EXPECT_NE(out.find("SIGHUP: nothing to reload"), std::string::npos) << out;
}

TEST_F(RitsudCliTest, StartOnAFullDiskSaysSoAndExitsCleanly) {
  std::filesystem::create_directories(dir_);
  if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (not root?)";
  }
  {
    FILE* f = fopen((dir_ / "fill").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::string block(4096, 'x');
    while (fwrite(block.data(), 1, block.size(), f) == block.size() && fflush(f) == 0) {
    }
    fclose(f);
  }
  RunResult r = Ritsud("--data-dir " + (dir_ / "data").string() + " --insecure --bind tcp://127.0.0.1:0");
  ::umount2(dir_.c_str(), MNT_DETACH);
  EXPECT_EQ(r.code, 2) << r.output;  // not a signal (RocksDB aborted here before)
  EXPECT_NE(r.output.find("scheduler store is out of space"), std::string::npos) << r.output;
}
