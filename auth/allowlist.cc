#include "auth/allowlist.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "auth/file_trust.h"
#include "auth/keys.h"

namespace ritsu::auth {
namespace {

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_' || c == '@';
    if (!ok) return false;
  }
  return true;
}

// Splits on spaces/tabs; stops at a '#' that starts a field (Z85 keys may contain '#' inside, so
// only a field beginning with '#' starts a comment, and never the key field itself).
std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  std::string f;
  while (in >> f) {
    if (!out.empty() && f[0] == '#') break;
    out.push_back(f);
  }
  return out;
}

}  // namespace

Status ValidateEntry(const AllowlistEntry& entry, std::string_view where) {
  RITSU_RETURN_IF_ERROR(ValidateZ85Key(entry.public_key, fmt::format("{}: public key", where)));
  if (!ValidName(entry.name)) {
    return Status::InvalidArgument(fmt::format(
        "{}: name '{}' must be 1-64 characters of letters, digits, '.', '-', '_', '@'", where,
        entry.name));
  }
  return Status::Ok();
}

Result<Allowlist> Allowlist::Parse(std::string_view text, std::string_view source) {
  Allowlist list;
  std::istringstream in{std::string(text)};
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos) continue;
    auto f = Fields(line);
    // A '#' first is always a comment: no valid Z85 key starts with '#' (see keys.cc).
    if (line[b] == '#') continue;
    std::string where = fmt::format("allowlist {} line {}", source, number);
    if (f.size() != 3) {
      return Status::InvalidArgument(fmt::format(
          "{}: expected '<z85-public-key> <role> <name>', got {} field(s): '{}'", where, f.size(),
          line));
    }
    auto role = ParseRole(f[1]);
    if (!role) {
      return Status::InvalidArgument(
          fmt::format("{}: role '{}' is not one of worker, submit, read", where, f[1]));
    }
    AllowlistEntry entry{f[0], *role, f[2]};
    RITSU_RETURN_IF_ERROR(ValidateEntry(entry, where));
    if (list.FindByKey(entry.public_key)) {
      return Status::InvalidArgument(
          fmt::format("{}: public key already listed (as '{}')", where,
                      list.FindByKey(entry.public_key)->name));
    }
    if (list.FindByName(entry.name)) {
      return Status::InvalidArgument(fmt::format("{}: name '{}' already listed", where, entry.name));
    }
    list.entries_.push_back(std::move(entry));
  }
  return list;
}

Result<Allowlist> Allowlist::Load(const std::string& path) {
  // Checked at every load, so a reload of a file that became writable by others keeps the
  // previous list in force (ZapHandler::Reload).
  RITSU_RETURN_IF_ERROR(CheckTrustedFile(path, "allowlist"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("allowlist {}: cannot open the file", path));
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Status::IOError(fmt::format("allowlist {}: read error", path));
  return Parse(buf.str(), path);
}

const AllowlistEntry* Allowlist::FindByKey(std::string_view public_key) const {
  for (const auto& e : entries_) {
    if (e.public_key == public_key) return &e;
  }
  return nullptr;
}

const AllowlistEntry* Allowlist::FindByName(std::string_view name) const {
  for (const auto& e : entries_) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

Status Allowlist::Add(AllowlistEntry entry) {
  RITSU_RETURN_IF_ERROR(ValidateEntry(entry, "new allowlist entry"));
  if (const auto* old = FindByKey(entry.public_key)) {
    return Status::AlreadyExists(
        fmt::format("public key {} is already listed as '{}'", entry.public_key, old->name));
  }
  if (FindByName(entry.name)) {
    return Status::AlreadyExists(fmt::format(
        "name '{}' is already listed: revoke it first or choose another name", entry.name));
  }
  entries_.push_back(std::move(entry));
  return Status::Ok();
}

Status Allowlist::Revoke(std::string_view name_or_key) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->name == name_or_key || it->public_key == name_or_key) {
      entries_.erase(it);
      return Status::Ok();
    }
  }
  return Status::NotFound(fmt::format("no allowlist entry named '{}' or with that key", name_or_key));
}

std::string Allowlist::Serialize() const {
  std::string out =
      "# ritsu allowlist: <z85-public-key> <role> <name>; roles: worker, submit, read.\n"
      "# Edit with `ritsu keys add|revoke`; the scheduler reloads it on SIGHUP.\n";
  for (const auto& e : entries_) {
    out += fmt::format("{} {} {}\n", e.public_key, RoleName(e.role), e.name);
  }
  return out;
}

Status SaveAllowlist(const std::string& path, const Allowlist& list) {
  return WriteFileAtomically(path, list.Serialize(), 0640);
}

}  // namespace ritsu::auth
