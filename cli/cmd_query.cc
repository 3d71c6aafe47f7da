// ritsu status / show / workers / explain
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/metrics_series.h"
#include "cli/render.h"
#include "common/units.h"

namespace ritsu::cli {

namespace {

int Usage(Context& ctx, const Status& st) {
  *ctx.err << st.message() << "\n";
  return kExitUsage;
}

}  // namespace

int CmdStatus(Context& ctx, const std::vector<std::string>& args) {
  ArgParser p("ritsu status", "Counts per state and the newest tasks.");
  p.Value("--state", "S", "only tasks in this state (PENDING QUEUED ASSIGNED RUNNING CANCELLING SUCCEEDED FAILED CANCELLED)", true)
      .Value("--sweep", "ID", "only the tasks of this sweep")
      .Value("--limit", "N", "at most N rows, newest first (default 1000)")
      .Bool("--summary", "only the counts")
      .Bool("--json", "machine-readable output");
  auto a = p.Parse(args);
  if (!a.ok()) return Usage(ctx, a.status());
  if (a->help) { *ctx.out << p.Usage(); return kExitOk; }
  StatusRequest req;
  for (const auto& s : a->GetAll("--state")) {
    auto st = ParseTaskState(s);
    if (!st.ok()) return Usage(ctx, Status::InvalidArgument(fmt::format("ritsu status: --state {}: {}", s, st.status().message())));
    req.states.push_back(*st);
  }
  if (a->Has("--sweep")) {
    auto id = ParseTaskId(a->Get("--sweep"), "sweep id");
    if (!id.ok()) return Usage(ctx, id.status());
    req.sweep_id = *id;
  }
  if (a->Has("--limit")) {
    auto n = ParseInt("--limit", a->Get("--limit"), 1, 1 << 30);
    if (!n.ok()) return Usage(ctx, n.status().Annotate("ritsu status"));
    req.limit = uint32_t(*n);
  }
  req.summary_only = a->Has("--summary");
  Client client(ctx.scheduler, ctx.reply_timeout);
  // Big rows come in several pages (each reply stays under the frame limit).
  const uint32_t wanted = req.limit ? req.limit : 1000;
  auto rep = client.CallPaged<StatusReply>(req, &StatusReply::tasks, std::function<void(StatusRequest&, size_t)>(
      [wanted](StatusRequest& next, size_t got) { next.limit = wanted - std::min<uint32_t>(wanted - 1, uint32_t(got)); }));
  if (!rep.ok()) return ReportError(ctx, "status", rep.status());
  if (a->Has("--json")) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& r : rep->tasks) rows.push_back(ToJson(r));
    *ctx.out << DumpJson(nlohmann::json{{"counts", rep->counts}, {"tasks", rows}, {"truncated", rep->truncated}}, 2) << "\n";
    return kExitOk;
  }
  std::string counts;
  for (int i = 0; i < kNumTaskStates; ++i) {
    const char* name = TaskStateName(TaskState(i));
    auto it = rep->counts.find(name);
    counts += fmt::format("{}{} {}", counts.empty() ? "" : "  ", name, it == rep->counts.end() ? 0 : it->second);
  }
  *ctx.out << counts << "\n";
  if (req.summary_only) return kExitOk;
  if (!rep->tasks.empty()) {
    *ctx.out << "\n";
    Table t({"ID", "NAME", "KIND", "STATE", "TRY", "PRIO", "WORKER", "SWEEP", "UPDATED", "METRICS", "REASON"});
    for (const auto& r : rep->tasks) {
      const std::string metrics = r.metrics_json.empty() ? "-" : Clip(MetricsSummary(r.metrics_json), 60);
      t.Add({std::to_string(r.id), Clip(r.name, 24), TaskKindName(r.kind), TaskStateName(r.state),
             std::to_string(r.attempt), std::to_string(r.priority), r.worker.empty() ? "-" : r.worker,
             r.sweep_id ? std::to_string(r.sweep_id) : "-", Ago(r.updated_ms) + " ago", metrics, Clip(r.reason, 70)});
    }
    t.Print(*ctx.out);
  }
  if (rep->truncated) *ctx.out << "(more tasks match: raise --limit or filter with --state / --sweep)\n";
  return kExitOk;
}

