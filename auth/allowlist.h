// The scheduler's allowlist: who may connect, and with which role.
//
// File format (UTF-8 text, one key per line):
//
//   # comment lines and blank lines are ignored; a '#' after the fields starts a comment too
//   <z85-public-key> <role> <name>
//   rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7  worker  heart01-mig0
//
// role is worker | submit | read (see auth/role.h); name is 1-64 of [A-Za-z0-9._@-] and names
// the key in logs, in `ritsu workers` and in `ritsu keys revoke NAME`. A key and a name may each
// appear once. Anything else is an error naming the file and line; a scheduler never starts on a
// half-understood allowlist. An empty allowlist lets nobody in.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/role.h"
#include "common/status.h"

namespace ritsu::auth {

struct AllowlistEntry {
  std::string public_key;  // Z85, 40 characters
  Role role = Role::kRead;
  std::string name;
};

class Allowlist {
 public:
  // `source` names the text in errors ("/etc/ritsu/allowlist").
  static Result<Allowlist> Parse(std::string_view text, std::string_view source);
  // A missing file is an error: an operator who points at a wrong path must hear about it.
  static Result<Allowlist> Load(const std::string& path);

  const AllowlistEntry* FindByKey(std::string_view public_key) const;
  const AllowlistEntry* FindByName(std::string_view name) const;
  const std::vector<AllowlistEntry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }

  // Adds an entry; fails when the key or the name is already present or a field is invalid.
  Status Add(AllowlistEntry entry);
  // Removes the entry whose name or public key is `name_or_key`; NotFound when none.
  Status Revoke(std::string_view name_or_key);

  // The file text, one line per entry, with a header comment; Parse(Serialize()) == *this.
  std::string Serialize() const;

 private:
  std::vector<AllowlistEntry> entries_;
};

// Validates an entry's fields; `where` prefixes the message ("allowlist /x line 4").
Status ValidateEntry(const AllowlistEntry& entry, std::string_view where);

// Writes the allowlist to `path` atomically (mode 0640: it names the lab's keys and hosts).
Status SaveAllowlist(const std::string& path, const Allowlist& list);

}  // namespace ritsu::auth
