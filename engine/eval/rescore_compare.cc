#include "engine/eval/rescore_compare.h"

#include <algorithm>
#include <iostream>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "engine/eval/answer_parser.h"
#include "engine/eval/atomic_file.h"
#include "engine/eval/eval_report.h"
#include "engine/eval/flags.h"
#include "engine/eval/paired_stats.h"

namespace ritsu::eval {
namespace {

// A question's id: the dataset's ファイル名 (`file_name`, unique in lawqa_jp; the question text
// alone is not - 15 of the 140 selection questions share their text with another), else the
// question text plus its choices for datasets without one. Position is never used: two runs
// may hold the questions in different orders.
std::string QuestionId(const nlohmann::json& r) {
  if (r.contains("file_name") && r["file_name"].is_string() && !r["file_name"].get<std::string>().empty())
    return r["file_name"].get<std::string>();
  const nlohmann::json& ch = r.contains("choices") ? r["choices"] : nlohmann::json();
  return r.value("question", "") + "\n" + (ch.is_string() ? ch.get<std::string>() : ch.is_null() ? "" : ch.dump());
}

// At most `max_bytes` of `s`, cut at a UTF-8 character boundary, on one line (for messages
// and tables).
std::string Shorten(const std::string& s, size_t max_bytes) {
  std::string one_line = s.substr(0, s.find('\n'));
  if (one_line.size() <= max_bytes) return one_line;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(one_line[cut]) & 0xC0) == 0x80) --cut;
  return one_line.substr(0, cut) + "...";
}

// The same rule as ComputeSummary: right when the predicted letter equals the truth.
bool IsRight(const nlohmann::json& r) {
  return r.value("predicted_answer", "unknown") == r.value("correct_answer", "");
}

// How tables and messages name a question: its file_name in full, else its question text.
std::string DisplayId(const nlohmann::json& r) {
  const std::string name = r.value("file_name", "");
  return name.empty() ? Shorten(r.value("question", ""), 80) : name;
}

std::string FormatP(double p) { return p >= 1e-4 ? fmt::format("{:.4f}", p) : fmt::format("{:.1e}", p); }

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

constexpr double kAlpha = 0.05;

// 20 characters = every question.
std::string Bar(double share) { return std::string(static_cast<size_t>(share * 20 + 0.5), '#'); }

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

