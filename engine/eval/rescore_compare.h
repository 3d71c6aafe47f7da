// `ritsu rescore OLD.json --output NEW.json [--overwrite]`: re-parses every stored response
// (and every ensemble member's, re-voting) with the current answer parser and recomputes the
// summary; works on ritsu's files and the lab's old ones.
// `ritsu compare A.json B.json [--json]`: accuracy delta, questions improved / regressed, and
// the predicted-label distribution of both side by side with the truth, flagging a collapse
// onto one letter.
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

// The comparison as data (what --json prints).
nlohmann::json CompareDocuments(const nlohmann::json& a, const nlohmann::json& b);
// The human-readable table.
std::string FormatComparison(const nlohmann::json& cmp, const std::string& name_a, const std::string& name_b);

int RescoreMainWith(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int CompareMainWith(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int RescoreMain(int argc, char** argv);
int CompareMain(int argc, char** argv);

}  // namespace ritsu::eval
