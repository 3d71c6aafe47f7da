// ritsud: the ritsu scheduler daemon.
//   ritsud --data-dir DIR --bind tcp://HOST:PORT [--heartbeat-timeout 10s]
//          [--heartbeat-interval 1s] [--reserve-after 3]
//          (--curve-secret-key FILE --allowlist FILE | --insecure) [--config FILE]
//          [--log-file PATH [--log-max-size 50M] [--log-keep 5]]
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include <fmt/format.h>

#include "auth/config_file.h"
#include "auth/endpoint_security.h"
#include "common/log.h"
#include "common/units.h"
#include "common/version.h"
#include "scheduler/broker.h"
#include "scheduler/core.h"
#include "scheduler/kv.h"
#include "scheduler/store.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

// SIGHUP is what `systemctl reload` and `ritsu keys add|revoke` send. With CURVE the ZAP handler
// replaces this with its allowlist reload; without it there is nothing to reload, but the
// default action (terminate) must not stop the daemon. stderr is the log (capture_stderr), and
// write(2) is safe in a signal handler.
void OnHupNothingToReload(int) {
  static const char kMsg[] = "ritsud: SIGHUP: nothing to reload (--insecure: no allowlist); still serving\n";
  ssize_t n = ::write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
  (void)n;
}

constexpr const char* kUsage =
    "usage: ritsud --data-dir DIR --bind tcp://HOST:PORT [options]\n"
    "\n"
    "  --data-dir DIR             where the RocksDB store lives (created if missing)\n"
    "  --bind tcp://HOST:PORT     the one endpoint workers and clients connect to\n"
    "  --heartbeat-timeout DUR    declare a silent worker lost after this long (default 10s)\n"
    "  --heartbeat-interval DUR   how often workers heartbeat (default 1s)\n"
    "  --reserve-after N          blocked passes before a big task reserves a worker (default 3)\n"
    "  --curve-secret-key FILE    the scheduler's CURVE secret key (ritsu keygen; mode 0600)\n"
    "  --allowlist FILE           public keys allowed in, with roles (docs/security.md)\n"
    "  --insecure                 plain TCP without CURVE instead (loopback development only)\n"
    "  --config FILE              TOML file of these flags without '--' (command line wins)\n"
    "  --log-file PATH            write this daemon's log there instead of stderr, rotated by size\n"
    "  --log-max-size SIZE        rotate PATH -> PATH.1 -> ... when it would pass this (default 50M)\n"
    "  --log-keep N               old files kept, PATH.1 .. PATH.N; older ones are dropped (default 5)\n"
    "  --help                     this text\n";

// Before the log is open (bad flags) this is plain stderr; afterwards the log file as well.
int Fail(const std::string& msg) {
  if (ritsu::log::Installed()) ritsu::log::Error("{}", msg);
  else std::fprintf(stderr, "ritsud: %s\n", msg.c_str());
  return 2;
}

std::string RandomId() {
  std::random_device rd;
  return fmt::format("{:016x}", (static_cast<uint64_t>(rd()) << 32) | rd());
}

}  // namespace

