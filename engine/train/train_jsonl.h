// Reading --train-file: JSONL, one {"input": str, "output": str, "meta": {"mode": str}} per line.
//
// Memory is bounded by the longest accepted line, not by the file: the file is streamed in
// 64 KiB blocks, a line longer than max_line_bytes is never held (its bytes are counted and
// dropped) and is reported as FILE:LINE (an error under kFail, skipped under kSkip). A line is
// parsed once into a JSON DOM and its strings moved out of it. Without the bound a 50 MB line
// cost ~2.4 GB (the line, the DOM, the copies, then tokenizing 50 MB of text that
// --max-seq-length cuts to a few thousand tokens anyway).
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ritsu::train {

// 4 MiB: the samples this trainer is for are a few KiB; 4 MiB of text is ~10^6 tokens, far past
// any --max-seq-length (the model's context is at most 40960 positions).
inline constexpr size_t kMaxTrainLineBytes = size_t{4} << 20;

struct RawSample {
  std::string input, output, mode;  // mode "" when meta.mode is absent
  int64_t line = 0;                 // 1-based line in the file
};

enum class BadLinePolicy { kFail, kSkip };

struct ReadReport {
  int64_t skipped_lines = 0;
  std::vector<std::string> messages;  // one per skipped line, "FILE:LINE: why"
};

// Why `text` (one line, without its newline) is not a training sample, or "" when it is one
// (then *out holds it; out->line is left alone).
std::string ParseTrainLine(std::string_view text, RawSample* out);

// Reads the JSONL file. An empty, malformed (not an object, "input"/"output" missing or not
// strings) or too long line is an error naming FILE:LINE under kFail, or skipped and reported
// under kSkip. No sample at all is an error.
Result<std::vector<RawSample>> ReadTrainJsonl(const std::string& path, BadLinePolicy policy, ReadReport* report,
                                              size_t max_line_bytes = kMaxTrainLineBytes);
// The same from a stream; `name` stands for the file in messages.
Result<std::vector<RawSample>> ReadTrainJsonl(std::istream& in, const std::string& name, BadLinePolicy policy,
                                              ReadReport* report, size_t max_line_bytes = kMaxTrainLineBytes);

}  // namespace ritsu::train
