// What ritsud stores about a sweep (the expanded form; the TOML text is kept for `show`).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <msgpack.hpp>

#include "common/task.h"

namespace ritsu::sched {

struct SweepStepRef {
  std::string step;                  // step name from the sweep file ("main" without steps)
  TaskId task_id = 0;
  MSGPACK_DEFINE_MAP(step, task_id)
};

struct SweepTrial {
  uint32_t trial = 0;                // 0-based index in expansion order
  std::map<std::string, std::string> params;
  std::vector<SweepStepRef> steps;
  MSGPACK_DEFINE_MAP(trial, params, steps)
};

struct SweepRecord {
  SweepId id = 0;
  std::string name;
  std::string file_name;
  uint32_t max_concurrent = 0;       // 0 = no cap on running tasks of this sweep
  TimeMs submitted_ms = 0;
  std::vector<SweepTrial> trials;
  std::string toml;
  MSGPACK_DEFINE_MAP(id, name, file_name, max_concurrent, submitted_ms, trials, toml)
};

}  // namespace ritsu::sched
