// The StateStore boundary: where the log, the decisions and the projections
// of the fold are persisted. RocksStore is the embedded default; MemoryStore
// is the in-memory fake for tests and scratch replays; FaultyStore wraps any
// store and fails on command (LevelDB Env / EnvWrapper pattern).
//
// Thread-safety: a Store is used by one partition thread at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kase/engine/engine.h"
#include "kase/events/codec.h"
#include "kase/projections/status.h"

namespace kase::projections {

/// Column families (RocksDB) or tables (memory). The state families hold the
/// engine's tables under the engine's own keys.
enum class Family : uint8_t {
  meta = 0,         // next offset, chain head, settings
  log,              // offset (big-endian) -> LogRecord (request + decision)
  request_ids,      // request id -> offset (big-endian)
  accounts,
  representatives,
  grants,
  permissions,
  limit_overrides,
  day_totals,
  orders,
  persons,          // R25–R29 identification state per person
  applications,     // R3–R31 application documents
  data_exchange,    // R24: clients whose online data exchange is established
  messages,         // R36: messages to clients
  message_reads,    // R36: (message, user) reads
  clients,          // R16, R21: client kinds
  roles,            // R19: (client, person) roles
  service_rights,   // R6, R19, R21: rights in the other e-services
  structures,       // R16: institution structures
  documents,        // R2, R6, R19, R21: documents in ePlans, eEstimates, eReports, eLoans
  document_history, // R37, R47: each document's steps: who did what, when, by which request
  payment_files,    // R48.1, R49: accepted fallback payment files by digest
  count_,
};
inline constexpr size_t kFamilyCount = static_cast<size_t>(Family::count_);
const char* family_name(Family f) noexcept;

/// Where the log stands: the next offset to assign and the chain head. On
/// Kafka, `source_next` is the next offset of the request partition still to
/// fold (the applied offset), written with the state it produced.
struct Meta {
  uint64_t next_offset = 0;
  events::Hash chain_head{};
  uint64_t source_next = 0;
};

/// One atomic write: log records, their request ids, the state entries the
/// fold touched and the new Meta.
///
/// The records of a batch are stored as one log *segment* (like a Kafka
/// record batch), and their request ids as one packed value keyed by the
/// batch's first offset: two writes per batch, not per request. A durable
/// RocksStore appends the segment to a segment file (log_files.h) and keeps
/// its location in the log family; other stores keep the segment itself
/// there. The segment is built in place:
///   segment = u64 first_offset, u32 count, u32 version,
///             then per record: u32 record_len, u32 reserved, record, pad to 8
///   ids     = per record: u32 id_len, id
class Batch {
 public:
  void clear();
  /// Appends a record; offsets must be consecutive within a batch.
  void add_record(uint64_t offset, std::string_view request_id, std::span<const uint8_t> record);
  /// Records the id of a request already in the log (re-folded when a store
  /// reopens behind its log): the batch then writes ids and state, no segment.
  void add_refolded(uint64_t offset, std::string_view request_id);
  [[nodiscard]] bool empty() const { return count_ == 0; }
  /// True when the batch writes nothing but Meta (no records, no state).
  [[nodiscard]] bool only_meta() const { return count_ == 0 && dirty.size() == 0; }
  [[nodiscard]] uint32_t count() const { return count_; }
  [[nodiscard]] uint64_t first_offset() const { return first_offset_; }
  /// The finished segment and id values (valid until the next add or clear).
  [[nodiscard]] std::string_view segment() const;
  [[nodiscard]] std::string_view ids() const { return ids_; }

  engine::DirtySet dirty;
  const engine::State* state = nullptr;  // names and settings of the touched entries
  Meta meta;

 private:
  std::string segment_;
  std::string ids_;
  uint64_t first_offset_ = 0;
  uint32_t count_ = 0;
};

/// Calls fn(id, offset) for each id of a batch's packed ids; false when malformed.
bool for_each_id(std::string_view ids, uint64_t first_offset,
                 const std::function<void(std::string_view, uint64_t)>& fn);

/// Walks the records of one segment, checking every bound.
class SegmentReader {
 public:
  explicit SegmentReader(std::string_view segment);
  [[nodiscard]] bool valid_header() const { return ok_; }
  [[nodiscard]] uint64_t first_offset() const { return first_; }
  [[nodiscard]] uint32_t count() const { return count_; }
  /// The next record, or false at the end or on a bad bound (then corrupt()).
  bool next(uint64_t* offset, std::span<const uint8_t>* record);
  [[nodiscard]] bool corrupt() const { return !ok_; }

