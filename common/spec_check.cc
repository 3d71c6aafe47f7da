#include "common/spec_check.h"

#include <utf8proc.h>

#include <fmt/format.h>

namespace ritsu {
namespace {

// Length of the valid UTF-8 sequence at the front of text, 0 if there is none.
size_t Utf8SequenceAt(std::string_view text, utf8proc_int32_t* cp) {
  utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                        utf8proc_ssize_t(text.size()), cp);
  return n > 0 ? size_t(n) : 0;
}

bool IsControl(utf8proc_int32_t cp) { return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0); }

class Checker {
 public:
  explicit Checker(const std::string& where) : prefix_(where.empty() ? "" : where + ".") {}

  Status Fail(const std::string& field, const std::string& what) const {
    return Status::InvalidArgument(fmt::format("{}{}: {}", prefix_, field, what));
  }

  Status Size(const std::string& field, size_t got, size_t limit, const char* unit) const {
    if (got <= limit) return Status::Ok();
    return Fail(field, fmt::format("{} {}, over the limit of {}", got, unit, limit));
  }

  // Shown text: bounded, UTF-8, no control characters (a newline would break table rows).
  Status Text(const std::string& field, std::string_view text, size_t limit) const {
    RITSU_RETURN_IF_ERROR(Size(field, text.size(), limit, "bytes"));
    if (std::string bad = Utf8Problem(text); !bad.empty()) return Fail(field, fmt::format("'{}': {}", Printable(text), bad));
    for (size_t i = 0; i < text.size();) {
      utf8proc_int32_t cp = 0;
      size_t n = Utf8SequenceAt(text.substr(i), &cp);
      if (IsControl(cp)) return Fail(field, fmt::format("'{}': control character U+{:04X} at byte {}", Printable(text), cp, i));
      i += n;
    }
    return Status::Ok();
  }

  // Bytes for execve(): anything but NUL, which would silently cut the string.
  Status Bytes(const std::string& field, std::string_view text) const {
    if (size_t z = text.find('\0'); z != std::string_view::npos)
      return Fail(field, fmt::format("'{}': contains a NUL byte at byte {}, which a command line cannot carry", Printable(text), z));
    return Status::Ok();
  }

 private:
  std::string prefix_;
};

}  // namespace

std::string Utf8Problem(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    utf8proc_int32_t cp = 0;
    size_t n = Utf8SequenceAt(text.substr(i), &cp);
    if (n == 0) return fmt::format("invalid UTF-8 at byte {}", i);
    i += n;
  }
  return "";
}

std::string Printable(std::string_view text, size_t max_bytes) {
  std::string out;
  size_t i = 0;
  while (i < text.size() && out.size() < max_bytes) {
    utf8proc_int32_t cp = 0;
    size_t n = Utf8SequenceAt(text.substr(i), &cp);
    if (n == 0 || IsControl(cp) || cp == '\\') {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[i]));
      i += 1;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  if (i < text.size()) out += "...";
  return out;
}

std::string ToShownText(std::string_view text, size_t max_bytes) {
  static constexpr std::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD
  std::string out;
  for (size_t i = 0; i < text.size();) {
    utf8proc_int32_t cp = 0;
    size_t n = Utf8SequenceAt(text.substr(i), &cp);
    std::string_view piece = n == 0 || IsControl(cp) ? kReplacement : text.substr(i, n);
    if (out.size() + piece.size() > max_bytes) break;
    out.append(piece);
    i += n == 0 ? 1 : n;
  }
  return out;
}