Result<nlohmann::json> CompareEvaluations(const std::vector<NamedEvaluation>& files) {
  if (files.size() < 2) return Status::InvalidArgument("compare needs at least two evaluation files");
  // Index every file by question id; an id twice in one file cannot be matched.
  std::vector<std::map<std::string, size_t>> index(files.size());
  for (size_t f = 0; f < files.size(); ++f) {
    const auto& results = files[f].doc.at("results");
    for (size_t i = 0; i < results.size(); ++i) {
      // LoadEvalFile checked correct_answer and response; these are read here too.
      for (const char* field : {"predicted_answer", "file_name", "question"})
        if (results[i].contains(field) && !results[i][field].is_string())
          return Status::InvalidArgument(fmt::format("{}: results[{}]: field {} is not a string", files[f].name, i, field));
      auto [it, fresh] = index[f].emplace(QuestionId(results[i]), i);
      if (!fresh)
        return Status::InvalidArgument(fmt::format(
            "{}: question \"{}\" appears twice (results[{}] and results[{}]); compare matches questions by id "
            "(file_name, else question + choices)", files[f].name, DisplayId(results[i]), it->second, i));
    }
  }
  // Every file must hold exactly the baseline's questions: a subset would make the accuracies
  // and the paired test speak about different things.
  const auto& base_results = files[0].doc.at("results");
  for (size_t f = 1; f < files.size(); ++f) {
    const auto& results = files[f].doc.at("results");
    auto missing = [&](const nlohmann::json& from, const std::map<std::string, size_t>& in) -> const nlohmann::json* {
      for (const auto& r : from)
        if (!in.count(QuestionId(r))) return &r;
      return nullptr;
    };
    const nlohmann::json* gap = missing(base_results, index[f]);
    const std::string* has = &files[0].name;
    const std::string* lacks = &files[f].name;
    if (!gap) {
      gap = missing(results, index[0]);
      std::swap(has, lacks);
    }
    if (gap)
      return Status::InvalidArgument(fmt::format(
          "{} ({} questions) and {} ({} questions) are evaluations of different question sets: \"{}\" is in {} "
          "but not in {}; compare needs the same questions in every file (matched by file_name, else question + "
          "choices)",
          files[0].name, base_results.size(), files[f].name, results.size(), DisplayId(*gap), *has,
          *lacks));
  }

  nlohmann::json cmp;
  cmp["questions"] = base_results.size();
  cmp["baseline"] = files[0].name;
  cmp["alpha"] = kAlpha;
  cmp["files"] = nlohmann::json::array();
  nlohmann::json warnings = nlohmann::json::array();
  for (const auto& file : files) {
    nlohmann::json s = ComputeSummary(file.doc.at("results"));
    const Interval iv = WilsonInterval(s["correct_count"].get<int64_t>(), s["total_count"].get<int64_t>());
    cmp["files"].push_back({{"file", file.name},
                            {"accuracy", s["accuracy"]},
                            {"correct_count", s["correct_count"]},
                            {"total_count", s["total_count"]},
                            {"unknown_count", s["unknown_count"]},
                            {"wilson95", {{"lo", iv.lo}, {"hi", iv.hi}}},
                            {"summary", s}});
    if (std::string w = CollapseWarning(s, file.name); !w.empty()) warnings.push_back(w);
  }

  std::vector<double> p;
  cmp["comparisons"] = nlohmann::json::array();
  for (size_t f = 1; f < files.size(); ++f) {
    const auto& results = files[f].doc.at("results");
    nlohmann::json improved = nlohmann::json::array(), regressed = nlohmann::json::array();
    int64_t both_right = 0, both_wrong = 0;
    for (const auto& rb : base_results) {
      const auto& ro = results[index[f].at(QuestionId(rb))];
      // The same id with another truth is another question (or a broken file): not comparable.
      if (rb.value("correct_answer", "") != ro.value("correct_answer", ""))
        return Status::InvalidArgument(fmt::format(
            "\"{}\" has correct_answer \"{}\" in {} but \"{}\" in {}; compare needs evaluations of the same questions",
            DisplayId(rb), rb.value("correct_answer", ""), files[0].name, ro.value("correct_answer", ""), files[f].name));
      const bool base_ok = IsRight(rb), other_ok = IsRight(ro);
      nlohmann::json item{{"id", DisplayId(rb)},
                          {"correct_answer", rb.value("correct_answer", "")},
                          {"baseline", rb.value("predicted_answer", "unknown")},
                          {"other", ro.value("predicted_answer", "unknown")}};
      if (!base_ok && other_ok) improved.push_back(item);
      else if (base_ok && !other_ok) regressed.push_back(item);
      else if (base_ok) ++both_right;
      else ++both_wrong;
    }
    p.push_back(McNemarExactP(static_cast<int64_t>(improved.size()), static_cast<int64_t>(regressed.size())));
    cmp["comparisons"].push_back({{"file", files[f].name},
                                  {"baseline", files[0].name},
                                  {"accuracy_delta", cmp["files"][f]["accuracy"].get<double>() -
                                                         cmp["files"][0]["accuracy"].get<double>()},
                                  {"improved", improved.size()},
                                  {"regressed", regressed.size()},
                                  {"both_correct", both_right},
                                  {"both_wrong", both_wrong},
                                  {"mcnemar_p", p.back()},
                                  {"improved_questions", improved},
                                  {"regressed_questions", regressed}});
  }
  const std::vector<double> holm = HolmAdjust(p);
  for (size_t i = 0; i < holm.size(); ++i) {
    auto& c = cmp["comparisons"][i];
    c["holm_p"] = holm[i];
    const bool significant = holm[i] < kAlpha;
    c["significant"] = significant;
    c["verdict"] = !significant ? "not significant at 0.05"
                   : c["improved"].get<size_t>() > c["regressed"].get<size_t>() ? "significant at 0.05: better"
                                                                                 : "significant at 0.05: worse";
  }
  cmp["warnings"] = warnings;
  return cmp;
}

