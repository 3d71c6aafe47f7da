#include "common/task.h"

#include <cctype>

#include <fmt/format.h>

namespace ritsu {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

}  // namespace

const char* TaskKindName(TaskKind k) {
  switch (k) {
    case TaskKind::kExec: return "exec";
    case TaskKind::kTrain: return "train";
    case TaskKind::kEval: return "eval";
    case TaskKind::kMerge: return "merge";
  }
  return "unknown";
}

Result<TaskKind> ParseTaskKind(std::string_view s) {
  for (TaskKind k : {TaskKind::kExec, TaskKind::kTrain, TaskKind::kEval, TaskKind::kMerge}) {
    if (EqualsIgnoreCase(s, TaskKindName(k))) return k;
  }
  return Status::InvalidArgument(fmt::format("unknown task kind '{}' (use exec, train, eval or merge)", s));
}

const char* TaskStateName(TaskState s) {
  switch (s) {
    case TaskState::kPending: return "PENDING";
    case TaskState::kQueued: return "QUEUED";
    case TaskState::kAssigned: return "ASSIGNED";
    case TaskState::kRunning: return "RUNNING";
    case TaskState::kSucceeded: return "SUCCEEDED";
    case TaskState::kFailed: return "FAILED";
    case TaskState::kCancelled: return "CANCELLED";
    case TaskState::kCancelling: return "CANCELLING";
  }
  return "UNKNOWN";
}

Result<TaskState> ParseTaskState(std::string_view s) {
  for (int i = 0; i < kNumTaskStates; ++i) {
    auto st = static_cast<TaskState>(i);
    if (EqualsIgnoreCase(s, TaskStateName(st))) return st;
  }
  return Status::InvalidArgument(fmt::format(
      "unknown state '{}' (use PENDING, QUEUED, ASSIGNED, RUNNING, CANCELLING, SUCCEEDED, FAILED or CANCELLED)", s));
}

bool IsTerminal(TaskState s) {
  return s == TaskState::kSucceeded || s == TaskState::kFailed || s == TaskState::kCancelled;
}

const char* WorkerStateName(WorkerState s) {
  switch (s) {
    case WorkerState::kAlive: return "alive";
    case WorkerState::kDraining: return "draining";
    case WorkerState::kLost: return "lost";
  }
  return "unknown";
}

}  // namespace ritsu
