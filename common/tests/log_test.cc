// common/log.*: size rotation, thread safety, start-up errors, and ritsud writing its log file.
#include "common/log.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ritsu::log {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "ritsu-log-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
  }
  fs::path operator/(const std::string& name) const { return fs::path(path_) / name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<std::string> ReadLines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The sequence number a test line carries: "... seq=000123 ...".
int SeqOf(const std::string& line) {
  static const std::regex re("seq=(\\d+)");
  std::smatch m;
  return std::regex_search(line, m, re) ? std::stoi(m[1]) : -1;
}

TEST(LogLine, HasTimestampLevelProgramAndMessage) {
  TempDir dir;
  LogOptions opts;
  opts.file = (dir / "a.log").string();
  auto logger = Logger::Open(opts, "ritsud");
  ASSERT_TRUE(logger.ok()) << logger.status().ToString();
  (*logger)->Write(Level::kWarn, "disk almost full\nsecond part");
  auto lines = ReadLines(opts.file);
  ASSERT_EQ(lines.size(), 1u);  // an embedded newline must not split one event into two lines
  EXPECT_TRUE(std::regex_match(lines[0], std::regex(
      R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN ritsud: disk almost full second part)")))
      << lines[0];
}

TEST(LogRotation, RotatesAtTheSizeLimitAndKeepsExactlyNOldFiles) {
  TempDir dir;
  LogOptions opts;
  opts.file = (dir / "d.log").string();
  opts.max_size = 4096;
  opts.keep = 3;
  auto logger = Logger::Open(opts, "ritsud");
  ASSERT_TRUE(logger.ok()) << logger.status().ToString();
  // ~100-byte lines, 600 of them: ~60 KB, so ~15 rotations of which 3 old files survive.
  const int kLines = 600;
  for (int i = 0; i < kLines; ++i) {
    (*logger)->Write(Level::kInfo, fmt::format("seq={:06d} {}", i, std::string(50, 'x')));
  }
  for (int i = 1; i <= 3; ++i) EXPECT_TRUE(fs::exists(opts.file + "." + std::to_string(i))) << i;
  EXPECT_FALSE(fs::exists(opts.file + ".4"));  // the oldest are dropped, not kept past --log-keep
  // Oldest to newest: .3 .2 .1 PATH; together one gap-free run ending with the last line written.
  std::vector<std::string> all;
  for (std::string name : {opts.file + ".3", opts.file + ".2", opts.file + ".1", opts.file}) {
    EXPECT_LE(fs::file_size(name), opts.max_size) << name;
    // Rotation happens at the limit, not long before it: a full file lacks less than a line.
    if (name != opts.file) {
      EXPECT_GT(fs::file_size(name), opts.max_size - 200) << name;
    }
    auto lines = ReadLines(name);
    ASSERT_FALSE(lines.empty()) << name;
    all.insert(all.end(), lines.begin(), lines.end());
  }
  EXPECT_EQ(SeqOf(ReadLines(opts.file).back()), kLines - 1);
  for (size_t i = 1; i < all.size(); ++i) ASSERT_EQ(SeqOf(all[i]), SeqOf(all[i - 1]) + 1) << all[i];
}

TEST(LogRotation, KeepZeroStartsOverWithoutOldFiles) {
  TempDir dir;
  LogOptions opts;
  opts.file = (dir / "z.log").string();
  opts.max_size = 4096;
  opts.keep = 0;
  auto logger = Logger::Open(opts, "w");
  ASSERT_TRUE(logger.ok());
  for (int i = 0; i < 200; ++i) (*logger)->Write(Level::kInfo, fmt::format("seq={:06d} {}", i, std::string(60, 'y')));
  EXPECT_FALSE(fs::exists(opts.file + ".1"));
  EXPECT_LE(fs::file_size(opts.file), opts.max_size);
  EXPECT_EQ(SeqOf(ReadLines(opts.file).back()), 199);
}

TEST(LogRotation, AppendsToAnExistingFileAcrossRestarts) {
  TempDir dir;
  LogOptions opts;
  opts.file = (dir / "r.log").string();
  { auto l = Logger::Open(opts, "ritsud"); ASSERT_TRUE(l.ok()); (*l)->Write(Level::kInfo, "first run"); }
  { auto l = Logger::Open(opts, "ritsud"); ASSERT_TRUE(l.ok()); (*l)->Write(Level::kInfo, "second run"); }
  auto lines = ReadLines(opts.file);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], HasSubstr("first run"));
  EXPECT_THAT(lines[1], HasSubstr("second run"));
}

TEST(LogConcurrency, SeveralThreadsLoseNoLineAcrossRotations) {
  TempDir dir;
  LogOptions opts;
  opts.file = (dir / "c.log").string();
  opts.max_size = 64 * 1024;
  opts.keep = 50;  // enough that nothing is dropped: every line must be found again
  auto logger = Logger::Open(opts, "ritsu-worker");
  ASSERT_TRUE(logger.ok());
  const int kThreads = 8, kPerThread = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) (*logger)->Write(Level::kInfo, fmt::format("thread={} seq={:06d} end", t, i));
    });
  }
  for (auto& th : threads) th.join();
  std::map<std::pair<int, int>, int> seen;
  static const std::regex line_re(R"(\S+Z INFO ritsu-worker: thread=(\d+) seq=(\d+) end)");
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    ++files;
    for (const auto& line : ReadLines(entry.path())) {
      std::smatch m;
      ASSERT_TRUE(std::regex_match(line, m, line_re)) << "torn or mixed line: " << line;
      ++seen[{std::stoi(m[1]), std::stoi(m[2])}];
    }
  }
  EXPECT_GT(files, 2);  // ~480 KB in 64 KB files: the writers really raced rotations
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kPerThread));
  for (const auto& [key, n] : seen) ASSERT_EQ(n, 1) << "thread " << key.first << " seq " << key.second;
}

