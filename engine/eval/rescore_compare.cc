#include "engine/eval/rescore_compare.h"

#include <iostream>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "engine/eval/answer_parser.h"
#include "engine/eval/atomic_file.h"
#include "engine/eval/eval_report.h"
#include "engine/eval/flags.h"

namespace ritsu::eval {
namespace {

// Questions are matched by file name + question text (both files may hold different subsets
// or orders); files without file_name fall back to the question text alone.
std::string KeyOf(const nlohmann::json& r) {
  return r.value("file_name", "") + "\x1f" + r.value("question", "");
}

// A collapse: one letter takes more than half of the predictions and at least 1.5x its share
// of the truth. Returns "" or a one-line warning.
std::string CollapseWarning(const nlohmann::json& summary, const std::string& name) {
  const auto& pred = summary["predicted_distribution"];
  const auto& truth = summary["truth_distribution"];
  const double total = summary["total_count"].get<double>();
  if (total <= 0) return "";
  for (const char* l : {"a", "b", "c", "d"}) {
    const double p = pred.value(l, 0) / total;
    const double t = truth.value(l, 0) / total;
    if (p > 0.5 && p >= 1.5 * t)
      return fmt::format("WARNING: {} answers \"{}\" for {:.0f}% of questions (truth: {:.0f}%) - collapsed onto one letter", name, l, 100 * p, 100 * t);
  }
  return "";
}

std::string Bar(double share) { return std::string(static_cast<size_t>(share * 40 + 0.5), '#'); }

}  // namespace

int RescoreDocument(nlohmann::json* doc, const std::string& source) {
  int changed = 0;
  for (auto& r : (*doc)["results"]) {
    std::string before = r.value("predicted_answer", "unknown");
    std::string after;
    if (r.contains("responses") && r["responses"].is_array() && r["responses"].size() > 1) {
      std::vector<std::string> votes;
      for (const auto& resp : r["responses"]) votes.push_back(ParseAnswer(resp.get<std::string>()).Letter());
      after = MajorityVote(votes);
      r["votes"] = votes;
    } else {
      ParsedAnswer p = ParseAnswer(r["response"].get<std::string>());
      after = p.Letter();
      r["parse_rule"] = p.rule;
    }
    if (after != before) {
      ++changed;
      r["previous_predicted_answer"] = before;
    }
    r["predicted_answer"] = after;
    r["is_correct"] = after == r["correct_answer"].get<std::string>();
  }
  nlohmann::json summary = ComputeSummary((*doc)["results"]);
  if (doc->contains("summary") && (*doc)["summary"].contains("timing")) summary["timing"] = (*doc)["summary"]["timing"];
  (*doc)["summary"] = summary;
  (*doc)["rescored"] = {{"from", source}, {"changed_answers", changed}};
  return changed;
}

nlohmann::json CompareDocuments(const nlohmann::json& a, const nlohmann::json& b) {
  std::map<std::string, const nlohmann::json*> in_a;
  for (const auto& r : a["results"]) in_a[KeyOf(r)] = &r;
  nlohmann::json improved = nlohmann::json::array(), regressed = nlohmann::json::array();
  int common = 0, both_right = 0, both_wrong = 0;
  for (const auto& rb : b["results"]) {
    auto it = in_a.find(KeyOf(rb));
    if (it == in_a.end()) continue;
    ++common;
    const auto& ra = *it->second;
    const bool ca = ra.value("predicted_answer", "") == ra.value("correct_answer", "x");
    const bool cb = rb.value("predicted_answer", "") == rb.value("correct_answer", "x");
    nlohmann::json item{{"file_name", rb.value("file_name", "")},
                        {"question", rb.value("question", "")},
                        {"correct_answer", rb.value("correct_answer", "")},
                        {"a", ra.value("predicted_answer", "")},
                        {"b", rb.value("predicted_answer", "")}};
    if (!ca && cb) improved.push_back(item);
    else if (ca && !cb) regressed.push_back(item);
    else if (ca && cb) ++both_right;
    else ++both_wrong;
  }
  nlohmann::json sa = ComputeSummary(a["results"]), sb = ComputeSummary(b["results"]);
  nlohmann::json cmp;
  cmp["a"] = sa;
  cmp["b"] = sb;
  cmp["accuracy_delta"] = sb["accuracy"].get<double>() - sa["accuracy"].get<double>();
  cmp["common_questions"] = common;
  cmp["improved"] = improved;
  cmp["regressed"] = regressed;
  cmp["both_correct"] = both_right;
  cmp["both_wrong"] = both_wrong;
  nlohmann::json warnings = nlohmann::json::array();
  for (auto w : {CollapseWarning(sa, "A"), CollapseWarning(sb, "B")})
    if (!w.empty()) warnings.push_back(w);
  cmp["warnings"] = warnings;
  return cmp;
}

std::string FormatComparison(const nlohmann::json& cmp, const std::string& name_a, const std::string& name_b) {
  std::ostringstream o;
  const auto& sa = cmp["a"];
  const auto& sb = cmp["b"];
  o << fmt::format("A: {}\nB: {}\n\n", name_a, name_b);
  o << fmt::format("accuracy  A {:.4f} ({}/{})   B {:.4f} ({}/{})   delta {:+.4f}\n", sa["accuracy"].get<double>(),
                   sa["correct_count"].get<int>(), sa["total_count"].get<int>(), sb["accuracy"].get<double>(),
                   sb["correct_count"].get<int>(), sb["total_count"].get<int>(), cmp["accuracy_delta"].get<double>());
  o << fmt::format("unknown   A {}   B {}\n", sa["unknown_count"].get<int>(), sb["unknown_count"].get<int>());
  o << fmt::format("questions in both: {}   improved {}   regressed {}   both correct {}   both wrong {}\n\n",
                   cmp["common_questions"].get<int>(), cmp["improved"].size(), cmp["regressed"].size(),
                   cmp["both_correct"].get<int>(), cmp["both_wrong"].get<int>());
  o << "predicted label distribution (share of questions)\n";
  o << fmt::format("  {:<8} {:>6} {:>6} {:>6}   {}\n", "label", "truth", "A", "B", "B (bar)");
  const double ta = std::max(1, sa["total_count"].get<int>());
  const double tb = std::max(1, sb["total_count"].get<int>());
  for (const char* l : {"a", "b", "c", "d", "unknown"}) {
    const double truth = sb["truth_distribution"].value(l, 0) / tb;
    const double pa = sa["predicted_distribution"].value(l, 0) / ta;
    const double pb = sb["predicted_distribution"].value(l, 0) / tb;
    o << fmt::format("  {:<8} {:>5.0f}% {:>5.0f}% {:>5.0f}%   {}\n", l, 100 * truth, 100 * pa, 100 * pb, Bar(pb));
  }
  for (const auto& w : cmp["warnings"]) o << "\n" << w.get<std::string>() << "\n";
  auto list = [&](const char* title, const nlohmann::json& items) {
    if (items.empty()) return;
    o << "\n" << title << "\n";
    for (const auto& it : items)
      o << fmt::format("  {} (truth {}): {} -> {}\n", it["file_name"].get<std::string>().empty() ? it["question"].get<std::string>().substr(0, 60) : it["file_name"].get<std::string>(),
                       it["correct_answer"].get<std::string>(), it["a"].get<std::string>(), it["b"].get<std::string>());
  };
  list("improved (wrong in A, right in B):", cmp["improved"]);
  list("regressed (right in A, wrong in B):", cmp["regressed"]);
  return o.str();
}

int RescoreMainWith(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Flags f({"--output"}, {"--overwrite"});
  if (Status st = f.Parse(args); !st.ok()) {
    err << "ritsu rescore: " << st.message() << "\n";
    return 2;
  }
  if (f.positional().size() != 1 || !f.Get("--output")) {
    err << "usage: ritsu rescore OLD.json --output NEW.json [--overwrite]\n";
    return 2;
  }
  const std::string in = f.positional()[0], dst = *f.Get("--output");
  if (Status st = CheckOutputPath(dst, f.Has("--overwrite")); !st.ok()) {
    err << "ritsu rescore: " << st.message() << "\n";
    return 2;
  }
  auto doc = LoadEvalFile(in);
  if (!doc.ok()) {
    err << "ritsu rescore: " << doc.status().message() << "\n";
    return 2;
  }
  const double old_acc = (*doc).contains("summary") ? (*doc)["summary"].value("accuracy", 0.0) : 0.0;
  const int changed = RescoreDocument(&*doc, in);
  if (Status st = WriteFileAtomically(dst, doc->dump(2) + "\n", f.Has("--overwrite")); !st.ok()) {
    err << "ritsu rescore: " << st.message() << "\n";
    return 1;
  }
  const auto& s = (*doc)["summary"];
  out << fmt::format("rescored {} answers: {} changed; accuracy {:.4f} -> {:.4f} ({}/{}), unknown {}\nwritten to {}\n",
                     s["total_count"].get<int>(), changed, old_acc, s["accuracy"].get<double>(),
                     s["correct_count"].get<int>(), s["total_count"].get<int>(), s["unknown_count"].get<int>(), dst);
  return 0;
}

int CompareMainWith(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Flags f({}, {"--json"});
  if (Status st = f.Parse(args); !st.ok()) {
    err << "ritsu compare: " << st.message() << "\n";
    return 2;
  }
  if (f.positional().size() != 2) {
    err << "usage: ritsu compare A.json B.json [--json]\n";
    return 2;
  }
  auto a = LoadEvalFile(f.positional()[0]);
  auto b = LoadEvalFile(f.positional()[1]);
  for (const auto* d : {&a, &b}) {
    if (!d->ok()) {
      err << "ritsu compare: " << d->status().message() << "\n";
      return 2;
    }
  }
  nlohmann::json cmp = CompareDocuments(*a, *b);
  if (f.Has("--json")) out << cmp.dump(2) << "\n";
  else out << FormatComparison(cmp, f.positional()[0], f.positional()[1]);
  return 0;
}

int RescoreMain(int argc, char** argv) { return RescoreMainWith(ArgsOf(argc, argv, 1), std::cout, std::cerr); }
int CompareMain(int argc, char** argv) { return CompareMainWith(ArgsOf(argc, argv, 1), std::cout, std::cerr); }

}  // namespace ritsu::eval
