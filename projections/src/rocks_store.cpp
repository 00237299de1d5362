#include <algorithm>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>

#include <rocksdb/db.h>
#include <rocksdb/file_checksum.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/write_batch.h>

#include "batch_writes.h"
#include "log_files.h"

namespace kase::projections {
namespace {

Status from_rocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return {};
  const Errc code = s.IsCorruption() ? Errc::corruption : s.IsNotFound() ? Errc::not_found : Errc::io_error;
  return {code, std::string(what) + ": " + s.ToString()};
}

rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }

/// The embedded default: one RocksDB with a column family per Family, and
/// the log. Durable: the log in segment files (log_files.h), each batch's
/// frame appended, made durable by sync(), and only then its WriteBatch
/// (state, ids, meta and the frame's location) written to RocksDB, in batch
/// order: RocksDB never holds what the log does not. Not durable: the log
/// inline in the log family, one WriteBatch per batch, nothing synced.
class RocksStore final : public Store {
 public:
  RocksStore(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles)
      : db_(std::move(db)), handles_(std::move(handles)) {}
  ~RocksStore() override {
    if (files_writing_) (void)sync();  // never leave a committed batch unrecorded
    for (auto* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
    (void)db_->Close();
  }

  /// Opens the segment files; on a read-write open, finds the frames after
  /// the last one RocksDB recorded (a crash between the two), cuts off a
  /// frame cut short, makes them durable and keeps them for the next commit.
  Status open_log(const std::string& dir, const RocksOptions& opts) {
    if (Status s = LogFiles::open(dir, opts.read_only, opts.log_file_bytes, &files_); !s.ok()) return s;
    if (opts.read_only) return {};
    std::string v;
    FrameLocation end;
    bool from_start = true;
    auto s = db_->Get({}, cf(Family::meta), slice(kMetaLogEnd), &v);
    if (s.ok()) {
      if (!decode_location(v, 0, &end)) return {Errc::corruption, "log end does not decode"};
      from_start = false;
    } else if (!s.IsNotFound()) {
      return from_rocks(s, "read log end");
    }
    std::vector<FrameLocation> tail;
    if (Status st = files_.scan_tail(from_start, end, &tail); !st.ok()) return st;
    if (!tail.empty() || opts.sync) {
      if (Status st = files_.start_writing(); !st.ok()) return st;
      uint64_t covered = 0;
      if (Status st = files_.sync(&covered); !st.ok()) return st;
    }
    unrecorded_ = tail;
    unapplied_.assign(tail.begin(), tail.end());
    files_writing_ = opts.sync;
    return {};
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

  /// Makes every committed batch durable: the segment files first, then
  /// the WriteBatches they cover, in order.
  Status sync() override {
    if (!files_writing_) return {};
    uint64_t covered = 0;
    if (Status s = files_.sync(&covered); !s.ok()) return s;
    return apply_pending(covered);
  }

  Status commit(const Batch& b, Sync when) override {
    rocksdb::WriteBatch wb(b.segment().size() + b.ids().size() + 64 * b.dirty.size() + 4096);
    rocksdb::Status put_status;
    const auto put = [&](Family f, std::string_view k, std::string_view v) {
      auto s = wb.Put(cf(f), slice(k), slice(v));
      if (!s.ok() && put_status.ok()) put_status = s;
    };
    // Frames found after the last recorded one when the store was opened.
    uint64_t recorded_through = kNone;
    for (const FrameLocation& t : unrecorded_) {
      put(Family::log, offset_key(t.first_offset), encode_location(t));
      put(Family::meta, kMetaLogEnd, encode_location(t));
      recorded_through = t.first_offset;
    }
    if (!b.segment().empty()) {
      const std::string k = offset_key(b.first_offset());
      if (files_writing_) {
        FrameLocation loc;
        if (Status s = files_.append(b.segment(), b.first_offset(), b.count(), &loc); !s.ok()) return s;
        const std::string v = encode_location(loc);
        put(Family::log, k, v);
        put(Family::meta, kMetaLogEnd, v);
        recorded_through = loc.first_offset;
        std::lock_guard<std::mutex> lock(pending_mu_);
        unapplied_.push_back(loc);
      } else {
        put(Family::log, k, b.segment());
      }
    }
    unrecorded_.clear();
    for_each_write(b, &scratch_, put);
    if (!put_status.ok()) return from_rocks(put_status, "build write batch");
    if (!files_writing_) {
      if (Status s = from_rocks(db_->Write({}, &wb), "commit batch"); !s.ok()) return s;
      std::lock_guard<std::mutex> lock(pending_mu_);
      drop_unapplied(recorded_through);
      return {};
    }
    {
      std::lock_guard<std::mutex> lock(pending_mu_);
      pending_.push_back({std::move(wb), files_.appended(), recorded_through});
    }
    return when == Sync::now ? sync() : Status{};
  }

  Status scan_log(uint64_t from, const std::function<bool(uint64_t, std::span<const uint8_t>)>& fn) override {
    // Frames not yet recorded in RocksDB, taken before the iterator: one
    // recorded meanwhile is then seen twice and skipped the second time.
    std::vector<FrameLocation> unapplied;
    {
      std::lock_guard<std::mutex> lock(pending_mu_);
      unapplied.assign(unapplied_.begin(), unapplied_.end());
    }
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;
    struct Cursor {
      std::unique_ptr<rocksdb::Iterator> it;
      void seek_for_prev(const std::string& k) { it->SeekForPrev(k); }
      void seek_first() { it->SeekToFirst(); }
      bool valid() const { return it->Valid(); }
      std::string_view key() const { return {it->key().data(), it->key().size()}; }
      std::string_view value() const { return {it->value().data(), it->value().size()}; }
      void next() { it->Next(); }
    } c{std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(ro, cf(Family::log)))};
    uint64_t next = 0;
    bool stopped = false;
    Status s = scan_segments(
        c, from, fn,
        [&](std::string_view key, std::string_view value, std::string* out) -> Status {
          if (!is_location(value)) {
            out->assign(value);
            return {};
          }
          FrameLocation loc;
          if (!decode_location(value, offset_from_key(key), &loc))
            return {Errc::corruption, "log location does not decode"};
          return files_.read(loc, out);
        },
        &next, &stopped);
    if (!s.ok()) return s;
    if (Status st = from_rocks(c.it->status(), "scan log"); !st.ok()) return st;
    std::string payload;
    for (const FrameLocation& loc : unapplied) {
      if (stopped) break;
      if (loc.first_offset + loc.count <= std::max(from, next)) continue;
      if (Status st = files_.read(loc, &payload); !st.ok()) return st;
      SegmentReader seg(payload);
      if (!seg.valid_header()) return {Errc::corruption, "log segment header does not decode"};
      uint64_t offset = 0;
      std::span<const uint8_t> record;
      while (seg.next(&offset, &record)) {
        if (offset < from || offset < next) continue;
        next = offset + 1;
        if (!fn(offset, record)) {
          stopped = true;
          break;
        }
      }
      if (seg.corrupt()) return {Errc::corruption, "log segment at offset " + std::to_string(loc.first_offset) + " is truncated"};
    }
    return {};
  }

  Status get_record(uint64_t offset, std::string* out) override { return find_record(*this, offset, out); }

  Status verify_files() override {
    if (Status s = from_rocks(db_->VerifyChecksum(), "verify table checksums"); !s.ok()) return s;
    if (Status s = from_rocks(db_->VerifyFileChecksums({}), "verify file checksums"); !s.ok()) return s;
    return files_.verify_all();
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
    out->log_bytes += v + files_.bytes();
    if (Status s = number(db_->DefaultColumnFamily(), rocksdb::DB::Properties::kIsWriteStopped, &v); !s.ok()) return s;
    out->write_stopped = v != 0;
    if (Status s = number(db_->DefaultColumnFamily(), rocksdb::DB::Properties::kActualDelayedWriteRate, &v); !s.ok()) return s;
    out->delayed_write_rate = v;
    return {};
  }

  rocksdb::ColumnFamilyHandle* cf(Family f) { return handles_[static_cast<size_t>(f)]; }

  static constexpr uint64_t kNone = ~uint64_t{0};

  /// Forgets the unapplied frames up to the one starting at `through`.
  void drop_unapplied(uint64_t through) {
    if (through == kNone) return;
    while (!unapplied_.empty() && unapplied_.front().first_offset <= through) unapplied_.pop_front();
  }

  /// Writes, in commit order, the WriteBatches whose frames the first
  /// `covered` appends made durable.
  Status apply_pending(uint64_t covered) {
    std::lock_guard<std::mutex> order(apply_mu_);
    while (true) {
      Pending p;
      {
        std::lock_guard<std::mutex> lock(pending_mu_);
        if (pending_.empty() || pending_.front().appended > covered) return {};
        p = std::move(pending_.front());
        pending_.pop_front();
      }
      if (Status s = from_rocks(db_->Write({}, &p.batch), "commit batch"); !s.ok()) return s;
      std::lock_guard<std::mutex> lock(pending_mu_);
      drop_unapplied(p.recorded_through);
    }
  }

  struct Pending {
    rocksdb::WriteBatch batch;
    uint64_t appended = 0;           // LogFiles::appended() after its frame
    uint64_t recorded_through = kNone;  // first offset of the last frame it records
  };

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::string scratch_;
  LogFiles files_;
  bool files_writing_ = false;               // durable: the log goes to files_
  std::vector<FrameLocation> unrecorded_;    // found at open; recorded by the next commit
  std::mutex apply_mu_;                      // RocksDB writes in commit order
  std::mutex pending_mu_;                    // guards pending_ and unapplied_
  std::deque<Pending> pending_;              // durable batches waiting for their frame's sync
  std::deque<FrameLocation> unapplied_;      // frames in files_ RocksDB does not record yet
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
  auto store = std::make_unique<RocksStore>(std::unique_ptr<rocksdb::DB>(raw), std::move(handles));
  if (Status st = store->open_log(dir, opts); !st.ok()) return st;
  *out = std::move(store);
  return {};
}

}  // namespace kase::projections
