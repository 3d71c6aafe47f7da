#include "auth/zap_handler.h"

#include <signal.h>
#include <sys/stat.h>
#include <zmq.h>

#include <array>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace ritsu::auth {
namespace {

// Bumped by the SIGHUP handler; each handler thread compares it with what it has seen.
std::atomic<uint64_t> g_sighups{0};

void OnSighup(int) { g_sighups.fetch_add(1, std::memory_order_relaxed); }

// How often the handler thread wakes up without requests, to notice Stop() and SIGHUP.
constexpr int kPollIntervalMs = 100;
// How often it looks at the allowlist file for changes (one stat() call).
constexpr auto kFileCheckInterval = std::chrono::milliseconds(500);

std::string ZmqError(std::string_view what) {
  return fmt::format("{}: {}", what, zmq_strerror(zmq_errno()));
}

// Receives all frames of one message; false when the socket reports an error.
bool ReceiveFrames(void* socket, std::vector<std::string>* frames) {
  frames->clear();
  int more = 1;
  while (more) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, socket, 0) < 0) {
      zmq_msg_close(&msg);
      return false;
    }
    frames->emplace_back(static_cast<const char*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
    more = zmq_msg_more(&msg);
    zmq_msg_close(&msg);
  }
  return true;
}

void SendFrames(void* socket, const std::vector<std::string>& frames) {
  for (size_t i = 0; i < frames.size(); ++i) {
    int flags = i + 1 < frames.size() ? ZMQ_SNDMORE : 0;
    zmq_send(socket, frames[i].data(), frames[i].size(), flags);
  }
}

}  // namespace

ZapHandler::ZapHandler(void* zmq_context, std::string allowlist_path)
    : context_(zmq_context), path_(std::move(allowlist_path)) {}

ZapHandler::~ZapHandler() { Stop(); }

Status ZapHandler::Start() {
  if (running_.load()) return Status::FailedPrecondition("ZAP handler already started");
  auto list = Allowlist::Load(path_);
  if (!list.ok()) return list.status().Annotate("starting the ZAP handler");
  {
    std::lock_guard<std::mutex> lock(mu_);
    allowlist_ = std::make_shared<const Allowlist>(std::move(list).value());
  }
  socket_ = zmq_socket(context_, ZMQ_REP);
  if (socket_ == nullptr) return Status::Internal(ZmqError("creating the ZAP socket"));
  int linger = 0;
  zmq_setsockopt(socket_, ZMQ_LINGER, &linger, sizeof(linger));
  if (zmq_bind(socket_, kZapEndpoint) != 0) {
    Status st = Status::FailedPrecondition(ZmqError(fmt::format(
        "binding the ZAP handler at {} (is another handler bound on this context?)",
        kZapEndpoint)));
    zmq_close(socket_);
    socket_ = nullptr;
    return st;
  }
  seen_sighups_ = g_sighups.load();
  loaded_signature_ = FileSignature();
  stop_ = false;
  running_ = true;
  // The socket moves to the thread here; thread creation is the full barrier libzmq asks for.
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void ZapHandler::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
  running_ = false;
}

