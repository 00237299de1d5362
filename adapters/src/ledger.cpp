#include "kase/adapters/ledger.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "kase/engine/reasons.h"
#include "kase/events/build.h"
#include "kase/engine/string_index.h"

namespace kase::adapters {
namespace {

using events::sv;

events::DecisionFields fields_of(const engine::Verdict& v, std::string_view request_id, uint64_t offset) {
  events::DecisionFields d;
  d.request_id = request_id;
  d.offset = offset;
  d.accepted = v.accepted;
  d.reason = v.reason;
  d.rule = v.rule;
  d.amount_cents = v.amount;
  d.limit_cents = v.limit;
  d.day_total_cents = v.day_total;
  return d;
}

}  // namespace

/// One background thread that fsyncs the store when asked (group commit).
class SyncWorker {
 public:
  explicit SyncWorker(projections::Store* store) : store_(store), thread_([this] { loop(); }) {}
  ~SyncWorker() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void start() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      requested_ = true;
      done_ = false;
    }
    cv_.notify_all();
  }
  Status wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return done_; });
    return result_;
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return requested_ || stop_; });
      if (requested_) {
        requested_ = false;
        lock.unlock();
        Status s = store_->sync();
        lock.lock();
        result_ = std::move(s);
        done_ = true;
        cv_.notify_all();
        continue;
      }
      if (stop_) return;
    }
  }

  projections::Store* store_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool requested_ = false;
  bool done_ = true;
  bool stop_ = false;
  Status result_;
  std::thread thread_;  // last: starts after the members it uses
};

Ledger::Ledger(projections::Store* store)
    : store_(store), request_ids_(std::make_unique<engine::StringIndex>()), sync_(std::make_unique<SyncWorker>(store)) {}

Ledger::~Ledger() {
  // Never leave a written batch unsynced behind us.
  if (in_flight_) (void)sync_->wait();
}

Status Ledger::open(projections::Store* store, std::unique_ptr<Ledger>* out) {
  std::unique_ptr<Ledger> l(new Ledger(store));
  if (Status s = store->load(&l->engine_.mutable_state(), &l->meta_); !s.ok()) return s;
  (void)l->engine_.take_dirty();
  if (Status s = store->load_request_ids([&](std::string_view id, uint64_t off) {
        if (l->request_ids_->find(id) == nullptr) l->request_ids_->insert(id, off);
      });
      !s.ok())
    return s;
  if (Status s = l->refold_tail(); !s.ok()) return s;
  *out = std::move(l);
  return {};
}

namespace {
bool same_decision(const fb::Decision& stored, const events::DecisionFields& d) {
  return stored.offset() == d.offset && sv(stored.request_id()) == d.request_id &&
         (stored.outcome() == fb::Outcome::accepted) == d.accepted && sv(stored.reason()) == d.reason &&
         sv(stored.rule()) == d.rule && stored.amount_cents() == d.amount_cents &&
         stored.limit_cents() == d.limit_cents && stored.day_total_cents() == d.day_total_cents;
}
}  // namespace

Status Ledger::refold_tail() {
  // The log is the source of truth: records it holds beyond the projections
  // (a crash after the log was made durable, before RocksDB recorded it) are
  // folded again, each decision checked against the one logged and answered.
  batch_.clear();
  Status bad;
  Status scan = store_->scan_log(meta_.next_offset, [&](uint64_t offset, std::span<const uint8_t> bytes) {
    const fb::LogRecord* rec = events::verify_log_record(bytes);
    const fb::Request* req = rec != nullptr ? events::nested_request(*rec) : nullptr;
    if (offset != meta_.next_offset || req == nullptr || rec->decision() == nullptr) {
      bad = {Errc::corruption, "log record at offset " + std::to_string(offset) + " does not follow on or verify"};
      return false;
    }
    const std::string_view id = sv(req->request_id());
    const engine::Verdict v = engine_.apply(*req);
    const events::DecisionFields d = fields_of(v, id, offset);
    const events::Hash chain = events::chain_next(meta_.chain_head, {rec->request()->data(), rec->request()->size()}, d);
    if (!same_decision(*rec->decision(), d) || sv(rec->decision()->hash()) != events::to_hex(chain)) {
      bad = {Errc::corruption, "log record at offset " + std::to_string(offset) +
                                   ": the logged decision differs from the re-folded one"};
      return false;
    }
    if (request_ids_->find(id) == nullptr) request_ids_->insert(id, offset);
    batch_.add_refolded(offset, id);
    meta_.chain_head = chain;
    ++meta_.next_offset;
    return true;
  });
  if (!scan.ok()) return scan;
  if (!bad.ok()) return bad;
  if (batch_.empty()) return {};
  batch_.dirty = engine_.take_dirty();
  batch_.state = &engine_.state();
  batch_.meta = meta_;
  return store_->commit(batch_, projections::Store::Sync::now);
}

