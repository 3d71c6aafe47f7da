#include "worker/spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

namespace ritsu::worker {
namespace {

constexpr uint8_t kMessage = 1, kAck = 2, kBase = 3;
constexpr size_t kHeaderBytes = 4 + 4 + 1 + 8;
// A record claiming more than this is corruption, not a message (messages are < 16 MiB).
constexpr uint32_t kMaxPayload = 64u << 20;

void PutU32(std::string& s, uint32_t v) { for (int i = 0; i < 4; ++i) s.push_back(char(v >> (8 * i))); }
void PutU64(std::string& s, uint64_t v) { for (int i = 0; i < 8; ++i) s.push_back(char(v >> (8 * i))); }
uint32_t GetU32(const char* p) { uint32_t v = 0; for (int i = 0; i < 4; ++i) v |= uint32_t(uint8_t(p[i])) << (8 * i); return v; }
uint64_t GetU64(const char* p) { uint64_t v = 0; for (int i = 0; i < 8; ++i) v |= uint64_t(uint8_t(p[i])) << (8 * i); return v; }

uint32_t Crc(std::string_view bytes) {
  return uint32_t(crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), uInt(bytes.size())));
}

std::string EncodeRecord(uint8_t type, uint64_t seq, std::string_view payload) {
  std::string body;
  PutU32(body, uint32_t(payload.size()));
  body.push_back(char(type));
  PutU64(body, seq);
  body.append(payload);
  std::string rec;
  PutU32(rec, Crc(body));
  rec += body;
  return rec;
}

class RealFs : public SpoolFs {
 public:
  ssize_t Write(int fd, const void* data, size_t n) override { return ::write(fd, data, n); }
  int DataSync(int fd) override { return ::fdatasync(fd); }
};

Status WriteAll(SpoolFs* fs, int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = fs->Write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError(fmt::format("writing spool {}: {}", path, std::strerror(errno)));
    data.remove_prefix(size_t(n));
  }
  return Status::Ok();
}

}  // namespace

SpoolFs* RealSpoolFs() {
  static RealFs fs;
  return &fs;
}

Result<std::unique_ptr<Spool>> Spool::Open(const std::string& dir, uint64_t compact_bytes, SpoolFs* fs) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError(fmt::format("cannot create spool dir {}: {} (pass a writable --spool-dir)", dir, ec.message()));
  std::unique_ptr<Spool> s(new Spool());
  s->path_ = (std::filesystem::path(dir) / "spool.log").string();
  s->compact_bytes_ = compact_bytes;
  s->fs_ = fs ? fs : RealSpoolFs();
  s->fd_ = ::open(s->path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (s->fd_ < 0)
    return Status::IOError(fmt::format("cannot open spool {}: {} (pass a writable --spool-dir)", s->path_, std::strerror(errno)));
  RITSU_RETURN_IF_ERROR(s->Replay());
  return s;
}

Spool::~Spool() {
  if (fd_ >= 0) ::close(fd_);
}

Status Spool::Replay() {
  std::string data;
  char buf[1 << 16];
  if (::lseek(fd_, 0, SEEK_SET) < 0) return Status::IOError(fmt::format("seek {}: {}", path_, std::strerror(errno)));
  for (;;) {
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError(fmt::format("reading spool {}: {}", path_, std::strerror(errno)));
    if (n == 0) break;
    data.append(buf, size_t(n));
  }
  size_t pos = 0;
  while (data.size() - pos >= kHeaderBytes) {
    const char* p = data.data() + pos;
    uint32_t crc = GetU32(p);
    uint32_t len = GetU32(p + 4);
    if (len > kMaxPayload || data.size() - pos - kHeaderBytes < len) break;
    std::string_view body(p + 4, kHeaderBytes - 4 + len);
    if (Crc(body) != crc) break;
    uint8_t type = uint8_t(p[8]);
    uint64_t seq = GetU64(p + 9);
    std::string_view payload(p + kHeaderBytes, len);
    if (type == kMessage) pending_[seq] = std::string(payload);
    else if (type == kAck) pending_.erase(seq);
    else if (type != kBase) break;  // unknown type: treat as corruption from here on
    next_seq_ = std::max(next_seq_, seq + 1);
    pos += kHeaderBytes + len;
  }
  discarded_tail_ = data.size() - pos;
  if (discarded_tail_ > 0) {
    // Cut the torn tail so new records follow the last good one.
    if (::ftruncate(fd_, off_t(pos)) != 0 || ::fdatasync(fd_) != 0)
      return Status::IOError(fmt::format("truncating torn tail of spool {}: {}", path_, std::strerror(errno)));
  }
  file_bytes_ = pos;
  if (::lseek(fd_, off_t(pos), SEEK_SET) < 0) return Status::IOError(fmt::format("seek {}: {}", path_, std::strerror(errno)));
  return Status::Ok();
}