Status ValidateSpec(const TaskSpec& spec, const std::string& where) {
  Checker c(where);
  if (static_cast<uint8_t>(spec.kind) > static_cast<uint8_t>(TaskKind::kMerge))
    return c.Fail("kind", fmt::format("unknown kind {}", static_cast<int>(spec.kind)));
  RITSU_RETURN_IF_ERROR(c.Text("name", spec.name, kMaxNameBytes));

  if (spec.argv.empty()) return c.Fail("argv", "empty (give the command to run)");
  if (spec.argv[0].empty()) return c.Fail("argv[0]", "empty program name");
  RITSU_RETURN_IF_ERROR(c.Size("argv", spec.argv.size(), kMaxArgvEntries, "entries"));
  size_t argv_bytes = 0;
  for (size_t i = 0; i < spec.argv.size(); ++i) {
    RITSU_RETURN_IF_ERROR(c.Bytes(fmt::format("argv[{}]", i), spec.argv[i]));
    argv_bytes += spec.argv[i].size();
  }
  RITSU_RETURN_IF_ERROR(c.Size("argv", argv_bytes, kMaxArgvBytes, "bytes in all"));

  RITSU_RETURN_IF_ERROR(c.Size("cwd", spec.cwd.size(), kMaxCwdBytes, "bytes"));
  RITSU_RETURN_IF_ERROR(c.Bytes("cwd", spec.cwd));

  RITSU_RETURN_IF_ERROR(c.Size("env", spec.env.size(), kMaxEnvEntries, "variables"));
  size_t env_bytes = 0;
  for (const auto& [k, v] : spec.env) {
    if (k.empty() || k.find('=') != std::string::npos)
      return c.Fail("env", fmt::format("bad variable name '{}' (not empty, no '=')", Printable(k)));
    RITSU_RETURN_IF_ERROR(c.Bytes(fmt::format("env[{}]", Printable(k)), k + v));
    env_bytes += k.size() + v.size();
  }
  RITSU_RETURN_IF_ERROR(c.Size("env", env_bytes, kMaxEnvBytes, "bytes in all"));

  RITSU_RETURN_IF_ERROR(c.Size("labels", spec.labels.size(), kMaxLabels, "labels"));
  for (const auto& [k, v] : spec.labels) {
    if (k.empty()) return c.Fail("labels", "empty label key");
    RITSU_RETURN_IF_ERROR(c.Text("labels key", k, kMaxLabelBytes));
    RITSU_RETURN_IF_ERROR(c.Text(fmt::format("labels[{}]", Printable(k)), v, kMaxLabelBytes));
  }

  const Resources& r = spec.resources;
  if (r.gpus > kMaxGpus) return c.Fail("resources.gpus", fmt::format("{} is over the limit of {}", r.gpus, kMaxGpus));
  RITSU_RETURN_IF_ERROR(c.Size("resources.tags", r.tags.size(), kMaxTags, "tags"));
  for (const auto& t : r.tags) RITSU_RETURN_IF_ERROR(c.Text("resources.tags", t, kMaxTagBytes));
  RITSU_RETURN_IF_ERROR(c.Text("resources.host", r.host, kMaxTagBytes));

  if (spec.priority < kMinPriority || spec.priority > kMaxPriority)
    return c.Fail("priority", fmt::format("{} is out of range [{}, {}]", spec.priority, kMinPriority, kMaxPriority));
  if (spec.max_attempts < 1 || spec.max_attempts > kMaxAttempts)
    return c.Fail("max_attempts", fmt::format("{} is out of range [1, {}]", spec.max_attempts, kMaxAttempts));
  if (spec.timeout_ms < 0 || spec.timeout_ms > kMaxTimeoutMs)
    return c.Fail("timeout_ms", fmt::format("{} is out of range [0, {}] (0 = none, at most 365 days)", spec.timeout_ms, kMaxTimeoutMs));
  if (spec.kill_grace_ms < 0 || spec.kill_grace_ms > kMaxKillGraceMs)
    return c.Fail("kill_grace_ms", fmt::format("{} is out of range [0, {}] (0 = the worker's default, at most 1 hour)", spec.kill_grace_ms, kMaxKillGraceMs));
  RITSU_RETURN_IF_ERROR(c.Size("after", spec.after.size() + spec.after_in_batch.size(), kMaxDependencies, "dependencies"));
  if (spec.sweep_id != 0) return c.Fail("sweep_id", "set by the scheduler, leave 0");
  return Status::Ok();
}

}  // namespace ritsu
