// ritsu cancel / retry / drain / wait
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/render.h"
#include "common/units.h"

namespace ritsu::cli {

namespace {
int Usage(Context& ctx, const Status& st) {
  *ctx.err << st.message() << "\n";
  return kExitUsage;
}
}  // namespace

int CmdCancel(Context& ctx, const std::vector<std::string>& args) {
  ArgParser p("ritsu cancel", "Cancels tasks (running ones get SIGTERM, then SIGKILL) or every open task of a sweep.");
  p.Positionals("ID...", 0, 100000).Value("--sweep", "ID", "cancel the sweep's tasks").Value("--reason", "TEXT", "recorded with the tasks");
  auto a = p.Parse(args);
  if (!a.ok()) return Usage(ctx, a.status());
  if (a->help) { *ctx.out << p.Usage(); return kExitOk; }
  Cancel req;
  for (const auto& s : a->positionals) {
    auto id = ParseTaskId(s, "task id");
    if (!id.ok()) return Usage(ctx, id.status());
    req.task_ids.push_back(*id);
  }
  if (a->Has("--sweep")) {
    auto id = ParseTaskId(a->Get("--sweep"), "sweep id");
    if (!id.ok()) return Usage(ctx, id.status());
    req.sweep_id = *id;
  }
  if (req.task_ids.empty() && req.sweep_id == 0)
    return Usage(ctx, Status::InvalidArgument("ritsu cancel: name task ids or --sweep ID (see 'ritsu cancel --help')"));
  req.reason = a->Get("--reason", "cancelled by user");
  Client client(ctx.scheduler, ctx.reply_timeout);
  auto rep = client.Call<CancelReply>(req);
  if (!rep.ok()) return ReportError(ctx, "cancel", rep.status());
  if (!rep->cancelled.empty()) *ctx.out << fmt::format("cancelled: {}\n", fmt::join(rep->cancelled, " "));
  if (!rep->already_final.empty()) *ctx.out << fmt::format("already finished: {}\n", fmt::join(rep->already_final, " "));
  if (rep->cancelled.empty() && rep->already_final.empty()) *ctx.out << "nothing to cancel\n";
  return kExitOk;
}

int CmdRetry(Context& ctx, const std::vector<std::string>& args) {
  ArgParser p("ritsu retry", "Runs a FAILED or CANCELLED task again (next attempt).");
  p.Positionals("ID", 1, 1);
  auto a = p.Parse(args);
  if (!a.ok()) return Usage(ctx, a.status());
  if (a->help) { *ctx.out << p.Usage(); return kExitOk; }
  auto id = ParseTaskId(a->positionals[0], "task id");
  if (!id.ok()) return Usage(ctx, id.status());
  Client client(ctx.scheduler, ctx.reply_timeout);
  Retry req;
  req.task_id = *id;
  auto rep = client.Call<RetryReply>(req);
  if (!rep.ok()) return ReportError(ctx, "retry", rep.status());
  *ctx.out << fmt::format("task {} is {} again\n", rep->task_id, TaskStateName(rep->state));
  return kExitOk;
}

int CmdDrain(Context& ctx, const std::vector<std::string>& args) {
  ArgParser p("ritsu drain", "Stops giving new tasks to a worker; running tasks finish (or, with --requeue, checkpoint and "
                             "move). --undo takes it back.");
  p.Positionals("WORKER", 1, 1).Bool("--undo", "accept new tasks again")
      .Bool("--requeue", "also preempt its running tasks: SIGTERM, and a task that checkpoints and exits 75 within its "
                         "kill grace is requeued without using an attempt");
  auto a = p.Parse(args);
  if (!a.ok()) return Usage(ctx, a.status());
  if (a->help) { *ctx.out << p.Usage(); return kExitOk; }
  Client client(ctx.scheduler, ctx.reply_timeout);
  Drain req;
  req.worker = a->positionals[0];
  req.undrain = a->Has("--undo");
  req.requeue = a->Has("--requeue");
  if (req.undrain && req.requeue)
    return Usage(ctx, Status::InvalidArgument("ritsu drain: --requeue and --undo contradict each other; give one"));
  auto rep = client.Call<Ack>(req);
  if (!rep.ok()) return ReportError(ctx, "drain", rep.status());
  *ctx.out << fmt::format("worker {} {}\n", req.worker,
                          req.undrain    ? "accepts new tasks again"
                          : req.requeue ? "is draining: no new tasks; its running tasks were asked to checkpoint and move"
                                        : "is draining: no new tasks");
  return kExitOk;
}

int CmdWait(Context& ctx, const std::vector<std::string>& args) {
  ArgParser p("ritsu wait", "Waits until the tasks end; exit 0 only if all SUCCEEDED (1 otherwise, 4 on --timeout).");
  p.Positionals("ID...", 1, 100000).Value("--timeout", "DURATION", "give up after this long (default: wait forever)")
      .Bool("--quiet", "print nothing, only set the exit code").Bool("--json", "machine-readable output");
  auto a = p.Parse(args);
  if (!a.ok()) return Usage(ctx, a.status());
  if (a->help) { *ctx.out << p.Usage(); return kExitOk; }
  Wait req;
  for (const auto& s : a->positionals) {
    auto id = ParseTaskId(s, "task id");
    if (!id.ok()) return Usage(ctx, id.status());
    req.task_ids.push_back(*id);
  }
  int64_t total_ms = -1;
  if (a->Has("--timeout")) {
    auto ms = ParseDuration(a->Get("--timeout"));
    if (!ms.ok()) return Usage(ctx, ms.status().Annotate("ritsu wait: --timeout"));
    total_ms = *ms;
  }
  auto start = std::chrono::steady_clock::now();
  Client client(ctx.scheduler, ctx.reply_timeout);
  WaitReply last;
  for (;;) {
    int64_t elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    int64_t left = total_ms < 0 ? kMaxWaitMs : std::max<int64_t>(0, total_ms - elapsed);
    req.timeout_ms = std::min<int64_t>(left, kMaxWaitMs);
    auto rep = client.Call<WaitReply>(req, std::chrono::milliseconds(req.timeout_ms));
    if (!rep.ok()) return ReportError(ctx, "wait", rep.status());
    last = std::move(rep).value();
    if (last.all_final || (total_ms >= 0 && left == 0)) break;
  }
  bool all_ok = last.all_final;
  for (const auto& r : last.tasks) all_ok = all_ok && r.state == TaskState::kSucceeded;
  if (a->Has("--json")) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& r : last.tasks) rows.push_back(ToJson(r));
    *ctx.out << DumpJson(nlohmann::json{{"all_final", last.all_final}, {"all_succeeded", all_ok}, {"tasks", rows}}, 2) << "\n";
  } else if (!a->Has("--quiet")) {
    Table t({"ID", "NAME", "STATE", "TRY", "REASON"});
    for (const auto& r : last.tasks)
      t.Add({std::to_string(r.id), Clip(r.name, 24), TaskStateName(r.state), std::to_string(r.attempt), Clip(r.reason, 70)});
    t.Print(*ctx.out);
  }
  if (!last.all_final) {
    if (!a->Has("--quiet")) *ctx.err << "ritsu wait: --timeout elapsed before every task ended\n";
    return kExitTimeout;
  }
  return all_ok ? kExitOk : kExitFailed;
}

}  // namespace ritsu::cli
