// ritsu-worker: runs the scheduler's tasks on this machine's GPUs (or CPU test slots).
//   ritsu-worker --scheduler tcp://HOST:PORT --name NAME [--slots SPEC] [--spool-dir DIR] [--check]
//                [--curve-server-key FILE --curve-secret-key FILE] [--config FILE]
//                [--log-file PATH [--log-max-size 50M] [--log-keep 5]]
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "auth/config_file.h"
#include "auth/endpoint_security.h"
#include "cli/args.h"
#include "common/log.h"
#include "common/units.h"
#include "common/version.h"
#include "worker/agent.h"
#include "worker/gpu_discovery.h"
#include "worker/instance_id.h"
#include "worker/slots.h"
#include "worker/spool.h"

namespace {

using ritsu::worker::Agent;

std::atomic<Agent*> g_agent{nullptr};

void OnStopSignal(int) {
  if (Agent* a = g_agent.load()) a->RequestStop();
}

// systemd's `reload` sends SIGHUP; its default action would kill the worker (and so every task).
void OnReloadSignal(int) {
  if (Agent* a = g_agent.load()) a->RequestReload();
}

std::string Hostname() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

std::filesystem::path ExeDir() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path(".") : p.parent_path();
}

// ritsu-engine next to this binary (installed layout), in the build tree (engine/app/), or
// on PATH, in that order.
std::string FindEngine() {
  std::error_code ec;
  for (auto p : {ExeDir() / "ritsu-engine", ExeDir() / ".." / "engine" / "app" / "ritsu-engine"}) {
    if (std::filesystem::exists(p, ec)) return std::filesystem::weakly_canonical(p, ec).string();
  }
  return "ritsu-engine";
}

std::string DefaultSpoolDir(const std::string& name) {
  const char* state = std::getenv("XDG_STATE_HOME");
  const char* home = std::getenv("HOME");
  std::filesystem::path base = state && *state ? std::filesystem::path(state)
                               : home && *home ? std::filesystem::path(home) / ".local" / "state"
                                               : std::filesystem::path("/tmp");
  return (base / "ritsu" / ("worker-" + name)).string();
}

