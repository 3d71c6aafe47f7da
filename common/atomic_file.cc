#include "common/atomic_file.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>

namespace ritsu {
namespace {

// Unique per process and call, so two threads writing the same path never share a temporary.
std::string TempName(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return fmt::format("{}.tmp.{}.{}", path, ::getpid(), counter.fetch_add(1));
}

// fsync of every file and directory below `dir`, children before their parent.
Status SyncTree(FileSystem& fs, const std::string& dir) {
  RITSU_ASSIGN_OR_RETURN(auto names, fs.List(dir));
  for (const auto& n : names) {
    const std::string p = dir + "/" + n;
    if (fs.IsDirectory(p)) {
      RITSU_RETURN_IF_ERROR(SyncTree(fs, p));
    } else {
      RITSU_RETURN_IF_ERROR(fs.SyncPath(p));
    }
  }
  return fs.SyncPath(dir);
}

}  // namespace

Result<AtomicFileWriter> AtomicFileWriter::Create(const std::string& path, unsigned mode, FileSystem& fs) {
  std::string tmp = TempName(path);
  auto file = fs.NewFile(tmp, mode);
  if (!file.ok()) return file.status().Annotate("writing " + path);
  return AtomicFileWriter(fs, path, std::move(tmp), std::move(*file));
}

AtomicFileWriter::AtomicFileWriter(FileSystem& fs, std::string path, std::string tmp,
                                   std::unique_ptr<WritableFile> file)
    : fs_(&fs), path_(std::move(path)), tmp_(std::move(tmp)), file_(std::move(file)) {}

AtomicFileWriter::AtomicFileWriter(AtomicFileWriter&& o) noexcept
    : fs_(o.fs_), path_(std::move(o.path_)), tmp_(std::move(o.tmp_)), file_(std::move(o.file_)), done_(o.done_) {
  o.done_ = true;
}

AtomicFileWriter::~AtomicFileWriter() { Abandon(); }

void AtomicFileWriter::Abandon() {
  if (done_) return;
  done_ = true;
  if (file_) (void)file_->Close();
  file_.reset();
  (void)fs_->RemoveFile(tmp_);  // best effort: the final path is untouched either way
}

Status AtomicFileWriter::Append(std::string_view data) {
  if (done_) return Status::FailedPrecondition("writing " + path_ + ": Append after Commit or a failure");
  Status st = file_->Append(data);
  if (!st.ok()) {
    Abandon();
    return st.Annotate("writing " + path_ + " (the previous file is intact)");
  }
  return Status::Ok();
}

Status AtomicFileWriter::Commit() {
  if (done_) return Status::FailedPrecondition("writing " + path_ + ": Commit after Commit or a failure");
  Status st = file_->Sync();
  if (st.ok()) st = file_->Close();
  if (st.ok()) st = fs_->Rename(tmp_, path_);
  if (!st.ok()) {
    Abandon();
    return st.Annotate("writing " + path_ + " (the previous file is intact)");
  }
  done_ = true;
  file_.reset();
  // The new contents are in place; without this fsync the rename itself could be lost.
  return fs_->SyncPath(ParentDir(path_)).Annotate("writing " + path_);
}

Status WriteFileAtomic(const std::string& path, std::string_view bytes, unsigned mode, FileSystem& fs) {
  RITSU_ASSIGN_OR_RETURN(auto w, AtomicFileWriter::Create(path, mode, fs));
  RITSU_RETURN_IF_ERROR(w.Append(bytes));
  return w.Commit();
}

Status ReplaceDirAtomic(const std::string& tmp_dir, const std::string& final_dir, FileSystem& fs) {
  const std::string what = "replacing " + final_dir + " with " + tmp_dir;
  RITSU_RETURN_IF_ERROR(SyncTree(fs, tmp_dir).Annotate(what));
  const std::string old = fmt::format("{}.old.{}", final_dir, ::getpid());
  const bool replacing = fs.Exists(final_dir);
  if (replacing) {
    RITSU_RETURN_IF_ERROR(fs.RemoveAll(old).Annotate(what));
    RITSU_RETURN_IF_ERROR(fs.Rename(final_dir, old).Annotate(what));
  }
  if (Status st = fs.Rename(tmp_dir, final_dir); !st.ok()) {
    if (replacing) (void)fs.Rename(old, final_dir);
    return st.Annotate(what + " (the previous contents are intact)");
  }
  RITSU_RETURN_IF_ERROR(fs.SyncPath(ParentDir(final_dir)).Annotate(what));
  if (replacing) (void)fs.RemoveAll(old);  // the new directory is durable; the old is garbage
  return Status::Ok();
}

}  // namespace ritsu