Answer malformed_answer(std::string_view reason, std::string_view detail, std::string_view rule) {
  flatbuffers::FlatBufferBuilder b(256);
  events::DecisionFields d;
  d.accepted = false;
  d.reason = reason;
  d.rule = rule;
  d.detail = detail;
  const auto dec = events::build_decision(b, d, nullptr);
  fb::LogRecordBuilder rb(b);
  rb.add_decision(dec);
  b.Finish(rb.Finish());
  Answer a;
  a.record.assign(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
  return a;
}

const char* json_refusal_reason(events::JsonStatus status) {
  switch (status) {
    case events::JsonStatus::schema_version_retired: return engine::reason::kSchemaVersionRetired;
    case events::JsonStatus::engine_only: return engine::reason::kEngineOnly;
    default: return engine::reason::kMalformedJson;
  }
}

const char* json_refusal_rule(events::JsonStatus status) {
  switch (status) {
    case events::JsonStatus::schema_version_retired: return "R42";
    case events::JsonStatus::engine_only: return "R41";
    default: return "R47";
  }
}

Answer refused_json_answer(events::JsonStatus status, std::string_view detail) {
  return malformed_answer(json_refusal_reason(status), detail, json_refusal_rule(status));
}

Status Ledger::submit(std::span<const std::span<const uint8_t>> requests, std::vector<Answer>* answers) {
  answers->clear();
  if (in_flight_) {
    // Finish the pipeline first: answers stay in batch order.
    std::vector<Answer> earlier;
    if (Status s = drain(&earlier); !s.ok()) return s;
    if (Status s = run(requests, answers, false); !s.ok()) return s;
    answers->insert(answers->begin(), std::make_move_iterator(earlier.begin()),
                    std::make_move_iterator(earlier.end()));
    return {};
  }
  return run(requests, answers, false);
}

Status Ledger::submit_pipelined(std::span<const std::span<const uint8_t>> requests,
                                std::vector<Answer>* answers) {
  answers->clear();
  return run(requests, answers, true);
}

Status Ledger::submit_quiet(std::span<const std::span<const uint8_t>> requests) {
  return run(requests, nullptr, true);
}

Status Ledger::drain(std::vector<Answer>* answers) {
  if (answers != nullptr) answers->clear();
  if (!in_flight_) return {};
  in_flight_ = false;
  Status s = sync_->wait();
  if (!s.ok()) {
    failed_ = true;
    in_flight_answers_.clear();
    return s;
  }
  if (answers != nullptr) answers->swap(in_flight_answers_);
  in_flight_answers_.clear();
  return {};
}

Status Ledger::fold(std::span<const std::span<const uint8_t>> requests, std::vector<Answer>* answers) {
  if (failed_) return {Errc::failed_state, "an earlier commit failed; reopen the data directory"};
  if (held_) return {Errc::failed_state, "a decided batch is waiting for commit_decided()"};
  if (requests.size() > kBatchRequestsMax)
    return {Errc::invalid_argument, "batch larger than " + std::to_string(kBatchRequestsMax)};
  const auto fold_start = std::chrono::steady_clock::now();
  batch_.clear();
  intake_us_.clear();
  before_ = meta_;
  const uint64_t first = meta_.next_offset;
  // Duplicates answer with the original decision: from this batch's answers
  // when the original is in it, else from the store.
  std::vector<std::pair<size_t, uint64_t>> duplicates;
  std::vector<size_t> answer_of;  // offset - first -> index in answers

  // Verify the whole batch first, so that the fold can prefetch ahead: the
  // engine's entries and the idempotency index's slot of each request.
  verified_.clear();
  for (const auto bytes : requests) verified_.push_back(events::verify_request(bytes));
  constexpr size_t kPrefetchAhead = 8;
  id_hashes_.assign(requests.size(), 0);
  const auto prefetch = [&](size_t k) {
    if (k >= requests.size() || verified_[k] == nullptr) return;
    engine_.prefetch(*verified_[k]);
    id_hashes_[k] = request_ids_->prefetch(sv(verified_[k]->request_id()));
  };
  for (size_t k = 0; k < kPrefetchAhead; ++k) prefetch(k);

  for (size_t i = 0; i < requests.size(); ++i) {
    prefetch(i + kPrefetchAhead);
    const auto bytes = requests[i];
    const fb::Request* req = verified_[i];
    if (req == nullptr) {
      ++probe_.malformed_binary;
      if (answers != nullptr)
        answers->push_back(malformed_answer(engine::reason::kMalformedBinary,
                                                 "request bytes do not verify against the schema"));
      continue;
    }
    const std::string_view id = sv(req->request_id());
    if (id.empty()) {
      ++probe_.missing_request_id;
      if (answers != nullptr)
        answers->push_back(malformed_answer(engine::reason::kMissingRequestId,
                                                 "request_id is empty: it is the idempotency key"));
      continue;
    }
    if (const uint64_t* seen = request_ids_->find(id, id_hashes_[i]); seen != nullptr) {
      ++probe_.duplicates;
      if (answers != nullptr) {
        duplicates.emplace_back(answers->size(), *seen);
        answers->emplace_back();
      }
      continue;
    }
    request_ids_->insert(id, meta_.next_offset, id_hashes_[i]);

    const uint64_t offset = meta_.next_offset++;
    const engine::Verdict v = engine_.apply(*req);
    intake_us_.push_back(req->intake_us());
    const events::DecisionFields d = fields_of(v, id, offset);
    meta_.chain_head = events::chain_next(meta_.chain_head, bytes, d);

    builder_.Clear();
    // The nested request must stay aligned for its own root (8 bytes).
    builder_.ForceVectorAlignment(bytes.size(), sizeof(uint8_t), 8);
    const auto nested = builder_.CreateVector(bytes.data(), bytes.size());
    const auto dec = events::build_decision(builder_, d, &meta_.chain_head);
    fb::LogRecordBuilder rb(builder_);
    rb.add_request(nested);
    rb.add_decision(dec);
    builder_.Finish(rb.Finish());

    batch_.add_record(offset, id, {builder_.GetBufferPointer(), builder_.GetSize()});
    if (answers != nullptr) {
      answer_of.push_back(answers->size());
      Answer a;
      a.record.assign(reinterpret_cast<const char*>(builder_.GetBufferPointer()), builder_.GetSize());
      if (engine_.has_facts()) [[unlikely]]
        take_facts(*req, &a);
      answers->push_back(std::move(a));
    } else {
      engine_.clear_outbox();
    }
  }
  for (const auto& [index, offset] : duplicates) {
    Answer& a = (*answers)[index];
    if (offset >= first) {
      a.record = (*answers)[answer_of[offset - first]].record;
    } else if (Status s = store_->get_record(offset, &a.record); !s.ok()) {
      return s;
    }
    a.duplicate = true;
  }
  batch_.dirty = engine_.take_dirty();
  batch_.state = &engine_.state();

  // Operations: time read here, in the adapter, never by the fold.
  const auto fold_end = std::chrono::steady_clock::now();
  probe_.fold_seconds.observe(std::chrono::duration<double>(fold_end - fold_start).count());
  probe_.batch_requests.observe(static_cast<double>(requests.size()));
  const int64_t decided_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  for (const int64_t intake : intake_us_)
    probe_.decision_latency_seconds.observe(
        intake > 0 && intake < decided_us ? static_cast<double>(decided_us - intake) / 1e6 : 0.0);
  return {};
}

void Ledger::take_facts(const fb::Request& req, Answer* a) {
  const std::string_view id = sv(req.request_id());
  const engine::State& st = engine_.state();
  size_t n = 0;
  for (const engine::IdentityOut& o : engine_.outbox()) {
    // One id per fact, derived from the request's and this partition's (two
    // partitions may hold the same request id): a re-fold makes the same.
    const std::string fact_id = std::string(id) + "/identity/" + std::to_string(engine_.topology().partition) + "/" +
                                std::to_string(n++);
    events::Envelope e{fact_id, sv(req.client_id()), "kase", fb::Channel::engine, req.intake_us()};
    events::IdentityFactFields f;
    f.person = st.names.name(o.person);
    f.kind = o.kind;
    f.partition = engine_.topology().partition;
    f.origin = id;
    f.block = o.block;
    f.blocked_means = o.blocked_means;
    f.restored = o.restored;
    f.means_registered = o.means_registered;
    f.means_exception = o.means_exception;
    f.means_activated = o.means_activated;
    a->facts.push_back({o.to, events::identity_fact(e, f)});
  }
  const int32_t here = engine_.topology().partition;
  auto name = [&](engine::NameId x) { return x == engine::kNoName ? std::string_view{} : st.names.name(x); };
  n = 0;
  for (const engine::DirectoryOut& o : engine_.directory_outbox()) {
    events::DirectoryFactFields f;
    f.client = name(o.client);
    f.kind = o.kind;
    f.partition = here;
    f.origin = id;
    f.client_kind = o.client_kind;
    f.person = name(o.person);
    f.roles = o.roles;
    f.report_type = o.report_type;
    f.year = o.year;
    for (const engine::NameId i : o.institutions) f.institutions.push_back(name(i));
    std::sort(f.institutions.begin(), f.institutions.end());  // by name: the same on every re-fold
    f.service = o.service;
    f.scope = name(o.scope);
    f.mode = o.mode;
    f.groups = o.groups;
    f.application = name(o.application);
    f.application_kind = o.application_kind;
    f.status = o.status;
    f.signed_us = o.signed_us;
    f.registered_us = o.registered_us;
    f.lapses_on = o.lapses_on;
    f.document = name(o.document);
    f.document_kind = o.document_kind;
    f.period = o.period;
    f.accepted_by = name(o.accepted_by);
    // A change of the acting client's directory goes to every other partition.
    for (int32_t to = 0; to < engine_.topology().partitions; ++to) {
      if (o.to == engine::DirectoryOut::kEveryOther ? to == here : to != o.to) continue;
      const std::string fact_id =
          std::string(id) + "/directory/" + std::to_string(here) + "/" + std::to_string(n++);
      events::Envelope e{fact_id, sv(req.client_id()), "kase", fb::Channel::engine, req.intake_us()};
      a->facts.push_back({to, events::directory_fact(e, f)});
    }
  }
  engine_.clear_outbox();
}

Status Ledger::write(projections::Store::Sync when, std::vector<Answer>* answers) {
  batch_.meta = meta_;
  if (batch_.only_meta() && meta_.source_next == before_.source_next) return {};
  if (Status s = store_->commit(batch_, when); !s.ok()) {
    // The in-memory state is ahead of the store: refuse work until reopened.
    failed_ = true;
    meta_ = before_;
    if (answers != nullptr) answers->clear();
    if (in_flight_) {
      in_flight_ = false;
      (void)sync_->wait();
      in_flight_answers_.clear();
    }
    return s;
  }
  return {};
}

Status Ledger::run(std::span<const std::span<const uint8_t>> requests, std::vector<Answer>* answers,
                   bool pipelined) {
  if (Status s = fold(requests, answers); !s.ok()) {
    if (answers != nullptr) answers->clear();
    return s;
  }
  const auto when = pipelined ? projections::Store::Sync::later : projections::Store::Sync::now;
  if (Status s = write(when, answers); !s.ok()) return s;
  if (!pipelined) return {};

  // Group commit: the previous batch's fsync overlapped this batch's fold.
  std::vector<Answer> durable;
  if (Status s = drain(answers != nullptr ? &durable : nullptr); !s.ok()) {
    if (answers != nullptr) answers->clear();
    return s;
  }
  if (answers != nullptr) in_flight_answers_.swap(*answers);
  if (answers != nullptr) answers->swap(durable);
  sync_->start();
  in_flight_ = true;
  return {};
}

Status Ledger::decide(std::span<const std::span<const uint8_t>> requests, std::vector<Answer>* answers) {
  answers->clear();
  if (in_flight_) {
    std::vector<Answer> earlier;
    if (Status s = drain(&earlier); !s.ok()) return s;
  }
  if (Status s = fold(requests, answers); !s.ok()) {
    answers->clear();
    return s;
  }
  held_ = true;
  return {};
}

Status Ledger::commit_decided(uint64_t source_next) {
  if (!held_) return {Errc::failed_state, "no decided batch to commit"};
  held_ = false;
  meta_.source_next = source_next;
  return write(projections::Store::Sync::later, nullptr);
}

Status Ledger::find(std::string_view request_id, Answer* out) {
  const uint64_t* offset = request_ids_->find(request_id);
  if (offset == nullptr) return {Errc::not_found, "no request with id " + std::string(request_id)};
  return store_->get_record(*offset, &out->record);
}

namespace {
/// A recomputed decision as JSON, with `hash` as its chain link: the
/// "recomputed" side of a divergence.
std::string decision_json(events::JsonCodec& codec, const events::DecisionFields& d, const events::Hash& hash) {
  flatbuffers::FlatBufferBuilder b(512);
  b.Finish(events::build_decision(b, d, &hash));
  return codec.decision_to_json(*flatbuffers::GetRoot<fb::Decision>(b.GetBufferPointer()));
}
}  // namespace

Refold::Refold(bool verify) : verify_(verify) {}

uint64_t Refold::id_digest(std::string_view request_id, uint64_t offset) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a over the id, then the offset
  for (const char c : request_id) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ULL;
  for (int i = 0; i < 8; ++i) h = (h ^ ((offset >> (8 * i)) & 0xff)) * 0x100000001b3ULL;
  return h;
}
Refold::~Refold() = default;

