// Typed access to ritsud's durable state over a Kv: key encodings, values (msgpack), schema
// version. Layout and durability rule: docs/store.md.
//
// Reads go straight to the Kv. Writes are added to a caller's Batch; the event loop commits one
// batch per loop turn with a synced WAL before it sends any reply (group commit).
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/status.h"
#include "common/task.h"
#include "scheduler/kv.h"
#include "scheduler/sweep_record.h"

namespace ritsu::sched {

// Bump when a key or value layout changes incompatibly; ritsud refuses other versions.
inline constexpr uint32_t kSchemaVersion = 1;

// Counters kept in the meta family so they survive restarts without a scan.
struct StoreMeta {
  TaskId next_task_id = 1;
  SweepId next_sweep_id = 1;
  uint64_t next_seq = 1;
  std::array<uint64_t, kNumTaskStates> counts{};  // tasks per TaskState
  MSGPACK_DEFINE_MAP(next_task_id, next_sweep_id, next_seq, counts)
};

class Store {
 public:
  explicit Store(Kv* kv) : kv_(kv) {}

  // A fresh store gets kSchemaVersion written (synced); an existing one must carry it.
  Status Init();
  Result<StoreMeta> LoadMeta();

  Result<std::optional<TaskRecord>> GetTask(TaskId id);
  Result<std::vector<Attempt>> GetAttempts(TaskId id);
  Result<std::optional<Attempt>> GetAttempt(TaskId id, uint32_t attempt);
  // Ids in `state`, newest (highest id) first, at most `limit` (0 = all), only ids < `below`
  // when it is not 0 (paging).
  Result<std::vector<TaskId>> TasksInState(TaskState state, size_t limit, TaskId below = 0);
  Result<std::vector<TaskId>> TasksOfSweep(SweepId sweep);
  Result<std::vector<TaskId>> Dependents(TaskId id);
  Result<std::vector<WorkerInfo>> LoadWorkers();
  Result<std::optional<SweepRecord>> GetSweep(SweepId id);
  Result<std::vector<SweepRecord>> LoadSweeps();
  // Log bytes of (task, attempt) from combined `offset`, at most about max_bytes (whole chunks
  // are split so the reply starts exactly at offset).
  Result<std::vector<LogPiece>> ReadLog(TaskId id, uint32_t attempt, uint64_t offset,
                                        size_t max_bytes);

  // Metric series bytes of (task, attempt) from `offset`: whole stored chunks (so whole lines),
  // about max_bytes (at least one chunk when any is there).
  Result<std::string> ReadMetrics(TaskId id, uint32_t attempt, uint64_t offset, size_t max_bytes);

  // ---- writes into a batch ----
  // `old_state` = the state the index currently holds for this task (nullopt for a new task).
  void PutTask(Batch& b, const TaskRecord& t, std::optional<TaskState> old_state);
  void PutAttempt(Batch& b, TaskId id, const Attempt& a);
  void PutDependency(Batch& b, TaskId dep, TaskId dependent);
  void PutWorker(Batch& b, const WorkerInfo& w);
  void PutLog(Batch& b, TaskId id, uint32_t attempt, uint64_t offset, LogStream stream,
              std::string_view data);
  void PutMetrics(Batch& b, TaskId id, uint32_t attempt, uint64_t offset, std::string_view data);
  void PutSweep(Batch& b, const SweepRecord& s);
  void PutMeta(Batch& b, const StoreMeta& m);

  Status Commit(const Batch& b) { return kv_->Write(b, /*sync=*/true); }
  Kv* kv() { return kv_; }

 private:
  Kv* kv_;
};

// Key encodings (big-endian so byte order = numeric order); exposed for tests and docs.
std::string TaskKey(TaskId id);
std::string AttemptKey(TaskId id, uint32_t attempt);
std::string LogKey(TaskId id, uint32_t attempt, uint64_t offset);

// msgpack helpers for values.
template <typename T>
std::string PackValue(const T& v) {
  msgpack::sbuffer buf;
  msgpack::pack(buf, v);
  return std::string(buf.data(), buf.size());
}
template <typename T>
Result<T> UnpackValue(std::string_view bytes, const char* what) {
  try {
    msgpack::object_handle h = msgpack::unpack(bytes.data(), bytes.size());
    T out;
    h.get().convert(out);
    return out;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("stored ") + what + " does not decode: " + e.what());
  }
}

}  // namespace ritsu::sched