 private:
  std::string_view s_;
  size_t pos_ = 16;
  uint64_t first_ = 0;
  uint32_t count_ = 0;
  uint32_t index_ = 0;
  bool ok_ = false;
};

/// What the storage engine says about itself, for operations (metrics).
struct StoreStats {
  uint64_t live_data_bytes = 0;     // RocksDB rocksdb.estimate-live-data-size, all column families
  uint64_t live_sst_bytes = 0;      // rocksdb.live-sst-files-size, all column families
  uint64_t log_bytes = 0;           // the log family: live table files + memtables
  uint64_t delayed_write_rate = 0;  // rocksdb.actual-delayed-write-rate, bytes/s (0: writes not delayed)
  uint64_t write_stalls = 0;        // stops and slowdowns so far (rocksdb.cfstats io_stalls.total_*)
  bool write_stopped = false;       // rocksdb.is-write-stopped
  bool compaction_pending = false;  // rocksdb.compaction-pending in any family
};

class Store {
 public:
  virtual ~Store() = default;

  /// Loads persisted state into `state` (empty on a new store).
  virtual Status load(engine::State* state, Meta* meta) = 0;
  /// Loads only the Meta (where the log stands).
  virtual Status load_meta(Meta* meta) {
    engine::State scratch;
    return load(&scratch, meta);
  }
  /// Loads every request id and its offset (idempotency index).
  virtual Status load_request_ids(const std::function<void(std::string_view, uint64_t)>& fn) = 0;
  /// Writes the batch atomically. With Sync::now it is durable on return
  /// (when the store is durable); with Sync::later it becomes durable at the
  /// next sync(), which another thread may run while this one writes on.
  enum class Sync { now, later };
  virtual Status commit(const Batch& batch, Sync when) = 0;
  Status commit(const Batch& batch) { return commit(batch, Sync::now); }
  /// Makes every batch committed so far durable. Thread-safe with commit().
  virtual Status sync() = 0;
  /// Calls fn for each log record from `from` on, in offset order, until fn
  /// returns false. Record bytes are 8-byte aligned.
  virtual Status scan_log(uint64_t from,
                          const std::function<bool(uint64_t, std::span<const uint8_t>)>& fn) = 0;
  /// The LogRecord at `offset` (not_found when there is none).
  virtual Status get_record(uint64_t offset, std::string* out) = 0;
  /// Calls fn for every persisted state entry, family by family, keys sorted.
  virtual Status scan_state(const std::function<void(Family, std::string_view, std::string_view)>& fn) = 0;
  /// Checks the storage's own checksums over everything it holds, read or
  /// not (RocksDB: every block of every table file, and each whole file
  /// against the checksum its manifest recorded). Corruption when one fails.
  virtual Status verify_files() { return {}; }
  /// The storage engine's own figures. Thread-safe with every other call.
  /// not_found for stores that keep none (the in-memory store).
  virtual Status stats(StoreStats* out) {
    (void)out;
    return {Errc::not_found, "this store keeps no storage statistics"};
  }
};

struct RocksOptions {
  /// Durable: the log goes to segment files (DIR/log), fdatasync'd per batch
  /// before RocksDB records it. Not durable: the log stays inline in RocksDB
  /// and nothing is synced (Kafka nodes, whose log is Kafka; --no-sync).
  bool sync = true;
  bool create_if_missing = true;
  /// Opens without writing anything, beside a running node if need be (no
  /// lock is taken); a damaged write-ahead log is an error, never silently
  /// cut short. commit() fails. For audits and read-only tools.
  bool read_only = false;
  /// A segment file is closed and the next begun past this size.
  uint64_t log_file_bytes = 256ull << 20;
};

Status open_rocks_store(const std::string& dir, const RocksOptions& opts, std::unique_ptr<Store>* out);
std::unique_ptr<Store> make_memory_store();

/// Fails commit() or sync() once `operations_until_failure` more of them have
/// succeeded (0 = the next one fails); everything else passes through.
class FaultyStore : public Store {
 public:
  FaultyStore(Store* inner, int64_t operations_until_failure)
      : inner_(inner), left_(operations_until_failure) {}
  Status load(engine::State* s, Meta* m) override { return inner_->load(s, m); }
  Status load_request_ids(const std::function<void(std::string_view, uint64_t)>& fn) override {
    return inner_->load_request_ids(fn);
  }
  Status commit(const Batch& b, Sync when) override {
    if (left_.fetch_sub(1) <= 0) return {Errc::io_error, "injected commit failure"};
    return inner_->commit(b, when);
  }
  Status sync() override {
    if (left_.fetch_sub(1) <= 0) return {Errc::io_error, "injected sync failure"};
    return inner_->sync();
  }
  Status scan_log(uint64_t from,
                  const std::function<bool(uint64_t, std::span<const uint8_t>)>& fn) override {
    return inner_->scan_log(from, fn);
  }
  Status get_record(uint64_t offset, std::string* out) override { return inner_->get_record(offset, out); }
  Status scan_state(const std::function<void(Family, std::string_view, std::string_view)>& fn) override {
    return inner_->scan_state(fn);
  }
  Status stats(StoreStats* out) override { return inner_->stats(out); }

