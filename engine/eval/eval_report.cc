#include "engine/eval/eval_report.h"

#include <cstdlib>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "engine/eval/atomic_file.h"

namespace ritsu::eval {

std::string MajorityVote(const std::vector<std::string>& answers) {
  std::map<std::string, int> votes;
  for (const auto& a : answers)
    if (a != "unknown") ++votes[a];
  if (votes.empty()) return "unknown";
  int best = 0;
  for (const auto& [letter, n] : votes) best = std::max(best, n);
  for (const auto& a : answers)  // earliest run among the tied leaders
    if (a != "unknown" && votes[a] == best) return a;
  return "unknown";
}

nlohmann::json ComputeSummary(const nlohmann::json& results) {
  const std::vector<std::string> letters = {"a", "b", "c", "d"};
  nlohmann::json pred_dist, truth_dist, confusion;
  for (const auto& l : letters) {
    pred_dist[l] = 0;
    truth_dist[l] = 0;
  }
  pred_dist["unknown"] = 0;
  for (const auto& t : letters)
    for (const auto& p : {"a", "b", "c", "d", "unknown"}) confusion[t][p] = 0;

  int correct = 0, unknown = 0, total = 0;
  for (const auto& r : results) {
    std::string truth = r.value("correct_answer", "");
    std::string pred = r.value("predicted_answer", "unknown");
    if (pred != "a" && pred != "b" && pred != "c" && pred != "d") pred = "unknown";
    ++total;
    if (pred == "unknown") ++unknown;
    if (pred == truth) ++correct;
    pred_dist[pred] = pred_dist[pred].get<int>() + 1;
    if (truth_dist.contains(truth)) {
      truth_dist[truth] = truth_dist[truth].get<int>() + 1;
      confusion[truth][pred] = confusion[truth][pred].get<int>() + 1;
    }
  }
  nlohmann::json s;
  s["accuracy"] = total ? static_cast<double>(correct) / total : 0.0;
  s["correct_count"] = correct;
  s["total_count"] = total;
  s["unknown_count"] = unknown;
  s["predicted_distribution"] = pred_dist;
  s["truth_distribution"] = truth_dist;
  s["confusion_matrix"] = confusion;
  return s;
}

Result<nlohmann::json> LoadEvalFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open evaluation file " + path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(path + ": not valid JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("results") || !j["results"].is_array())
    return Status::InvalidArgument(path + ": not an evaluation file (needs a \"results\" list)");
  int i = 0;
  for (const auto& r : j["results"]) {
    for (const char* field : {"correct_answer", "response"}) {
      if (!r.is_object() || !r.contains(field) || !r[field].is_string())
        return Status::InvalidArgument(fmt::format("{}: results[{}]: field {} missing or not a string", path, i, field));
    }
    ++i;
  }
  return j;
}

Status WriteMetricsFileIfRequested(const nlohmann::json& summary) {
  const char* path = std::getenv("RITSU_METRICS_FILE");
  if (!path || !*path) return Status::Ok();
  nlohmann::json m;
  for (const char* k : {"accuracy", "correct_count", "total_count", "unknown_count"}) m[k] = summary.at(k);
  return WriteFileAtomically(path, m.dump(2) + "\n", /*overwrite=*/true).Annotate("writing $RITSU_METRICS_FILE");
}

}  // namespace ritsu::eval
