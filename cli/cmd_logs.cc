// ritsu logs ID [-f] [--attempt N]
#include <fmt/format.h>

#include "cli/client.h"
#include "cli/commands.h"

namespace ritsu::cli {

Result<TaskId> ParseTaskId(const std::string& text, const std::string& what);

int CmdLogs(Context& ctx, const std::vector<std::string>& args) {
  ArgParser p("ritsu logs", "Prints a task's output (stdout and stderr in the order they arrived).\n"
                            "With -f it follows the output until the task ends, across retries.");
  p.Positionals("ID", 1, 1)
      .Bool("-f", "follow: keep printing new output until the task ends")
      .Bool("--follow", "same as -f")
      .Value("--attempt", "N", "which attempt (default: the latest)")
      .Bool("--stdout-only", "leave out stderr");
  auto a = p.Parse(args);
  if (!a.ok()) { *ctx.err << a.status().message() << "\n"; return kExitUsage; }
  if (a->help) { *ctx.out << p.Usage(); return kExitOk; }
  auto id = ParseTaskId(a->positionals[0], "task id");
  if (!id.ok()) { *ctx.err << id.status().message() << "\n"; return kExitUsage; }
  bool follow = a->Has("-f") || a->Has("--follow");
  Logs req;
  req.task_id = *id;
  if (a->Has("--attempt")) {
    auto n = ParseTaskId(a->Get("--attempt"), "attempt number");
    if (!n.ok()) { *ctx.err << n.status().message() << "\n"; return kExitUsage; }
    req.attempt = uint32_t(*n);
  }
  bool pinned_attempt = a->Has("--attempt");
  Client client(ctx.scheduler, ctx.reply_timeout);
  for (;;) {
    req.wait_ms = follow ? 10'000 : 0;
    auto rep = client.Call<LogsReply>(req, std::chrono::milliseconds(req.wait_ms));
    if (!rep.ok()) return ReportError(ctx, "logs", rep.status());
    for (const auto& piece : rep->pieces) {
      if (piece.stream == LogStream::kStderr && a->Has("--stdout-only")) continue;
      *ctx.out << piece.data;
    }
    ctx.out->flush();
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
