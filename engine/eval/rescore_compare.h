// `ritsu rescore OLD.json --output NEW.json [--overwrite]`: re-parses every stored response
// (and every ensemble member's, re-voting) with the current answer parser and recomputes the
// summary; works on ritsu's files and the lab's old ones.
// `ritsu compare BASELINE.json OTHER.json [MORE.json ...] [--json]`: per file the accuracy with
// its Wilson 95 % interval; per file against the baseline the paired counts on the same
// questions (matched by id), the exact McNemar p and its Holm adjustment over the comparisons;
// the predicted-label distributions beside the truth, flagging a collapse onto one letter.
// argv[0] is the subcommand name; flags and files from argv[1].
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace ritsu::eval {

// Re-parses `doc` in place; returns how many predicted answers changed.
int RescoreDocument(nlohmann::json* doc, const std::string& source);

struct NamedEvaluation {
  std::string name;      // how messages and tables call it (the path given)
  nlohmann::json doc;    // as LoadEvalFile returned it
};

// The comparison as data (what --json prints); files[0] is the baseline. Refuses (naming both
// files, a question present in one and missing in the other, and the counts) files over
// different question sets, and a file holding one question id twice.
Result<nlohmann::json> CompareEvaluations(const std::vector<NamedEvaluation>& files);
// The human-readable tables.
std::string FormatComparison(const nlohmann::json& cmp);

int RescoreMainWith(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int CompareMainWith(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int RescoreMain(int argc, char** argv);
int CompareMain(int argc, char** argv);

}  // namespace ritsu::eval
