#include "tests/integration/harness.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace ritsu::itest {
namespace {

using Clock = std::chrono::steady_clock;

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// fork + exec with stdout/stderr to files, in a new process group.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_path, const std::string& err_path) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int err = out_path == err_path ? out : ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  if (pid > 0) ::setpgid(pid, pid);
  return pid;
}

}  // namespace

std::string BinaryPath(const std::string& rel) { return std::string(RITSU_BINARY_DIR) + "/" + rel; }

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

Daemon::Daemon(std::vector<std::string> argv, std::filesystem::path log_file) : log_(std::move(log_file)) {
  pid_ = Spawn(argv, log_.string(), log_.string());
}

Daemon::~Daemon() {
  if (pid_ > 0) {
    ::killpg(pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int st;
    ::waitpid(pid_, &st, 0);
  }
}

void Daemon::Kill(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

bool Daemon::Running() {
  if (pid_ <= 0) return false;
  int st;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    ::killpg(pid_, SIGKILL);  // anything it left in its group
    pid_ = -1;
    return false;
  }
  return true;
}

int Daemon::Wait(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (pid_ > 0 && Clock::now() < deadline) {
    int st;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      ::killpg(pid_, SIGKILL);
      pid_ = -1;
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

std::string Daemon::Log() const { return ReadFile(log_); }

nlohmann::json CmdResult::Json() const {
  auto j = nlohmann::json::parse(out, nullptr, false);
  return j.is_discarded() ? nlohmann::json::object() : j;
}

CmdResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  char out_tpl[] = "/tmp/ritsu-itest-outXXXXXX";
  char err_tpl[] = "/tmp/ritsu-itest-errXXXXXX";
  int ofd = ::mkstemp(out_tpl), efd = ::mkstemp(err_tpl);
  ::close(ofd);
  ::close(efd);
  CmdResult r;
  pid_t pid = Spawn(argv, out_tpl, err_tpl);
  auto deadline = Clock::now() + timeout;
  int st = 0;
  for (;;) {
    pid_t w = ::waitpid(pid, &st, WNOHANG);
    if (w == pid) {
      r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      break;
    }
    if (Clock::now() > deadline) {
      ::killpg(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      r.code = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.out = ReadFile(out_tpl);
  r.err = ReadFile(err_tpl);
  ::unlink(out_tpl);
  ::unlink(err_tpl);
  return r;
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (cond()) return true;
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Cluster::Cluster() {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  dir_ = std::filesystem::temp_directory_path() / fmt::format("ritsu-itest-{}-{}", ::getpid(), name);
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  port_ = FreePort();
}

Cluster::~Cluster() {
  bool failed = ::testing::Test::HasFailure();
  workers_.clear();
  sched_.reset();
  if (failed) std::fprintf(stderr, "---- process logs of the failed test ----\n%s\n", Logs().c_str());
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string Cluster::endpoint() const { return fmt::format("tcp://127.0.0.1:{}", port_); }

void Cluster::StartScheduler() {
  sched_ = std::make_unique<Daemon>(
      std::vector<std::string>{BinaryPath("scheduler/ritsud"), "--data-dir", (dir_ / "data").string(), "--bind",
                               endpoint(), "--insecure", "--heartbeat-timeout", heartbeat_timeout, "--heartbeat-interval",
                               heartbeat_interval},
      dir_ / fmt::format("ritsud-{}.log", sched_starts_++));
  bool up = WaitFor([&] { return Ritsu({"--reply-timeout", "500ms", "status", "--summary"}, std::chrono::seconds(5)).code == 0; },
                    std::chrono::seconds(15));
  if (!up) {
    // Nothing after this can work: end the test here (gtest reports the exception; the
    // destructors still stop every process) instead of letting it wait on each step.
    ADD_FAILURE() << "ritsud did not start serving on " << endpoint() << "\n" << sched_->Log();
    throw std::runtime_error("ritsud did not start");
  }
}

void Cluster::KillScheduler(int sig) {
  sched_->Kill(sig);
  sched_->Wait(std::chrono::seconds(10));
}

Daemon& Cluster::StartWorker(const std::string& name, const std::string& slots, const std::vector<std::string>& extra) {
  auto d = std::make_unique<Daemon>(
      [&] {
        std::vector<std::string> argv{BinaryPath("worker/ritsu-worker"), "--scheduler", endpoint(), "--name", name,
                                      "--spool-dir", (dir_ / ("spool-" + name)).string(), "--kill-grace", "2s"};
        if (!slots.empty()) argv.insert(argv.end(), {"--slots", slots});
        argv.insert(argv.end(), extra.begin(), extra.end());
        return argv;
      }(),
      dir_ / ("worker-" + name + ".log"));
  Daemon& ref = *d;
  workers_[name] = std::move(d);
  return ref;
}

void Cluster::KillWorker(const std::string& name, int sig) {
  auto it = workers_.find(name);
  if (it == workers_.end()) return;
  it->second->Kill(sig);
  it->second->Wait(std::chrono::seconds(10));
}

CmdResult Cluster::Ritsu(std::vector<std::string> args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {BinaryPath("cli/ritsu"), "--scheduler", endpoint()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, timeout);
}

uint64_t Cluster::SubmitExec(const std::vector<std::string>& flags, const std::vector<std::string>& cmd) {
  std::vector<std::string> args = {"submit", "exec", "--cwd", dir_.string()};
  args.insert(args.end(), flags.begin(), flags.end());
  args.push_back("--");
  args.insert(args.end(), cmd.begin(), cmd.end());
  CmdResult r = Ritsu(args);
  EXPECT_EQ(r.code, 0) << r.err;
  try {
    return std::stoull(r.out);
  } catch (const std::exception&) {
    ADD_FAILURE() << "submit printed no id: '" << r.out << "' " << r.err;
    return 0;
  }
}

nlohmann::json Cluster::Show(uint64_t id) {
  CmdResult r = Ritsu({"show", std::to_string(id), "--json"});
  EXPECT_EQ(r.code, 0) << r.err;
  return r.Json();
}

std::string Cluster::State(uint64_t id) {
  nlohmann::json j = Show(id);
  return j.value("state", "?");
}

std::string Cluster::Logs() const {
  std::string all;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    if (e.path().extension() != ".log") continue;
    std::string text = ReadFile(e.path());
    if (text.size() > 8000) text = "...\n" + text.substr(text.size() - 8000);
    all += fmt::format("==== {} ====\n{}\n", e.path().filename().string(), text);
  }
  return all;
}

}  // namespace ritsu::itest
