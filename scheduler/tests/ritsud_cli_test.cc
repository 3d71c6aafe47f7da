// The ritsud binary's refusals: each bad start exits non-zero with a message that names the
// problem, and leaves the data dir as it was.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <zmq.hpp>

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
