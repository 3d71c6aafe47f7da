#include "auth/role.h"

#include <array>
#include <utility>

#include <fmt/format.h>

namespace ritsu::auth {
namespace {

// The request types of the wire protocol (common/protocol.h MsgTypeName) by the least role that
// may send them. Replies (*_reply) are sent by the scheduler only and appear nowhere here.
constexpr std::array<std::pair<std::string_view, RequestClass>, 18> kRequestTable{{
    // worker protocol
    {"register", RequestClass::kWorker},
    {"heartbeat", RequestClass::kWorker},
    {"started", RequestClass::kWorker},
    {"log_chunk", RequestClass::kWorker},
    {"finished", RequestClass::kWorker},
    // changes: a client with the submit role
    {"submit", RequestClass::kSubmit},
    {"cancel", RequestClass::kSubmit},
    {"retry", RequestClass::kSubmit},
    {"drain", RequestClass::kSubmit},
    {"sweep_submit", RequestClass::kSubmit},
    // reads: any client
    {"status", RequestClass::kRead},
    {"show", RequestClass::kRead},
    {"logs", RequestClass::kRead},
    {"workers", RequestClass::kRead},
    {"explain", RequestClass::kRead},
    {"wait", RequestClass::kRead},
    {"sweep_status", RequestClass::kRead},
    {"metrics", RequestClass::kRead},
}};

const char* ClassRoleName(RequestClass c) {
  switch (c) {
    case RequestClass::kWorker: return "worker";
    case RequestClass::kSubmit: return "submit";
    case RequestClass::kRead: return "read or submit";
  }
  return "?";
}

}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kWorker: return "worker";
    case Role::kSubmit: return "submit";
    case Role::kRead: return "read";
  }
  return "?";
}

std::optional<Role> ParseRole(std::string_view name) {
  if (name == "worker") return Role::kWorker;
  if (name == "submit") return Role::kSubmit;
  if (name == "read") return Role::kRead;
  return std::nullopt;
}

std::optional<RequestClass> ClassOfRequest(std::string_view request_type) {
  for (const auto& [type, cls] : kRequestTable) {
    if (type == request_type) return cls;
  }
  return std::nullopt;
}

bool RoleMaySend(Role role, std::string_view request_type) {
  auto cls = ClassOfRequest(request_type);
  if (!cls) return false;
  switch (role) {
    case Role::kWorker: return *cls == RequestClass::kWorker;
    // A worker key must not submit (a stolen worker host would run commands on every GPU) and a
    // person's key must not pose as a worker (it could steal tasks and fake results).
    case Role::kSubmit: return *cls == RequestClass::kSubmit || *cls == RequestClass::kRead;
    case Role::kRead: return *cls == RequestClass::kRead;
  }
  return false;
}

Status CheckPermission(std::string_view key_name, Role role, std::string_view request_type) {
  if (RoleMaySend(role, request_type)) return Status::Ok();
  auto cls = ClassOfRequest(request_type);
  if (!cls) {
    return Status::PermissionDenied(fmt::format(
        "key '{}' (role {}) sent request type '{}', which no role may send", key_name,
        RoleName(role), request_type));
  }
  return Status::PermissionDenied(fmt::format("key '{}' has role {}; '{}' needs role {}", key_name,
                                              RoleName(role), request_type, ClassRoleName(*cls)));
}

}  // namespace ritsu::auth
