// The real programs with CURVE on: ritsud (--curve-secret-key, --allowlist), ritsu-worker and
// the `ritsu` CLI (--curve-* flags and RITSU_* variables), keys made with `ritsu keygen` and
// allowed with `ritsu keys add`. Skipped when the three binaries are not built.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "auth/tests/test_util.h"

namespace ritsu::auth {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;
using namespace std::chrono_literals;

std::string Bin(const std::string& rel) { return std::string(RITSU_BINARY_DIR) + "/" + rel; }

// A daemon started with fork/exec, output to a file, stopped (SIGTERM, then SIGKILL) at the end.
class Daemon {
 public:
  Daemon(std::vector<std::string> argv, const std::string& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      std::FILE* f = std::freopen(log.c_str(), "w", stderr);
      (void)f;
      ::dup2(STDERR_FILENO, STDOUT_FILENO);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
  }
  ~Daemon() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(50ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }

 private:
  pid_t pid_ = -1;
};

struct Outcome {
  int code;
  std::string output;
};

// Runs a shell command line, returns its exit code and its stdout+stderr.
Outcome Shell(const std::string& cmd, const std::string& out_file) {
  int rc = std::system(fmt::format("{} >{} 2>&1", cmd, out_file).c_str());
  std::ifstream in(out_file);
  std::stringstream s;
  s << in.rdbuf();
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, s.str()};
}

// A loopback port nobody listens on now (the kernel's pick, released again for ritsud).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(CurveEndToEnd, KeysRolesAndRevocationWithTheRealPrograms) {
  for (const char* b : {"scheduler/ritsud", "worker/ritsu-worker", "cli/ritsu"}) {
    if (!std::filesystem::exists(Bin(b))) FAIL() << Bin(b) << " is not built (scripts/setup builds every target)";
  }
  TempDir dir;
  const std::string ritsu = Bin("cli/ritsu");
  const std::string k = dir.File("keys");
  for (const char* name : {"ritsud", "w1", "alice", "viewer", "mallory"}) {
    ASSERT_EQ(Shell(fmt::format("{} keygen --dir {} --name {}", ritsu, k, name), dir.File("kg")).code, 0);
  }
  std::string allowlist = dir.Write("allowlist", "# test cluster\n");
  auto add = [&](const char* name, const char* role) {
    return Shell(fmt::format("{} keys add {}/{}.pub --role {} --name {} --allowlist {}", ritsu, k, name, role,
                             name, allowlist),
                 dir.File("add"));
  };
  ASSERT_EQ(add("w1", "worker").code, 0);
  ASSERT_EQ(add("alice", "submit").code, 0);
  ASSERT_EQ(add("viewer", "read").code, 0);

  std::string endpoint = fmt::format("tcp://127.0.0.1:{}", FreePort());
  Daemon sched({Bin("scheduler/ritsud"), "--data-dir", dir.File("data"), "--bind", endpoint,
                "--curve-secret-key", k + "/ritsud.key", "--allowlist", allowlist},
               dir.File("ritsud.log"));
  Daemon worker({Bin("worker/ritsu-worker"), "--scheduler", endpoint, "--name", "w1", "--slots", "cpu0:mem=1G",
                 "--spool-dir", dir.File("spool"), "--curve-server-key", k + "/ritsud.pub",
                 "--curve-secret-key", k + "/w1.key"},
                dir.File("worker.log"));
  auto as = [&](const char* who, const std::string& args) {
    return Shell(fmt::format("RITSU_SCHEDULER={} RITSU_SERVER_KEY={}/ritsud.pub RITSU_KEY={}/{}.key {} "
                             "--reply-timeout 2s {}",
                             endpoint, k, k, who, ritsu, args),
                 dir.File("cli"));
  };

  // alice (submit) runs a job through the CURVE worker.
  Outcome submit{1, ""};
  for (int i = 0; i < 50 && submit.code != 0; ++i) {
    submit = as("alice", "submit exec -- echo curve-ok");
    if (submit.code != 0) std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(submit.code, 0) << submit.output;
  std::string id = submit.output.substr(0, submit.output.find_first_of("\n "));
  Outcome waited = as("alice", "wait --timeout 20s " + id);
  EXPECT_EQ(waited.code, 0) << waited.output;
  EXPECT_THAT(as("alice", "logs " + id).output, HasSubstr("curve-ok"));

  // viewer (read) may look but not submit.
  EXPECT_EQ(as("viewer", "status").code, 0);
  Outcome refused = as("viewer", "submit exec -- echo no");
  EXPECT_EQ(refused.code, 1);
  EXPECT_THAT(refused.output, HasSubstr("'viewer' has role read; 'submit' needs role submit"));

  // mallory (not listed) gets no answer at all: exit 3, "no reply".
  Outcome stranger = as("mallory", "status");
  EXPECT_EQ(stranger.code, 3) << stranger.output;

  // A world-readable secret key is refused by the CLI before anything is sent.
  std::filesystem::permissions(k + "/viewer.key", std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  Outcome loose = as("viewer", "status");
  EXPECT_EQ(loose.code, 2);
  EXPECT_THAT(loose.output, HasSubstr("viewer.key has mode 0604"));

  // Revoking alice cuts her off without a restart (ritsud watches the file).
  ASSERT_EQ(Shell(fmt::format("{} keys revoke alice --allowlist {}", ritsu, allowlist), dir.File("rv")).code, 0);
  Outcome after{0, ""};
  for (int i = 0; i < 30 && after.code == 0; ++i) {
    std::this_thread::sleep_for(200ms);
    after = as("alice", "status");
  }
  EXPECT_NE(after.code, 0) << "a revoked key was still answered";
}

TEST(CurveEndToEnd, SchedulerRefusesToStartWithoutKeysOrInsecure) {
  if (!std::filesystem::exists(Bin("scheduler/ritsud"))) FAIL() << "ritsud is not built (scripts/setup builds every target)";
  TempDir dir;
  Outcome r = Shell(fmt::format("{} --data-dir {} --bind tcp://127.0.0.1:1", Bin("scheduler/ritsud"), dir.File("d")),
                dir.File("out"));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.output, HasSubstr("--insecure"));
  std::string bad = dir.Write("allowlist", "not a valid line\n");
  ASSERT_EQ(Shell(fmt::format("{} keygen --dir {} --name s", Bin("cli/ritsu"), dir.path()), dir.File("kg")).code, 0);
  r = Shell(fmt::format("{} --data-dir {} --bind tcp://127.0.0.1:1 --curve-secret-key {} --allowlist {}",
                        Bin("scheduler/ritsud"), dir.File("d"), dir.File("s.key"), bad),
            dir.File("out"));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.output, HasSubstr("allowlist line 1"));
}

}  // namespace
}  // namespace ritsu::auth