bool Refold::diverge(uint64_t offset, std::string what, const fb::Decision* stored,
                     const events::DecisionFields* mine) {
  divergence_.offset = static_cast<int64_t>(offset);
  divergence_.what = "offset " + std::to_string(offset) + ": " + std::move(what);
  if (codec_ == nullptr) codec_ = std::make_unique<events::JsonCodec>();
  if (stored != nullptr) divergence_.stored_json = codec_->decision_to_json(*stored);
  if (mine != nullptr) divergence_.recomputed_json = decision_json(*codec_, *mine, chain_);
  return false;
}

bool Refold::add(uint64_t offset, std::span<const uint8_t> bytes) {
  const fb::LogRecord* rec = events::verify_log_record(bytes);  // and its nested request
  const fb::Request* req = rec != nullptr ? events::nested_request(*rec) : nullptr;
  if (rec == nullptr || req == nullptr || rec->decision() == nullptr)
    return diverge(offset, "log record does not verify", nullptr, nullptr);
  if (offset != records_)
    return diverge(records_, "missing from the log (next is " + std::to_string(offset) + ")", nullptr, nullptr);
  ++records_;
  last_ = engine_.apply(*req);
  // Nothing persists the touched entries here; drop the lists now and then
  // (per record, allocating fresh lists cost more than the fold).
  constexpr uint64_t kDirtyDropEvery = 4096;
  if (records_ % kDirtyDropEvery == 0) (void)engine_.take_dirty();
  if (last_.accepted) ++accepted_;
  const events::DecisionFields d = fields_of(last_, sv(req->request_id()), offset);
  ids_digest_ += id_digest(d.request_id, offset);
  if (chain_here_) chain_ = events::chain_next(chain_, {rec->request()->data(), rec->request()->size()}, d);
  if (!verify_) return true;
  const fb::Decision& stored = *rec->decision();
  if (!same_decision(stored, d))
    return diverge(offset,
                   "stored decision " + std::string(sv(stored.reason())) + "/" + std::string(sv(stored.rule())) +
                       " differs from recomputed " + std::string(d.reason) + "/" + std::string(d.rule),
                   &stored, &d);
  if (!chain_here_) return true;
  // Compared in binary: no hex string per record.
  events::Hash stored_hash;
  if (!events::from_hex(sv(stored.hash()), &stored_hash) || stored_hash != chain_)
    return diverge(offset,
                   "hash chain broken (stored " + std::string(sv(stored.hash())) + ", recomputed " +
                       events::to_hex(chain_) + ")",
                   &stored, &d);
  return true;
}

