// ritsu logs ID [-f] [--attempt N] [--merged | --stdout-only]
#include <fmt/format.h>

#include "cli/client.h"
#include "cli/commands.h"

namespace ritsu::cli {

int CmdLogs(Context& ctx, const std::vector<std::string>& args) {
  ArgParser p("ritsu logs", "Prints a task's output: its stdout on stdout and its stderr on stderr (--merged: both\n"
                            "on stdout, in the order they arrived). With -f it follows the output until the task ends,\n"
                            "across retries.");
  p.Positionals("ID", 1, 1)
      .Bool("-f", "follow: keep printing new output until the task ends")
      .Bool("--follow", "same as -f")
      .Value("--attempt", "N", "which attempt (default: the latest)")
      .Bool("--merged", "stdout and stderr as one stream on stdout, in arrival order")
      .Bool("--stdout-only", "leave out stderr");
  auto a = p.Parse(args);
  if (!a.ok()) { *ctx.err << a.status().message() << "\n"; return kExitUsage; }
  if (a->help) { *ctx.out << p.Usage(); return kExitOk; }
  auto id = ParseTaskId(a->positionals[0], "task id");
  if (!id.ok()) { *ctx.err << id.status().message() << "\n"; return kExitUsage; }
  if (a->Has("--merged") && a->Has("--stdout-only")) {
    *ctx.err << "ritsu logs: --merged and --stdout-only exclude each other (--stdout-only leaves stderr out)\n";
    return kExitUsage;
  }
  bool follow = a->Has("-f") || a->Has("--follow");
  // Where each of the task's streams goes; nullptr = left out.
  std::ostream* to_stdout = ctx.out;
  std::ostream* to_stderr = a->Has("--stdout-only") ? nullptr : a->Has("--merged") ? ctx.out : ctx.err;
  Logs req;
  req.task_id = *id;
  if (a->Has("--attempt")) {
    auto n = ParseInt("--attempt", a->Get("--attempt"), 1, UINT32_MAX);
    if (!n.ok()) { *ctx.err << "ritsu logs: " << n.status().message() << "\n"; return kExitUsage; }
    req.attempt = uint32_t(*n);
  }
  bool pinned_attempt = a->Has("--attempt");
  Client client(ctx.scheduler, ctx.reply_timeout);
  for (;;) {
    req.wait_ms = follow ? 10'000 : 0;
    auto rep = client.Call<LogsReply>(req, std::chrono::milliseconds(req.wait_ms));
    if (!rep.ok()) return ReportError(ctx, "logs", rep.status());
    std::ostream* last = nullptr;
    for (const auto& piece : rep->pieces) {
      std::ostream* to = piece.stream == LogStream::kStderr ? to_stderr : to_stdout;
      if (!to) continue;
      // On a terminal both streams show together: flush at each switch to keep the arrival order.
      if (last && last != to) last->flush();
      *to << piece.data;
      last = to;
    }
    ctx.out->flush();
    ctx.err->flush();
    bool progressed = rep->next_offset != req.offset;
    if (rep->attempt != 0) req.attempt = rep->attempt;  // stay on the attempt we started with
    req.offset = rep->next_offset;
    if (!follow) {
      if (!progressed || rep->complete) return kExitOk;  // printed everything stored so far
      continue;
    }
    if (rep->complete) {
      if (IsTerminal(rep->state) || pinned_attempt) return kExitOk;
      // This attempt ended but the task goes on (retry after a failure or a lost worker).
      *ctx.err << fmt::format("ritsu logs: attempt {} of task {} ended; following the next attempt\n", req.attempt, req.task_id);
      req.attempt += 1;
      req.offset = 0;
    }
  }
}

}  // namespace ritsu::cli
