#include "worker/line_splitter.h"

namespace ritsu::worker {

void LineSplitter::Feed(std::string_view bytes) {
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    size_t take = nl == std::string_view::npos ? bytes.size() : nl + 1;
    // Never hold more than max_line_ bytes: an endless line is cut into max_line_ pieces.
    size_t room = max_line_ - partial_.size();
    if (take > room) take = room;
    bool complete = take > 0 && bytes[take - 1] == '\n';
    if (partial_.empty() && complete) {
      on_line_(bytes.substr(0, take));  // common case: no copy
    } else {
      partial_.append(bytes.substr(0, take));
      if (complete || partial_.size() >= max_line_) {
        on_line_(partial_);
        partial_.clear();
      }
    }
    bytes.remove_prefix(take);
  }
}

void LineSplitter::Flush() {
  if (partial_.empty()) return;
  on_line_(partial_);
  partial_.clear();
}

}  // namespace ritsu::worker
