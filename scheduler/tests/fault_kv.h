// A Kv over the in-memory one whose writes fail with "out of space" on demand. Like RocksDB, a
// failed write leaves it refusing writes until Resume() is called, even after space returns.
#pragma once

#include <atomic>

#include "scheduler/kv.h"

namespace ritsu::sched::testing {

class FaultKv : public Kv {
 public:
  std::atomic<bool> full{false};
  std::atomic<int> resumes{0};

  Status Write(const Batch& b, bool sync) override {
    if (full || stopped_) {
      stopped_ = true;
      return NoSpaceError("writing to the store: IO error: No space left on device (injected)");
    }
    return inner_->Write(b, sync);
  }
  Status Resume() override {
    ++resumes;
    if (full) return NoSpaceError("resuming writes to the store: still no space (injected)");
    stopped_ = false;
    return Status::Ok();
  }
  Result<std::optional<std::string>> Get(Cf cf, std::string_view k) override { return inner_->Get(cf, k); }
  std::unique_ptr<Cursor> Scan(Cf cf, std::string_view s, std::string_view e, bool r) override {
    return inner_->Scan(cf, s, e, r);
  }
  Result<std::optional<std::pair<std::string, std::string>>> Floor(Cf cf, std::string_view k,
                                                                   std::string_view p) override {
    return inner_->Floor(cf, k, p);
  }

 private:
  std::atomic<bool> stopped_{false};
  std::unique_ptr<Kv> inner_ = NewMemKv();
};

}  // namespace ritsu::sched::testing
