// The `ritsu` subcommands: a table of name, one-line help and handler, so `ritsu` alone lists
// them and a typo gets "did you mean". Each handler parses its own flags with ArgParser.
//
// Exit codes (docs/cli.md): 0 success; 1 the scheduler refused the request, or (wait) a task
// ended other than SUCCEEDED; 2 bad command line; 3 scheduler unreachable; 4 `wait --timeout`
// elapsed first.
#pragma once

#include <chrono>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "common/status.h"
#include "common/task.h"

namespace ritsu::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnavailable = 3;
inline constexpr int kExitTimeout = 4;

struct Context {
  std::string scheduler;                     // endpoint
  std::chrono::milliseconds reply_timeout{5000};
  std::ostream* out;
  std::ostream* err;
};

struct CommandInfo {
  std::string name;     // "submit", "sweep"
  std::string summary;  // one line for the table
  std::function<int(Context&, const std::vector<std::string>&)> run;
};

const std::vector<CommandInfo>& Commands();

// The whole CLI: global flags (--scheduler, --reply-timeout), dispatch, error reporting.
int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// Builds the spec of `ritsu submit exec` from its parsed flags (no scheduler involved), so the
// flag handling is unit-tested. cwd: the client's working directory, used unless --cwd is given.
Result<TaskSpec> BuildExecSpec(const ParsedArgs& a, const std::string& cwd);
ArgParser SubmitExecParser();

// ritsu submit train|eval|merge and ritsu run train|eval|merge (cli/cmd_job.cc).
int CmdSubmitJob(Context& ctx, TaskKind kind, const std::vector<std::string>& args);
int CmdRun(Context& ctx, const std::vector<std::string>& args);
// `ritsu compare BASELINE.json OTHER.json...` and `ritsu rescore OLD.json --output NEW.json`: the engine's
// evaluation tools, run in the foreground.
int CmdCompare(Context& ctx, const std::vector<std::string>& args);
int CmdRescore(Context& ctx, const std::vector<std::string>& args);
// Runs `ritsu-engine engine_args...` with this terminal; returns its exit code (128+signal).
int RunEngine(Context& ctx, const std::string& command, std::vector<std::string> engine_args);
// ritsu-engine for `ritsu run`: $RITSU_ENGINE, beside ritsu, the build tree's engine/app/, PATH.
std::string FindEngineBinary();

// Maps a Status to an exit code and prints "ritsu CMD: message" on err.
int ReportError(Context& ctx, const std::string& command, const Status& st);

}  // namespace ritsu::cli