namespace {

/// What the chain thread of Refold::run() found.
struct ChainCheck {
  events::Hash head{};
  Divergence divergence;
  Status status;
};

/// The SHA-256 chain of a store's log, link by link over the stored
/// decisions (R37), each compared with the stored hash; stops at the first
/// break, at a record that does not verify (the fold reports that one), or
/// past `stop_after`.
void check_chain(projections::Store* store, const std::atomic<uint64_t>& stop_after, ChainCheck* out) {
  uint64_t next = 0;
  out->status = store->scan_log(0, [&](uint64_t offset, std::span<const uint8_t> bytes) {
    if (offset > stop_after.load(std::memory_order_relaxed) || offset != next) return false;
    const fb::LogRecord* rec = events::verify_log_record(bytes);
    const fb::Request* req = rec != nullptr ? events::nested_request(*rec) : nullptr;
    if (rec == nullptr || req == nullptr || rec->decision() == nullptr) return false;
    ++next;
    const fb::Decision& stored = *rec->decision();
    events::DecisionFields d;  // as Refold::add() recomputes it, from the stored decision
    d.request_id = sv(req->request_id());
    d.offset = offset;
    d.accepted = stored.outcome() == fb::Outcome::accepted;
    d.reason = sv(stored.reason());
    d.rule = sv(stored.rule());
    d.amount_cents = stored.amount_cents();
    d.limit_cents = stored.limit_cents();
    d.day_total_cents = stored.day_total_cents();
    out->head = events::chain_next(out->head, {rec->request()->data(), rec->request()->size()}, d);
    events::Hash stored_hash;
    if (events::from_hex(sv(stored.hash()), &stored_hash) && stored_hash == out->head) return true;
    out->divergence.offset = static_cast<int64_t>(offset);
    out->divergence.what = "offset " + std::to_string(offset) + ": hash chain broken (stored " +
                           std::string(sv(stored.hash())) + ", recomputed " + events::to_hex(out->head) + ")";
    events::JsonCodec codec;
    out->divergence.stored_json = codec.decision_to_json(stored);
    out->divergence.recomputed_json = decision_json(codec, d, out->head);
    return false;
  });
}

}  // namespace