std::string FormatComparison(const nlohmann::json& cmp) {
  std::ostringstream o;
  const auto& files = cmp["files"];
  const auto& comparisons = cmp["comparisons"];
  std::vector<std::string> label;
  size_t width = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    label.push_back(fmt::format("[{}] {}", i, files[i]["file"].get<std::string>()));
    width = std::max(width, label.back().size());
  }
  width = std::max<size_t>(width + 2, 8);

  o << fmt::format("{} evaluations of the same {} questions (matched by id); baseline [0]\n\n", files.size(),
                   cmp["questions"].get<int64_t>());
  o << fmt::format("{:<{}}{:<18}{:<20}{}\n", "file", width, "accuracy", "Wilson 95%", "unknown");
  for (size_t i = 0; i < files.size(); ++i) {
    const auto& f = files[i];
    o << fmt::format("{:<{}}{:<18}{:<20}{}\n", label[i], width,
                     fmt::format("{:.4f} ({}/{})", f["accuracy"].get<double>(), f["correct_count"].get<int64_t>(),
                                 f["total_count"].get<int64_t>()),
                     fmt::format("[{:.4f}, {:.4f}]", f["wilson95"]["lo"].get<double>(), f["wilson95"]["hi"].get<double>()),
                     f["unknown_count"].get<int64_t>());
  }

  o << fmt::format("\nagainst the baseline: paired counts, exact McNemar p, Holm-adjusted over {} comparison{}\n",
                   comparisons.size(), comparisons.size() == 1 ? "" : "s");
  o << fmt::format("{:<{}}{:<10}{:<10}{:<11}{:<12}{:<12}{:<9}{:<9}{}\n", "file", width, "delta", "improved", "regressed",
                   "both right", "both wrong", "p", "Holm p", "verdict");
  for (size_t i = 0; i < comparisons.size(); ++i) {
    const auto& c = comparisons[i];
    o << fmt::format("{:<{}}{:<10}{:<10}{:<11}{:<12}{:<12}{:<9}{:<9}{}\n", label[i + 1], width,
                     fmt::format("{:+.4f}", c["accuracy_delta"].get<double>()), fmt::format("+{}", c["improved"].get<int64_t>()),
                     fmt::format("-{}", c["regressed"].get<int64_t>()), c["both_correct"].get<int64_t>(),
                     c["both_wrong"].get<int64_t>(), FormatP(c["mcnemar_p"].get<double>()),
                     FormatP(c["holm_p"].get<double>()), c["verdict"].get<std::string>());
  }

  o << "\npredicted label distribution (share of questions)\n";
  std::string header = fmt::format("  {:<8}{:>6}", "label", "truth");
  for (size_t i = 0; i < files.size(); ++i) header += fmt::format("   {:>5} {:<20}", fmt::format("[{}]", i), "");
  while (!header.empty() && header.back() == ' ') header.pop_back();
  o << header << "\n";
  const auto& truth = files[0]["summary"]["truth_distribution"];
  const double total = std::max<int64_t>(1, files[0]["total_count"].get<int64_t>());
  for (const char* l : {"a", "b", "c", "d", "unknown"}) {
    std::string row = fmt::format("  {:<8}{:>5.0f}%", l, 100 * truth.value(l, 0) / total);
    for (const auto& f : files) {
      const double share = f["summary"]["predicted_distribution"].value(l, 0) / total;
      row += fmt::format("   {:>4.0f}% {:<20}", 100 * share, Bar(share));
    }
    while (!row.empty() && row.back() == ' ') row.pop_back();
    o << row << "\n";
  }
  for (const auto& w : cmp["warnings"]) o << "\n" << w.get<std::string>() << "\n";

  auto list = [&](const std::string& title, const nlohmann::json& items) {
    if (items.empty()) return;
    o << "\n" << title << "\n";
    for (const auto& it : items)
      o << fmt::format("  {} (truth {}): {} -> {}\n", it["id"].get<std::string>(), it["correct_answer"].get<std::string>(),
                       it["baseline"].get<std::string>(), it["other"].get<std::string>());
  };
  for (size_t i = 0; i < comparisons.size(); ++i) {
    list(label[i + 1] + ": improved (wrong in the baseline, right here)", comparisons[i]["improved_questions"]);
    list(label[i + 1] + ": regressed (right in the baseline, wrong here)", comparisons[i]["regressed_questions"]);
  }
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
  if (f.positional().size() < 2) {
    err << "usage: ritsu compare BASELINE.json OTHER.json [MORE.json ...] [--json]\n";
    return 2;
  }
  std::vector<NamedEvaluation> files;
  for (const auto& path : f.positional()) {
    auto doc = LoadEvalFile(path);
    if (!doc.ok()) {
      err << "ritsu compare: " << doc.status().message() << "\n";
      return 2;
    }
    files.push_back({path, std::move(*doc)});
  }
  auto cmp = CompareEvaluations(files);
  if (!cmp.ok()) {
    err << "ritsu compare: " << cmp.status().message() << "\n";
    return 2;
  }
  if (f.Has("--json")) out << cmp->dump(2) << "\n";
  else out << FormatComparison(*cmp);
  return 0;
}

int RescoreMain(int argc, char** argv) { return RescoreMainWith(ArgsOf(argc, argv, 1), std::cout, std::cerr); }
int CompareMain(int argc, char** argv) { return CompareMainWith(ArgsOf(argc, argv, 1), std::cout, std::cerr); }

}  // namespace ritsu::eval
