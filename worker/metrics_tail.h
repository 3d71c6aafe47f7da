// Follows one attempt's metric series file ($RITSU_METRICS_SERIES): the task appends one JSON
// object per line (the trainer: every progress line and every evaluation), the worker hands each
// new complete line on as the attempt's "metrics" log stream (LogStream::kMetrics), which goes
// through the spool to ritsud like stdout and stderr.
//
// Only whole lines that are one JSON object travel: a torn last line (the task was killed while
// writing) is dropped at the end, a line that is not a JSON object or is longer than
// kMaxMetricsLineBytes is dropped with a note, so the stored series is always valid JSONL.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ritsu::worker {

inline constexpr size_t kMaxMetricsLineBytes = 64 * 1024;

class MetricsTail {
 public:
  explicit MetricsTail(std::string path) : path_(std::move(path)) {}

  // What was appended since the last call: complete, valid lines, each ending in '\n' ("" if
  // none). At most about max_bytes are read per call (the rest next time). final = the task has
  // exited: a partial last line is dropped (and noted). Problems go to *notes, one line each;
  // after kMaxNotes only a count is kept.
  std::string Poll(bool final, std::vector<std::string>* notes, size_t max_bytes = 1 << 20);
  const std::string& path() const { return path_; }

 private:
  void Note(std::vector<std::string>* notes, const std::string& what);

  static constexpr int kMaxNotes = 3;
  std::string path_;
  uint64_t offset_ = 0;        // bytes of the file consumed so far
  std::string partial_;        // an incomplete last line
  bool skipping_ = false;      // inside an over-long line: drop up to its newline
  int notes_ = 0;
};

}  // namespace ritsu::worker
