// A SpoolFs for tests: a disk that can be "full" (every write / fdatasync fails with ENOSPC)
// until the test gives the space back, or that fails exactly the Nth write.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "worker/spool.h"

namespace ritsu::worker {

class FaultyFs : public SpoolFs {
 public:
  std::atomic<bool> full{false};
  std::atomic<int> fail_write_number{0};  // 1-based; 0 = none
  std::atomic<int> writes{0};
  std::atomic<int> refused{0};             // calls answered with ENOSPC

  ssize_t Write(int fd, const void* data, size_t n) override {
    int number = ++writes;
    if (full.load() || number == fail_write_number.load()) {
      ++refused;
      // A nearly full disk takes part of the record first: the spool must cut it off again.
      if (n > 1 && !partial_done_.exchange(true)) return ::write(fd, data, n / 2);
      errno = ENOSPC;
      return -1;
    }
    partial_done_.store(false);
    return ::write(fd, data, n);
  }
  int DataSync(int fd) override {
    if (full.load()) { ++refused; errno = ENOSPC; return -1; }
    return ::fdatasync(fd);
  }

 private:
  std::atomic<bool> partial_done_{false};
};

}  // namespace ritsu::worker
