#include "worker/attempt_registry.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "worker/process.h"
#include "worker/task_shim.h"

namespace ritsu::worker {
namespace {

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool HasEnv(pid_t pid, const std::string& entry) {
  std::string env = ReadWhole(fmt::format("/proc/{}/environ", pid));
  size_t pos = 0;
  while (pos < env.size()) {
    size_t end = env.find('\0', pos);
    if (end == std::string::npos) end = env.size();
    if (std::string_view(env).substr(pos, end - pos) == entry) return true;
    pos = end + 1;
  }
  return false;
}

std::vector<pid_t> ProcessesWithEnv(const std::string& entry) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& d : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = d.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    pid_t pid = pid_t(std::stol(name));
    if (pid != ::getpid() && HasEnv(pid, entry)) out.push_back(pid);
  }
  return out;
}

}  // namespace

uint64_t ProcStartTicks(pid_t pid) {
  if (pid <= 0) return 0;
  std::string stat = ReadWhole(fmt::format("/proc/{}/stat", pid));
  size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return 0;
  std::istringstream rest(stat.substr(close + 2));  // field 3 (state) onwards
  std::string field;
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return 0;
    if (i == 3 && field == "Z") return 0;
  }
  return std::strtoull(field.c_str(), nullptr, 10);
}

ProcIdentity IdentityOf(pid_t pid) { return {int32_t(pid), ProcStartTicks(pid)}; }

bool StillRunning(const ProcIdentity& id) {
  if (id.pid <= 0 || id.start_ticks == 0) return false;
  return ProcStartTicks(id.pid) == id.start_ticks;
}

int KillAttemptLeftovers(const AttemptRecord& rec) {
  const std::string token_entry = rec.token.empty() ? "" : std::string(kAttemptTokenEnv) + "=" + rec.token;
  std::set<pid_t> signalled;
  // Each round finds what is alive now; orphans reparent and forks may race a round, so repeat
  // until a round finds nothing (bounded: a tree that keeps forking faster than this is killed
  // on the next start at the latest).
  for (int round = 0; round < 50; ++round) {
    std::vector<pid_t> victims;
    for (const ProcIdentity& id : {rec.shim, rec.task}) {
      if (!StillRunning(id)) continue;
      victims.push_back(id.pid);
      pid_t desc[4096];
      int n = ListDescendants(id.pid, desc, 4096);
      victims.insert(victims.end(), desc, desc + n);
    }
    if (!token_entry.empty()) {
      auto marked = ProcessesWithEnv(token_entry);
      victims.insert(victims.end(), marked.begin(), marked.end());
    }
    victims.erase(std::remove_if(victims.begin(), victims.end(), [](pid_t p) { return ProcStartTicks(p) == 0; }),
                  victims.end());
    if (victims.empty()) break;
    for (pid_t p : victims) {
      ::kill(p, SIGKILL);
      signalled.insert(p);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return int(signalled.size());
}

AttemptRegistry::AttemptRegistry(std::string dir) : dir_(std::move(dir)) {}

std::string AttemptRegistry::PathFor(TaskId task_id, uint32_t attempt) const {
  return (std::filesystem::path(dir_) / fmt::format("task-{}-attempt-{}.json", task_id, attempt)).string();
}

Status AttemptRegistry::Record(const AttemptRecord& rec) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::IOError(fmt::format("cannot create {}: {}", dir_, ec.message()));
  nlohmann::json j = {{"task_id", rec.task_id}, {"attempt", rec.attempt}, {"token", rec.token},
                      {"shim_pid", rec.shim.pid}, {"shim_start", rec.shim.start_ticks},
                      {"task_pid", rec.task.pid}, {"task_start", rec.task.start_ticks}};
  std::string path = PathFor(rec.task_id, rec.attempt);
  std::string tmp = path + ".tmp";
  std::string text = j.dump() + "\n";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
  bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size()) && ::fdatasync(fd) == 0;
  int e = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Status::IOError(fmt::format("cannot write {}: {}", path, std::strerror(ok ? errno : e)));
  }
  return Status::Ok();
}

void AttemptRegistry::Remove(TaskId task_id, uint32_t attempt) {
  std::error_code ec;
  std::filesystem::remove(PathFor(task_id, attempt), ec);
}

std::vector<AttemptRecord> AttemptRegistry::List(std::vector<std::string>* problems) const {
  std::vector<AttemptRecord> out;
  std::error_code ec;
  for (const auto& d : std::filesystem::directory_iterator(dir_, ec)) {
    if (d.path().extension() != ".json") continue;
    auto j = nlohmann::json::parse(ReadWhole(d.path().string()), nullptr, false);
    AttemptRecord r;
    try {
      if (j.is_discarded()) throw std::runtime_error("not JSON");
      r.task_id = j.at("task_id").get<TaskId>();
      r.attempt = j.at("attempt").get<uint32_t>();
      r.token = j.at("token").get<std::string>();
      r.shim = {j.value("shim_pid", 0), j.value("shim_start", uint64_t(0))};
      r.task = {j.value("task_pid", 0), j.value("task_start", uint64_t(0))};
    } catch (const std::exception& e) {
      if (problems) problems->push_back(fmt::format("{}: unreadable attempt record ({}); removed", d.path().string(), e.what()));
      std::filesystem::remove(d.path(), ec);
      continue;
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<std::string> AttemptRegistry::ReapLeftovers() {
  std::vector<std::string> lines;
  for (const AttemptRecord& r : List(&lines)) {
    int killed = KillAttemptLeftovers(r);
    if (killed > 0)
      lines.push_back(fmt::format("task {} attempt {}: killed {} process(es) a previous run of this worker left behind",
                                  r.task_id, r.attempt, killed));
    Remove(r.task_id, r.attempt);
  }
  return lines;
}

}  // namespace ritsu::worker
