// Output of the `ritsu` command: aligned human tables, and the stable JSON forms printed with
// --json (field names = the protocol's field names; states and kinds as their names; times in
// ms since the epoch). Changing a JSON field name breaks users' scripts: add, do not rename.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/protocol.h"
#include "common/task.h"

namespace ritsu::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const;
  size_t size() const { return rows_.size(); }

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

TimeMs NowMs();
// "12s", "3m4s", "-" for 0: how long ago `ms` was.
std::string Ago(TimeMs ms);
// "2026-11-22 01:46:55Z", "-" for 0.
std::string FormatTime(TimeMs ms);
// "SIGKILL" for 9; "signal 77" when the number has no name.
std::string SignalName(int sig);
// Cuts text to max characters with "..." so a table row stays on one line.
std::string Clip(const std::string& text, size_t max);

// Every --json output goes through here: stored text that is not UTF-8 (argv and env may hold
// any bytes; older records anything) comes out with U+FFFD instead of a JSON exception.
std::string DumpJson(const nlohmann::json& j, int indent = -1);

nlohmann::json ToJson(const TaskRow& r);
nlohmann::json ToJson(const TaskSpec& s);
nlohmann::json ToJson(const TaskRecord& t);
// SUCCEEDED, FAILED, CANCELLED, PREEMPTED (stopped after a checkpoint and requeued, not
// counted against max_attempts), or RUNNING while it has not ended.
std::string AttemptOutcome(const Attempt& a);
nlohmann::json ToJson(const Attempt& a);
nlohmann::json ToJson(const Slot& s);
nlohmann::json ToJson(const WorkerInfo& w);
nlohmann::json ToJson(const SweepStatusReply& s);
// metrics_json text -> JSON value (null when empty or unparsable).
nlohmann::json MetricsJson(const std::string& text);
// metrics_json text -> "accuracy=0.75 loss=1.2" for tables ("" when none).
std::string MetricsSummary(const std::string& text);

}  // namespace ritsu::cli