Status Refold::run(projections::Store* store, int threads, const std::function<void(uint64_t)>& progress) {
  constexpr uint64_t kProgressEvery = 65536;
  const bool apart = verify_ && threads > 1 && records_ == 0;
  ChainCheck check;
  std::atomic<uint64_t> stop_after{UINT64_MAX};
  std::thread chain_thread;
  if (apart) {
    chain_here_ = false;
    chain_thread = std::thread([&] { check_chain(store, stop_after, &check); });
  }
  Status scan = store->scan_log(0, [&](uint64_t offset, std::span<const uint8_t> bytes) {
    if (!add(offset, bytes)) {
      stop_after.store(offset, std::memory_order_relaxed);
      return false;
    }
    if (progress && records_ % kProgressEvery == 0) progress(records_);
    return true;
  });
  if (apart) {
    chain_thread.join();
    chain_here_ = true;
    chain_ = check.head;
    if (scan.ok() && !check.status.ok()) scan = check.status;
    // The first divergence by offset; at one offset the decision's, as one thread finds it.
    if (check.divergence.offset >= 0 &&
        (divergence_.what.empty() || check.divergence.offset < divergence_.offset))
      divergence_ = std::move(check.divergence);
  }
  if (progress) progress(records_);
  return scan;
}

Status replay(projections::Store* store, bool verify, ReplayResult* out,
              const std::function<void(uint64_t)>& progress) {
  Refold refold(verify);
  // kase audit verify: the chain on a second core when there is one.
  const int threads = std::thread::hardware_concurrency() > 1 ? 2 : 1;
  if (Status scan = refold.run(store, threads, progress); !scan.ok()) return scan;
  out->records = refold.records();
  out->accepted = refold.accepted();
  out->rejected = refold.rejected();
  if (!refold.divergence().what.empty()) {
    out->intact = false;
    out->error = refold.divergence().what;
    out->divergence = refold.divergence();
  }
  const events::Hash chain = refold.chain_head();
  const uint64_t expected_offset = refold.records();
  engine::Engine& engine = refold.engine();
  out->chain_head = chain;
  out->state_hash = projections::state_hash(engine.state());
  out->counts = projections::state_counts(engine.state());
  if (verify && out->intact) {
    // The persisted projections must equal the clean replay.
    engine::State persisted;
    projections::Meta meta;
    if (Status s = store->load(&persisted, &meta); !s.ok()) {
      out->intact = false;
      out->error = "persisted state does not load: " + s.to_string();
    } else if (projections::state_hash(persisted) != out->state_hash) {
      out->intact = false;
      out->error = "persisted state hash " + events::to_hex(projections::state_hash(persisted)) +
                   " differs from the replayed " + events::to_hex(out->state_hash);
    } else if (meta.chain_head != chain || meta.next_offset != expected_offset) {
      out->intact = false;
      out->error = "persisted chain head or next offset differs from the log";
    }
  }
  if (verify && out->intact) {
    // The idempotency index (request id -> offset) must name exactly the log's requests.
    uint64_t digest = 0;
    uint64_t ids = 0;
    if (Status s = store->load_request_ids([&](std::string_view id, uint64_t offset) {
          digest += Refold::id_digest(id, offset);
          ++ids;
        });
        !s.ok()) {
      out->intact = false;
      out->error = "request id index does not load: " + s.to_string();
    } else if (ids != expected_offset || digest != refold.ids_digest()) {
      out->intact = false;
      out->error = "request id index (" + std::to_string(ids) + " ids) differs from the log's " +
                   std::to_string(expected_offset) + " requests";
    }
  }
  return {};
}

}  // namespace kase::adapters
