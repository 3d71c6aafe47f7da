// Sizes ("20G", "512Mi", "1024") and durations ("2h", "90s", "1h30m", "250ms") as flags and
// sweep-file values use them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ritsu {

// Bytes. Suffixes K M G T (and KB/KiB/Ki ...) are powers of 1024, as nvidia-smi and the lab's
// "20 GB MIG slice" mean it; no suffix = bytes. Fractions allowed: "1.5G". Case-insensitive.
Result<uint64_t> ParseSize(std::string_view text);
// Milliseconds. One or more <number><unit> parts, unit in ms s m h d; a bare number = seconds.
Result<int64_t> ParseDuration(std::string_view text);

std::string FormatSize(uint64_t bytes);      // "20G", "1.5G", "512M", "100B"
std::string FormatDuration(int64_t ms);      // "2h", "1h30m", "90s" -> "1m30s", "250ms"

}  // namespace ritsu
