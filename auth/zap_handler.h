// The scheduler's ZAP handler (ZeroMQ RFC 27): decides at every CURVE handshake whether the
// client's public key is in the allowlist, and answers per message who a peer is and what its
// role allows.
//
// Order matters. libzmq accepts any CURVE client that knows the server's public key when no
// handler is bound at inproc://zeromq.zap.01 on the socket's context, so:
//
//   auth::ZapHandler zap(ctx.handle(), "/etc/ritsu/allowlist");
//   RITSU_RETURN_IF_ERROR(zap.Start());                          // returns once bound
//   RITSU_RETURN_IF_ERROR(auth::ConfigureCurveServer(router, keys, zap));  // refuses if not started
//   router.bind("tcp://0.0.0.0:5555");
//
// ZAP runs only at the handshake, so a key revoked later would keep its connection. The broker
// therefore checks every incoming message:
//
//   const char* uid = msg.gets("User-Id");   // zmq_msg_gets(&msg, "User-Id"): the peer's Z85 key
//   Status st = zap.Authorize(uid, request_type);   // against the current allowlist
//
// The User-Id is the peer's Z85 public key rather than its name: a name can be revoked and given
// to a new key, and the old connection must not inherit it. Lookup() gives name and role.
//
// Thread safety: Start/Stop from one owning thread; Reload, Lookup, RoleOf, Authorize from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "auth/allowlist.h"
#include "auth/keys.h"
#include "auth/role.h"
#include "common/status.h"

namespace ritsu::auth {

inline constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
// The ZAP domain the scheduler's sockets set (ZMQ_ZAP_DOMAIN); requests for others are refused.
inline constexpr const char* kZapDomain = "ritsu";

struct PeerIdentity {
  std::string public_key;
  std::string name;
  Role role;
};

class ZapHandler {
 public:
  // `zmq_context` is the context of the sockets to protect (zmq::context_t::handle()).
  ZapHandler(void* zmq_context, std::string allowlist_path);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  // Loads the allowlist (an error in it fails Start: no half-configured scheduler), binds
  // kZapEndpoint and starts the handler thread. Returns once bound.
  Status Start();
  // Stops the thread and closes its socket; call before the context is terminated.
  void Stop();
  bool running() const { return running_.load(); }

  // Re-reads the allowlist file. On error the current list stays in force and the error is
  // returned (a typo in an edit must not lock everybody out, nor let anybody in).
  // The handler thread also reloads by itself within about a second when the file is replaced
  // or modified (`ritsu keys add|revoke` rename a new file into place), and on SIGHUP.
  Status Reload();
  // Makes SIGHUP reload the allowlist of every started handler in this process (the handler
  // thread notices within its poll interval). Installs a process-wide signal handler.
  static Status InstallSighupReload();

  // The peer whose User-Id (Z85 public key) is `user_id`, per the current allowlist.
  std::optional<PeerIdentity> Lookup(std::string_view user_id) const;
  std::optional<Role> RoleOf(std::string_view user_id) const;
  // OK when `user_id` is in the current allowlist and its role may send `request_type`;
  // PermissionDenied otherwise (unknown / revoked key, missing User-Id, wrong role).
  Status Authorize(const char* user_id, std::string_view request_type) const;

  // Handshakes answered so far (for tests and the scheduler's status line).
  uint64_t handshakes_accepted() const { return accepted_.load(); }
  uint64_t handshakes_refused() const { return refused_.load(); }
  // The last error of a reload the handler thread did on SIGHUP or a file change ("" when it
  // succeeded). Each such reload is also reported on stderr, the daemons' log.
  std::string last_reload_error() const;

 private:
  void Run();
  void HandleRequest();
  std::shared_ptr<const Allowlist> Current() const;
  // Identity of the file's current version: inode, size, modification time.
  std::string FileSignature() const;
  void ReloadFromThread();

  void* context_;
  std::string path_;
  void* socket_ = nullptr;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> refused_{0};
  uint64_t seen_sighups_ = 0;
  std::string loaded_signature_;  // handler thread only (and Start before it runs)

  mutable std::mutex mu_;
  std::shared_ptr<const Allowlist> allowlist_;  // guarded by mu_ (the pointer, not the list)
  std::string last_reload_error_;               // guarded by mu_
};

// Makes `socket` (a raw libzmq socket: zmq::socket_t::handle()) a CURVE server with the
// scheduler's key pair and the ZAP domain. FailedPrecondition when `zap` is not running: binding
// a CURVE server without its handler would let in anybody who knows the server's public key.
Status ConfigureCurveServer(void* socket, const KeyPair& server_keys, const ZapHandler& zap);

// Makes `socket` a CURVE client of the server with public key `server_public_z85`, using the
// client's own key pair. Call before connect().
Status ConfigureCurveClient(void* socket, std::string_view server_public_z85, const KeyPair& own);

}  // namespace ritsu::auth
