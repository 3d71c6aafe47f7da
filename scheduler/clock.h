// Time source of the scheduler core, so tests drive heartbeat timeouts with a fake clock.
#pragma once

#include <chrono>

#include "common/task.h"

namespace ritsu::sched {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimeMs NowMs() const = 0;  // wall clock, ms since the Unix epoch
};

class SystemClock : public Clock {
 public:
  TimeMs NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch()).count();
  }
};

class FakeClock : public Clock {
 public:
  explicit FakeClock(TimeMs start = 1'700'000'000'000) : now_(start) {}
  TimeMs NowMs() const override { return now_; }
  void Advance(TimeMs ms) { now_ += ms; }

 private:
  TimeMs now_;
};

}  // namespace ritsu::sched