TEST(LogOpen, MissingDirectoryIsAnErrorNamingThePath) {
  TempDir dir;
  LogOptions opts;
  opts.file = (dir / "no-such-dir" / "ritsud.log").string();
  auto logger = Logger::Open(opts, "ritsud");
  ASSERT_FALSE(logger.ok());
  EXPECT_THAT(logger.status().message(), HasSubstr(opts.file));
  EXPECT_THAT(logger.status().message(), HasSubstr("does not exist"));
}

TEST(LogOpen, UnwritableDirectoryIsAnError) {
  TempDir dir;
  fs::create_directory(dir / "ro");
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
  fs::permissions(dir / "ro", fs::perms::owner_read | fs::perms::owner_exec | fs::perms::others_read |
                                  fs::perms::others_exec);
  LogOptions opts;
  opts.file = (dir / "ro" / "ritsud.log").string();
  auto check = [&]() -> bool {
    auto logger = Logger::Open(opts, "ritsud");
    return !logger.ok() && logger.status().message().find(opts.file) != std::string::npos &&
           logger.status().message().find("not writable") != std::string::npos;
  };
  if (::geteuid() != 0) {
    EXPECT_TRUE(check());
    return;
  }
  // Root writes anywhere (CI runs as root): check as the unprivileged user `nobody` in a child.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
    ::_exit(check() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1 = not refused with the path and 'not writable'; 3 = setuid failed";
}

TEST(LogOpen, ADirectoryAsTheFileIsAnError) {
  TempDir dir;
  LogOptions opts;
  opts.file = dir.path();
  auto logger = Logger::Open(opts, "ritsud");
  ASSERT_FALSE(logger.ok());
  EXPECT_THAT(logger.status().message(), HasSubstr(dir.path()));
}

TEST(LogFlags, SizeAndKeepParseOrNameTheFlag) {
  LogOptions opts;
  EXPECT_EQ(opts.max_size, 50ull * 1024 * 1024);  // the documented default, "50M"
  EXPECT_EQ(opts.keep, 5);
  ASSERT_TRUE(SetMaxSizeFlag("10M", &opts).ok());
  EXPECT_EQ(opts.max_size, 10ull * 1024 * 1024);
  Status bad = SetMaxSizeFlag("ten", &opts);
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(bad.message(), HasSubstr("--log-max-size"));
  EXPECT_FALSE(SetMaxSizeFlag("100", &opts).ok());  // below 4K
  EXPECT_EQ(opts.max_size, 10ull * 1024 * 1024);     // unchanged by the failures
  ASSERT_TRUE(SetKeepFlag("0", &opts).ok());
  EXPECT_EQ(opts.keep, 0);
  for (const char* v : {"-1", "3x", "", "101"}) {
    Status st = SetKeepFlag(v, &opts);
    EXPECT_FALSE(st.ok()) << v;
    EXPECT_THAT(st.message(), HasSubstr("--log-keep")) << v;
  }
}

TEST(LogCapture, StderrOfOtherModulesLandsInTheFileAndIsGivenBack) {
  TempDir dir;
  LogOptions opts;
  opts.file = (dir / "cap.log").string();
  opts.capture_stderr = true;
  struct stat before {};
  ASSERT_EQ(::fstat(STDERR_FILENO, &before), 0);
  {
    auto logger = Logger::Open(opts, "ritsu-worker");
    ASSERT_TRUE(logger.ok());
    std::fprintf(stderr, "printed by another module\n");
    (*logger)->Write(Level::kInfo, "from the logger");
  }
  struct stat after {};
  ASSERT_EQ(::fstat(STDERR_FILENO, &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);  // fd 2 is the test's stderr again
  std::string text = ReadAll(opts.file);
  EXPECT_THAT(text, HasSubstr("printed by another module"));
  EXPECT_THAT(text, HasSubstr("from the logger"));
}

TEST(LogCapture, ErrorsAlsoReachTheOriginalStderr) {
  TempDir dir;
  // The "original stderr" is a file here, so that the test can read it.
  std::string original = (dir / "journal.txt").string();
  int journal = ::open(original.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(journal, 0);
  int test_stderr = ::dup(STDERR_FILENO);
  ::dup2(journal, STDERR_FILENO);
  {
    LogOptions opts;
    opts.file = (dir / "e.log").string();
    opts.capture_stderr = true;
    auto logger = Logger::Open(opts, "ritsud");
    if (logger.ok()) {
      (*logger)->Write(Level::kInfo, "an info line");
      (*logger)->Write(Level::kError, "cannot load the allowlist");
    }
  }
  ::dup2(test_stderr, STDERR_FILENO);
  ::close(test_stderr);
  ::close(journal);
  std::string in_journal = ReadAll(original);
  EXPECT_THAT(in_journal, HasSubstr("ERROR ritsud: cannot load the allowlist"));
  EXPECT_EQ(in_journal.find("an info line"), std::string::npos);
  EXPECT_THAT(ReadAll(dir / "e.log"), HasSubstr("ERROR ritsud: cannot load the allowlist"));
}

TEST(LogCapture, WhatOthersPrintToStderrIsRotatedToo) {
  TempDir dir;
  LogOptions opts;
  opts.file = (dir / "w.log").string();
  opts.capture_stderr = true;
  opts.max_size = 4096;
  opts.keep = 2;
  opts.capture_check_interval = std::chrono::milliseconds(10);
  auto logger = Logger::Open(opts, "ritsu-worker");
  ASSERT_TRUE(logger.ok());
  // Another module's lines only (not through Write): ~6 KB, past the limit.
  for (int i = 0; i < 60; ++i) std::fprintf(stderr, "agent line seq=%06d %s\n", i, std::string(80, 'a').c_str());
  bool rotated = false;
  for (int i = 0; i < 500 && !rotated; ++i) {  // the watcher looks every 10 ms; allow 5 s on a busy CI
    rotated = fs::exists(opts.file + ".1");
    if (!rotated) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::fprintf(stderr, "agent line seq=%06d after\n", 60);
  logger->reset();  // fd 2 back to the test's stderr before the assertions print anything
  ASSERT_TRUE(rotated) << "the watcher did not rotate a file past --log-max-size";
  // The watcher may have rotated anywhere after ~4 KB; either way no line is lost or reordered
  // (6 KB allow only one rotation), and the line printed after it lands in the new PATH.
  EXPECT_FALSE(fs::exists(opts.file + ".2"));
  auto all = ReadLines(opts.file + ".1");
  auto current = ReadLines(opts.file);
  ASSERT_FALSE(current.empty());
  EXPECT_EQ(SeqOf(current.back()), 60);
  all.insert(all.end(), current.begin(), current.end());
  ASSERT_EQ(all.size(), 61u);
  for (int i = 0; i <= 60; ++i) EXPECT_EQ(SeqOf(all[i]), i) << all[i];
}

// ---- the real ritsud ----

int FreeLoopbackPort() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = -1;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(s);
  return port;
}

// Starts `argv`, its stderr to `stderr_file`; returns the pid.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& stderr_file) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) { ::dup2(fd, 2); ::dup2(fd, 1); }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

// Waits up to `timeout` for `pid`; kills it after that. Returns the wait status, or -1.
int WaitOrKill(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

std::string RitsudPath() { return std::string(RITSU_BINARY_DIR) + "/scheduler/ritsud"; }

TEST(RitsudLogFile, WritesItsStartUpAndStopLinesToTheFile) {
  ASSERT_TRUE(fs::exists(RitsudPath())) << "build the ritsud target first: " << RitsudPath();
  TempDir dir;
  int port = FreeLoopbackPort();
  ASSERT_GT(port, 0);
  std::string log = (dir / "ritsud.log").string();
  std::string err = (dir / "stderr.txt").string();
  pid_t pid = Spawn({RitsudPath(), "--insecure", "--data-dir", (dir / "data").string(),
                     "--bind", fmt::format("tcp://127.0.0.1:{}", port), "--log-file", log,
                     "--log-max-size", "1M", "--log-keep", "2"}, err);
  ASSERT_GT(pid, 0);
  bool serving = false;
  for (int i = 0; i < 500 && !serving; ++i) {  // up to 10 s on a loaded 2-core CI machine
    serving = ReadAll(log).find("serving on tcp://127.0.0.1:" + std::to_string(port)) != std::string::npos;
    if (!serving) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGTERM);
  int status = WaitOrKill(pid, std::chrono::seconds(10));
  std::string text = ReadAll(log);
  ASSERT_TRUE(serving) << "log file:\n" << text << "\nstderr:\n" << ReadAll(err);
  EXPECT_THAT(text, HasSubstr("INFO ritsud: serving on"));
  EXPECT_THAT(text, HasSubstr("ritsud: stopped"));
  ASSERT_NE(status, -1) << "ritsud did not stop on SIGTERM";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(ReadAll(err).find("serving on"), std::string::npos);  // the file, not stderr
}

TEST(RitsudLogFile, MissingLogDirectoryStopsItBeforeServing) {
  ASSERT_TRUE(fs::exists(RitsudPath())) << RitsudPath();
  TempDir dir;
  std::string log = (dir / "absent" / "ritsud.log").string();
  std::string err = (dir / "stderr.txt").string();
  pid_t pid = Spawn({RitsudPath(), "--insecure", "--data-dir", (dir / "data").string(),
                     "--bind", fmt::format("tcp://127.0.0.1:{}", FreeLoopbackPort()), "--log-file", log}, err);
  int status = WaitOrKill(pid, std::chrono::seconds(10));
  ASSERT_NE(status, -1) << "ritsud kept running with an unusable --log-file";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
  EXPECT_THAT(ReadAll(err), HasSubstr(log));
  EXPECT_FALSE(fs::exists(dir / "data"));  // refused before touching the store
}

}  // namespace
}  // namespace ritsu::log