int CmdShow(Context& ctx, const std::vector<std::string>& args) {
  ArgParser p("ritsu show", "Everything about one task: spec, state, attempts, exit status, times.");
  p.Positionals("ID", 1, 1).Bool("--json", "machine-readable output");
  auto a = p.Parse(args);
  if (!a.ok()) return Usage(ctx, a.status());
  if (a->help) { *ctx.out << p.Usage(); return kExitOk; }
  auto id = ParseTaskId(a->positionals[0], "task id");
  if (!id.ok()) return Usage(ctx, id.status());
  Client client(ctx.scheduler, ctx.reply_timeout);
  Show req;
  req.task_id = *id;
  auto rep = client.Call<ShowReply>(req);
  if (!rep.ok()) return ReportError(ctx, "show", rep.status());
  const TaskRecord& t = rep->task;
  // The latest attempt's metric series, summarised (only when it has one: no extra request else).
  SeriesSummary series;
  if (!rep->attempts.empty() && rep->attempts.back().metrics_stored_bytes > 0) {
    MetricsReply last;
    auto recs = FetchSeries(client, t.id, rep->attempts.back().attempt, &last);
    if (recs.ok()) series = Summarize(*recs);
  }
  if (a->Has("--json")) {
    nlohmann::json attempts = nlohmann::json::array();
    for (const auto& at : rep->attempts) attempts.push_back(ToJson(at));
    nlohmann::json j = ToJson(t);
    j["attempts"] = attempts;
    j["dependents"] = rep->dependents;
    j["series"] = {{"latest", series.latest}, {"best_eval", series.best_eval}};
    *ctx.out << DumpJson(j, 2) << "\n";
    return kExitOk;
  }
  auto& o = *ctx.out;
  const TaskSpec& s = t.spec;
  o << fmt::format("task {}  {}  ({})\n", t.id, s.name, TaskKindName(s.kind));
  o << fmt::format("  state       {}{}\n", TaskStateName(t.state), t.reason.empty() ? "" : "  - " + t.reason);
  o << fmt::format("  command     {}\n", fmt::join(s.argv, " "));
  if (!s.cwd.empty()) o << fmt::format("  cwd         {}\n", s.cwd);
  for (const auto& [k, v] : s.env) o << fmt::format("  env         {}={}\n", k, v);
  o << fmt::format("  resources   gpus {}{}{}{}\n", s.resources.gpus,
                   s.resources.gpu_mem_bytes ? " x " + FormatSize(s.resources.gpu_mem_bytes) : "",
                   s.resources.tags.empty() ? "" : fmt::format("  tags {}", fmt::join(s.resources.tags, ",")),
                   s.resources.host.empty() ? "" : "  host " + s.resources.host);
  o << fmt::format("  priority    {}   attempts {}/{}{}   timeout {}{}\n", s.priority, t.attempt, s.max_attempts,
                   t.preempted_attempts ? fmt::format(" ({} preempted, not counted)", t.preempted_attempts) : "",
                   s.timeout_ms ? FormatDuration(s.timeout_ms) : "none",
                   s.kill_grace_ms ? "   kill grace " + FormatDuration(s.kill_grace_ms) : "");
  if (!s.after.empty()) o << fmt::format("  after       {}\n", fmt::join(s.after, " "));
  if (!rep->dependents.empty()) o << fmt::format("  dependents  {}\n", fmt::join(rep->dependents, " "));
  if (s.sweep_id) o << fmt::format("  sweep       {}\n", s.sweep_id);
  for (const auto& [k, v] : s.labels) o << fmt::format("  label       {}={}\n", k, v);
  o << fmt::format("  submitted   {}   updated {}\n", FormatTime(t.submitted_ms), FormatTime(t.updated_ms));
  if (!t.metrics_json.empty()) o << fmt::format("  metrics     {}\n", t.metrics_json);
  if (!series.latest.is_null()) o << fmt::format("  latest      {}\n", FormatRecord(series.latest));
  if (!series.best_eval.is_null()) o << fmt::format("  best eval   {}\n", FormatRecord(series.best_eval));
  if (!rep->attempts.empty()) {
    o << "\n";
    Table tab({"TRY", "OUTCOME", "WORKER", "SLOTS", "STARTED", "WALL", "EXIT", "SIGNAL", "PEAK RSS", "LOG", "ERROR"});
    for (const auto& at : rep->attempts)
      tab.Add({std::to_string(at.attempt), AttemptOutcome(at), at.worker.empty() ? "-" : at.worker, fmt::format("{}", fmt::join(at.slots, ",")),
               FormatTime(at.started_ms), at.finished_ms ? FormatDuration(at.wall_ms) : "-",
               at.finished_ms && at.exit_code >= 0 ? std::to_string(at.exit_code) : "-",
               at.signal ? SignalName(at.signal) : "-", at.peak_rss_bytes ? FormatSize(at.peak_rss_bytes) : "-",
               FormatSize(at.stdout_bytes + at.stderr_bytes), Clip(at.error, 60)});
    tab.Print(o);
  }
  return kExitOk;
}

