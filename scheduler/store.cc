#include "scheduler/store.h"

#include <fmt/format.h>

namespace ritsu::sched {
namespace {

constexpr const char* kSchemaKey = "schema_version";
constexpr const char* kMetaKey = "counters";

void AppendBe(std::string& s, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t ReadBe(std::string_view s, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(s[pos + i]);
  return v;
}
std::string Be64(uint64_t v) { std::string s; AppendBe(s, v, 8); return s; }

std::string StateIndexKey(TaskState st, TaskId id) {
  std::string s(1, static_cast<char>(st));
  AppendBe(s, id, 8);
  return s;
}

// Ids stored as the second big-endian u64 of 16-byte keys under an 8-byte prefix.
Result<std::vector<TaskId>> ScanSecondIds(Kv* kv, Cf cf, uint64_t prefix) {
  std::vector<TaskId> out;
  auto c = kv->Scan(cf, Be64(prefix), Be64(prefix + 1));
  for (; c->Valid(); c->Next()) out.push_back(ReadBe(c->key(), 8, 8));
  RITSU_RETURN_IF_ERROR(c->status());
  return out;
}

}  // namespace

std::string TaskKey(TaskId id) { return Be64(id); }
std::string AttemptKey(TaskId id, uint32_t attempt) {
  std::string s = Be64(id);
  AppendBe(s, attempt, 4);
  return s;
}
std::string LogKey(TaskId id, uint32_t attempt, uint64_t offset) {
  std::string s = AttemptKey(id, attempt);
  AppendBe(s, offset, 8);
  return s;
}

Status Store::Init() {
  RITSU_ASSIGN_OR_RETURN(auto v, kv_->Get(Cf::kMeta, kSchemaKey));
  if (!v) {
    Batch b;
    b.Put(Cf::kMeta, kSchemaKey, std::to_string(kSchemaVersion));
    PutMeta(b, StoreMeta{});
    return kv_->Write(b, true);
  }
  if (*v != std::to_string(kSchemaVersion)) {
    return Status::FailedPrecondition(fmt::format(
        "the data dir has store schema version {} but this ritsud reads version {}; use the "
        "ritsud release that wrote it, or start with an empty --data-dir",
        *v, kSchemaVersion));
  }
  return Status::Ok();
}

Result<StoreMeta> Store::LoadMeta() {
  RITSU_ASSIGN_OR_RETURN(auto v, kv_->Get(Cf::kMeta, kMetaKey));
  if (!v) return Status::Corruption("store has a schema version but no counters record");
  return UnpackValue<StoreMeta>(*v, "counters");
}

Result<std::optional<TaskRecord>> Store::GetTask(TaskId id) {
  RITSU_ASSIGN_OR_RETURN(auto v, kv_->Get(Cf::kTasks, TaskKey(id)));
  if (!v) return std::optional<TaskRecord>();
  RITSU_ASSIGN_OR_RETURN(auto t, UnpackValue<TaskRecord>(*v, "task"));
  return std::optional<TaskRecord>(std::move(t));
}

Result<std::vector<Attempt>> Store::GetAttempts(TaskId id) {
  std::vector<Attempt> out;
  auto c = kv_->Scan(Cf::kAttempts, Be64(id), Be64(id + 1));
  for (; c->Valid(); c->Next()) {
    RITSU_ASSIGN_OR_RETURN(auto a, UnpackValue<Attempt>(c->value(), "attempt"));
    out.push_back(std::move(a));
  }
  RITSU_RETURN_IF_ERROR(c->status());
  return out;
}

Result<std::optional<Attempt>> Store::GetAttempt(TaskId id, uint32_t attempt) {
  RITSU_ASSIGN_OR_RETURN(auto v, kv_->Get(Cf::kAttempts, AttemptKey(id, attempt)));
  if (!v) return std::optional<Attempt>();
  RITSU_ASSIGN_OR_RETURN(auto a, UnpackValue<Attempt>(*v, "attempt"));
  return std::optional<Attempt>(std::move(a));
}

Result<std::vector<TaskId>> Store::TasksInState(TaskState state, size_t limit, TaskId below) {
  std::vector<TaskId> out;
  std::string lo(1, static_cast<char>(state)), hi(1, static_cast<char>(static_cast<int>(state) + 1));
  if (below != 0) hi = StateIndexKey(state, below);
  auto c = kv_->Scan(Cf::kStateIndex, lo, hi, /*reverse=*/true);
  for (; c->Valid() && (limit == 0 || out.size() < limit); c->Next()) out.push_back(ReadBe(c->key(), 1, 8));
  RITSU_RETURN_IF_ERROR(c->status());
  return out;
}

Result<std::vector<TaskId>> Store::TasksOfSweep(SweepId sweep) { return ScanSecondIds(kv_, Cf::kSweepIndex, sweep); }
Result<std::vector<TaskId>> Store::Dependents(TaskId id) { return ScanSecondIds(kv_, Cf::kDeps, id); }

Result<std::vector<WorkerInfo>> Store::LoadWorkers() {
  std::vector<WorkerInfo> out;
  auto c = kv_->Scan(Cf::kWorkers, "", "");
  for (; c->Valid(); c->Next()) {
    RITSU_ASSIGN_OR_RETURN(auto w, UnpackValue<WorkerInfo>(c->value(), "worker"));
    out.push_back(std::move(w));
  }
  RITSU_RETURN_IF_ERROR(c->status());
  return out;
}

Result<std::optional<SweepRecord>> Store::GetSweep(SweepId id) {
  RITSU_ASSIGN_OR_RETURN(auto v, kv_->Get(Cf::kSweeps, Be64(id)));
  if (!v) return std::optional<SweepRecord>();
  RITSU_ASSIGN_OR_RETURN(auto s, UnpackValue<SweepRecord>(*v, "sweep"));
  return std::optional<SweepRecord>(std::move(s));
}

Result<std::vector<SweepRecord>> Store::LoadSweeps() {
  std::vector<SweepRecord> out;
  auto c = kv_->Scan(Cf::kSweeps, "", "");
  for (; c->Valid(); c->Next()) {
    RITSU_ASSIGN_OR_RETURN(auto s, UnpackValue<SweepRecord>(c->value(), "sweep"));
    out.push_back(std::move(s));
  }
  RITSU_RETURN_IF_ERROR(c->status());
  return out;
}

Result<std::vector<LogPiece>> Store::ReadLog(TaskId id, uint32_t attempt, uint64_t offset,
                                             size_t max_bytes) {
  std::vector<LogPiece> out;
  std::string prefix = AttemptKey(id, attempt);
  // The chunk holding `offset` may start before it: begin at the last chunk key <= offset.
  std::string start = LogKey(id, attempt, offset);
  RITSU_ASSIGN_OR_RETURN(auto floor, kv_->Floor(Cf::kLogs, start, prefix));
  if (floor) start = floor->first;
  std::string end = AttemptKey(id, attempt + 1);
  auto c = kv_->Scan(Cf::kLogs, start, end);
  size_t total = 0;
  for (; c->Valid() && total < max_bytes; c->Next()) {
    uint64_t chunk_off = ReadBe(c->key(), 12, 8);
    std::string_view v = c->value();
    if (v.empty()) return Status::Corruption("empty log chunk value");
    auto stream = static_cast<LogStream>(v[0]);
    std::string_view data = v.substr(1);
    if (chunk_off + data.size() <= offset) continue;
    if (chunk_off < offset) {
      data.remove_prefix(offset - chunk_off);
      chunk_off = offset;
    }
    if (data.size() > max_bytes - total) data = data.substr(0, max_bytes - total);
    total += data.size();
    out.push_back(LogPiece{stream, chunk_off, std::string(data)});
  }
  RITSU_RETURN_IF_ERROR(c->status());
  return out;
}

void Store::PutTask(Batch& b, const TaskRecord& t, std::optional<TaskState> old_state) {
  b.Put(Cf::kTasks, TaskKey(t.id), PackValue(t));
  if (!old_state || *old_state != t.state) {
    if (old_state) b.Delete(Cf::kStateIndex, StateIndexKey(*old_state, t.id));
    b.Put(Cf::kStateIndex, StateIndexKey(t.state, t.id), "");
  }
  if (!old_state && t.spec.sweep_id != 0) {
    b.Put(Cf::kSweepIndex, Be64(t.spec.sweep_id) + Be64(t.id), "");
  }
}

void Store::PutAttempt(Batch& b, TaskId id, const Attempt& a) {
  b.Put(Cf::kAttempts, AttemptKey(id, a.attempt), PackValue(a));
}

void Store::PutDependency(Batch& b, TaskId dep, TaskId dependent) {
  b.Put(Cf::kDeps, Be64(dep) + Be64(dependent), "");
}

void Store::PutWorker(Batch& b, const WorkerInfo& w) { b.Put(Cf::kWorkers, w.name, PackValue(w)); }

void Store::PutLog(Batch& b, TaskId id, uint32_t attempt, uint64_t offset, LogStream stream,
                   std::string_view data) {
  std::string v;
  v.reserve(data.size() + 1);
  v.push_back(static_cast<char>(stream));
  v.append(data);
  b.Put(Cf::kLogs, LogKey(id, attempt, offset), std::move(v));
}

Result<std::string> Store::ReadMetrics(TaskId id, uint32_t attempt, uint64_t offset, size_t max_bytes) {
  std::string out;
  // Chunks are keyed by their first byte's offset and read whole: a reader only ever passes back
  // an offset this returned, which is a chunk boundary.
  auto c = kv_->Scan(Cf::kMetrics, LogKey(id, attempt, offset), AttemptKey(id, attempt + 1));
  for (; c->Valid() && (out.empty() || out.size() + c->value().size() <= max_bytes); c->Next()) {
    out.append(c->value());
  }
  RITSU_RETURN_IF_ERROR(c->status());
  return out;
}

void Store::PutMetrics(Batch& b, TaskId id, uint32_t attempt, uint64_t offset, std::string_view data) {
  b.Put(Cf::kMetrics, LogKey(id, attempt, offset), std::string(data));
}

void Store::PutSweep(Batch& b, const SweepRecord& s) { b.Put(Cf::kSweeps, Be64(s.id), PackValue(s)); }

void Store::PutMeta(Batch& b, const StoreMeta& m) { b.Put(Cf::kMeta, kMetaKey, PackValue(m)); }

}  // namespace ritsu::sched
