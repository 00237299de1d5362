#include <cstdlib>
#include <map>

#include <rocksdb/db.h>
#include <rocksdb/file_checksum.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/write_batch.h>

#include "batch_writes.h"

namespace kase::projections {
namespace {

Status from_rocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return {};
  const Errc code = s.IsCorruption() ? Errc::corruption : s.IsNotFound() ? Errc::not_found : Errc::io_error;
  return {code, std::string(what) + ": " + s.ToString()};
}

rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }

/// The embedded default: one RocksDB with a column family per Family. The log
/// family is the embedded EventLog; every batch is one WriteBatch.
class RocksStore final : public Store {
 public:
  RocksStore(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles, bool sync)
      : db_(std::move(db)), handles_(std::move(handles)), durable_(sync) {}
  ~RocksStore() override {
    for (auto* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
    (void)db_->Close();
  }

  Status load_meta(Meta* meta) override {
    std::string v;
    auto s = db_->Get({}, cf(Family::meta), slice(kMetaNextOffset), &v);
    if (s.ok()) meta->next_offset = offset_from_key(v);
    else if (!s.IsNotFound()) return from_rocks(s, "read next offset");
    return {};
  }

  Status load(engine::State* state, Meta* meta) override {
    std::string v;
    auto s = db_->Get({}, cf(Family::meta), slice(kMetaNextOffset), &v);
    if (s.ok()) meta->next_offset = offset_from_key(v);
    else if (!s.IsNotFound()) return from_rocks(s, "read next offset");
    s = db_->Get({}, cf(Family::meta), slice(kMetaChainHead), &v);
    if (s.ok()) {
      if (v.size() != 32) return {Errc::corruption, "chain head is not 32 bytes"};
      std::copy(v.begin(), v.end(), meta->chain_head.begin());
    } else if (!s.IsNotFound()) {
      return from_rocks(s, "read chain head");
    }
    s = db_->Get({}, cf(Family::meta), slice(kMetaSourceNext), &v);
    if (s.ok()) {
      if (v.size() != 8) return {Errc::corruption, "applied source offset is not 8 bytes"};
      meta->source_next = offset_from_key(v);
    } else if (!s.IsNotFound()) {
      return from_rocks(s, "read applied source offset");
    }
    s = db_->Get({}, cf(Family::meta), slice(kMetaSettings), &v);
    if (s.ok()) {
      if (Status st = decode_settings(v, state); !st.ok()) return st;
    } else if (!s.IsNotFound()) {
      return from_rocks(s, "read settings");
    }
    Status result;
    Status scan = scan_state([&](Family f, std::string_view k, std::string_view val) {
      if (result.ok()) result = decode_entry(f, k, val, state);
    });
    if (!scan.ok()) return scan;
    return result;
  }

  Status load_request_ids(const std::function<void(std::string_view, uint64_t)>& fn) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, cf(Family::request_ids)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (!for_each_id(std::string_view(it->value().data(), it->value().size()),
                       offset_from_key(std::string_view(it->key().data(), it->key().size())), fn))
        return {Errc::corruption, "request ids do not decode"};
    }
    return from_rocks(it->status(), "scan request ids");
  }

  Status sync() override {
    if (!durable_) return {};
    return from_rocks(db_->SyncWAL(), "sync WAL");
  }

  Status commit(const Batch& b, Sync when) override {
    rocksdb::WriteBatch wb(b.segment().size() + b.ids().size() + 64 * b.dirty.size() + 4096);
    rocksdb::Status put_status;
    for_each_write(b, &scratch_, [&](Family f, std::string_view k, std::string_view v) {
      auto s = wb.Put(cf(f), slice(k), slice(v));
      if (!s.ok() && put_status.ok()) put_status = s;
    });
    if (!put_status.ok()) return from_rocks(put_status, "build write batch");
    rocksdb::WriteOptions wo;
    wo.sync = durable_ && when == Sync::now;
    return from_rocks(db_->Write(wo, &wb), "commit batch");
  }

  Status scan_log(uint64_t from, const std::function<bool(uint64_t, std::span<const uint8_t>)>& fn) override {
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;
    struct Cursor {
      std::unique_ptr<rocksdb::Iterator> it;
      void seek_for_prev(const std::string& k) { it->SeekForPrev(k); }
      void seek_first() { it->SeekToFirst(); }
      bool valid() const { return it->Valid(); }
      std::string_view value() const { return {it->value().data(), it->value().size()}; }
      void next() { it->Next(); }
    } c{std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(ro, cf(Family::log)))};
    Status s = scan_segments(c, from, fn);
    if (!s.ok()) return s;
    return from_rocks(c.it->status(), "scan log");
  }

  Status get_record(uint64_t offset, std::string* out) override { return find_record(*this, offset, out); }

  Status verify_files() override {
    if (Status s = from_rocks(db_->VerifyChecksum(), "verify table checksums"); !s.ok()) return s;
    return from_rocks(db_->VerifyFileChecksums({}), "verify file checksums");
  }

  Status scan_state(const std::function<void(Family, std::string_view, std::string_view)>& fn) override {
    for (size_t i = 0; i < kFamilyCount; ++i) {
      const auto f = static_cast<Family>(i);
      if (!is_state_family(f)) continue;
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, cf(f)));
      for (it->SeekToFirst(); it->Valid(); it->Next())
        fn(f, std::string_view(it->key().data(), it->key().size()),
           std::string_view(it->value().data(), it->value().size()));
      if (!it->status().ok()) return from_rocks(it->status(), "scan state");
    }
    return {};
  }

 private:
  Status stats(StoreStats* out) override {
    *out = StoreStats{};
    auto number = [&](rocksdb::ColumnFamilyHandle* h, const std::string& property, uint64_t* v) -> Status {
      if (db_->GetIntProperty(h, property, v)) return {};
      return {Errc::io_error, "RocksDB property " + property + " not available"};
    };
    for (auto* h : handles_) {
      uint64_t v = 0;
      if (Status s = number(h, rocksdb::DB::Properties::kEstimateLiveDataSize, &v); !s.ok()) return s;
      out->live_data_bytes += v;
      if (Status s = number(h, rocksdb::DB::Properties::kLiveSstFilesSize, &v); !s.ok()) return s;
      out->live_sst_bytes += v;
      if (Status s = number(h, rocksdb::DB::Properties::kCompactionPending, &v); !s.ok()) return s;
      out->compaction_pending = out->compaction_pending || v != 0;
      std::map<std::string, std::string> cfstats;
      if (!db_->GetMapProperty(h, rocksdb::DB::Properties::kCFStats, &cfstats))
        return {Errc::io_error, "RocksDB property rocksdb.cfstats not available"};
      for (const char* key : {"io_stalls.total_stop", "io_stalls.total_slowdown"}) {
        const auto it = cfstats.find(key);
        if (it == cfstats.end()) return {Errc::io_error, std::string("rocksdb.cfstats has no ") + key};
        out->write_stalls += std::strtoull(it->second.c_str(), nullptr, 10);
      }
    }
    uint64_t v = 0;
    if (Status s = number(cf(Family::log), rocksdb::DB::Properties::kLiveSstFilesSize, &v); !s.ok()) return s;
    out->log_bytes = v;
    if (Status s = number(cf(Family::log), rocksdb::DB::Properties::kCurSizeAllMemTables, &v); !s.ok()) return s;
    out->log_bytes += v;
    if (Status s = number(db_->DefaultColumnFamily(), rocksdb::DB::Properties::kIsWriteStopped, &v); !s.ok()) return s;
    out->write_stopped = v != 0;
    if (Status s = number(db_->DefaultColumnFamily(), rocksdb::DB::Properties::kActualDelayedWriteRate, &v); !s.ok()) return s;
    out->delayed_write_rate = v;
    return {};
  }

  rocksdb::ColumnFamilyHandle* cf(Family f) { return handles_[static_cast<size_t>(f)]; }

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  const bool durable_;  // false: --no-sync, never fsync
  std::string scratch_;
};

}  // namespace