int CmdWorkers(Context& ctx, const std::vector<std::string>& args) {
  ArgParser p("ritsu workers", "Workers, their slots and what they run.");
  p.Bool("--json", "machine-readable output");
  auto a = p.Parse(args);
  if (!a.ok()) return Usage(ctx, a.status());
  if (a->help) { *ctx.out << p.Usage(); return kExitOk; }
  Client client(ctx.scheduler, ctx.reply_timeout);
  auto rep = client.CallPaged<WorkersReply>(Workers{}, &WorkersReply::workers);
  if (!rep.ok()) return ReportError(ctx, "workers", rep.status());
  if (a->Has("--json")) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& w : rep->workers) j.push_back(ToJson(w));
    *ctx.out << DumpJson(nlohmann::json{{"workers", j}}, 2) << "\n";
    return kExitOk;
  }
  if (rep->workers.empty()) {
    *ctx.out << "no workers have registered. Start one: ritsu-worker --scheduler " << ctx.scheduler << " --name NAME\n";
    return kExitOk;
  }
  Table t({"NAME", "STATE", "HOST", "SLOTS", "BUSY", "RUNNING", "HEARTBEAT", "TAGS"});
  for (const auto& w : rep->workers) {
    std::string running;
    for (const auto& r : w.running) running += fmt::format("{}{}/{}", running.empty() ? "" : ",", r.task_id, r.attempt);
    t.Add({w.name, WorkerStateName(w.state), w.host, std::to_string(w.slots.size()), std::to_string(w.busy_slots.size()),
           running.empty() ? "-" : running, Ago(w.last_heartbeat_ms) + " ago",
           w.tags.empty() ? "-" : fmt::format("{}", fmt::join(w.tags, ","))});
  }
  t.Print(*ctx.out);
  *ctx.out << "\n";
  Table slots({"WORKER", "SLOT", "TYPE", "NAME", "MEMORY", "CC", "BUSY"});
  for (const auto& w : rep->workers)
    for (const auto& s : w.slots) {
      bool busy = std::find(w.busy_slots.begin(), w.busy_slots.end(), s.id) != w.busy_slots.end();
      slots.Add({w.name, s.id, s.is_gpu ? "gpu" : "cpu", s.name, FormatSize(s.mem_bytes),
                 s.compute_capability.empty() ? "-" : s.compute_capability, busy ? "yes" : "no"});
    }
  slots.Print(*ctx.out);
  return kExitOk;
}

int CmdExplain(Context& ctx, const std::vector<std::string>& args) {
  ArgParser p("ritsu explain", "Why a task is not running yet (or why it ended): dependency, resources, worker.");
  p.Positionals("ID", 1, 1).Bool("--json", "machine-readable output");
  auto a = p.Parse(args);
  if (!a.ok()) return Usage(ctx, a.status());
  if (a->help) { *ctx.out << p.Usage(); return kExitOk; }
  auto id = ParseTaskId(a->positionals[0], "task id");
  if (!id.ok()) return Usage(ctx, id.status());
  Client client(ctx.scheduler, ctx.reply_timeout);
  Explain req;
  req.task_id = *id;
  auto rep = client.Call<ExplainReply>(req);
  if (!rep.ok()) return ReportError(ctx, "explain", rep.status());
  if (a->Has("--json")) {
    *ctx.out << DumpJson(nlohmann::json{{"task_id", rep->task_id}, {"state", TaskStateName(rep->state)}, {"reasons", rep->reasons}}, 2) << "\n";
    return kExitOk;
  }
  *ctx.out << fmt::format("task {} is {}\n", rep->task_id, TaskStateName(rep->state));
  for (const auto& r : rep->reasons) *ctx.out << "  - " << r << "\n";
  return kExitOk;
}

}  // namespace ritsu::cli
