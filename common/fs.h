// The file-system seam for durable writes: the few operations "write a temporary file, fsync it,
// rename it into place, fsync the directory" needs, behind an interface so that tests can fail
// any of them (ENOSPC on the Nth write, EIO on fsync) and simulate a crash that drops whatever
// was not synced (common/fault_fs.h). DefaultFileSystem() is the real POSIX one.
//
// Errors are IOError statuses whose message names the operation, the path and the errno text:
// "fsync /out/metrics.json.tmp.12.0: No space left on device (errno 28)".
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ritsu {

// A file open for writing. Close() is called by its owner; the destructor only releases.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  virtual Status Sync() = 0;  // fsync: the data written so far survives a crash
  virtual Status Close() = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Creates `path`, which must not exist (O_EXCL: never follows a planted link), with exactly
  // the permission bits `mode` (not reduced by the umask).
  virtual Result<std::unique_ptr<WritableFile>> NewFile(const std::string& path, unsigned mode) = 0;
  // rename(2): atomically replaces a file `to`; a directory `to` must be absent or empty.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // fsync of a file written by other means (a copied tokenizer file) or of a directory (its
  // entries: creations and renames inside it survive a crash).
  virtual Status SyncPath(const std::string& path) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // rm -r; absent is not an error.
  virtual Status RemoveAll(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
  virtual bool IsDirectory(const std::string& path) = 0;
  // Names (not paths) of the entries of a directory.
  virtual Result<std::vector<std::string>> List(const std::string& dir) = 0;
};

// The real file system (POSIX calls). Thread-safe; lives for the whole process.
FileSystem& DefaultFileSystem();

// "a/b/c" -> "a/b"; "c" -> "."; "/c" -> "/".
std::string ParentDir(const std::string& path);

}  // namespace ritsu
