// CfName and the in-memory Kv.
#include <algorithm>
#include <map>
#include <string_view>

#include "scheduler/kv.h"

namespace ritsu::sched {

namespace {
constexpr std::string_view kNoSpacePrefix = "scheduler store is out of space: ";
}  // namespace

Status NoSpaceError(const std::string& detail) {
  return Status::Unavailable(std::string(kNoSpacePrefix) + detail);
}

bool IsNoSpace(const Status& s) {
  return s.code() == Status::Code::kUnavailable && s.message().find(kNoSpacePrefix) != std::string::npos;
}

const char* CfName(Cf cf) {
  switch (cf) {
    case Cf::kMeta: return "meta";
    case Cf::kTasks: return "tasks";
    case Cf::kAttempts: return "attempts";
    case Cf::kStateIndex: return "state_index";
    case Cf::kSweepIndex: return "sweep_index";
    case Cf::kDeps: return "deps";
    case Cf::kWorkers: return "workers";
    case Cf::kLogs: return "logs";
    case Cf::kSweeps: return "sweeps";
    case Cf::kMetrics: return "metrics";
  }
  return "unknown";
}

namespace {

using Table = std::map<std::string, std::string, std::less<>>;

// Snapshot of the matching range, so writes during iteration cannot invalidate it.
class MemCursor : public Cursor {
 public:
  explicit MemCursor(std::vector<std::pair<std::string, std::string>> rows) : rows_(std::move(rows)) {}
  bool Valid() const override { return i_ < rows_.size(); }
  std::string_view key() const override { return rows_[i_].first; }
  std::string_view value() const override { return rows_[i_].second; }
  void Next() override { ++i_; }
  Status status() const override { return Status::Ok(); }

 private:
  std::vector<std::pair<std::string, std::string>> rows_;
  size_t i_ = 0;
};

class MemKv : public Kv {
 public:
  Status Write(const Batch& batch, bool) override {
    for (const auto& op : batch.ops()) {
      Table& t = tables_[static_cast<int>(op.cf)];
      if (op.erase) t.erase(op.key); else t[op.key] = op.value;
    }
    return Status::Ok();
  }
  Result<std::optional<std::string>> Get(Cf cf, std::string_view key) override {
    const Table& t = tables_[static_cast<int>(cf)];
    auto it = t.find(key);
    if (it == t.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  std::unique_ptr<Cursor> Scan(Cf cf, std::string_view start, std::string_view end,
                               bool reverse) override {
    const Table& t = tables_[static_cast<int>(cf)];
    std::vector<std::pair<std::string, std::string>> rows;
    auto stop = end.empty() ? t.end() : t.lower_bound(end);
    for (auto it = t.lower_bound(start); it != stop; ++it) rows.emplace_back(*it);
    if (reverse) std::reverse(rows.begin(), rows.end());
    return std::make_unique<MemCursor>(std::move(rows));
  }
  Result<std::optional<std::pair<std::string, std::string>>> Floor(
      Cf cf, std::string_view key, std::string_view prefix) override {
    const Table& t = tables_[static_cast<int>(cf)];
    auto it = t.upper_bound(key);
    if (it == t.begin()) return std::optional<std::pair<std::string, std::string>>();
    --it;
    if (!std::string_view(it->first).starts_with(prefix)) {
      return std::optional<std::pair<std::string, std::string>>();
    }
    return std::optional<std::pair<std::string, std::string>>(*it);
  }

 private:
  Table tables_[kNumCfs];
};

}  // namespace

std::unique_ptr<Kv> NewMemKv() { return std::make_unique<MemKv>(); }

}  // namespace ritsu::sched