std::string ZapHandler::FileSignature() const {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return "missing";
  return fmt::format("{}:{}:{}.{}", st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

void ZapHandler::ReloadFromThread() {
  loaded_signature_ = FileSignature();
  Status st = Reload();
  // The daemon's log is stderr; an operator who edited the allowlist looks there.
  if (st.ok()) {
    std::fprintf(stderr, "ritsud: allowlist %s reloaded: %zu key(s)\n", path_.c_str(),
                 Current()->entries().size());
  } else {
    std::fprintf(stderr, "ritsud: %s\n", st.ToString().c_str());
  }
  std::lock_guard<std::mutex> lock(mu_);
  last_reload_error_ = st.ok() ? "" : st.ToString();
}

void ZapHandler::Run() {
  auto next_file_check = std::chrono::steady_clock::now() + kFileCheckInterval;
  while (!stop_.load()) {
    zmq_pollitem_t item{socket_, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(&item, 1, kPollIntervalMs);
    uint64_t sighups = g_sighups.load(std::memory_order_relaxed);
    if (sighups != seen_sighups_) {
      seen_sighups_ = sighups;
      ReloadFromThread();
    } else if (std::chrono::steady_clock::now() >= next_file_check) {
      next_file_check = std::chrono::steady_clock::now() + kFileCheckInterval;
      // A failed reload is not retried until the file changes again (no log flood).
      if (FileSignature() != loaded_signature_) ReloadFromThread();
    }
    if (rc < 0) {
      if (zmq_errno() == EINTR) continue;
      break;  // ETERM: the context is going away.
    }
    if (rc > 0 && (item.revents & ZMQ_POLLIN)) HandleRequest();
  }
  zmq_close(socket_);
  socket_ = nullptr;
}

void ZapHandler::HandleRequest() {
  std::vector<std::string> req;
  if (!ReceiveFrames(socket_, &req)) return;
  // RFC 27 request: version, request id, domain, address, identity, mechanism, credentials...
  // The reply echoes version and request id, then status code, text, user id, metadata.
  auto reply = [&](const char* code, std::string text, std::string user_id) {
    std::string version = req.size() > 0 ? req[0] : "1.0";
    std::string request_id = req.size() > 1 ? req[1] : "";
    SendFrames(socket_, {version, request_id, code, std::move(text), std::move(user_id), ""});
    if (std::strcmp(code, "200") == 0) {
      accepted_.fetch_add(1);
    } else {
      refused_.fetch_add(1);
    }
  };
  if (req.size() < 6 || req[0] != "1.0") {
    reply("500", "malformed ZAP request", "");
    return;
  }
  const std::string& domain = req[2];
  const std::string& mechanism = req[5];
  // Only CURVE proves who the peer is; NULL and PLAIN sockets never get in.
  if (mechanism != "CURVE" || req.size() != 7 || req[6].size() != 32) {
    reply("400", "ritsu accepts CURVE clients only", "");
    return;
  }
  if (domain != kZapDomain) {
    reply("400", "unknown ZAP domain", "");
    return;
  }
  std::array<char, kZ85KeyLength + 1> z85{};
  zmq_z85_encode(z85.data(), reinterpret_cast<const uint8_t*>(req[6].data()), 32);
  std::string key(z85.data(), kZ85KeyLength);
  auto list = Current();
  if (list->FindByKey(key) == nullptr) {
    reply("400", "key not in the allowlist", "");
    return;
  }
  reply("200", "OK", key);
}

std::shared_ptr<const Allowlist> ZapHandler::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return allowlist_ ? allowlist_ : std::make_shared<const Allowlist>();
}

Status ZapHandler::Reload() {
  auto list = Allowlist::Load(path_);
  if (!list.ok()) {
    return list.status().Annotate("reloading the allowlist (the previous one stays in force)");
  }
  std::lock_guard<std::mutex> lock(mu_);
  allowlist_ = std::make_shared<const Allowlist>(std::move(list).value());
  return Status::Ok();
}

Status ZapHandler::InstallSighupReload() {
  struct sigaction sa {};
  sa.sa_handler = OnSighup;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (sigaction(SIGHUP, &sa, nullptr) != 0) {
    return Status::Internal(fmt::format("installing the SIGHUP handler: {}", std::strerror(errno)));
  }
  return Status::Ok();
}

std::optional<PeerIdentity> ZapHandler::Lookup(std::string_view user_id) const {
  auto list = Current();
  const AllowlistEntry* e = list->FindByKey(user_id);
  if (e == nullptr) return std::nullopt;
  return PeerIdentity{e->public_key, e->name, e->role};
}

std::optional<Role> ZapHandler::RoleOf(std::string_view user_id) const {
  auto peer = Lookup(user_id);
  if (!peer) return std::nullopt;
  return peer->role;
}

Status ZapHandler::Authorize(const char* user_id, std::string_view request_type) const {
  if (user_id == nullptr || *user_id == '\0') {
    return Status::PermissionDenied(
        "the connection has no authenticated key (was the ZAP handler running at its handshake?)");
  }
  auto peer = Lookup(user_id);
  if (!peer) {
    return Status::PermissionDenied(
        "this key is not (or no longer) in the scheduler's allowlist");
  }
  return CheckPermission(peer->name, peer->role, request_type);
}

std::string ZapHandler::last_reload_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_reload_error_;
}

Status ConfigureCurveServer(void* socket, const KeyPair& server_keys, const ZapHandler& zap) {
  if (!zap.running()) {
    return Status::FailedPrecondition(
        "refusing to configure a CURVE server before its ZAP handler is bound: without it "
        "libzmq would accept any client that knows the server's public key");
  }
  RITSU_RETURN_IF_ERROR(ValidateZ85Key(server_keys.secret_z85, "server secret key"));
  int one = 1;
  if (zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &one, sizeof(one)) != 0 ||
      zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, server_keys.secret_z85.c_str(),
                     kZ85KeyLength) != 0 ||
      zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, kZapDomain, std::strlen(kZapDomain)) != 0) {
    return Status::Internal(ZmqError("configuring the CURVE server socket"));
  }
  return Status::Ok();
}

Status ConfigureCurveClient(void* socket, std::string_view server_public_z85, const KeyPair& own) {
  RITSU_RETURN_IF_ERROR(ValidateZ85Key(server_public_z85, "server public key"));
  RITSU_RETURN_IF_ERROR(ValidateZ85Key(own.public_z85, "own public key"));
  RITSU_RETURN_IF_ERROR(ValidateZ85Key(own.secret_z85, "own secret key"));
  std::string server(server_public_z85);
  if (zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, server.c_str(), kZ85KeyLength) != 0 ||
      zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, own.public_z85.c_str(), kZ85KeyLength) != 0 ||
      zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, own.secret_z85.c_str(), kZ85KeyLength) != 0) {
    return Status::Internal(ZmqError("configuring the CURVE client socket"));
  }
  return Status::Ok();
}

}  // namespace ritsu::auth
