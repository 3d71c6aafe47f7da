// Splits a byte stream (a child's stdout or stderr) into lines as the bytes arrive, so logs
// reach the scheduler line by line instead of in arbitrary pipe-sized pieces.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace ritsu::worker {

class LineSplitter {
 public:
  // Called with each complete line INCLUDING its trailing '\n' (so byte offsets stay exact),
  // a piece of max_line bytes when a line grows longer than that (memory stays bounded), or the
  // unterminated rest at Flush().
  using LineFn = std::function<void(std::string_view)>;

  explicit LineSplitter(LineFn on_line, size_t max_line = 64 * 1024)
      : on_line_(std::move(on_line)), max_line_(max_line) {}

  void Feed(std::string_view bytes);
  // Emits a partial final line, if any (end of stream).
  void Flush();
  size_t buffered() const { return partial_.size(); }

 private:
  LineFn on_line_;
  size_t max_line_;
  std::string partial_;
};

}  // namespace ritsu::worker
