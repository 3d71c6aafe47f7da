// The worker's spool: messages for the scheduler (log chunks, "finished" reports) that it has
// not acknowledged yet, kept in an append-only file so that a scheduler outage, or a worker
// restart, loses nothing. The agent appends a message before sending it, resends everything
// pending after each (re)connect, and records the scheduler's ack.
//
// File format (<dir>/spool.log), a sequence of records, integers little-endian:
//   u32 crc32 (zlib) of everything after this field | u32 payload length | u8 type | u64 seq |
//   payload bytes
// Types: 1 = message (payload = the encoded message), 2 = ack (payload empty: seq acked),
//        3 = base (the file was compacted; seq numbering continues from seq + 1).
// Reopen replays the file; a torn or corrupt tail (crash mid-write) ends the replay and is cut
// off, so every record before it survives.
//
// Durability: Append(sync=true) and Sync() fdatasync before returning. The agent syncs each
// "finished" report (it decides whether a task ran), and log chunks within ~150 ms (the agent loop syncs
// when 100 ms have passed, checking every 50 ms) or with the next report, whichever is first: a
// power loss can lose the last ~150 ms of log lines, never a reported result.
// Acks are not synced: losing one only causes a duplicate resend, which the scheduler ignores
// (it keys chunks by offset and results by attempt).
//
// Compaction: when every message is acked and the file is over the size limit it is rewritten
// (temp file + rename) to hold only a base record and the pending messages.
//
// File writes go through SpoolFs so tests can make the disk "full" (ENOSPC) and give the space
// back. A failed Append leaves the file as it was (a partial record is cut off again).
//
// Not thread-safe: the agent's event loop owns it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ritsu::worker {

// The spool's writes to its file, as the system calls: -1 and errno on failure.
class SpoolFs {
 public:
  virtual ~SpoolFs() = default;
  virtual ssize_t Write(int fd, const void* data, size_t n) = 0;
  virtual int DataSync(int fd) = 0;
};
// write(2) and fdatasync(2).
SpoolFs* RealSpoolFs();

class Spool {
 public:
  // fs: nullptr = RealSpoolFs(); otherwise must outlive the spool.
  static Result<std::unique_ptr<Spool>> Open(const std::string& dir, uint64_t compact_bytes = 8 << 20,
                                             SpoolFs* fs = nullptr);
  ~Spool();

  // Appends a message; returns its sequence number (increasing, never reused).
  Result<uint64_t> Append(std::string_view payload, bool sync);
  Status Sync();
  // The seq the next Append will return (lets the caller put it inside the payload).
  uint64_t next_seq() const { return next_seq_; }
  // Marks seq as delivered. Unknown / already acked seqs are ignored.
  Status Ack(uint64_t seq);

  // Messages not acked yet, by seq.
  const std::map<uint64_t, std::string>& pending() const { return pending_; }
  uint64_t file_bytes() const { return file_bytes_; }
  // Bytes cut off a torn tail at Open (0 for a clean file): reported in the worker's log.
  uint64_t discarded_tail_bytes() const { return discarded_tail_; }

  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

 private:
  Spool() = default;
  Status Replay();
  Status WriteRecord(uint8_t type, uint64_t seq, std::string_view payload);
  Status MaybeCompact();

  std::string path_;
  SpoolFs* fs_ = nullptr;
  int fd_ = -1;
  uint64_t next_seq_ = 1;
  uint64_t file_bytes_ = 0;
  uint64_t compact_bytes_ = 0;
  uint64_t discarded_tail_ = 0;
  std::map<uint64_t, std::string> pending_;
};

}  // namespace ritsu::worker