Status open_rocks_store(const std::string& dir, const RocksOptions& opts, std::unique_ptr<Store>* out) {
  rocksdb::Options o;
  o.create_if_missing = opts.create_if_missing;
  o.create_missing_column_families = opts.create_if_missing;
  o.paranoid_checks = true;
  o.max_background_jobs = 2;
  o.compression = rocksdb::kNoCompression;
  o.allow_concurrent_memtable_write = false;  // required by the vector memtable
  // A whole-file checksum of every table file, kept in the manifest: an audit
  // (verify_files) then catches any changed byte, even in blocks never read.
  o.file_checksum_gen_factory = rocksdb::GetFileChecksumGenCrc32cFactory();
  if (opts.read_only) {
    o.create_if_missing = false;
    o.create_missing_column_families = false;
    o.wal_recovery_mode = rocksdb::WALRecoveryMode::kAbsoluteConsistency;
  }
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cfo(o);
  cfo.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cfo.write_buffer_size = 64 << 20;

  // State families are written once per touched key per batch and read only
  // when a data directory is opened: an unsorted vector memtable takes their
  // inserts without the skiplist's random walk (sorted when flushed or read).
  rocksdb::ColumnFamilyOptions state_cfo = cfo;
  state_cfo.memtable_factory.reset(new rocksdb::VectorRepFactory());
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (size_t i = 0; i < kFamilyCount; ++i) {
    const auto f = static_cast<Family>(i);
    descs.emplace_back(family_name(f), is_state_family(f) ? state_cfo : cfo);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = opts.read_only ? rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(o), dir, descs, &handles, &raw)
                          : rocksdb::DB::Open(rocksdb::DBOptions(o), dir, descs, &handles, &raw);
  if (!s.ok()) return from_rocks(s, ("open " + dir).c_str());
  *out = std::make_unique<RocksStore>(std::unique_ptr<rocksdb::DB>(raw), std::move(handles), opts.sync);
  return {};
}

}  // namespace kase::projections
