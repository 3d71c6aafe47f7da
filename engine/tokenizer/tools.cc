#include "engine/tokenizer/tools.h"

#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/tokenizer/tokenizer.h"

namespace ritsu::tokenizer {
namespace {

using nlohmann::json;

struct ToolArgs {
  std::string model;
  bool flag = false;  // --add-special-tokens / --skip-special-tokens
  bool help = false;
};

// Parses `--model X` / `--model=X` and the one boolean flag the tool has.
bool ParseArgs(int argc, char** argv, const std::string& flag_name, ToolArgs* args, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      args->help = true;
    } else if (a == "--model") {
      if (i + 1 >= argc) {
        *error = "--model needs a value (a model directory or a tokenizer.json)";
        return false;
      }
      args->model = argv[++i];
    } else if (a.starts_with("--model=")) {
      args->model = a.substr(8);
    } else if (a == flag_name) {
      args->flag = true;
    } else {
      *error = "unknown argument '" + a + "'";
      return false;
    }
  }
  if (!args->help && args->model.empty()) {
    *error = "--model is required";
    return false;
  }
  return true;
}

// Shared driver: argument parsing, tokenizer loading, and the per-line loop.
template <typename LineFn>
int RunTool(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err,
            const char* name, const std::string& flag_name, const char* usage_rest, LineFn on_line) {
  ToolArgs args;
  std::string error;
  const std::string usage = std::string("usage: ritsu-engine ") + name + " --model DIR|tokenizer.json [" +
                            flag_name + "]\n" + usage_rest;
  if (!ParseArgs(argc, argv, flag_name, &args, &error)) {
    err << "ritsu-engine " << name << ": " << error << "\n" << usage;
    return 2;
  }
  if (args.help) {
    out << usage;
    return 0;
  }
  auto tok = Tokenizer::Load(args.model);
  if (!tok.ok()) {
    err << "ritsu-engine " << name << ": --model " << args.model << ": " << tok.status().message() << "\n";
    return 2;
  }
  std::string line;
  for (size_t line_no = 1; std::getline(in, line); ++line_no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string result;
    if (!on_line(*tok, args.flag, line, &result, &error)) {
      err << "ritsu-engine " << name << ": stdin line " << line_no << ": " << error << "\n";
      return 1;
    }
    out << result << '\n' << std::flush;  // flushed per line so that a pipe can be driven interactively
  }
  return 0;
}

bool TokenizeLine(const Tokenizer& tok, bool add_special, const std::string& line, std::string* result,
                  std::string* error) {
  json v;
  try {
    v = json::parse(line);
  } catch (const json::parse_error& e) {
    *error = std::string("not valid JSON (expected one JSON string per line): ") + e.what();
    return false;
  }
  if (!v.is_string()) {
    *error = "expected a JSON string, got " + std::string(v.type_name());
    return false;
  }
  *result = json(tok.Encode(v.get<std::string>(), add_special)).dump();
  return true;
}

bool DetokenizeLine(const Tokenizer& tok, bool skip_special, const std::string& line, std::string* result,
                    std::string* error) {
  json v;
  try {
    v = json::parse(line);
  } catch (const json::parse_error& e) {
    *error = std::string("not valid JSON (expected one JSON array of ids per line): ") + e.what();
    return false;
  }
  if (!v.is_array()) {
    *error = "expected a JSON array of ids, got " + std::string(v.type_name());
    return false;
  }
  std::vector<int32_t> ids;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_number_integer() || v[i].get<int64_t>() < 0 || v[i].get<int64_t>() >= tok.vocab_size()) {
      *error = "element " + std::to_string(i) + " (" + v[i].dump() + ") is not a token id in [0, " +
               std::to_string(tok.vocab_size()) + ")";
      return false;
    }
    ids.push_back(static_cast<int32_t>(v[i].get<int64_t>()));
  }
  *result = json(tok.Decode(ids, skip_special)).dump();
  return true;
}

}  // namespace

int RunTokenizeTool(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err) {
  return RunTool(argc, argv, in, out, err, "tokenize", "--add-special-tokens",
                 "reads one JSON string per line on stdin, prints one JSON array of token ids per line\n",
                 TokenizeLine);
}

int RunDetokenizeTool(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err) {
  return RunTool(argc, argv, in, out, err, "detokenize", "--skip-special-tokens",
                 "reads one JSON array of token ids per line on stdin, prints one JSON string per line\n",
                 DetokenizeLine);
}

int TokenizeToolMain(int argc, char** argv) { return RunTokenizeTool(argc, argv, std::cin, std::cout, std::cerr); }
int DetokenizeToolMain(int argc, char** argv) { return RunDetokenizeTool(argc, argv, std::cin, std::cout, std::cerr); }

}  // namespace ritsu::tokenizer
