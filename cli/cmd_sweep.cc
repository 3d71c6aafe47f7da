// ritsu sweep submit FILE / ritsu sweep status ID
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/render.h"

namespace ritsu::cli {

namespace {

int SweepSubmitCmd(Context& ctx, const std::vector<std::string>& args) {
  ArgParser p("ritsu sweep submit", "Expands a sweep file (TOML, see docs/sweeps.md) into tasks under one sweep id.");
  p.Positionals("FILE", 1, 1).Bool("--json", "machine-readable output");
  auto a = p.Parse(args);
  if (!a.ok()) { *ctx.err << a.status().message() << "\n"; return kExitUsage; }
  if (a->help) { *ctx.out << p.Usage(); return kExitOk; }
  std::filesystem::path file = a->positionals[0];
  std::error_code dir_ec;
  if (std::filesystem::is_directory(file, dir_ec)) {
    // An ifstream opens a directory without complaint and reads nothing: say what is wrong.
    *ctx.err << fmt::format("ritsu sweep submit: {} is a directory; give the sweep file (TOML, docs/sweeps.md), e.g. {}\n",
                            file.string(), (file / "sweep.toml").string());
    return kExitUsage;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    *ctx.err << fmt::format("ritsu sweep submit: cannot read sweep file {}: {}\n", file.string(), std::strerror(errno));
    return kExitUsage;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  SweepSubmit req;
  req.file_name = file.string();
  req.toml = ss.str();
  std::error_code ec;
  req.base_dir = std::filesystem::absolute(file, ec).parent_path().string();
  Client client(ctx.scheduler, ctx.reply_timeout);
  auto rep = client.Call<SweepSubmitReply>(req);
  if (!rep.ok()) return ReportError(ctx, "sweep submit", rep.status());
  if (a->Has("--json")) {
    *ctx.out << DumpJson(nlohmann::json{{"sweep_id", rep->sweep_id}, {"trials", rep->trials}, {"task_ids", rep->task_ids}}, 2) << "\n";
  } else {
    *ctx.out << fmt::format("sweep {}: {} trial(s), {} task(s): {}\n", rep->sweep_id, rep->trials, rep->task_ids.size(),
                            fmt::join(rep->task_ids, " "));
    *ctx.out << fmt::format("follow it with: ritsu sweep status {}\n", rep->sweep_id);
  }
  return kExitOk;
}

int SweepStatusCmd(Context& ctx, const std::vector<std::string>& args) {
  ArgParser p("ritsu sweep status", "One row per trial: parameters, state of each step, final metrics.");
  p.Positionals("ID", 1, 1).Bool("--json", "machine-readable output");
  auto a = p.Parse(args);
  if (!a.ok()) { *ctx.err << a.status().message() << "\n"; return kExitUsage; }
  if (a->help) { *ctx.out << p.Usage(); return kExitOk; }
  auto id = ParseTaskId(a->positionals[0], "sweep id");
  if (!id.ok()) { *ctx.err << id.status().message() << "\n"; return kExitUsage; }
  Client client(ctx.scheduler, ctx.reply_timeout);
  SweepStatus req;
  req.sweep_id = *id;
  auto rep = client.CallPaged<SweepStatusReply>(req, &SweepStatusReply::trials);
  if (!rep.ok()) return ReportError(ctx, "sweep status", rep.status());
  if (a->Has("--json")) {
    *ctx.out << DumpJson(ToJson(*rep), 2) << "\n";
    return kExitOk;
  }
  std::string counts;
  for (const auto& [state, n] : rep->counts)
    if (n) counts += fmt::format("  {} {}", state, n);
  *ctx.out << fmt::format("sweep {} {}{}{}\n", rep->sweep_id, rep->name,
                          rep->max_concurrent ? fmt::format("  (at most {} at once)", rep->max_concurrent) : "", counts);
  Table t({"TRIAL", "PARAMS", "STEPS", "METRICS"});
  for (const auto& tr : rep->trials) {
    std::string params, steps, metrics;
    for (const auto& [k, v] : tr.params) params += fmt::format("{}{}={}", params.empty() ? "" : " ", k, v);
    for (const auto& c : tr.steps) {
      steps += fmt::format("{}{}#{}:{}", steps.empty() ? "" : " ", c.step, c.task_id, TaskStateName(c.state));
      std::string m = MetricsSummary(c.metrics_json);
      if (!m.empty()) metrics = m;  // the last step with metrics (eval after train) is the result
    }
    t.Add({std::to_string(tr.trial), params, steps, metrics.empty() ? "-" : metrics});
  }
  t.Print(*ctx.out);
  return kExitOk;
}

}  // namespace

int CmdSweep(Context& ctx, const std::vector<std::string>& args) {
  static const std::vector<std::string> kSub = {"submit", "status"};
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    *ctx.out << "usage: ritsu sweep submit FILE | ritsu sweep status ID\n";
    return args.empty() ? kExitUsage : kExitOk;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "submit") return SweepSubmitCmd(ctx, rest);
  if (args[0] == "status") return SweepStatusCmd(ctx, rest);
  std::string guess = DidYouMean(args[0], kSub);
  *ctx.err << fmt::format("ritsu sweep: unknown subcommand '{}'{}; use 'sweep submit FILE' or 'sweep status ID'\n", args[0],
                          guess.empty() ? "" : fmt::format(" (did you mean '{}'?)", guess));
  return kExitUsage;
}

}  // namespace ritsu::cli
