// What the three programs call to put CURVE on their one socket, so that ritsud, ritsu-worker
// and the `ritsu` CLI make the same decisions with the same messages.
//
// Scheduler (ritsud):
//   --curve-secret-key FILE --allowlist FILE   CURVE + ZAP; both or neither
//   --insecure                                 plain TCP, said explicitly; warns off loopback
//   auto sec = auth::ServerSecurity::Create(broker_ctx.handle(), opts);   // starts ZAP first
//   broker.SetSocketSetup([&](zmq::socket_t& s) { return (*sec)->ConfigureRouter(s.handle()); });
//   broker.SetAuthorizer([&](const Peer& p, MsgType t) { return (*sec)->Authorize(p.user_id, MsgTypeName(t)); });
//
// Worker and CLI:
//   --curve-server-key FILE (or $RITSU_SERVER_KEY)   the scheduler's NAME.pub
//   --curve-secret-key FILE (or $RITSU_KEY)          the client's own NAME.key (mode 0600)
//   both -> CURVE; neither -> plain TCP (a CURVE scheduler then never answers); one -> error.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/keys.h"
#include "auth/zap_handler.h"
#include "common/status.h"

namespace ritsu::auth {

// tcp://127.x.y.z, tcp://localhost, tcp://[::1], ipc:// and inproc:// endpoints.
bool IsLoopbackEndpoint(std::string_view endpoint);

struct ServerSecurityOptions {
  std::string secret_key_file;  // --curve-secret-key
  std::string allowlist_file;   // --allowlist
  bool insecure = false;        // --insecure
  std::string bind;             // the endpoint, for the warning
};

class ServerSecurity {
 public:
  // Validates the flags (either both key files or --insecure, not both), reads the secret key
  // (refusing loose modes) and starts the ZAP handler on `zmq_context` before returning.
  // `warning` receives the text to print at start when plain TCP is used off loopback.
  static Result<std::unique_ptr<ServerSecurity>> Create(void* zmq_context,
                                                        const ServerSecurityOptions& opts,
                                                        std::string* warning);

  bool insecure() const { return zap_ == nullptr; }
  // CURVE server options on the ROUTER (no-op when insecure). Call before bind.
  Status ConfigureRouter(void* socket) const;
  // Per-message check (always OK when insecure).
  Status Authorize(const std::string& user_id, std::string_view request_type) const;
  // A one-line description for the start-up log: "CURVE, allowlist /etc/ritsu/allowlist (3 keys)".
  std::string Describe() const;
  ZapHandler* zap() { return zap_.get(); }

 private:
  ServerSecurity() = default;
  KeyPair keys_;
  std::string allowlist_file_;
  std::unique_ptr<ZapHandler> zap_;
};

struct ClientCurve {
  std::string server_public_z85;
  KeyPair own;
};

// From the flag values (empty = not given), falling back to $RITSU_SERVER_KEY / $RITSU_KEY.
// nullopt: plain TCP. Errors name the flag or variable and the file.
Result<std::optional<ClientCurve>> LoadClientCurve(const std::string& server_key_flag,
                                                   const std::string& secret_key_flag);
// CURVE client options on a DEALER (call before connect).
Status ApplyClientCurve(void* socket, const ClientCurve& curve);

}  // namespace ritsu::auth