// Before the log is open (bad flags) this is plain stderr; afterwards the log file as well.
int Fail(const std::string& msg) {
  if (ritsu::log::Installed()) ritsu::log::Error("{}", msg);
  else std::fprintf(stderr, "ritsu-worker: %s\n", msg.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (ritsu::PrintVersionIfAsked(argc, argv, "ritsu-worker")) return 0;
  // First thing: a reload during start-up must not kill the worker either.
  struct sigaction hup {};
  hup.sa_handler = OnReloadSignal;
  sigemptyset(&hup.sa_mask);
  ::sigaction(SIGHUP, &hup, nullptr);
  ritsu::cli::ArgParser parser("ritsu-worker",
      "Runs tasks of a ritsud scheduler on this machine: registers its GPU slots (found with NVML,\n"
      "or given with --slots), starts each task in its own process group and streams its logs.");
  parser.Value("--scheduler", "ADDR", "scheduler endpoint, tcp://HOST:PORT (default $RITSU_SCHEDULER or tcp://127.0.0.1:7070)")
      .Value("--name", "NAME", "worker name, unique per scheduler (default: the host name)")
      .Value("--slots", "SPEC", "explicit slots instead of GPU discovery: cpu0:mem=16G,gpu0:mem=24G,mig:UUID:mem=20G")
      .Value("--tags", "T1,T2", "tags this worker offers (tasks with --tag need them)")
      .Value("--spool-dir", "DIR", "where undelivered results and logs persist (default $XDG_STATE_HOME/ritsu/worker-NAME)")
      .Value("--engine", "PATH", "ritsu-engine binary for train/eval/merge tasks (default: next to this binary, or PATH)")
      .Value("--kill-grace", "DURATION", "SIGTERM -> SIGKILL grace when a task is cancelled without its own grace, or the worker stops (default 10s)")
      .Value("--spool-full-limit", "DURATION", "how long a full spool pauses task output before output is dropped and counted (default 10m)")
      .Value("--heartbeat-timeout", "DURATION", "declare the scheduler lost after this silence until it says otherwise (default 10s)")
      .Value("--curve-server-key", "FILE", "the scheduler's public key, NAME.pub (default $RITSU_SERVER_KEY); with --curve-secret-key: CURVE")
      .Value("--curve-secret-key", "FILE", "this worker's secret key, mode 0600 (default $RITSU_KEY)")
      .Value("--config", "FILE", "TOML file of these flags without '--' (the command line wins)")
      .Value("--log-file", "PATH", "write this daemon's log there instead of stderr, rotated by size")
      .Value("--log-max-size", "SIZE", "rotate PATH -> PATH.1 -> ... when it would pass this (default 50M)")
      .Value("--log-keep", "N", "old log files kept, PATH.1 .. PATH.N; older ones are dropped (default 5)")
      .Bool("--check", "print what this worker would advertise and exit");
  // --config FILE is replaced by the file's flags before parsing (auth/config_file.h).
  auto args = ritsu::auth::ExpandConfigFlag(std::vector<std::string>(argv + 1, argv + argc));
  if (!args.ok()) return Fail(args.status().message());
  auto parsed = parser.Parse(*args);
  if (!parsed.ok()) {
    std::fprintf(stderr, "%s\n", parsed.status().message().c_str());
    return 2;
  }
  if (parsed->help) { std::fputs(parser.Usage().c_str(), stdout); return 0; }

  ritsu::worker::AgentConfig cfg;
  const char* env_sched = std::getenv("RITSU_SCHEDULER");
  cfg.scheduler = parsed->Get("--scheduler", env_sched && *env_sched ? env_sched : "tcp://127.0.0.1:7070");
  if (!cfg.scheduler.starts_with("tcp://") && !cfg.scheduler.starts_with("ipc://"))
    return Fail(fmt::format("--scheduler '{}' is not an endpoint like tcp://HOST:PORT", cfg.scheduler));
  cfg.host = Hostname();
  cfg.name = parsed->Get("--name", cfg.host);
  if (cfg.name.empty()) return Fail("--name must not be empty");

  std::string discovery_note;
  if (parsed->Has("--slots")) {
    auto slots = ritsu::worker::ParseSlotSpec(parsed->Get("--slots"));
    if (!slots.ok()) return Fail(slots.status().message());
    cfg.slots = *slots;
  } else {
    auto found = ritsu::worker::DiscoverGpus();
    cfg.slots = found.slots;
    discovery_note = found.note;
  }
  if (parsed->Has("--tags")) {
    std::string t = parsed->Get("--tags");
    size_t start = 0;
    while (start <= t.size()) {
      size_t c = t.find(',', start);
      std::string tag = t.substr(start, c == std::string::npos ? std::string::npos : c - start);
      if (!tag.empty()) cfg.tags.push_back(tag);
      if (c == std::string::npos) break;
      start = c + 1;
    }
  }
  for (auto [flag, target] : {std::pair{"--kill-grace", &cfg.kill_grace}, std::pair{"--heartbeat-timeout", &cfg.heartbeat_timeout},
                              std::pair{"--spool-full-limit", &cfg.spool_full_limit}}) {
    if (!parsed->Has(flag)) continue;
    auto ms = ritsu::ParseDuration(parsed->Get(flag));
    if (!ms.ok()) return Fail(fmt::format("{}: {}", flag, ms.status().message()));
    *target = std::chrono::milliseconds(*ms);
  }
  auto curve = ritsu::auth::LoadClientCurve(parsed->Get("--curve-server-key"), parsed->Get("--curve-secret-key"));
  if (!curve.ok()) return Fail(curve.status().message());
  cfg.curve = *curve;
  cfg.engine_path = parsed->Get("--engine", FindEngine());
  cfg.spool_dir = parsed->Get("--spool-dir", DefaultSpoolDir(cfg.name));

  // Checked before --check so that a config file with a bad log setting fails there too.
  ritsu::log::LogOptions log_opts;
  log_opts.capture_stderr = true;  // the agent's own lines (worker/agent.cc) rotate with the log
  log_opts.file = parsed->Get("--log-file");
  if (parsed->Has("--log-file") && log_opts.file.empty()) return Fail("--log-file needs a path");
  if (parsed->Has("--log-max-size")) {
    if (auto st = ritsu::log::SetMaxSizeFlag(parsed->Get("--log-max-size"), &log_opts); !st.ok()) return Fail(st.message());
  }
  if (parsed->Has("--log-keep")) {
    if (auto st = ritsu::log::SetKeepFlag(parsed->Get("--log-keep"), &log_opts); !st.ok()) return Fail(st.message());
  }

  if (parsed->Has("--check")) {
    std::printf("worker     %s (host %s)\nscheduler  %s\nspool dir  %s\nengine     %s\ntags       %s\nslots      %zu\n%s",
                cfg.name.c_str(), cfg.host.c_str(), cfg.scheduler.c_str(), cfg.spool_dir.c_str(),
                cfg.engine_path.c_str(), fmt::format("{}", fmt::join(cfg.tags, ",")).c_str(), cfg.slots.size(),
                ritsu::worker::DescribeSlots(cfg.slots).c_str());
    std::printf("security   %s\n", cfg.curve ? fmt::format("CURVE, own key {}, server key {}", cfg.curve->own.public_z85,
                                                               cfg.curve->server_public_z85).c_str()
                                           : "plain TCP (no --curve-server-key / --curve-secret-key)");
    if (!discovery_note.empty()) std::printf("note       %s\n", discovery_note.c_str());
    return 0;
  }
  if (cfg.slots.empty())
    return Fail(fmt::format("no slots to offer: {}. Give CPU test slots with --slots cpu0:mem=16G or check the driver with --check",
                            discovery_note.empty() ? "GPU discovery found nothing" : discovery_note));

  // The log before the spool and the scheduler: an unusable --log-file stops the worker first.
  auto logger = ritsu::log::Logger::Open(log_opts, "ritsu-worker");
  if (!logger.ok()) return Fail(logger.status().message());
  ritsu::log::Install(std::move(logger).value());

  auto spool = ritsu::worker::Spool::Open(cfg.spool_dir);
  if (!spool.ok()) return Fail(spool.status().message());
  auto instance = ritsu::worker::LoadOrCreateInstanceId(cfg.spool_dir);
  if (!instance.ok()) return Fail(instance.status().message());
  cfg.instance_id = *instance;

  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  Agent agent(cfg, std::move(spool).value());
  g_agent.store(&agent);
  ritsu::Status st = agent.Run();
  g_agent.store(nullptr);
  if (!st.ok()) return Fail(st.ToString());
  return 0;
}
