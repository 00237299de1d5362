// The embedded node: verifies requests, de-duplicates them by request id,
// folds them through the engine, chains the decisions and commits each batch
// (log records + touched state + offset) to the Store in one atomic write.
//
// Thread-safety: one thread per Ledger (one partition).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "kase/adapters/histogram.h"
#include "kase/engine/engine.h"
#include "kase/events/codec.h"
#include "kase/projections/store.h"

namespace kase::adapters {

/// Named limit: requests per committed batch.
inline constexpr size_t kBatchRequestsMax = 8192;

/// The answer to one submitted request.
struct Answer {
  /// LogRecord bytes (request + decision) for logged requests; for input that
  /// never reached the log (bad bytes), a LogRecord with only a decision.
  std::string record;
  bool duplicate = false;  // request id seen before: the original decision
  /// Kafka (more than one partition): identity and directory facts this request's decision
  /// sends to other partitions of the requests topic, to be produced in the
  /// same transaction as the decision (DESIGN.md, partition self-sufficiency).
  struct Fact {
    int32_t partition = 0;
    std::string request;  // Request bytes: payload IdentityFact or DirectoryFact, channel engine
  };
  std::vector<Fact> facts;
  [[nodiscard]] const fb::Decision* decision() const {
    return flatbuffers::GetRoot<fb::LogRecord>(record.data())->decision();
  }
};

/// An answer for input that never reached the log (malformed JSON or bytes,
/// R47; a retired schema version, R42).
Answer malformed_answer(std::string_view reason, std::string_view detail, std::string_view rule = "R47");
/// The answer for a JSON request the intake refused (status != ok): the
/// reason code and rule of events::JsonStatus, the codec's message as detail.
Answer refused_json_answer(events::JsonStatus status, std::string_view detail);
/// The reason code of a refusing events::JsonStatus (reasons.h).
const char* json_refusal_reason(events::JsonStatus status);
/// The rule ID of a refusing events::JsonStatus.
const char* json_refusal_rule(events::JsonStatus status);

/// What a Ledger measures per batch, for operations (the fold's own counts
/// are in engine::Probe). Time is read here, in the adapter, never in the fold.
struct LedgerProbe {
  Histogram fold_seconds{kFoldSecondsBounds};          // per batch: verify, decide, chain, build records
  Histogram batch_requests{kBatchRequestsBounds};      // requests per batch
  Histogram decision_latency_seconds{kLatencySecondsBounds};  // intake time stamp -> decided
  uint64_t duplicates = 0;          // request ids seen before: answered with the original decision
  uint64_t malformed_binary = 0;    // bytes that do not verify: answered, never logged
  uint64_t missing_request_id = 0;  // no idempotency key: answered, never logged
};

class SyncWorker;

class Ledger {
 public:
  ~Ledger();
  /// Opens over `store` (not owned; must outlive the Ledger) and loads its state.
  static Status open(projections::Store* store, std::unique_ptr<Ledger>* out);

  /// Decides up to kBatchRequestsMax binary requests and commits them in one
  /// batch. Bad bytes get a rejection and are not logged. On a store failure
  /// nothing of the batch is answered and the Ledger refuses further work
  /// (Errc::failed_state) until reopened.
  Status submit(std::span<const std::span<const uint8_t>> requests, std::vector<Answer>* answers);

  /// Pipelined group commit: decides and writes this batch, then waits until
  /// the previous batch is durable and hands back *its* answers, while this
  /// batch is fsynced in the background as the caller folds the next one.
  /// No answer leaves before its batch is durable. Call drain() at the end.
  Status submit_pipelined(std::span<const std::span<const uint8_t>> requests, std::vector<Answer>* answers);
  /// Waits for the batch in flight and hands back its answers.
  Status drain(std::vector<Answer>* answers);

  /// submit_pipelined() without building answers (benchmarks, bulk loads).
  Status submit_quiet(std::span<const std::span<const uint8_t>> requests);

  /// Two-step use for an external log (Kafka): decide() folds a batch and
  /// answers every request without writing anything; after the answers are
  /// published, commit_decided() writes the batch, its state and the applied
  /// source offset (not fsynced: the external log is the durable copy). When
  /// publishing fails, drop the Ledger and reopen it from the store.
  Status decide(std::span<const std::span<const uint8_t>> requests, std::vector<Answer>* answers);
  Status commit_decided(uint64_t source_next);

  /// Kafka: the partition this ledger folds (engine::Topology); with more
  /// than one partition, answers carry the identity facts to deliver.
  void set_topology(engine::Topology t) noexcept { engine_.set_topology(t); }
  [[nodiscard]] const engine::Topology& topology() const noexcept { return engine_.topology(); }

  [[nodiscard]] const engine::State& state() const { return engine_.state(); }
  /// The fold's counts and the Ledger's own (read on the Ledger's thread).
  [[nodiscard]] const engine::Probe& engine_probe() const { return engine_.probe(); }
  [[nodiscard]] const LedgerProbe& probe() const { return probe_; }
  /// The store it writes to (not owned).
  [[nodiscard]] projections::Store* store() const { return store_; }
  [[nodiscard]] const projections::Meta& meta() const { return meta_; }

