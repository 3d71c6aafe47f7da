#include "worker/metrics_tail.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ritsu::worker {

void MetricsTail::Note(std::vector<std::string>* notes, const std::string& what) {
  if (++notes_ <= kMaxNotes) {
    notes->push_back(fmt::format("RITSU_METRICS_SERIES {}: {}{}", path_, what,
                                 notes_ == kMaxNotes ? " (further problems are not reported)" : ""));
  }
}

std::string MetricsTail::Poll(bool final, std::vector<std::string>* notes, size_t max_bytes) {
  std::string out;
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;  // not written (yet): nothing to say
  struct stat st{};
  size_t want = 0;
  if (::fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) > offset_) {
    want = static_cast<size_t>(std::min<uint64_t>(st.st_size - offset_, max_bytes));
  }
  std::string buf(want, '\0');  // polled often: allocate only what is new
  ssize_t n = want ? ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(offset_)) : 0;
  ::close(fd);
  if (n > 0) {
    offset_ += static_cast<uint64_t>(n);
    buf.resize(static_cast<size_t>(n));
  } else {
    buf.clear();
  }
  size_t pos = 0;
  while (pos < buf.size()) {
    size_t nl = buf.find('\n', pos);
    std::string_view piece(buf.data() + pos, (nl == std::string::npos ? buf.size() : nl) - pos);
    pos = nl == std::string::npos ? buf.size() : nl + 1;
    if (skipping_) {
      if (nl != std::string::npos) skipping_ = false;
      continue;
    }
    partial_.append(piece);
    if (partial_.size() > kMaxMetricsLineBytes) {
      Note(notes, fmt::format("a line longer than {} bytes was dropped", kMaxMetricsLineBytes));
      partial_.clear();
      skipping_ = nl == std::string::npos;
      continue;
    }
    if (nl == std::string::npos) break;  // incomplete: wait for the rest
    std::string line = std::move(partial_);
    partial_.clear();
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank line
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      Note(notes, fmt::format("a line that is not one JSON object was dropped: {}", line.substr(0, 80)));
      continue;
    }
    out += j.dump();  // one line, normalised
    out += '\n';
  }
  // A final poll reads everything that is left, then a torn last line is dropped.
  if (final && n > 0 && static_cast<size_t>(n) == max_bytes) out += Poll(true, notes, max_bytes);
  else if (final && !partial_.empty()) {
    Note(notes, fmt::format("an unfinished last line ({} bytes, no newline) was dropped", partial_.size()));
    partial_.clear();
  }
  return out;
}

}  // namespace ritsu::worker
