#include "auth/endpoint_security.h"

#include <cstdlib>

#include <fmt/format.h>

namespace ritsu::auth {

bool IsLoopbackEndpoint(std::string_view endpoint) {
  if (endpoint.starts_with("ipc://") || endpoint.starts_with("inproc://")) return true;
  if (!endpoint.starts_with("tcp://")) return false;
  std::string_view host = endpoint.substr(6);
  // tcp://HOST:PORT, HOST may be [v6]; an interface name ("eth0") or "*" is not loopback.
  if (host.starts_with("[")) return host.starts_with("[::1]");
  host = host.substr(0, host.rfind(':'));
  return host == "localhost" || host.starts_with("127.") || host == "lo";
}

Result<std::unique_ptr<ServerSecurity>> ServerSecurity::Create(void* zmq_context,
                                                               const ServerSecurityOptions& opts,
                                                               std::string* warning) {
  bool have_key = !opts.secret_key_file.empty();
  bool have_list = !opts.allowlist_file.empty();
  std::unique_ptr<ServerSecurity> sec(new ServerSecurity());
  if (opts.insecure) {
    if (have_key || have_list) {
      return Status::InvalidArgument(
          "--insecure cannot be combined with --curve-secret-key / --allowlist: choose one");
    }
    if (!IsLoopbackEndpoint(opts.bind)) {
      *warning = fmt::format(
          "WARNING: --insecure on {}, which is not a loopback address: anybody who can reach it "
          "can submit jobs (arbitrary commands) and pose as a worker. Use --curve-secret-key and "
          "--allowlist (docs/security.md).",
          opts.bind);
    }
    return sec;
  }
  if (!have_key || !have_list) {
    return Status::InvalidArgument(fmt::format(
        "{} missing: ritsud serves CURVE-encrypted connections from allowlisted keys only "
        "(--curve-secret-key FILE --allowlist FILE; make a key with `ritsu keygen`), or plain "
        "TCP when you say --insecure (loopback development)",
        !have_key && !have_list ? "--curve-secret-key and --allowlist are"
        : !have_key             ? "--curve-secret-key is"
                                : "--allowlist is"));
  }
  auto keys = ReadSecretKeyFile(opts.secret_key_file);
  if (!keys.ok()) return keys.status().Annotate("--curve-secret-key");
  sec->keys_ = *keys;
  sec->allowlist_file_ = opts.allowlist_file;
  sec->zap_ = std::make_unique<ZapHandler>(zmq_context, opts.allowlist_file);
  RITSU_RETURN_IF_ERROR(sec->zap_->Start().Annotate("--allowlist"));
  RITSU_RETURN_IF_ERROR(ZapHandler::InstallSighupReload());
  return sec;
}

Status ServerSecurity::ConfigureRouter(void* socket) const {
  if (!zap_) return Status::Ok();
  return ConfigureCurveServer(socket, keys_, *zap_);
}

Status ServerSecurity::Authorize(const std::string& user_id, std::string_view request_type) const {
  if (!zap_) return Status::Ok();
  return zap_->Authorize(user_id.c_str(), request_type);
}

std::string ServerSecurity::Describe() const {
  if (!zap_) return "plain TCP (--insecure)";
  return fmt::format("CURVE, server key {}, allowlist {}", keys_.public_z85, allowlist_file_);
}

Result<std::optional<ClientCurve>> LoadClientCurve(const std::string& server_key_flag,
                                                   const std::string& secret_key_flag) {
  auto pick = [](const std::string& flag_value, const char* env) {
    if (!flag_value.empty()) return flag_value;
    const char* v = std::getenv(env);
    return std::string(v ? v : "");
  };
  std::string server_file = pick(server_key_flag, "RITSU_SERVER_KEY");
  std::string secret_file = pick(secret_key_flag, "RITSU_KEY");
  if (server_file.empty() && secret_file.empty()) return std::optional<ClientCurve>();
  if (server_file.empty() || secret_file.empty()) {
    return Status::InvalidArgument(fmt::format(
        "CURVE needs both the scheduler's public key (--curve-server-key FILE or "
        "$RITSU_SERVER_KEY) and your secret key (--curve-secret-key FILE or $RITSU_KEY); only {} "
        "was given",
        server_file.empty() ? "the secret key" : "the server key"));
  }
  auto server = ReadPublicKeyFile(server_file);
  if (!server.ok()) return server.status().Annotate("--curve-server-key / $RITSU_SERVER_KEY");
  auto own = ReadSecretKeyFile(secret_file);
  if (!own.ok()) return own.status().Annotate("--curve-secret-key / $RITSU_KEY");
  return std::optional<ClientCurve>(ClientCurve{*server, *own});
}

Status ApplyClientCurve(void* socket, const ClientCurve& curve) {
  return ConfigureCurveClient(socket, curve.server_public_z85, curve.own);
}

}  // namespace ritsu::auth