int main(int argc, char** argv) {
  if (ritsu::PrintVersionIfAsked(argc, argv, "ritsud")) return 0;
  using namespace ritsu;
  std::string data_dir, bind;
  sched::CoreOptions copts;
  auth::ServerSecurityOptions secopts;
  log::LogOptions log_opts;
  log_opts.capture_stderr = true;  // the ZAP handler's reload lines go to the same file
  // --config FILE: the file's flags come first, the command line's override them.
  auto expanded = auth::ExpandConfigFlag(std::vector<std::string>(argv + 1, argv + argc));
  if (!expanded.ok()) return Fail(expanded.status().message());
  std::vector<char*> expanded_argv{argv[0]};
  for (auto& arg : *expanded) expanded_argv.push_back(arg.data());
  argc = static_cast<int>(expanded_argv.size());
  argv = expanded_argv.data();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag) -> std::optional<std::string> {
      std::string prefix = std::string(flag) + "=";
      if (a.rfind(prefix, 0) == 0) return a.substr(prefix.size());
      if (a == flag) {
        if (i + 1 >= argc) return std::nullopt;
        return std::string(argv[++i]);
      }
      return std::nullopt;
    };
    auto is = [&](const char* flag) { return a == flag || a.rfind(std::string(flag) + "=", 0) == 0; };
    if (a == "--help" || a == "-h") { std::fputs(kUsage, stdout); return 0; }
    if (is("--data-dir")) {
      auto v = value("--data-dir"); if (!v) return Fail("--data-dir needs a directory");
      data_dir = *v;
    } else if (is("--bind")) {
      auto v = value("--bind"); if (!v) return Fail("--bind needs an endpoint like tcp://0.0.0.0:7070");
      bind = *v;
    } else if (is("--heartbeat-timeout") || is("--heartbeat-interval")) {
      bool timeout = is("--heartbeat-timeout");
      const char* flag = timeout ? "--heartbeat-timeout" : "--heartbeat-interval";
      auto v = value(flag); if (!v) return Fail(fmt::format("{} needs a duration like 10s", flag));
      auto d = ParseDuration(*v);
      if (!d.ok()) return Fail(fmt::format("{}: {}", flag, d.status().message()));
      if (*d < 100) return Fail(fmt::format("{}: must be at least 100ms", flag));
      (timeout ? copts.heartbeat_timeout_ms : copts.heartbeat_interval_ms) = *d;
    } else if (is("--curve-secret-key") || is("--allowlist")) {
      bool key = is("--curve-secret-key");
      const char* flag = key ? "--curve-secret-key" : "--allowlist";
      auto v = value(flag); if (!v) return Fail(fmt::format("{} needs a file", flag));
      (key ? secopts.secret_key_file : secopts.allowlist_file) = *v;
    } else if (a == "--insecure") {
      secopts.insecure = true;
    } else if (is("--log-file")) {
      auto v = value("--log-file"); if (!v || v->empty()) return Fail("--log-file needs a path");
      log_opts.file = *v;
    } else if (is("--log-max-size")) {
      auto v = value("--log-max-size"); if (!v) return Fail("--log-max-size needs a size like 50M");
      if (Status st = log::SetMaxSizeFlag(*v, &log_opts); !st.ok()) return Fail(st.message());
    } else if (is("--log-keep")) {
      auto v = value("--log-keep"); if (!v) return Fail("--log-keep needs a number");
      if (Status st = log::SetKeepFlag(*v, &log_opts); !st.ok()) return Fail(st.message());
    } else if (is("--reserve-after")) {
      auto v = value("--reserve-after"); if (!v) return Fail("--reserve-after needs a number");
      try { copts.reserve_after = static_cast<uint32_t>(std::stoul(*v)); }
      catch (...) { return Fail(fmt::format("--reserve-after: '{}' is not a number", *v)); }
    } else {
      return Fail(fmt::format("unknown argument '{}'\n{}", a, kUsage));
    }
  }
  if (data_dir.empty()) return Fail(std::string("--data-dir is required\n") + kUsage);
  if (bind.empty()) return Fail(std::string("--bind is required\n") + kUsage);
  if (copts.heartbeat_interval_ms * 2 > copts.heartbeat_timeout_ms) {
    return Fail("--heartbeat-timeout must be at least twice --heartbeat-interval");
  }

  // The log first: an unusable --log-file stops the daemon before it touches the store or serves.
  auto logger = log::Logger::Open(log_opts, "ritsud");
  if (!logger.ok()) return Fail(logger.status().message());
  log::Install(std::move(logger).value());

  std::signal(SIGHUP, OnHupNothingToReload);

  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec || !std::filesystem::is_directory(data_dir)) {
    return Fail(fmt::format("--data-dir {}: cannot create or use it as a directory: {}", data_dir,
                            ec ? ec.message() : "not a directory"));
  }
  auto kv = sched::OpenRocksKv(data_dir);
  if (!kv.ok()) return Fail(fmt::format("--data-dir {}: {}", data_dir, kv.status().message()));
  sched::Store store(kv->get());
  if (Status st = store.Init(); !st.ok()) return Fail(fmt::format("--data-dir {}: {}", data_dir, st.message()));
  sched::SystemClock clock;
  copts.scheduler_id = RandomId();
  sched::Core core(&store, &clock, copts);
  if (Status st = core.Load(); !st.ok()) return Fail(fmt::format("loading {}: {}", data_dir, st.ToString()));

  sched::BrokerOptions bopts;
  bopts.bind = bind;
  sched::Broker broker(&core, &clock, bopts);
  broker.SetKv(kv->get());
  // CURVE + ZAP (or an explicit --insecure) before the socket is bound: see auth/endpoint_security.h.
  secopts.bind = bind;
  std::string security_warning;
  auto security = auth::ServerSecurity::Create(broker.zmq_context(), secopts, &security_warning);
  if (!security.ok()) return Fail(security.status().message());
  if (!security_warning.empty()) log::Warn("{}", security_warning);
  if (!(*security)->insecure()) {
    broker.SetSocketSetup([&](zmq::socket_t& s) { return (*security)->ConfigureRouter(s.handle()); });
    broker.SetAuthorizer([&](const sched::Peer& p, MsgType t) { return (*security)->Authorize(p.user_id, MsgTypeName(t)); });
  }
  if (Status st = broker.Bind(); !st.ok()) return Fail(st.message());

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  const auto& c = core.meta().counts;
  uint64_t total = 0;
  for (auto n : c) total += n;
  log::Info("serving on {} (data dir {}, {} tasks stored, {} queued; {})", broker.endpoint(), data_dir, total,
            core.queued_count(), (*security)->Describe());
  Status st = broker.Run(&g_stop);
  if (!st.ok()) return Fail(st.ToString());
  log::Info("stopped ({} frames, {} refused)", broker.stats().frames_in, broker.stats().bad_frames);
  return 0;
}
