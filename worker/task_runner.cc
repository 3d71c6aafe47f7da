#include "worker/task_runner.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ritsu::worker {

EventQueue::EventQueue() { wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }
EventQueue::~EventQueue() { if (wake_fd_ >= 0) ::close(wake_fd_); }

void EventQueue::Push(TaskEvent ev) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(ev));
  }
  uint64_t one = 1;
  ssize_t w = ::write(wake_fd_, &one, sizeof one);
  (void)w;
}

std::deque<TaskEvent> EventQueue::TakeAll() {
  uint64_t drain;
  while (::read(wake_fd_, &drain, sizeof drain) > 0) {}
  std::lock_guard<std::mutex> lock(mu_);
  std::deque<TaskEvent> out;
  out.swap(events_);
  return out;
}

std::string SeriesPathFor(const std::string& metrics_dir, TaskId task_id, uint32_t attempt) {
  return (std::filesystem::path(metrics_dir) / fmt::format("task-{}-attempt-{}.series.jsonl", task_id, attempt)).string();
}

ProcessSpec BuildProcessSpec(const Assign& a, const LaunchContext& ctx, std::string* metrics_path) {
  ProcessSpec spec;
  if (a.kind == TaskKind::kExec) {
    spec.argv = a.argv;
  } else {
    spec.argv.push_back(ctx.engine_path);
    spec.argv.push_back(TaskKindName(a.kind));
    spec.argv.insert(spec.argv.end(), a.argv.begin(), a.argv.end());
  }
  spec.cwd = a.cwd;
  for (const auto& [k, v] : a.env) spec.env.emplace_back(k, v);
  *metrics_path = (std::filesystem::path(ctx.metrics_dir) / fmt::format("task-{}-attempt-{}.json", a.task_id, a.attempt)).string();
  // Set after the spec's env so a task cannot point them elsewhere by accident.
  spec.env.emplace_back("CUDA_VISIBLE_DEVICES", VisibleDevicesFor(ctx.slots, a.slots));
  spec.env.emplace_back("RITSU_TASK_ID", std::to_string(a.task_id));
  spec.env.emplace_back("RITSU_ATTEMPT", std::to_string(a.attempt));
  spec.env.emplace_back("RITSU_METRICS_FILE", *metrics_path);
  spec.env.emplace_back("RITSU_METRICS_SERIES", SeriesPathFor(ctx.metrics_dir, a.task_id, a.attempt));
  spec.timeout = std::chrono::milliseconds(a.timeout_ms);
  spec.kill_grace = ctx.kill_grace;
  return spec;
}

std::string ReadMetricsFile(const std::string& path, std::string* problem) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return "";
  auto size = std::filesystem::file_size(path, ec);
  if (ec) { *problem = fmt::format("cannot read {}: {}", path, ec.message()); return ""; }
  if (size > (1u << 20)) { *problem = fmt::format("{} is {} bytes, over the 1 MiB limit; ignored", path, size); return ""; }
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    *problem = fmt::format("{} is not one JSON object; ignored", path);
    return "";
  }
  return j.dump();  // normalised: one line, no trailing newline
}

TaskRunner::TaskRunner(const Assign& a, const LaunchContext& ctx, EventQueue* events)
    : ref_{a.task_id, a.attempt}, slots_(a.slots), events_(events), registry_(ctx.registry) {
  ProcessSpec spec = BuildProcessSpec(a, ctx, &metrics_path_);
  std::error_code ec;
  std::filesystem::create_directories(ctx.metrics_dir, ec);
  std::filesystem::remove(metrics_path_, ec);  // a file from an earlier run of this attempt
  thread_ = std::thread([this, spec = std::move(spec)]() mutable { Run(std::move(spec)); });
}

TaskRunner::~TaskRunner() {
  if (thread_.joinable()) thread_.join();
}

void TaskRunner::Cancel(std::chrono::milliseconds grace) {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  cancel_grace_ = grace;
  if (process_) process_->Cancel(grace);
}

void TaskRunner::SetOutputPaused(bool paused) {
  std::lock_guard<std::mutex> lock(mu_);
  paused_ = paused;
  if (process_) process_->SetPaused(paused);
}

void TaskRunner::Run(ProcessSpec spec) {
  TaskEvent exited;
  exited.type = TaskEvent::Type::kExited;
  exited.ref = ref_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancelled_) {  // cancelled before it ever started
      exited.result.cancelled = true;
      exited.result.launch_error = "cancelled before start";
      events_->Push(std::move(exited));
      return;
    }
  }
  // The token is on disk before the fork, so a start-up reaper pass finds this tree even if the
  // worker dies between the fork and the second Record.
  AttemptRecord record{ref_.task_id, ref_.attempt, RandomAttemptToken(), {}, {}};
  spec.attempt_token = record.token;
  if (registry_) {
    Status st = registry_->Record(record);
    if (!st.ok()) std::fprintf(stderr, "ritsu-worker: task %llu attempt %u: %s\n", (unsigned long long)ref_.task_id,
                               ref_.attempt, st.ToString().c_str());
  }
  auto started = Process::Start(spec);
  if (!started.ok()) {
    if (registry_) registry_->Remove(ref_.task_id, ref_.attempt);
    exited.result.launch_error = started.status().message();
    events_->Push(std::move(exited));
    return;
  }
  std::unique_ptr<Process> proc = std::move(started).value();
  if (registry_) {
    record.shim = IdentityOf(proc->shim_pid());
    record.task = IdentityOf(proc->pid());
    (void)registry_->Record(record);  // a failure was reported above already
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    process_ = proc.get();
    if (cancelled_) proc->Cancel(cancel_grace_);
    if (paused_) proc->SetPaused(true);
  }
  TaskEvent st;
  st.type = TaskEvent::Type::kStarted;
  st.ref = ref_;
  st.pid = proc->pid();
  events_->Push(std::move(st));

  // Lines are handed to the agent per batch of reads, not one event per line: at tens of MB/s
  // of output the queue would otherwise spend its time on allocations and wake-ups. Order
  // between the two streams is kept per batch (stdout part first).
  std::string pending[2];
  auto hand_on = [&] {
    for (int s = 0; s < 2; ++s) {
      if (pending[s].empty()) continue;
      TaskEvent ev;
      ev.type = TaskEvent::Type::kOutput;
      ev.ref = ref_;
      ev.stream = s == 0 ? LogStream::kStdout : LogStream::kStderr;
      ev.data = std::move(pending[s]);
      pending[s].clear();
      events_->Push(std::move(ev));
    }
  };
  exited.result = proc->Wait(
      [&](OutputStream s, std::string_view line) {
        std::string& buf = pending[s == OutputStream::kStdout ? 0 : 1];
        buf.append(line);
        if (buf.size() >= 256 * 1024) hand_on();
      },
      hand_on);
  {
    std::lock_guard<std::mutex> lock(mu_);
    process_ = nullptr;
  }
  // Wait() returned: the shim reaped the whole tree, nothing is left to reap on a restart.
  if (registry_) registry_->Remove(ref_.task_id, ref_.attempt);
  events_->Push(std::move(exited));
}

}  // namespace ritsu::worker
