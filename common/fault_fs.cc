#include "common/fault_fs.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace ritsu {

struct FaultInjectingFileSystem::Inode {
  bool dir = false;
  std::string data, synced_data;                                     // files
  std::map<std::string, std::shared_ptr<Inode>> entries, synced_entries;  // directories
};

namespace {

using Inode = FaultInjectingFileSystem::Inode;

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

std::string BaseName(const std::string& path) {
  auto parts = Split(path);
  return parts.empty() ? "" : parts.back();
}

Status Err(const char* op, const std::string& path, int err) {
  return Status::IOError(fmt::format("{} {}: {} (errno {})", op, path, std::strerror(err), err));
}

void RevertTree(const std::shared_ptr<Inode>& n) {
  if (!n->dir) {
    n->data = n->synced_data;
    return;
  }
  n->entries = n->synced_entries;
  for (auto& [name, child] : n->entries) RevertTree(child);
}

}  // namespace

class FaultFile final : public WritableFile {
 public:
  FaultFile(FaultInjectingFileSystem* fs, std::string path, std::shared_ptr<Inode> inode)
      : fs_(fs), path_(std::move(path)), inode_(std::move(inode)) {}
  Status Append(std::string_view data) override {
    if (Status st = fs_->Inject(FaultInjectingFileSystem::Op::kAppend, path_); !st.ok()) {
      inode_->data.append(data.substr(0, data.size() / 2));
      return st;
    }
    inode_->data.append(data);
    return Status::Ok();
  }
  Status Sync() override {
    RITSU_RETURN_IF_ERROR(fs_->Inject(FaultInjectingFileSystem::Op::kSync, path_));
    inode_->synced_data = inode_->data;
    return Status::Ok();
  }
  Status Close() override { return Status::Ok(); }

 private:
  FaultInjectingFileSystem* fs_;
  std::string path_;
  std::shared_ptr<Inode> inode_;
};

FaultInjectingFileSystem::FaultInjectingFileSystem() : root_(std::make_shared<Inode>()) { root_->dir = true; }
FaultInjectingFileSystem::~FaultInjectingFileSystem() = default;

void FaultInjectingFileSystem::FailNth(Op op, int nth, int err) { failures_[op] = {calls_[op] + nth, err}; }

int FaultInjectingFileSystem::Calls(Op op) const {
  auto it = calls_.find(op);
  return it == calls_.end() ? 0 : it->second;
}

Status FaultInjectingFileSystem::Inject(Op op, const std::string& path) {
  const int n = ++calls_[op];
  auto it = failures_.find(op);
  if (it == failures_.end() || it->second.first != n) return Status::Ok();
  const int err = it->second.second;
  failures_.erase(it);
  static const char* kNames[] = {"creating", "write", "fsync", "rename", "fsync"};
  return Err(kNames[static_cast<int>(op)], path, err);
}

std::shared_ptr<Inode> FaultInjectingFileSystem::Lookup(const std::string& path) const {
  std::shared_ptr<Inode> n = root_;
  for (const auto& part : Split(path)) {
    if (!n->dir) return nullptr;
    auto it = n->entries.find(part);
    if (it == n->entries.end()) return nullptr;
    n = it->second;
  }
  return n;
}

void FaultInjectingFileSystem::MakeDirDurable(const std::string& dir) {
  std::shared_ptr<Inode> n = root_;
  for (const auto& part : Split(dir)) {
    auto& child = n->entries[part];
    if (!child) {
      child = std::make_shared<Inode>();
      child->dir = true;
    }
    n->synced_entries[part] = child;
    n = child;
  }
}

void FaultInjectingFileSystem::PutDurableFile(const std::string& path, const std::string& contents) {
  MakeDirDurable(ParentDir(path));
  auto parent = Lookup(ParentDir(path));
  auto f = std::make_shared<Inode>();
  f->data = f->synced_data = contents;
  parent->entries[BaseName(path)] = f;
  parent->synced_entries[BaseName(path)] = f;
}

std::optional<std::string> FaultInjectingFileSystem::Contents(const std::string& path) const {
  auto n = Lookup(path);
  if (!n || n->dir) return std::nullopt;
  return n->data;
}

void FaultInjectingFileSystem::Crash() { RevertTree(root_); }

Result<std::unique_ptr<WritableFile>> FaultInjectingFileSystem::NewFile(const std::string& path, unsigned) {
  RITSU_RETURN_IF_ERROR(Inject(Op::kCreate, path));
  auto parent = Lookup(ParentDir(path));
  if (!parent || !parent->dir) return Err("creating", path, ENOENT);
  if (parent->entries.count(BaseName(path))) return Err("creating", path, EEXIST);
  auto f = std::make_shared<Inode>();
  parent->entries[BaseName(path)] = f;
  return std::unique_ptr<WritableFile>(new FaultFile(this, path, f));
}

Status FaultInjectingFileSystem::Rename(const std::string& from, const std::string& to) {
  RITSU_RETURN_IF_ERROR(Inject(Op::kRename, from + " -> " + to));
  auto src_parent = Lookup(ParentDir(from)), dst_parent = Lookup(ParentDir(to));
  auto src = Lookup(from);
  if (!src || !dst_parent || !dst_parent->dir) return Err("rename", from + " -> " + to, ENOENT);
  if (auto dst = Lookup(to)) {
    if (dst->dir != src->dir) return Err("rename", from + " -> " + to, dst->dir ? EISDIR : ENOTDIR);
    if (dst->dir && !dst->entries.empty()) return Err("rename", from + " -> " + to, ENOTEMPTY);
  }
  src_parent->entries.erase(BaseName(from));
  dst_parent->entries[BaseName(to)] = src;
  return Status::Ok();
}

Status FaultInjectingFileSystem::SyncPath(const std::string& path) {
  RITSU_RETURN_IF_ERROR(Inject(Op::kSyncPath, path));
  auto n = Lookup(path);
  if (!n) return Err("opening for fsync", path, ENOENT);
  if (n->dir) n->synced_entries = n->entries;
  else n->synced_data = n->data;
  return Status::Ok();
}

Status FaultInjectingFileSystem::RemoveFile(const std::string& path) {
  auto parent = Lookup(ParentDir(path));
  auto n = Lookup(path);
  if (!n || n->dir) return Err("unlink", path, n ? EISDIR : ENOENT);
  parent->entries.erase(BaseName(path));
  return Status::Ok();
}

Status FaultInjectingFileSystem::RemoveAll(const std::string& path) {
  auto parent = Lookup(ParentDir(path));
  if (parent && parent->dir) parent->entries.erase(BaseName(path));
  return Status::Ok();
}

bool FaultInjectingFileSystem::Exists(const std::string& path) { return Lookup(path) != nullptr; }

bool FaultInjectingFileSystem::IsDirectory(const std::string& path) {
  auto n = Lookup(path);
  return n && n->dir;
}

Result<std::vector<std::string>> FaultInjectingFileSystem::List(const std::string& dir) {
  auto n = Lookup(dir);
  if (!n || !n->dir) return Err("listing", dir, ENOENT);
  std::vector<std::string> names;
  for (const auto& [name, child] : n->entries) names.push_back(name);
  return names;
}

}  // namespace ritsu