Status Spool::WriteRecord(uint8_t type, uint64_t seq, std::string_view payload) {
  std::string rec = EncodeRecord(type, seq, payload);
  Status st = WriteAll(fs_, fd_, rec, path_);
  if (!st.ok()) {
    // Do not leave half a record that later records would follow: cut back to the last good one.
    if (::ftruncate(fd_, off_t(file_bytes_)) == 0) ::lseek(fd_, off_t(file_bytes_), SEEK_SET);
    return st;
  }
  file_bytes_ += rec.size();
  return Status::Ok();
}

Result<uint64_t> Spool::Append(std::string_view payload, bool sync) {
  if (payload.size() > kMaxPayload)
    return Status::InvalidArgument(fmt::format("spool message of {} bytes exceeds the {} byte limit", payload.size(), kMaxPayload));
  uint64_t seq = next_seq_;
  RITSU_RETURN_IF_ERROR(WriteRecord(kMessage, seq, payload));
  ++next_seq_;
  if (sync) {
    Status st = Sync();
    if (!st.ok()) {
      // Not durable, so not appended: cut the record off again; the caller retries it whole.
      file_bytes_ -= kHeaderBytes + payload.size();
      if (::ftruncate(fd_, off_t(file_bytes_)) == 0) ::lseek(fd_, off_t(file_bytes_), SEEK_SET);
      --next_seq_;
      return st;
    }
  }
  pending_[seq] = std::string(payload);
  return seq;
}

Status Spool::Sync() {
  if (fs_->DataSync(fd_) != 0) return Status::IOError(fmt::format("fdatasync spool {}: {}", path_, std::strerror(errno)));
  return Status::Ok();
}

Status Spool::Ack(uint64_t seq) {
  if (pending_.erase(seq) == 0) return Status::Ok();
  RITSU_RETURN_IF_ERROR(WriteRecord(kAck, seq, {}));
  return MaybeCompact();
}

Status Spool::MaybeCompact() {
  if (file_bytes_ < compact_bytes_ || !pending_.empty()) return Status::Ok();
  std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(fmt::format("compacting spool: open {}: {}", tmp, std::strerror(errno)));
  std::string rec = EncodeRecord(kBase, next_seq_ - 1, {});
  Status st = WriteAll(fs_, fd, rec, tmp);
  if (st.ok() && fs_->DataSync(fd) != 0) st = Status::IOError(fmt::format("fdatasync {}: {}", tmp, std::strerror(errno)));
  if (st.ok() && ::rename(tmp.c_str(), path_.c_str()) != 0)
    st = Status::IOError(fmt::format("rename {} -> {}: {}", tmp, path_, std::strerror(errno)));
  if (!st.ok()) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return st;
  }
  // Make the rename itself durable before the old file's records are forgotten.
  int dfd = ::open(std::filesystem::path(path_).parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) { ::fsync(dfd); ::close(dfd); }
  ::close(fd_);
  fd_ = fd;
  ::lseek(fd_, 0, SEEK_END);
  file_bytes_ = rec.size();
  return Status::Ok();
}

}  // namespace ritsu::worker
