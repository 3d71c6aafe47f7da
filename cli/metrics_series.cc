#include "cli/metrics_series.h"

#include <fmt/format.h>

namespace ritsu::cli {

Result<std::vector<nlohmann::json>> FetchSeries(Client& client, TaskId task_id, uint32_t attempt, MetricsReply* last) {
  MetricsRequest req;
  req.task_id = task_id;
  req.attempt = attempt;
  std::string text;
  for (;;) {
    auto rep = client.Call<MetricsReply>(req);
    if (!rep.ok()) return rep.status();
    text += rep->data;
    bool progressed = rep->next_offset != req.offset;
    req.attempt = rep->attempt;
    req.offset = rep->next_offset;
    *last = std::move(rep).value();
    if (!progressed || last->next_offset >= last->stored_bytes) break;
  }
  std::vector<nlohmann::json> records;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    auto j = nlohmann::json::parse(text.substr(pos, nl - pos), nullptr, false);
    pos = nl + 1;
    if (!j.is_discarded() && j.is_object()) records.push_back(std::move(j));  // the worker sends only objects
  }
  return records;
}

SeriesSummary Summarize(const std::vector<nlohmann::json>& records) {
  SeriesSummary s;
  for (const auto& r : records) {
    bool eval = r.value("kind", "") == "eval";
    if (!eval) {
      s.latest = r;
      continue;
    }
    auto acc = r.find("eval_accuracy");
    if (acc == r.end() || !acc->is_number()) continue;
    if (s.best_eval.is_null() || acc->get<double>() > s.best_eval["eval_accuracy"].get<double>()) s.best_eval = r;
  }
  return s;
}

std::string FormatRecord(const nlohmann::json& record) {
  auto cell = [](const nlohmann::json& v) {
    return v.is_number_float() ? fmt::format("{:.6g}", v.get<double>()) : v.is_string() ? v.get<std::string>() : v.dump();
  };
  std::string out;
  if (record.contains("step")) out = "step " + cell(record["step"]);
  for (const auto& [k, v] : record.items()) {
    if (k == "kind" || k == "step") continue;
    out += fmt::format("{}{} {}", out.empty() ? "" : "  ", k, cell(v));
  }
  return out;
}

}  // namespace ritsu::cli
