// An in-memory FileSystem for tests that can fail any operation and simulate a crash.
//
// It models what a crash can lose on a POSIX file system: a file's bytes survive only up to its
// last fsync, and a directory's entries (creations, renames, removals inside it) only up to the
// directory's last fsync. Crash() reverts everything to that durable state, so a test can check
// that a writer leaves either the old or the new contents under the final name, never a torn or
// vanished file. Paths are "/"-separated and absolute ("/d/f"); "/" always exists.
// Not thread-safe.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/fs.h"

namespace ritsu {

class FaultInjectingFileSystem final : public FileSystem {
 public:
  enum class Op { kCreate, kAppend, kSync, kRename, kSyncPath };

  FaultInjectingFileSystem();
  ~FaultInjectingFileSystem() override;

  // The `nth` (1-based, counted from now) call of `op` fails with errno `err`. A failing Append
  // first writes half of its data (a short write, as a full disk does).
  void FailNth(Op op, int nth, int err);
  // Counts of calls so far, per operation.
  int Calls(Op op) const;

  // Test setup and inspection.
  void MakeDirDurable(const std::string& dir);  // mkdir -p, everything synced
  void PutDurableFile(const std::string& path, const std::string& contents);
  std::optional<std::string> Contents(const std::string& path) const;  // nullopt when absent
  // Reverts every file and directory to its last synced state (a power cut).
  void Crash();

  Result<std::unique_ptr<WritableFile>> NewFile(const std::string& path, unsigned mode) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status SyncPath(const std::string& path) override;
  Status RemoveFile(const std::string& path) override;
  Status RemoveAll(const std::string& path) override;
  bool Exists(const std::string& path) override;
  bool IsDirectory(const std::string& path) override;
  Result<std::vector<std::string>> List(const std::string& dir) override;

  struct Inode;

 private:
  friend class FaultFile;
  Status Inject(Op op, const std::string& path);
  std::shared_ptr<Inode> Lookup(const std::string& path) const;

  std::shared_ptr<Inode> root_;
  std::map<Op, int> calls_;
  std::map<Op, std::pair<int, int>> failures_;  // op -> (call number, errno)
};

}  // namespace ritsu
