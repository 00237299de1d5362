// Audit replay for supervisors and auditors (R37, R38, R47): who did what,
// when, with which rights, and why each request was accepted or rejected.
//
// Everything here reads the log and rebuilds state in scratch engines; it
// never changes the live data. The log is an embedded data directory, opened
// read-only (no lock: a running node may keep writing), or Kafka's topics,
// read from the beginning with read_committed and without joining the
// engine's consumer group; there each partition is its own log with its own
// hash chain and state, and every output names its partition.
//
// Thread-safety: one thread; a Log is not shared.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kase/adapters/ledger.h"
#include "kase/projections/store.h"

namespace kase::adapters::audit {

/// The partition number printed for the embedded log.
inline constexpr int32_t kEmbedded = -1;

/// Where the log is read from: exactly one of the two is set.
struct Source {
  std::string data_dir;  // embedded RocksDB directory
  std::string brokers;   // Kafka bootstrap servers (kase.decisions, kase.requests)
};

/// Called now and then during long runs: records done and the total (0 when unknown).
using Progress = std::function<void(uint64_t done, uint64_t total)>;

/// Log records, partition by partition, in offset order.
class Log {
 public:
  virtual ~Log() = default;
  /// Opens the source read-only.
  static Status open(const Source& source, std::unique_ptr<Log>* out);
  [[nodiscard]] virtual std::vector<int32_t> partitions() const = 0;
  /// Records in the partition (for progress; 0 when unknown).
  [[nodiscard]] virtual uint64_t size(int32_t partition) const = 0;
  /// fn(offset, LogRecord bytes) for each record until fn returns false.
  virtual Status scan(int32_t partition, const std::function<bool(uint64_t, std::span<const uint8_t>)>& fn) = 0;
  /// The embedded store, or null on Kafka.
  virtual projections::Store* store() { return nullptr; }
};

// ---- kase audit verify ----------------------------------------------------------

struct VerifyReport {
  uint64_t records = 0;
  uint64_t partitions = 0;
  bool intact = true;
  int32_t partition = kEmbedded;  // of the divergence
  Divergence divergence;          // the first one; what = the reason when not at a record
  std::vector<std::string> lines; // per partition: records, chain head, state hash
};
/// Embedded: the storage's own checksums over every file, the hash chain over
/// every decision, every decision recomputed from its request by the same
/// fold, the persisted projections and the request-id index against the
/// re-fold. Kafka: per partition the chain and the recomputed decisions in
/// kase.decisions, then kase.requests against kase.decisions (kafka::verify).
/// Corruption the storage itself reports is a divergence (not intact), not
/// an error; an error is returned only when the log cannot be read at all.
Status verify(const Source& source, const Progress& progress, VerifyReport* out);

// ---- kase audit history ---------------------------------------------------------

/// Who the history is about: exactly one of person, account, client.
struct Subject {
  std::string person;
  std::string account;
  std::string client;
  [[nodiscard]] bool empty() const { return person.empty() && account.empty() && client.empty(); }
};

struct HistoryOptions {
  Subject subject;
  int64_t from_us = INT64_MIN;  // intake time, inclusive
  int64_t to_us = INT64_MAX;    // inclusive
  bool csv = false;
};
/// Every request of the subject with its decision, reason and the rights and
/// limits that applied at that moment (before the request), one JSON object
/// per line or one CSV row (with a header line) per request, through `emit`.
Status history(const Source& source, const HistoryOptions& options, const Progress& progress,
               const std::function<void(const std::string& line)>& emit);

/// The CSV header of history().
extern const char* const kHistoryCsvHeader;

// ---- kase audit state -----------------------------------------------------------

struct StateOptions {
  std::optional<int64_t> at_us;      // requests with intake <= at
  std::optional<uint64_t> offset;    // or records with offset <= offset
  Subject subject;                   // none: a summary
};
/// The state as it was then, one JSON object per partition: for a person
/// their rights, means, block, limits and day totals, orders and documents
/// touched; for an account its flags, the rights on it with the limits in
/// force that day and day totals, its one-day changes and orders; for a
/// client its kind, accounts, rights, orders, applications and documents.
Status state(const Source& source, const StateOptions& options, const Progress& progress,
             const std::function<void(const std::string& line)>& emit);

// ---- kase audit explain ---------------------------------------------------------

struct Explanation {
  int32_t partition = kEmbedded;
  uint64_t offset = 0;
  std::string request_json;
  std::string stored_json;                 // the stored decision
  std::vector<engine::TraceCheck> checks;  // in order; the last is the decision
  engine::Verdict recomputed;
  bool equal = true;                       // recomputed == stored
};
/// Re-folds up to the request and applies it with a trace attached. Not
/// found: an empty `out`.
Status explain(const Source& source, std::string_view request_id, const Progress& progress,
               std::vector<Explanation>* out);
/// The explanation as text lines, e.g.
///   9. FAIL limit.daily (R9): day total 48,000.00 + amount 1,200.00 > daily limit 49,000.00
std::string explanation_text(const Explanation& e);
std::string explanation_json(const Explanation& e);

// ---- progress on a terminal -------------------------------------------------------

/// A progress bar with rate and time left on stderr, redrawn at most every
/// 200 ms; silent unless `enabled` (the CLI enables it when stderr is a
/// terminal, never on a pipe).
class ProgressBar {
 public:
  ProgressBar(std::string label, bool enabled);
  ~ProgressBar();
  void update(uint64_t done, uint64_t total);
  void finish();
  [[nodiscard]] Progress callback() {
    return [this](uint64_t d, uint64_t t) { update(d, t); };
  }

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  int64_t start_ns_ = 0;
  int64_t last_ns_ = 0;
};

}  // namespace kase::adapters::audit
