// ritsu submit train|eval|merge (through the queue) and ritsu run train|eval|merge (the same
// job in the foreground: ritsu-engine as a child with this terminal, same exit code).
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/render.h"
#include "cli/job_flags.h"
#include "cli/job_spec.h"

namespace ritsu::cli {
namespace fs = std::filesystem;
namespace {

std::string JobUsage(TaskKind kind, bool submit) {
  const JobFlagTable& t = JobFlags(kind);
  std::string s = fmt::format("usage: ritsu {} {} [job flags...]{}\n", submit ? "submit" : "run", TaskKindName(kind),
                              submit ? " [queue flags...]" : "");
  s += fmt::format("\njob flags (see `ritsu-engine {} --help` for their meaning); required: {}\n ",
                   TaskKindName(kind), fmt::join(t.required, " "));
  size_t col = 1;
  for (const auto& f : t.flags) {
    std::string item = " " + f.name + (f.takes_value ? " X" : "");
    if (col + item.size() > 96) { s += "\n "; col = 1; }
    s += item;
    col += item.size();
  }
  s += "\n";
  if (submit) {
    s += "\nqueue flags (any position; no job uses these names, except train's --gpus, which is both):\n";
    for (const auto& q : QueueFlags())
      s += fmt::format("  {:<24}{}\n", q.name + (q.takes_value ? " " + q.value_name : ""), q.help);
    s += "\nRelative paths are resolved against the current directory at submit time; inputs must exist\n"
         "(or come from an --after dependency); an existing output is refused without --overwrite.\n"
         "Without --gpus/--gpu-mem the GPU memory is estimated from the model's config.json (docs/jobs.md).\n";
  } else {
    s += "\n  --overwrite  replace an existing output\n";
  }
  return s;
}

fs::path ExeDir() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path(".") : p.parent_path();
}

}  // namespace

// $RITSU_ENGINE, then beside this binary (installed layout), then the build tree's
// engine/app/, then PATH.
std::string FindEngineBinary() {
  if (const char* e = std::getenv("RITSU_ENGINE"); e && *e) return e;
  std::error_code ec;
  for (auto p : {ExeDir() / "ritsu-engine", ExeDir() / ".." / "engine" / "app" / "ritsu-engine"}) {
    if (fs::exists(p, ec)) return fs::weakly_canonical(p, ec).string();
  }
  return "ritsu-engine";
}

int CmdSubmitJob(Context& ctx, TaskKind kind, const std::vector<std::string>& args) {
  const std::string cmd = fmt::format("ritsu submit {}", TaskKindName(kind));
  auto split = SplitJobArgs(kind, args, /*allow_queue=*/true);
  if (!split.ok()) { *ctx.err << split.status().message() << "\n"; return kExitUsage; }
  if (split->help) { *ctx.out << JobUsage(kind, true); return kExitOk; }
  std::error_code ec;
  const std::string cwd = fs::current_path(ec).string();
  auto req = BuildJobSpec(kind, *split, cwd);
  if (!req.ok()) { *ctx.err << cmd << ": " << req.status().message() << "\n"; return kExitUsage; }
  for (const auto& n : req->notes) *ctx.err << cmd << ": " << n << "\n";
  Client client(ctx.scheduler, ctx.reply_timeout);
  Submit sub;
  sub.tasks.push_back(req->spec);
  auto rep = client.Call<SubmitReply>(sub);
  if (!rep.ok()) return ReportError(ctx, fmt::format("submit {}", TaskKindName(kind)), rep.status());
  if (rep->ids.size() != 1) return ReportError(ctx, "submit", Status::Internal("ritsud returned no task id"));
  if (split->Has("--json")) *ctx.out << DumpJson(nlohmann::json{{"id", rep->ids[0]}}) << "\n";
  else *ctx.out << rep->ids[0] << "\n";
  if (!rep->cancelled.empty()) {  // a dependency had already failed: stored CANCELLED at once
    *ctx.err << fmt::format("{}: task {} was cancelled at once: {}\n", cmd, rep->ids[0], rep->cancelled[0].reason);
    return kExitFailed;
  }
  return kExitOk;
}

int CmdRun(Context& ctx, const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    *ctx.out << "usage: ritsu run train|eval|merge [job flags...]\n"
                "Runs the job in the foreground (ritsu-engine as a child process, no scheduler);\n"
                "the flags are those of `ritsu submit <kind>` without the queue flags.\n";
    return args.empty() ? kExitUsage : kExitOk;
  }
  auto kind = ParseTaskKind(args[0]);
  if (!kind.ok() || *kind == TaskKind::kExec) {
    std::string guess = DidYouMean(args[0], {"train", "eval", "merge"});
    *ctx.err << fmt::format("ritsu run: unknown job kind '{}'{}; kinds: train, eval, merge\n", args[0],
                            guess.empty() ? "" : fmt::format(" (did you mean '{}'?)", guess));
    return kExitUsage;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  auto split = SplitJobArgs(*kind, rest, /*allow_queue=*/false);
  if (!split.ok()) { *ctx.err << split.status().message() << "\n"; return kExitUsage; }
  if (split->help) { *ctx.out << JobUsage(*kind, false); return kExitOk; }

  std::vector<std::string> argv{TaskKindName(*kind)};
  for (auto& a : EngineArgv(*split, *kind)) argv.push_back(a);
  return RunEngine(ctx, "run", argv);
}

int RunEngine(Context& ctx, const std::string& command, std::vector<std::string> engine_args) {
  std::vector<std::string> argv{FindEngineBinary()};
  argv.insert(argv.end(), engine_args.begin(), engine_args.end());
  ctx.out->flush();
  ctx.err->flush();
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return ReportError(ctx, command, Status::Internal("fork failed"));
  if (pid == 0) {
    execvp(cargv[0], cargv.data());
    fmt::print(stderr, "ritsu {}: cannot start {}: {} (set RITSU_ENGINE or put ritsu-engine on PATH)\n", command, argv[0],
               std::strerror(errno));
    _exit(127);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) {
    *ctx.err << fmt::format("ritsu {}: ritsu-engine {} killed by signal {}\n", command, engine_args.empty() ? "" : engine_args[0],
                            WTERMSIG(st));
    return 128 + WTERMSIG(st);
  }
  return kExitFailed;
}

int CmdCompare(Context& ctx, const std::vector<std::string>& args) {
  std::vector<std::string> a{"compare"};
  a.insert(a.end(), args.begin(), args.end());
  return RunEngine(ctx, "compare", a);
}

int CmdRescore(Context& ctx, const std::vector<std::string>& args) {
  std::vector<std::string> a{"rescore"};
  a.insert(a.end(), args.begin(), args.end());
  return RunEngine(ctx, "rescore", a);
}

}  // namespace ritsu::cli
