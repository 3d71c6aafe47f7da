// Roles of allowlisted keys and which requests each role may send.
//
//   worker  the worker protocol only (register, heartbeat, started, log_chunk, finished)
//   submit  everything a person does with the CLI: submit, cancel, retry, drain, sweep_submit,
//           and all reads
//   read    look only: status, show, logs, workers, explain, wait, sweep_status
//
// The policy takes the request type as a string (common/protocol.h MsgTypeName) so that this
// library does not depend on the protocol header; a type the table does not know is refused
// (default deny), so a new request type must be given a role here before anyone may send it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ritsu::auth {

enum class Role { kWorker, kSubmit, kRead };

const char* RoleName(Role role);
std::optional<Role> ParseRole(std::string_view name);

// The least role that may send `request_type`; nullopt for a type no role may send.
enum class RequestClass { kWorker, kSubmit, kRead };
std::optional<RequestClass> ClassOfRequest(std::string_view request_type);

// May a key with `role` send `request_type`?
bool RoleMaySend(Role role, std::string_view request_type);

// OK, or PermissionDenied with a message the client can print as is:
//   permission denied: key 'lab-viewer' has role read; 'submit' needs role submit
Status CheckPermission(std::string_view key_name, Role role, std::string_view request_type);

}  // namespace ritsu::auth
