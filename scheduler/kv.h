// The storage seam of ritsud: a tiny ordered key-value interface with column families and
// atomic batches. RocksKv is the real thing; MemKv (scheduler/tests) is the fake the state
// machine tests use. Everything above this layer (scheduler/store.h) is shared by both, so the
// key encodings are tested once.
//
// Thread safety: one writer (the event loop). Reads may run on the same thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ritsu::sched {

// Column families (docs/store.md describes the keys and values of each).
enum class Cf : uint8_t {
  kMeta = 0, kTasks, kAttempts, kStateIndex, kSweepIndex, kDeps, kWorkers, kLogs, kSweeps, kMetrics,
};
inline constexpr int kNumCfs = 10;
const char* CfName(Cf cf);  // "meta", "tasks", ... (the RocksDB column family names)

// A set of puts/deletes applied atomically by Kv::Write.
class Batch {
 public:
  struct Op {
    Cf cf;
    std::string key;
    std::string value;
    bool erase = false;
  };
  void Put(Cf cf, std::string key, std::string value) {
    bytes_ += key.size() + value.size();
    ops_.push_back(Op{cf, std::move(key), std::move(value), false});
  }
  void Delete(Cf cf, std::string key) {
    bytes_ += key.size();
    ops_.push_back(Op{cf, std::move(key), {}, true});
  }
  bool empty() const { return ops_.empty(); }
  size_t bytes() const { return bytes_; }
  const std::vector<Op>& ops() const { return ops_; }
  void Clear() { ops_.clear(); bytes_ = 0; }

 private:
  std::vector<Op> ops_;
  size_t bytes_ = 0;
};

// Iteration over [start, end) of one column family (end empty = to the last key), ascending,
// or descending from the last key below `end` when the cursor was opened with reverse.
class Cursor {
 public:
  virtual ~Cursor() = default;
  virtual bool Valid() const = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  virtual void Next() = 0;
  virtual Status status() const = 0;
};

class Kv {
 public:
  virtual ~Kv() = default;
  // Applies the batch atomically; with sync the WAL is on stable storage when this returns.
  virtual Status Write(const Batch& batch, bool sync) = 0;
  virtual Result<std::optional<std::string>> Get(Cf cf, std::string_view key) = 0;
  virtual std::unique_ptr<Cursor> Scan(Cf cf, std::string_view start, std::string_view end,
                                       bool reverse = false) = 0;
  // The greatest key <= `key` that starts with `prefix`, with its value; nullopt if none.
  virtual Result<std::optional<std::pair<std::string, std::string>>> Floor(
      Cf cf, std::string_view key, std::string_view prefix) = 0;
  // After a failed write (e.g. the disk filled): clears the store's error state so that writes
  // can be tried again. RocksDB stops accepting writes after a failed WAL write until
  // DB::Resume(). A no-op where there is no such state.
  virtual Status Resume() { return Status::Ok(); }
};

// A write refused because the disk is full. ritsud keeps serving reads, refuses writes with
// this message and tries again (scheduler/broker.cc). Code unavailable: "try again later".
Status NoSpaceError(const std::string& detail);
bool IsNoSpace(const Status& s);

// Opens (creating if missing) a RocksDB database at `dir` with every column family. Refuses a
// directory another process holds open ("locked by another ritsud").
Result<std::unique_ptr<Kv>> OpenRocksKv(const std::string& dir);

// An in-memory Kv (ordered maps). Used by tests and by nothing in production.
std::unique_ptr<Kv> NewMemKv();

}  // namespace ritsu::sched
