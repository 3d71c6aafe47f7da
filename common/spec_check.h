// The limits of a task spec and the one check that enforces them. The CLI calls it before it
// sends a submit (so the user gets the message without a round trip) and ritsud calls it on
// every submitted task (so another client cannot store what the CLI would refuse). The numbers
// are documented in docs/cli.md ("Limits"); the CLI's flag ranges use the same constants.
//
// Text shown in tables and JSON (name, label keys and values, tags, host) must be UTF-8 without
// control characters. argv, env and cwd are handed to execve() and may be any bytes a Linux
// command line can hold (everything but NUL): the CLI renders them safely instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/task.h"

namespace ritsu {

inline constexpr size_t kMaxNameBytes = 256;
inline constexpr size_t kMaxLabels = 64;
inline constexpr size_t kMaxLabelBytes = 256;         // each key and each value
inline constexpr size_t kMaxArgvEntries = 4096;
inline constexpr size_t kMaxArgvBytes = 1u << 20;     // all entries together
inline constexpr size_t kMaxEnvEntries = 4096;
inline constexpr size_t kMaxEnvBytes = 1u << 20;      // all keys and values together
inline constexpr size_t kMaxCwdBytes = 4096;          // PATH_MAX
inline constexpr size_t kMaxTags = 64;
inline constexpr size_t kMaxTagBytes = 256;           // each tag, and the host name
inline constexpr size_t kMaxDependencies = 10000;     // after + after_in_batch
inline constexpr uint32_t kMaxGpus = 64;
inline constexpr uint32_t kMaxAttempts = 100;
inline constexpr int32_t kMinPriority = -1'000'000;
inline constexpr int32_t kMaxPriority = 1'000'000;
inline constexpr int64_t kMaxTimeoutMs = 365LL * 24 * 3600 * 1000;  // 365 days

// Checks every field of a spec a client sent. `where` prefixes the field in the message
// ("tasks[3]" -> "tasks[3].name: ..."); "" gives the bare field ("name: ...").
Status ValidateSpec(const TaskSpec& spec, const std::string& where);

// "" when text is valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF), else
// what is wrong and where ("invalid UTF-8 at byte 3").
std::string Utf8Problem(std::string_view text);

// text made fit for a shown field: invalid UTF-8 and control characters become U+FFFD, and it is
// cut at a character boundary to at most max_bytes. For names the CLI derives from argv or a
// path (which may be any bytes), so a default never fails the check above.
std::string ToShownText(std::string_view text, size_t max_bytes);

// text cut to about max_bytes, with invalid UTF-8 bytes and control characters as \xNN, for
// quoting untrusted values in error messages.
std::string Printable(std::string_view text, size_t max_bytes = 40);

}  // namespace ritsu
