// The one way ritsu replaces a file or a directory so that a crash, a full disk or a failed
// fsync never leaves a half-written file under the final name:
//
//   file:      write PATH.tmp.<pid>.<n> in the same directory, fsync it, rename it over PATH,
//              fsync the directory (so the rename itself survives a crash);
//   directory: build it under a temporary name, then ReplaceDirAtomic fsyncs every file and
//              directory in it, renames it into place and fsyncs the parent.
//
// On any failure the temporary is removed, the old PATH is untouched and the status names the
// path and the errno. All side effects go through a FileSystem (common/fs.h) so tests can
// inject failures and crashes.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/fs.h"
#include "common/status.h"

namespace ritsu {

// A file written in parts (a multi-GB safetensors file) and committed in one rename.
// Not committed (destroyed early, or an Append failed): the temporary is removed.
class AtomicFileWriter {
 public:
  static Result<AtomicFileWriter> Create(const std::string& path, unsigned mode = 0644,
                                         FileSystem& fs = DefaultFileSystem());
  AtomicFileWriter(AtomicFileWriter&&) noexcept;
  AtomicFileWriter& operator=(AtomicFileWriter&&) = delete;
  ~AtomicFileWriter();

  Status Append(std::string_view data);
  // fsync, close, rename over the final path, fsync its directory.
  Status Commit();
  const std::string& temp_path() const { return tmp_; }

 private:
  AtomicFileWriter(FileSystem& fs, std::string path, std::string tmp, std::unique_ptr<WritableFile> file);
  void Abandon();

  FileSystem* fs_;
  std::string path_, tmp_;
  std::unique_ptr<WritableFile> file_;
  bool done_ = false;
};

// Replaces (or creates) `path` with `bytes`, permission bits `mode`.
Status WriteFileAtomic(const std::string& path, std::string_view bytes, unsigned mode = 0644,
                       FileSystem& fs = DefaultFileSystem());

// Makes the complete directory `tmp_dir` durable (fsync of every file and directory in it)
// and renames it to `final_dir` (a sibling). An existing `final_dir` is first renamed aside to
// `final_dir.old.<pid>` and removed after the rename; if the rename fails it is put back.
// A crash between those two renames leaves `final_dir.old.<pid>` holding the old contents.
Status ReplaceDirAtomic(const std::string& tmp_dir, const std::string& final_dir,
                        FileSystem& fs = DefaultFileSystem());

}  // namespace ritsu
