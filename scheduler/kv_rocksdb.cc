// RocksDB implementation of Kv.
#include <cstdarg>
#include <cstdio>

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/write_batch.h>

#include "common/log.h"
#include "scheduler/kv.h"

namespace ritsu::sched {
namespace {

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsNoSpace() || s.ToString().find("No space left") != std::string::npos) {
    return NoSpaceError(what + ": " + s.ToString() + " (free space on the data dir's filesystem)");
  }
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  if (s.IsNotFound()) return Status::NotFound(what + ": " + s.ToString());
  return Status::IOError(what + ": " + s.ToString());
}

// RocksDB's own diagnostics go to ritsud's log, warnings and up only. Its default info LOG file
// lives in the data dir: on a full disk a failed LOG write makes the next one abort the process
// (an assertion in RocksDB's WritableFileWriter, seen with Debian's build), so it must not
// write there.
class RocksLogger : public rocksdb::Logger {
 public:
  RocksLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override { Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap); }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char buf[1024];
    std::vsnprintf(buf, sizeof buf, format, ap);
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) log::Error("rocksdb: {}", buf);
    else log::Warn("rocksdb: {}", buf);
  }
};

class RocksCursor : public Cursor {
 public:
  // `lower`/`upper` are owned here because ReadOptions' iterate bounds point at them for the
  // iterator's whole life; the iterator must be created after this object holds them.
  RocksCursor(std::string lower, std::string upper, bool reverse)
      : lower_(std::move(lower)), upper_(std::move(upper)), lower_slice_(lower_),
        upper_slice_(upper_), reverse_(reverse) {}
  void Open(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower_slice_;
    if (!upper_.empty()) ro.iterate_upper_bound = &upper_slice_;
    it_.reset(db->NewIterator(ro, cf));
    if (reverse_) it_->SeekToLast(); else it_->Seek(lower_slice_);
  }
  bool Valid() const override { return it_->Valid(); }
  std::string_view key() const override { auto k = it_->key(); return {k.data(), k.size()}; }
  std::string_view value() const override { auto v = it_->value(); return {v.data(), v.size()}; }
  void Next() override { if (reverse_) it_->Prev(); else it_->Next(); }
  Status status() const override { return FromRocks(it_->status(), "scanning the store"); }

 private:
  std::string lower_, upper_;
  rocksdb::Slice lower_slice_, upper_slice_;
  bool reverse_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

class RocksKv : public Kv {
 public:
  RocksKv(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> cfs)
      : db_(std::move(db)), cfs_(std::move(cfs)) {}
  ~RocksKv() override {
    for (auto* h : cfs_) db_->DestroyColumnFamilyHandle(h);
    db_->Close().PermitUncheckedError();  // nothing to do about a failed close at exit
  }

  Status Resume() override {
    rocksdb::Status s = db_->Resume();
    // Busy: RocksDB's own recovery (it polls free space after a no-space error) is under way;
    // it clears the error by itself once there is room, and the next write tells.
    if (s.IsBusy()) return Status::Ok();
    return FromRocks(s, "resuming writes to the store");
  }

  Status Write(const Batch& batch, bool sync) override {
    rocksdb::WriteBatch wb;
    for (const auto& op : batch.ops()) {
      auto* h = cfs_[static_cast<int>(op.cf)];
      rocksdb::Status s = op.erase ? wb.Delete(h, op.key) : wb.Put(h, op.key, op.value);
      if (!s.ok()) return FromRocks(s, "building a write batch");
    }
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    return FromRocks(db_->Write(wo, &wb), "writing to the store");
  }

  Result<std::optional<std::string>> Get(Cf cf, std::string_view key) override {
    std::string v;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cfs_[static_cast<int>(cf)],
                                 rocksdb::Slice(key.data(), key.size()), &v);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromRocks(s, fmt::format("reading {}", CfName(cf)));
    return std::optional<std::string>(std::move(v));
  }

  std::unique_ptr<Cursor> Scan(Cf cf, std::string_view start, std::string_view end,
                               bool reverse) override {
    auto c = std::make_unique<RocksCursor>(std::string(start), std::string(end), reverse);
    c->Open(db_.get(), cfs_[static_cast<int>(cf)]);
    return c;
  }

  Result<std::optional<std::pair<std::string, std::string>>> Floor(
      Cf cf, std::string_view key, std::string_view prefix) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cfs_[static_cast<int>(cf)]));
    it->SeekForPrev(rocksdb::Slice(key.data(), key.size()));
    if (!it->status().ok()) return FromRocks(it->status(), "reading the store");
    if (!it->Valid() || !it->key().starts_with(rocksdb::Slice(prefix.data(), prefix.size()))) {
      return std::optional<std::pair<std::string, std::string>>();
    }
    return std::optional<std::pair<std::string, std::string>>(
        std::make_pair(it->key().ToString(), it->value().ToString()));
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;
};

}  // namespace

Result<std::unique_ptr<Kv>> OpenRocksKv(const std::string& dir) {
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.create_missing_column_families = true;
  opts.info_log = std::make_shared<RocksLogger>();
  // Two cores: one background job for flush and compaction keeps the event loop's core free.
  opts.max_background_jobs = 2;
  opts.IncreaseParallelism(2);
  // The WAL is the durability point. Restart time after a crash is dominated by replaying it,
  // so memtables are flushed once the WALs hold 32 MiB: replay stays well under a second while
  // bursts still batch into few flushes.
  opts.write_buffer_size = 16 << 20;
  opts.max_total_wal_size = 32 << 20;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf_opts(opts);
  cf_opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  descs.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_opts);
  for (int i = 0; i < kNumCfs; ++i) descs.emplace_back(CfName(static_cast<Cf>(i)), cf_opts);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(rocksdb::DBOptions(opts), dir, descs, &handles, &raw);
  if (!s.ok()) {
    std::string m = s.ToString();
    if (m.find("lock") != std::string::npos || m.find("LOCK") != std::string::npos) {
      return Status::FailedPrecondition(fmt::format(
          "data dir {} is locked by another process (is another ritsud running on it?): {}", dir, m));
    }
    return FromRocks(s, fmt::format("opening data dir {}", dir));
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  db->DestroyColumnFamilyHandle(handles[0]);  // the default family is unused
  handles.erase(handles.begin());
  return std::unique_ptr<Kv>(new RocksKv(std::move(db), std::move(handles)));
}

}  // namespace ritsu::sched
