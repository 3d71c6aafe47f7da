// ritsu metrics ID [--attempt N] [--json | --csv]: the metric series of one attempt (every
// progress line's and every evaluation's numbers the task wrote to $RITSU_METRICS_SERIES).
#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/metrics_series.h"
#include "cli/render.h"

namespace ritsu::cli {
namespace {

// A cell: numbers compactly ("0.000125", "2.5"), strings as they are, anything else as JSON.
std::string Cell(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  if (v.is_number_float()) return fmt::format("{:.6g}", v.get<double>());
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

int CmdMetrics(Context& ctx, const std::vector<std::string>& args) {
  ArgParser p("ritsu metrics", "Prints the metric series of a task's attempt: one row per record the task wrote to\n"
                               "$RITSU_METRICS_SERIES (the trainer: every progress line and every evaluation), in order.");
  p.Positionals("ID", 1, 1)
      .Value("--attempt", "N", "which attempt (default: the latest)")
      .Bool("--json", "machine-readable: {task_id, attempt, records: [...], dropped_bytes}")
      .Bool("--csv", "comma-separated, one column per field");
  auto a = p.Parse(args);
  if (!a.ok()) { *ctx.err << a.status().message() << "\n"; return kExitUsage; }
  if (a->help) { *ctx.out << p.Usage(); return kExitOk; }
  auto id = ParseTaskId(a->positionals[0], "task id");
  if (!id.ok()) { *ctx.err << id.status().message() << "\n"; return kExitUsage; }
  if (a->Has("--json") && a->Has("--csv")) {
    *ctx.err << "ritsu metrics: --json and --csv exclude each other\n";
    return kExitUsage;
  }
  MetricsRequest req;
  req.task_id = *id;
  if (a->Has("--attempt")) {
    auto n = ParseInt("--attempt", a->Get("--attempt"), 1, UINT32_MAX);
    if (!n.ok()) { *ctx.err << "ritsu metrics: " << n.status().message() << "\n"; return kExitUsage; }
    req.attempt = uint32_t(*n);
  }
  Client client(ctx.scheduler, ctx.reply_timeout);
  MetricsReply last;
  auto fetched = FetchSeries(client, req.task_id, req.attempt, &last);
  if (!fetched.ok()) return ReportError(ctx, "metrics", fetched.status());
  nlohmann::json records = nlohmann::json::array();
  std::vector<std::string> columns;  // in order of first appearance; step and kind first
  for (const char* first : {"step", "kind"}) columns.push_back(first);
  for (auto& j : *fetched) {
    for (const auto& [k, v] : j.items()) {
      if (std::find(columns.begin(), columns.end(), k) == columns.end()) columns.push_back(k);
    }
    records.push_back(std::move(j));
  }
  if (a->Has("--json")) {
    *ctx.out << DumpJson(nlohmann::json{{"task_id", last.task_id}, {"attempt", last.attempt}, {"records", records},
                                        {"dropped_bytes", last.dropped_bytes}, {"complete", last.complete}},
                         2)
             << "\n";
  } else if (a->Has("--csv")) {
    for (size_t i = 0; i < columns.size(); ++i) *ctx.out << (i ? "," : "") << CsvField(columns[i]);
    *ctx.out << "\n";
    for (const auto& r : records) {
      for (size_t i = 0; i < columns.size(); ++i) *ctx.out << (i ? "," : "") << CsvField(r.contains(columns[i]) ? Cell(r[columns[i]]) : "");
      *ctx.out << "\n";
    }
  } else if (records.empty()) {
    *ctx.out << fmt::format("task {} attempt {}: no metric records (the task writes them to $RITSU_METRICS_SERIES)\n",
                            last.task_id, last.attempt);
  } else {
    std::vector<std::string> header;
    for (const auto& c : columns) header.push_back(c);
    for (auto& h : header) std::transform(h.begin(), h.end(), h.begin(), ::toupper);
    Table t(header);
    for (const auto& r : records) {
      std::vector<std::string> row;
      for (const auto& c : columns) row.push_back(r.contains(c) ? Clip(Cell(r[c]), 24) : "-");
      t.Add(std::move(row));
    }
    t.Print(*ctx.out);
  }
  if (last.dropped_bytes > 0) {
    *ctx.err << fmt::format("ritsu metrics: {} bytes of later records were not stored (over the per-attempt limit)\n",
                            last.dropped_bytes);
  }
  return kExitOk;
}

}  // namespace ritsu::cli
