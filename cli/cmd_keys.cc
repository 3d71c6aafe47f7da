// `ritsu keygen` and `ritsu keys add|revoke|list`: local file operations (no scheduler), thin
// flag parsing over auth/key_commands.h. The scheduler notices allowlist edits by itself.
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "auth/key_commands.h"
#include "cli/commands.h"

namespace ritsu::cli {
namespace {

constexpr const char* kDefaultAllowlist = "/etc/ritsu/allowlist";

int UsageError(Context& ctx, const Status& st) {
  *ctx.err << st.message() << "\n";
  return kExitUsage;
}

// $XDG_CONFIG_HOME/ritsu/keys, else ~/.config/ritsu/keys.
std::string DefaultKeyDir() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg && *xdg) return fmt::format("{}/ritsu/keys", xdg);
  const char* home = std::getenv("HOME");
  return fmt::format("{}/.config/ritsu/keys", home && *home ? home : ".");
}

std::string AllowlistPath(const ParsedArgs& a) {
  const char* env = std::getenv("RITSU_ALLOWLIST");
  return a.Get("--allowlist", env && *env ? env : kDefaultAllowlist);
}

}  // namespace

int CmdKeygen(Context& ctx, const std::vector<std::string>& args) {
  ArgParser p("ritsu keygen",
              "Writes a CURVE key pair: DIR/NAME.key (secret, mode 0600: never copy it off this host)\n"
              "and DIR/NAME.pub (public: give it to the scheduler's admin).");
  p.Value("--name", "NAME", "key name: letters, digits, '.', '-', '_'")
      .Value("--dir", "DIR", "where to write (default $XDG_CONFIG_HOME/ritsu/keys or ~/.config/ritsu/keys)")
      .Bool("--force", "replace an existing key pair of that name");
  auto a = p.Parse(args);
  if (!a.ok()) return UsageError(ctx, a.status());
  if (a->help) { *ctx.out << p.Usage(); return kExitOk; }
  if (!a->Has("--name")) return UsageError(ctx, Status::InvalidArgument("ritsu keygen: --name NAME is required"));
  std::string dir = a->Get("--dir", DefaultKeyDir());
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return ReportError(ctx, "keygen", Status::IOError(fmt::format("creating {}: {}", dir, ec.message())));
  auto out = auth::Keygen(dir, a->Get("--name"), a->Has("--force"));
  if (!out.ok()) return ReportError(ctx, "keygen", out.status());
  *ctx.out << *out;
  return kExitOk;
}

int CmdKeys(Context& ctx, const std::vector<std::string>& args) {
  ArgParser p("ritsu keys",
              "Edits the scheduler's allowlist (on the scheduler host). ritsud picks the change up\n"
              "within a second; `systemctl reload ritsud` or SIGHUP reloads at once.\n"
              "  ritsu keys add KEY|FILE.pub --role worker|submit|read --name NAME\n"
              "  ritsu keys revoke NAME|KEY\n"
              "  ritsu keys list");
  p.Positionals("add|revoke|list [KEY|NAME]", 1, 2)
      .Value("--role", "ROLE", "worker, submit or read (add)")
      .Value("--name", "NAME", "the key's name in logs and `ritsu workers` (add)")
      .Value("--allowlist", "FILE", "the allowlist (default $RITSU_ALLOWLIST or /etc/ritsu/allowlist)");
  auto a = p.Parse(args);
  if (!a.ok()) return UsageError(ctx, a.status());
  if (a->help) { *ctx.out << p.Usage(); return kExitOk; }
  const std::string& action = a->positionals[0];
  std::string path = AllowlistPath(*a);
  if (action == "list") {
    auto text = auth::KeysList(path);
    if (!text.ok()) return ReportError(ctx, "keys list", text.status());
    *ctx.out << *text;
    return kExitOk;
  }
  if (a->positionals.size() != 2) {
    return UsageError(ctx, Status::InvalidArgument(fmt::format("ritsu keys {}: needs a {} argument", action,
                                                               action == "add" ? "KEY or FILE.pub" : "NAME or KEY")));
  }
  const std::string& target = a->positionals[1];
  if (action == "add") {
    auto role = auth::ParseRole(a->Get("--role"));
    if (!role) {
      return UsageError(ctx, Status::InvalidArgument(fmt::format(
                                 "ritsu keys add: --role must be worker, submit or read (got '{}')", a->Get("--role"))));
    }
    if (!a->Has("--name")) return UsageError(ctx, Status::InvalidArgument("ritsu keys add: --name NAME is required"));
    Status st = auth::KeysAdd(path, target, *role, a->Get("--name"));
    if (!st.ok()) return ReportError(ctx, "keys add", st);
    *ctx.out << fmt::format("added '{}' ({}) to {}\n", a->Get("--name"), auth::RoleName(*role), path);
    return kExitOk;
  }
  if (action == "revoke") {
    Status st = auth::KeysRevoke(path, target);
    if (!st.ok()) return ReportError(ctx, "keys revoke", st);
    *ctx.out << fmt::format("revoked '{}' in {}; open connections with that key are refused from now on\n", target, path);
    return kExitOk;
  }
  return UsageError(ctx, Status::InvalidArgument(
                             fmt::format("ritsu keys: unknown action '{}'; use add, revoke or list", action)));
}

}  // namespace ritsu::cli
