// ritsu submit exec
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/render.h"
#include "common/spec_check.h"
#include "common/units.h"

namespace ritsu::cli {
namespace {

Status ParseKeyValue(const std::string& flag, const std::string& v, std::map<std::string, std::string>* into) {
  size_t eq = v.find('=');
  if (eq == std::string::npos || eq == 0)
    return Status::InvalidArgument(fmt::format("{} needs KEY=VALUE (got '{}')", flag, v));
  (*into)[v.substr(0, eq)] = v.substr(eq + 1);
  return Status::Ok();
}

}  // namespace

ArgParser SubmitExecParser() {
  ArgParser p("ritsu submit exec", "Queues any command as a task; prints its id.\n"
                                   "example: ritsu submit exec --gpus 1 --gpu-mem 20G --after 12 -- python eval.py --data x.json");
  p.Value("--name", "NAME", "task name (default: the command's file name)")
      .Value("--gpus", "N", "GPUs (slots) the task needs, 0..64; 0 = a CPU slot (default 0)")
      .Value("--gpu-mem", "SIZE", "memory each GPU must have, e.g. 20G")
      .Value("--tag", "T", "a tag the worker must offer", true)
      .Value("--host", "WORKER", "run only on this worker")
      .Value("--priority", "P", "higher runs first, -1000000..1000000 (default 0)")
      .Value("--after", "ID", "start only after task ID succeeded", true)
      .Value("--max-attempts", "N", "tries before FAILED, 1..100 (default 1)")
      .Value("--timeout", "DURATION", "kill an attempt after this long, e.g. 2h (at most 365d)")
      .Value("--kill-grace", "DURATION", "on cancel, SIGKILL this long after SIGTERM, 1ms..1h (default: the worker's --kill-grace)")
      .Value("--label", "K=V", "free label shown by show/status --json", true)
      .Value("--env", "K=V", "environment variable for the task", true)
      .Value("--cwd", "DIR", "working directory on the worker (default: the current directory)")
      .Bool("--json", "print {\"id\": N} instead of the bare id")
      .Rest("CMD [ARGS...]", true);
  return p;
}

Result<TaskSpec> BuildExecSpec(const ParsedArgs& a, const std::string& cwd) {
  TaskSpec s;
  s.kind = TaskKind::kExec;
  s.argv = a.rest;
  if (s.argv.empty() || s.argv[0].empty())
    return Status::InvalidArgument("missing the command to run: ritsu submit exec [flags] -- CMD [ARGS...]");
  // The default name comes from argv[0], which may be any bytes: make it a valid name.
  s.name = a.Has("--name") ? a.Get("--name") : ToShownText(std::filesystem::path(s.argv[0]).filename().string(), kMaxNameBytes);
  s.cwd = a.Get("--cwd", cwd);
  if (a.Has("--gpus")) {
    RITSU_ASSIGN_OR_RETURN(int64_t n, ParseInt("--gpus", a.Get("--gpus"), 0, kMaxGpus));
    s.resources.gpus = uint32_t(n);
  }
  if (a.Has("--gpu-mem")) {
    auto b = ParseSize(a.Get("--gpu-mem"));
    if (!b.ok()) return b.status().Annotate("--gpu-mem");
    s.resources.gpu_mem_bytes = *b;
  }
  s.resources.tags = a.GetAll("--tag");
  s.resources.host = a.Get("--host");
  if (a.Has("--priority")) {
    RITSU_ASSIGN_OR_RETURN(int64_t p, ParseInt("--priority", a.Get("--priority"), kMinPriority, kMaxPriority));
    s.priority = int32_t(p);
  }
  for (const auto& id : a.GetAll("--after")) {
    RITSU_ASSIGN_OR_RETURN(int64_t n, ParseInt("--after", id, 1, INT64_MAX));
    s.after.push_back(TaskId(n));
  }
  if (a.Has("--max-attempts")) {
    RITSU_ASSIGN_OR_RETURN(int64_t n, ParseInt("--max-attempts", a.Get("--max-attempts"), 1, kMaxAttempts));
    s.max_attempts = uint32_t(n);
  }
  if (a.Has("--timeout")) {
    RITSU_ASSIGN_OR_RETURN(s.timeout_ms, ParseDurationFlag("--timeout", a.Get("--timeout"), 0, kMaxTimeoutMs));
  }
  if (a.Has("--kill-grace")) {
    RITSU_ASSIGN_OR_RETURN(s.kill_grace_ms, ParseDurationFlag("--kill-grace", a.Get("--kill-grace"), 1, kMaxKillGraceMs));
  }
  for (const auto& kv : a.GetAll("--label")) RITSU_RETURN_IF_ERROR(ParseKeyValue("--label", kv, &s.labels));
  for (const auto& kv : a.GetAll("--env")) RITSU_RETURN_IF_ERROR(ParseKeyValue("--env", kv, &s.env));
  // The scheduler's own check (sizes, UTF-8), here so the user hears it before a round trip.
  RITSU_RETURN_IF_ERROR(ValidateSpec(s, ""));
  return s;
}

int CmdSubmit(Context& ctx, const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    *ctx.out << "usage: ritsu submit exec [flags] -- CMD [ARGS...]\n"
                "       ritsu submit train|eval|merge [job flags...] [queue flags...]   (docs/jobs.md)\n";
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (auto kind = ParseTaskKind(args[0]); kind.ok() && *kind != TaskKind::kExec) {
    return CmdSubmitJob(ctx, *kind, std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (args[0] != "exec") {
    std::string guess = DidYouMean(args[0], {"exec", "train", "eval", "merge"});
    *ctx.err << fmt::format("ritsu submit: unknown task kind '{}'{}; kinds: exec, train, eval, merge\n", args[0],
                            guess.empty() ? "" : fmt::format(" (did you mean '{}'?)", guess));
    return kExitUsage;
  }
  ArgParser p = SubmitExecParser();
  auto parsed = p.Parse(std::vector<std::string>(args.begin() + 1, args.end()));
  if (!parsed.ok()) { *ctx.err << parsed.status().message() << "\n"; return kExitUsage; }
  if (parsed->help) { *ctx.out << p.Usage(); return kExitOk; }
  std::error_code ec;
  auto spec = BuildExecSpec(*parsed, std::filesystem::current_path(ec).string());
  if (!spec.ok()) { *ctx.err << "ritsu submit exec: " << spec.status().message() << "\n"; return kExitUsage; }
  Client client(ctx.scheduler, ctx.reply_timeout);
  Submit req;
  req.tasks.push_back(*spec);
  auto rep = client.Call<SubmitReply>(req);
  if (!rep.ok()) return ReportError(ctx, "submit exec", rep.status());
  if (rep->ids.size() != 1) return ReportError(ctx, "submit exec", Status::Internal("ritsud returned no task id"));
  if (parsed->Has("--json")) {
    nlohmann::json j{{"id", rep->ids[0]}};
    if (!rep->cancelled.empty()) j["cancelled"] = rep->cancelled[0].reason;
    *ctx.out << DumpJson(j) << "\n";
  } else {
    *ctx.out << rep->ids[0] << "\n";
  }
  // Stored, but CANCELLED at once: a dependency had already failed. Not a success.
  if (!rep->cancelled.empty()) {
    *ctx.err << fmt::format("ritsu submit exec: task {} was cancelled at once: {}\n", rep->ids[0], rep->cancelled[0].reason);
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace ritsu::cli
