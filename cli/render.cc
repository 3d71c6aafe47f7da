#include "cli/render.h"

#include <string.h>  // sigabbrev_np

#include <algorithm>
#include <chrono>
#include <ctime>

#include <fmt/format.h>

#include "common/units.h"

namespace ritsu::cli {

void Table::Print(std::ostream& out) const {
  std::vector<size_t> width(header_.size(), 0);
  for (size_t i = 0; i < header_.size(); ++i) width[i] = header_[i].size();
  for (const auto& r : rows_)
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t i = 0; i < header_.size(); ++i) {
      const std::string& c = i < cells.size() ? cells[i] : "";
      if (i + 1 == header_.size()) s += c;  // no trailing padding on the last column
      else s += fmt::format("{:<{}}  ", c, width[i]);
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << "\n";
  };
  line(header_);
  for (const auto& r : rows_) line(r);
}

TimeMs NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string Ago(TimeMs ms) {
  if (ms <= 0) return "-";
  TimeMs d = std::max<TimeMs>(0, NowMs() - ms);
  if (d < 1000) return "0s";
  return FormatDuration(d / 1000 * 1000);
}

std::string FormatTime(TimeMs ms) {
  if (ms <= 0) return "-";
  std::time_t t = ms / 1000;
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);  // glibc >= 2.32; nullptr for an unknown number
  return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", sig);
}

std::string Clip(const std::string& text, size_t max) {
  std::string one_line = text;
  std::replace(one_line.begin(), one_line.end(), '\n', ' ');
  if (one_line.size() <= max) return one_line;
  return one_line.substr(0, max - 3) + "...";
}

std::string DumpJson(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json MetricsJson(const std::string& text) {
  if (text.empty()) return nullptr;
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_discarded() ? nlohmann::json(nullptr) : j;
}

std::string MetricsSummary(const std::string& text) {
  nlohmann::json j = MetricsJson(text);
  if (!j.is_object()) return "";
  std::string s;
  for (const auto& [k, v] : j.items()) {
    if (!s.empty()) s += " ";
    if (v.is_number_float()) s += fmt::format("{}={:.4g}", k, v.get<double>());
    else if (v.is_string()) s += fmt::format("{}={}", k, v.get<std::string>());
    else s += fmt::format("{}={}", k, DumpJson(v));
  }
  return s;
}

nlohmann::json ToJson(const TaskRow& r) {
  return {{"id", r.id}, {"name", r.name}, {"kind", TaskKindName(r.kind)}, {"state", TaskStateName(r.state)},
          {"attempt", r.attempt}, {"priority", r.priority}, {"worker", r.worker}, {"sweep_id", r.sweep_id},
          {"submitted_ms", r.submitted_ms}, {"updated_ms", r.updated_ms}, {"reason", r.reason},
          {"metrics", MetricsJson(r.metrics_json)}};
}

nlohmann::json ToJson(const TaskSpec& s) {
  return {{"name", s.name}, {"kind", TaskKindName(s.kind)}, {"argv", s.argv}, {"cwd", s.cwd}, {"env", s.env},
          {"resources", {{"gpus", s.resources.gpus}, {"gpu_mem_bytes", s.resources.gpu_mem_bytes},
                         {"tags", s.resources.tags}, {"host", s.resources.host}}},
          {"priority", s.priority}, {"max_attempts", s.max_attempts}, {"timeout_ms", s.timeout_ms},
          {"after", s.after}, {"sweep_id", s.sweep_id}, {"labels", s.labels}};
}

nlohmann::json ToJson(const TaskRecord& t) {
  return {{"id", t.id}, {"spec", ToJson(t.spec)}, {"state", TaskStateName(t.state)}, {"attempt", t.attempt},
          {"submitted_ms", t.submitted_ms}, {"updated_ms", t.updated_ms}, {"worker", t.worker},
          {"reason", t.reason}, {"exit_code", t.exit_code}, {"metrics", MetricsJson(t.metrics_json)},
          {"preempted_attempts", t.preempted_attempts}};
}

std::string AttemptOutcome(const Attempt& a) {
  if (a.preempted) return "PREEMPTED";
  if (a.finished_ms == 0) return "RUNNING";
  if (a.exit_code == 0 && a.signal == 0 && a.error.empty()) return "SUCCEEDED";
  if (a.error == "cancelled") return "CANCELLED";
  return "FAILED";
}

nlohmann::json ToJson(const Attempt& a) {
  return {{"attempt", a.attempt}, {"outcome", AttemptOutcome(a)}, {"preempted", a.preempted}, {"worker", a.worker}, {"slots", a.slots}, {"assigned_ms", a.assigned_ms},
          {"started_ms", a.started_ms}, {"finished_ms", a.finished_ms}, {"pid", a.pid}, {"exit_code", a.exit_code},
          {"signal", a.signal}, {"signal_name", a.signal ? SignalName(a.signal) : ""}, {"wall_ms", a.wall_ms}, {"peak_rss_bytes", a.peak_rss_bytes},
          {"metrics", MetricsJson(a.metrics_json)}, {"error", a.error}, {"stdout_bytes", a.stdout_bytes},
          {"stderr_bytes", a.stderr_bytes}};
}

nlohmann::json ToJson(const Slot& s) {
  return {{"id", s.id}, {"name", s.name}, {"mem_bytes", s.mem_bytes},
          {"compute_capability", s.compute_capability}, {"is_gpu", s.is_gpu}};
}

nlohmann::json ToJson(const WorkerInfo& w) {
  nlohmann::json slots = nlohmann::json::array();
  for (const auto& s : w.slots) slots.push_back(ToJson(s));
  nlohmann::json running = nlohmann::json::array();
  for (const auto& r : w.running) running.push_back({{"task_id", r.task_id}, {"attempt", r.attempt}});
  return {{"name", w.name}, {"host", w.host}, {"state", WorkerStateName(w.state)}, {"slots", slots},
          {"tags", w.tags}, {"registered_ms", w.registered_ms}, {"last_heartbeat_ms", w.last_heartbeat_ms},
          {"running", running}, {"busy_slots", w.busy_slots}};
}

nlohmann::json ToJson(const SweepStatusReply& s) {
  nlohmann::json trials = nlohmann::json::array();
  for (const auto& t : s.trials) {
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& c : t.steps)
      steps.push_back({{"step", c.step}, {"task_id", c.task_id}, {"state", TaskStateName(c.state)},
                       {"metrics", MetricsJson(c.metrics_json)}});
    trials.push_back({{"trial", t.trial}, {"params", t.params}, {"steps", steps}});
  }
  return {{"sweep_id", s.sweep_id}, {"name", s.name}, {"max_concurrent", s.max_concurrent},
          {"counts", s.counts}, {"trials", trials}};
}

}  // namespace ritsu::cli
