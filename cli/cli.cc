// The `ritsu` command table, global flags and error reporting.
#include <cstdlib>

#include <fmt/format.h>

#include "auth/endpoint_security.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "common/units.h"

namespace ritsu::cli {

int CmdSubmit(Context&, const std::vector<std::string>&);
int CmdStatus(Context&, const std::vector<std::string>&);
int CmdShow(Context&, const std::vector<std::string>&);
int CmdLogs(Context&, const std::vector<std::string>&);
int CmdMetrics(Context&, const std::vector<std::string>&);
int CmdCancel(Context&, const std::vector<std::string>&);
int CmdRetry(Context&, const std::vector<std::string>&);
int CmdWait(Context&, const std::vector<std::string>&);
int CmdWorkers(Context&, const std::vector<std::string>&);
int CmdDrain(Context&, const std::vector<std::string>&);
int CmdExplain(Context&, const std::vector<std::string>&);
int CmdSweep(Context&, const std::vector<std::string>&);
int CmdKeygen(Context&, const std::vector<std::string>&);
int CmdKeys(Context&, const std::vector<std::string>&);

const std::vector<CommandInfo>& Commands() {
  static const std::vector<CommandInfo> kCommands = {
      {"submit", "queue a task: submit exec [flags] -- CMD ARGS... | submit train|eval|merge [flags] (prints its id)", CmdSubmit},
      {"run", "run a train|eval|merge job in the foreground (no scheduler), same flags as submit", CmdRun},
      {"compare", "compare evaluation outputs against the first: accuracy with 95% interval, McNemar p, label shift", CmdCompare},
      {"rescore", "re-parse an evaluation output's responses: rescore OLD.json --output NEW.json", CmdRescore},
      {"status", "counts per state and the newest tasks [--state S] [--sweep ID] [--json]", CmdStatus},
      {"show", "one task in full: spec, attempts, exit status, times [--json]", CmdShow},
      {"logs", "a task's output; -f follows it until the task ends [--attempt N]", CmdLogs},
      {"metrics", "a task's metric series (loss, lr, evaluations...) per step [--attempt N] [--json|--csv]", CmdMetrics},
      {"cancel", "cancel tasks by id, or --sweep ID", CmdCancel},
      {"retry", "run a FAILED or CANCELLED task again", CmdRetry},
      {"wait", "wait for tasks to end; non-zero exit unless all SUCCEEDED [--timeout T]", CmdWait},
      {"workers", "workers, slots, what runs where [--json]", CmdWorkers},
      {"drain", "stop sending new tasks to a worker; --requeue also moves its running tasks (--undo takes it back)", CmdDrain},
      {"explain", "why a task is still pending or queued (or why it ended)", CmdExplain},
      {"sweep", "sweep submit FILE | sweep status ID", CmdSweep},
      {"keygen", "write a CURVE key pair NAME.key (0600) + NAME.pub [--dir DIR] --name NAME", CmdKeygen},
      {"keys", "edit the scheduler's allowlist: keys add KEY|FILE --role R --name N | revoke NAME | list", CmdKeys},
  };
  return kCommands;
}

namespace {

std::string TopUsage() {
  std::string u =
      "usage: ritsu [--scheduler tcp://HOST:PORT] COMMAND [ARGS...]\n"
      "\nQueue and watch ritsu tasks. The scheduler address comes from --scheduler, else $RITSU_SCHEDULER,\n"
      "else tcp://127.0.0.1:7070. 'ritsu COMMAND --help' shows a command's flags.\n\ncommands:\n";
  for (const auto& c : Commands()) u += fmt::format("  {:<9} {}\n", c.name, c.summary);
  u += "\nglobal flags:\n  --scheduler ADDR      scheduler endpoint\n"
       "  --reply-timeout DUR   how long to wait for the scheduler to answer (default 5s, at most 24h)\n"
       "  --curve-server-key FILE  the scheduler's public key (default $RITSU_SERVER_KEY)\n"
       "  --curve-secret-key FILE  your secret key, mode 0600 (default $RITSU_KEY); both -> CURVE\n"
       "\nexit codes: 0 ok, 1 refused by the scheduler / a waited task did not succeed, 2 bad command line,\n"
       "            3 scheduler unreachable, 4 wait --timeout elapsed\n";
  return u;
}

}  // namespace

int ReportError(Context& ctx, const std::string& command, const Status& st) {
  *ctx.err << fmt::format("ritsu {}: {}\n", command, st.message());
  if (st.code() == Status::Code::kUnavailable) return kExitUnavailable;
  if (st.code() == Status::Code::kNotFound && st.message().find("task") != std::string::npos)
    *ctx.err << "  (list tasks with 'ritsu status')\n";
  return kExitFailed;
}

int RunCli(const std::vector<std::string>& all_args, std::ostream& out, std::ostream& err) {
  Context ctx;
  ctx.out = &out;
  ctx.err = &err;
  const char* env = std::getenv("RITSU_SCHEDULER");
  ctx.scheduler = env && *env ? env : "tcp://127.0.0.1:7070";

  std::string curve_server_key, curve_secret_key;
  // Global flags may come before the command.
  size_t i = 0;
  for (; i < all_args.size(); ++i) {
    const std::string& a = all_args[i];
    auto take = [&](const std::string& flag, std::string* value) -> int {
      if (a == flag) {
        if (i + 1 >= all_args.size()) {
          err << fmt::format("ritsu: {} needs a value\n", flag);
          return -1;
        }
        *value = all_args[++i];
        return 1;
      }
      if (a.rfind(flag + "=", 0) == 0) { *value = a.substr(flag.size() + 1); return 1; }
      return 0;
    };
    std::string v;
    int r = take("--scheduler", &v);
    if (r < 0) return kExitUsage;
    if (r > 0) { ctx.scheduler = v; continue; }
    r = take("--curve-server-key", &curve_server_key);
    if (r < 0) return kExitUsage;
    if (r > 0) continue;
    r = take("--curve-secret-key", &curve_secret_key);
    if (r < 0) return kExitUsage;
    if (r > 0) continue;
    r = take("--reply-timeout", &v);
    if (r < 0) return kExitUsage;
    if (r > 0) {
      // Bounded so that now + long poll + timeout cannot overflow the clock.
      auto ms = ParseDurationFlag("--reply-timeout", v, 1, 24 * 3600 * 1000);
      if (!ms.ok()) {
        err << fmt::format("ritsu: {} (e.g. 5s)\n", ms.status().message());
        return kExitUsage;
      }
      ctx.reply_timeout = std::chrono::milliseconds(*ms);
      continue;
    }
    break;
  }
  if (i >= all_args.size()) {
    err << TopUsage();
    return kExitUsage;
  }
  const std::string& name = all_args[i];
  if (name == "help" || name == "-h" || name == "--help") {
    out << TopUsage();
    return kExitOk;
  }
  if (!ctx.scheduler.starts_with("tcp://") && !ctx.scheduler.starts_with("ipc://")) {
    err << fmt::format("ritsu: scheduler address '{}' is not an endpoint like tcp://HOST:PORT (check --scheduler / RITSU_SCHEDULER)\n",
                       ctx.scheduler);
    return kExitUsage;
  }
  if (name != "keygen" && name != "keys") {  // those two work on local files only
    auto curve = auth::LoadClientCurve(curve_server_key, curve_secret_key);
    if (!curve.ok()) {
      err << fmt::format("ritsu: {}\n", curve.status().message());
      return kExitUsage;
    }
    Client::SetCurve(*curve);
  }
  std::vector<std::string> names;
  for (const auto& c : Commands()) {
    names.push_back(c.name);
    if (c.name == name) return c.run(ctx, std::vector<std::string>(all_args.begin() + long(i) + 1, all_args.end()));
  }
  std::string guess = DidYouMean(name, names);
  err << fmt::format("ritsu: unknown command '{}'{}\n", name, guess.empty() ? "" : fmt::format("; did you mean '{}'?", guess));
  err << "run 'ritsu help' for the list of commands\n";
  return kExitUsage;
}

}  // namespace ritsu::cli
