// `ritsu-engine tokenize` and `ritsu-engine detokenize`: line-oriented tools for debugging
// prompts, and what tests/parity/tokenizer_parity.py drives.
//
//   ritsu-engine tokenize --model DIR|tokenizer.json [--add-special-tokens]
//       stdin: one JSON string per line -> stdout: one JSON array of ids per line
//   ritsu-engine detokenize --model DIR|tokenizer.json [--skip-special-tokens]
//       stdin: one JSON array of ids per line -> stdout: one JSON string per line
//
// argv[0] is the program or subcommand name and is ignored. Exit codes: 0 ok, 1 bad input
// (the message names the stdin line), 2 bad usage or an unreadable tokenizer.
#pragma once

#include <iosfwd>

namespace ritsu::tokenizer {

int TokenizeToolMain(int argc, char** argv);
int DetokenizeToolMain(int argc, char** argv);

// The same with explicit streams (tests drive these).
int RunTokenizeTool(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err);
int RunDetokenizeTool(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace ritsu::tokenizer