  /// The decision recorded for a request id, if any.
  Status find(std::string_view request_id, Answer* out);

 private:
  explicit Ledger(projections::Store* store);
  Status run(std::span<const std::span<const uint8_t>> requests, std::vector<Answer>* answers, bool pipelined);
  Status fold(std::span<const std::span<const uint8_t>> requests, std::vector<Answer>* answers);
  Status write(projections::Store::Sync when, std::vector<Answer>* answers);
  /// Folds the log records beyond the projections (see Ledger::open).
  Status refold_tail();
  /// Builds the engine's outbox into `a`'s facts (request `req`) and clears it.
  void take_facts(const fb::Request& req, Answer* a);

  projections::Store* store_;
  engine::Engine engine_;
  projections::Meta meta_;
  projections::Batch batch_;
  std::unique_ptr<engine::StringIndex> request_ids_;  // request id -> offset
  flatbuffers::FlatBufferBuilder builder_{1024};
  std::vector<const fb::Request*> verified_;  // this batch, null where bytes are bad
  std::vector<uint64_t> id_hashes_;           // this batch: each request id's hash in request_ids_
  bool failed_ = false;
  bool held_ = false;           // decide() ran, commit_decided() not yet
  projections::Meta before_;    // meta before the batch being folded
  std::unique_ptr<SyncWorker> sync_;  // fsyncs the batch in flight
  bool in_flight_ = false;
  std::vector<Answer> in_flight_answers_;
  LedgerProbe probe_;
  std::vector<int64_t> intake_us_;  // this batch's folded requests, for the latency
};

/// The first place a log and its re-fold disagree.
struct Divergence {
  int64_t offset = -1;          // -1: none, or not at one record (e.g. projections)
  std::string what;             // one line
  std::string stored_json;      // the stored decision, when one differs
  std::string recomputed_json;  // the re-fold's decision for that request
};

/// Re-folds LogRecords one at a time into a fresh engine (the same fold as
/// the node) and, with `verify`, checks each stored decision and the SHA-256
/// chain against the re-fold. The scratch engine is the caller's to inspect
/// (audit state, history, explain). Thread-safety: one thread (run() may
/// start a second of its own).
class Refold {
 public:
  explicit Refold(bool verify);
  ~Refold();
  /// Folds the record at `offset` (offsets must follow on from 0). False at
  /// the first divergence; divergence() says where and how.
  bool add(uint64_t offset, std::span<const uint8_t> record);
  /// Folds a store's whole log with add(). With verify and `threads` > 1, the
  /// SHA-256 chain is checked on a second thread, reading the log on its own,
  /// while this one folds and compares the decisions: each link is computed
  /// over the stored decision, which equals the recomputed one wherever the
  /// fold found no divergence, so the outcome is the one-thread check's (the
  /// first divergence by offset; at one offset, the decision's first).
  /// `progress`, when set, is called now and then with the records folded.
  Status run(projections::Store* store, int threads, const std::function<void(uint64_t)>& progress = {});
  /// The verdict the last add() recomputed.
  [[nodiscard]] const engine::Verdict& last_verdict() const { return last_; }
  engine::Engine& engine() { return engine_; }
  [[nodiscard]] const Divergence& divergence() const { return divergence_; }
  [[nodiscard]] uint64_t records() const { return records_; }
  [[nodiscard]] uint64_t accepted() const { return accepted_; }
  [[nodiscard]] uint64_t rejected() const { return records_ - accepted_; }
  [[nodiscard]] const events::Hash& chain_head() const { return chain_; }
  /// An order-free digest of the (request id, offset) pairs folded so far,
  /// to compare with the store's idempotency index (ids_digest()).
  [[nodiscard]] uint64_t ids_digest() const { return ids_digest_; }
  static uint64_t id_digest(std::string_view request_id, uint64_t offset);

 private:
  bool diverge(uint64_t offset, std::string what, const fb::Decision* stored, const events::DecisionFields* mine);

  bool verify_;
  bool chain_here_ = true;  // false while run()'s second thread checks the chain
  engine::Engine engine_;
  events::Hash chain_{};
  uint64_t records_ = 0;
  uint64_t accepted_ = 0;
  uint64_t ids_digest_ = 0;
  engine::Verdict last_;
  Divergence divergence_;
  std::unique_ptr<events::JsonCodec> codec_;  // for the divergence's JSON, made when needed
};

/// Rebuilds state from a store's log into a fresh engine; with `verify` also
/// checks the hash chain and that every recomputed decision equals the stored
/// one. Reports the first divergence in `error` and `divergence`.
struct ReplayResult {
  uint64_t records = 0;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  events::Hash state_hash{};
  events::Hash chain_head{};
  projections::StateCounts counts;
  bool intact = true;
  std::string error;
  Divergence divergence;
};
/// `progress`, when set, is called now and then with the records done.
Status replay(projections::Store* store, bool verify, ReplayResult* out,
              const std::function<void(uint64_t)>& progress = {});

}  // namespace kase::adapters