 private:
  Store* inner_;
  std::atomic<int64_t> left_;
};

// ---- State codec ------------------------------------------------------------

/// The persisted key of an entry: its names joined by engine::kKeySep (the
/// date of a one-day limit change as YYYYMMDD).
std::string key_of(const engine::Names& names, engine::NameId id);
std::string key_of(const engine::Names& names, engine::PairKey k);
std::string key_of(const engine::Names& names, const engine::OverrideKey& k);
std::string key_of(const engine::Names& names, const engine::RightKey& k);
std::string key_of(const engine::Names& names, const engine::StructureKey& k);
std::string key_of(const engine::Names& names, const engine::DocumentKey& k);
std::string key_of(const engine::Names& names, const engine::HistoryKey& k);
inline std::string_view key_of(const engine::Names&, std::string_view order_key) { return order_key; }

/// Encodes one state entry's value (the format persisted in the families).
void encode_value(const engine::Account& v, const engine::Names& n, std::string* out);
void encode_value(const engine::Representative& v, const engine::Names& n, std::string* out);
void encode_value(const engine::Grant& v, const engine::Names& n, std::string* out);
void encode_value(const engine::Dirty& v, const engine::Names& n, std::string* out);
void encode_value(const engine::LimitOverride& v, const engine::Names& n, std::string* out);
void encode_value(const engine::DayTotal& v, const engine::Names& n, std::string* out);
void encode_value(const engine::Order& v, const engine::Names& n, std::string* out);
void encode_value(const engine::Person& v, const engine::Names& n, std::string* out);
void encode_value(const engine::Application& v, const engine::Names& n, std::string* out);
void encode_value(const engine::Message& v, const engine::Names& n, std::string* out);
void encode_value(const engine::ClientInfo& v, const engine::Names& n, std::string* out);
void encode_value(const engine::Roles& v, const engine::Names& n, std::string* out);
void encode_value(const engine::ServiceRight& v, const engine::Names& n, std::string* out);
void encode_value(const engine::Structure& v, const engine::Names& n, std::string* out);
void encode_value(const engine::Document& v, const engine::Names& n, std::string* out);
void encode_value(const engine::PaymentFile& v, const engine::Names& n, std::string* out);
void encode_value(const engine::DocumentEvent& v, const engine::Names& n, std::string* out);
void encode_settings(const engine::State& s, std::string* out);

/// Decodes one persisted entry into the state; corruption on bad bytes.
Status decode_entry(Family f, std::string_view key, std::string_view value, engine::State* state);
Status decode_settings(std::string_view value, engine::State* state);

/// SHA-256 over every state entry, families in order, keys sorted: equal for
/// equal states however they were reached.
events::Hash state_hash(const engine::State& s);

/// Entry counts by family, for summaries.
struct StateCounts {
  size_t accounts = 0, representatives = 0, grants = 0, orders = 0, day_totals = 0,
         limit_overrides = 0, persons = 0, blocked_persons = 0;
};
StateCounts state_counts(const engine::State& s);

/// Big-endian offset key, so that RocksDB's byte order is offset order.
std::string offset_key(uint64_t offset);
uint64_t offset_from_key(std::string_view key);

}  // namespace kase::projections
