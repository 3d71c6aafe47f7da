// Test helper: whether a process exists and is not a zombie (an orphan's zombie may linger when
// PID 1 is slow to reap it). Used by the worker's unit tests and the worker-death integration
// tests.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <fstream>
#include <string>

namespace ritsu::proctest {

inline bool Alive(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

}  // namespace ritsu::proctest
