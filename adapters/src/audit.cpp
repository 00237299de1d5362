#include "kase/adapters/audit.h"

#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>

#include "kase/adapters/kafka.h"
#include "kase/adapters/query.h"
#include "kase/engine/calendar.h"
#include "kase/events/build.h"
#include "kase/events/codec.h"

namespace kase::adapters::audit {
namespace json = boost::json;
using engine::NameId;
using engine::kNoName;

namespace {

using events::sv;

/// UTC micros as "2026-11-30T08:00:00.000000Z".
std::string iso_time(int64_t us) {
  const int64_t days = us >= 0 ? us / 86'400'000'000 : -((-us + 86'399'999'999) / 86'400'000'000);
  const int64_t in_day = us - days * 86'400'000'000;
  const engine::DateYmd d = engine::ymd_from_days(days);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", d / 10000, d / 100 % 100, d % 100,
                static_cast<int>(in_day / 3'600'000'000), static_cast<int>(in_day / 60'000'000 % 60),
                static_cast<int>(in_day / 1'000'000 % 60), static_cast<int>(in_day % 1'000'000));
  return buf;
}

/// How often a long run reports progress (records).
constexpr uint64_t kProgressEvery = 16384;

// ---- logs --------------------------------------------------------------------------

class EmbeddedLog final : public Log {
 public:
  EmbeddedLog(std::unique_ptr<projections::Store> store, uint64_t size) : store_(std::move(store)), size_(size) {}
  [[nodiscard]] std::vector<int32_t> partitions() const override { return {kEmbedded}; }
  [[nodiscard]] uint64_t size(int32_t) const override { return size_; }
  Status scan(int32_t, const std::function<bool(uint64_t, std::span<const uint8_t>)>& fn) override {
    return store_->scan_log(0, fn);
  }
  projections::Store* store() override { return store_.get(); }

 private:
  std::unique_ptr<projections::Store> store_;
  uint64_t size_;
};

/// kase.decisions, read whole: each partition's LogRecords in order.
class KafkaLog final : public Log {
 public:
  std::map<int32_t, std::vector<std::string>> records;
  [[nodiscard]] std::vector<int32_t> partitions() const override {
    std::vector<int32_t> out;
    for (const auto& entry : records) out.push_back(entry.first);
    return out;
  }
  [[nodiscard]] uint64_t size(int32_t p) const override {
    const auto it = records.find(p);
    return it == records.end() ? 0 : it->second.size();
  }
  Status scan(int32_t p, const std::function<bool(uint64_t, std::span<const uint8_t>)>& fn) override {
    const auto it = records.find(p);
    if (it == records.end()) return {};
    for (size_t i = 0; i < it->second.size(); ++i)
      if (!fn(i, events::bytes_of(it->second[i]))) break;
    return {};
  }
};

/// A record's request and decision; null when the record does not verify.
struct Parsed {
  const fb::LogRecord* record = nullptr;
  const fb::Request* request = nullptr;
  const fb::Decision* decision = nullptr;
};
Parsed parse(std::span<const uint8_t> bytes) {
  Parsed p;
  p.record = events::verify_log_record(bytes);
  if (p.record == nullptr || p.record->request() == nullptr || p.record->decision() == nullptr) return {};
  p.request = events::nested_request(*p.record);  // verified with the record
  p.decision = p.record->decision();
  if (p.request == nullptr) return {};
  return p;
}

Status not_verifying(int32_t partition, uint64_t offset) {
  return {Errc::corruption, (partition == kEmbedded ? std::string() : "partition " + std::to_string(partition) + ", ") +
                                "offset " + std::to_string(offset) + ": log record does not verify (run kase audit verify)"};
}

json::value decision_value(const fb::Decision& d) {
  json::object o;
  o["outcome"] = d.outcome() == fb::Outcome::accepted ? "accepted" : "rejected";
  o["reason"] = sv(d.reason());
  o["rule"] = sv(d.rule());
  if (d.amount_cents() >= 0) o["amount_cents"] = d.amount_cents();
  if (d.limit_cents() >= 0) o["limit_cents"] = d.limit_cents();
  if (d.day_total_cents() >= 0) o["day_total_cents"] = d.day_total_cents();
  return o;
}

// ---- who and what a request names ------------------------------------------------

/// The account a payment-order action or account event concerns: named in the
/// payload, or (sign, cancel) the account of the order in the state before it.
std::string_view account_of(const fb::Request& r, const engine::State& s) {
  using P = fb::Payload;
  switch (r.payload_type()) {
    case P::PaymentOrderPrepare: return sv(r.payload_as_PaymentOrderPrepare()->account());
    case P::PaymentOrderImport: return sv(r.payload_as_PaymentOrderImport()->account());
    case P::PaymentOrderSign:
    case P::PaymentOrderCancel: {
      const auto* order = r.payload_type() == P::PaymentOrderSign ? r.payload_as_PaymentOrderSign()->order()
                                                                  : r.payload_as_PaymentOrderCancel()->order();
      const auto* e = s.orders.find(sv(r.client_id()), sv(order));
      return e == nullptr || e->second.account == kNoName ? std::string_view{} : s.names.name(e->second.account);
    }
    case P::RightsGranted: return sv(r.payload_as_RightsGranted()->account());
    case P::RightsRevoked: return sv(r.payload_as_RightsRevoked()->account());
    case P::LimitChangeOneDay: return sv(r.payload_as_LimitChangeOneDay()->account());
    case P::AccountOpened: return sv(r.payload_as_AccountOpened()->account());
    case P::AccountClosed: return sv(r.payload_as_AccountClosed()->account());
    case P::AccountBlocked: return sv(r.payload_as_AccountBlocked()->account());
    case P::AccountUnblocked: return sv(r.payload_as_AccountUnblocked()->account());
    case P::AccountDepositFlagSet: return sv(r.payload_as_AccountDepositFlagSet()->account());
    case P::AccountOpenedForYear: return sv(r.payload_as_AccountOpenedForYear()->account());
    case P::OnlineDataRequest: return sv(r.payload_as_OnlineDataRequest()->account());
    default: return {};
  }
}

std::string_view order_of(const fb::Request& r) {
  using P = fb::Payload;
  switch (r.payload_type()) {
    case P::PaymentOrderPrepare: return sv(r.payload_as_PaymentOrderPrepare()->order());
    case P::PaymentOrderImport: return sv(r.payload_as_PaymentOrderImport()->order());
    case P::PaymentOrderSign: return sv(r.payload_as_PaymentOrderSign()->order());
    case P::PaymentOrderCancel: return sv(r.payload_as_PaymentOrderCancel()->order());
    default: return {};
  }
}

int64_t amount_of(const fb::Request& r, const engine::State& s) {
  using P = fb::Payload;
  switch (r.payload_type()) {
    case P::PaymentOrderPrepare: return r.payload_as_PaymentOrderPrepare()->amount_cents();
    case P::PaymentOrderImport: return r.payload_as_PaymentOrderImport()->amount_cents();
    case P::PaymentOrderSign:
    case P::PaymentOrderCancel: {
      const auto* e = s.orders.find(sv(r.client_id()), order_of(r));
      return e == nullptr ? -1 : e->second.amount;
    }
    default: return -1;
  }
}

/// The person a Treasury event is about (rights, means, blocks, applications).
std::string_view person_named(const fb::Request& r) {
  using P = fb::Payload;
  switch (r.payload_type()) {
    case P::RightsGranted: return sv(r.payload_as_RightsGranted()->user());
    case P::RightsRevoked: return sv(r.payload_as_RightsRevoked()->user());
    case P::LimitChangeOneDay: return sv(r.payload_as_LimitChangeOneDay()->user());
    case P::RepresentativeRegistered: return sv(r.payload_as_RepresentativeRegistered()->person());
    case P::MeansBlocked: return sv(r.payload_as_MeansBlocked()->person());
    case P::MeansRestored: return sv(r.payload_as_MeansRestored()->person());
    case P::MeansRegistered: return sv(r.payload_as_MeansRegistered()->person());
    case P::MeansActivated: return sv(r.payload_as_MeansActivated()->person());
    case P::IdentityFact: return sv(r.payload_as_IdentityFact()->person());
    case P::DirectoryFact: return sv(r.payload_as_DirectoryFact()->person());
    case P::ApplicationSubmitted: return sv(r.payload_as_ApplicationSubmitted()->user());
    case P::PersonRolesSet: return sv(r.payload_as_PersonRolesSet()->person());
    case P::PlanRightsGranted: return sv(r.payload_as_PlanRightsGranted()->user());
    case P::ReportRightsGranted: return sv(r.payload_as_ReportRightsGranted()->user());
    case P::LoanRightsGranted: return sv(r.payload_as_LoanRightsGranted()->user());
    default: return {};
  }
}

/// The user an application registration is about (its user, from the state before).
std::string_view application_user(const fb::Request& r, const engine::State& s) {
  if (r.payload_type() != fb::Payload::ApplicationRegistered) return {};
  const NameId app = s.names.find(sv(r.payload_as_ApplicationRegistered()->application()));
  const auto* a = app == kNoName ? nullptr : s.applications.find(app);
  return a == nullptr || a->second.user == kNoName ? std::string_view{} : s.names.name(a->second.user);
}

bool concerns(const fb::Request& r, const engine::State& s, const Subject& subject) {
  if (!subject.client.empty()) return sv(r.client_id()) == subject.client;
  if (!subject.account.empty()) return account_of(r, s) == subject.account;
  if (!subject.person.empty())
    return sv(r.actor()) == subject.person || person_named(r) == subject.person ||
           application_user(r, s) == subject.person;
  return true;
}

const char* kApplicationStatus[] = {"submitted", "in_force", "superseded", "terminated", "annulled"};

/// The eKase rights of `person` for `client` (on `account` only, when named)
/// as they stood before the request at `at_us`: mode, the limits in force that
/// day (R9, with a one-day change R14/R15), the day total so far and the
/// application the rights stand on (R7, R31).
json::array rights_before(const engine::State& s, NameId person, NameId client, std::string_view account,
                          int64_t at_us) {
  json::array out;
  if (person == kNoName) return out;
  const engine::DateYmd day = engine::riga_time(at_us).date;
  std::vector<std::pair<std::string, json::object>> rows;
  for (const auto& entry : s.grants) {
    const engine::PairKey k = entry.first;
    const engine::Grant& g = entry.second;
    if (engine::first_of(k) != person || g.mode == fb::AccessMode::none) continue;
    if (client != kNoName && g.client != client) continue;
    const std::string_view acc = s.names.name(engine::second_of(k));
    if (!account.empty() && acc != account) continue;
    json::object r;
    r["account"] = acc;
    r["client"] = s.names.name(g.client);
    r["mode"] = fb::EnumNameAccessMode(g.mode);
    r["rule"] = engine::rule_of(g.mode);
    if (engine::has_limits(g.mode)) {
      engine::Cents per_order = g.per_order_limit;
      engine::Cents daily = g.daily_limit;
      const auto* ov = s.limit_overrides.find(engine::OverrideKey{k, day});
      if (ov != nullptr) {
        if (ov->second.per_order_limit != -1) per_order = ov->second.per_order_limit;
        if (ov->second.daily_limit != -1) daily = ov->second.daily_limit;
        r["one_day_change"] = true;  // R14, R15
      }
      r["per_order_limit_cents"] = per_order;
      r["daily_limit_cents"] = daily;
      const auto* dt = s.day_totals.find(k);
      r["day_total_cents"] = dt != nullptr && dt->second.date == day ? dt->second.total : 0;
    }
    if (g.application != kNoName) {
      r["application"] = s.names.name(g.application);
      if (const auto* a = s.applications.find(g.application)) {
        r["application_status"] = kApplicationStatus[static_cast<size_t>(a->second.status)];
        r["application_lapses_on"] = a->second.lapses_on;
      }
    }
    rows.emplace_back(std::string(acc), std::move(r));
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& row : rows) out.push_back(std::move(row.second));
  return out;
}

std::string csv_field(std::string_view v) {
  if (v.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(v);
  std::string out = "\"";
  for (const char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string num_or_empty(int64_t v) { return v < 0 ? std::string() : std::to_string(v); }

/// Folds one partition with a callback before and after each record; stops
/// when `before` returns false. Reports progress.
Status fold_partition(Log& log, int32_t p, engine::Engine& engine, const Progress& progress, uint64_t* done,
                      uint64_t total,
                      const std::function<bool(uint64_t, const Parsed&)>& before,
                      const std::function<void(uint64_t, const Parsed&, const engine::Verdict&)>& after) {
  Status bad;
  Status s = log.scan(p, [&](uint64_t offset, std::span<const uint8_t> bytes) {
    const Parsed rec = parse(bytes);
    if (rec.request == nullptr) {
      bad = not_verifying(p, offset);
      return false;
    }
    if (before && !before(offset, rec)) return false;
    const engine::Verdict v = engine.apply(*rec.request);
    if (offset % 4096 == 0) (void)engine.take_dirty();  // nothing persists them here
    if (after) after(offset, rec, v);
    if (progress && ++*done % kProgressEvery == 0) progress(*done, total);
    return true;
  });
  return s.ok() ? bad : s;
}

uint64_t total_records(const Log& log) {
  uint64_t n = 0;
  for (const int32_t p : log.partitions()) n += log.size(p);
  return n;
}

}  // namespace

// ---- Log ------------------------------------------------------------------------------

Status Log::open(const Source& source, std::unique_ptr<Log>* out) {
  if (!source.brokers.empty()) {
    auto log = std::make_unique<KafkaLog>();
    kafka::ReadOptions ro;
    ro.brokers = source.brokers;
    ro.topic = kafka::kDecisionsTopic;
    if (Status s = kafka::read_topic(ro,
                                     [&](int32_t p, int64_t, std::span<const uint8_t> v, const auto&) {
                                       log->records[p].emplace_back(reinterpret_cast<const char*>(v.data()),
                                                                    v.size());
                                     });
        !s.ok())
      return s;
    *out = std::move(log);
    return {};
  }
  if (source.data_dir.empty()) return {Errc::invalid_argument, "no data directory and no brokers"};
  if (!std::filesystem::exists(source.data_dir))
    return {Errc::invalid_argument, "no data directory " + source.data_dir};
  std::unique_ptr<projections::Store> store;
  projections::RocksOptions o;
  o.read_only = true;
  o.create_if_missing = false;
  if (Status s = projections::open_rocks_store(source.data_dir, o, &store); !s.ok()) return s;
  projections::Meta meta;
  if (Status s = store->load_meta(&meta); !s.ok()) return s;
  *out = std::make_unique<EmbeddedLog>(std::move(store), meta.next_offset);
  return {};
}

// ---- verify ---------------------------------------------------------------------------

Status verify(const Source& source, const Progress& progress, VerifyReport* out) {
  const auto fail = [&](int32_t partition, Divergence d) {
    if (!out->intact) return;
    out->intact = false;
    out->partition = partition;
    out->divergence = std::move(d);
  };
  const auto storage_divergence = [&](const Status& s) -> bool {
    // Damage the storage itself reports (checksums, a manifest or log that
    // does not decode) is evidence of tampering, not an operational error.
    if (s.code() != Errc::corruption) return false;
    Divergence d;
    d.what = "storage reports corruption: " + s.message();
    fail(kEmbedded, std::move(d));
    return true;
  };
  std::unique_ptr<Log> log;
  if (Status s = Log::open(source, &log); !s.ok()) return storage_divergence(s) ? Status{} : s;

  if (projections::Store* store = log->store()) {
    out->partitions = 1;
    if (Status s = store->verify_files(); !s.ok()) return storage_divergence(s) ? Status{} : s;
    ReplayResult r;
    const uint64_t total = log->size(kEmbedded);
    Status s = replay(store, true, &r, [&](uint64_t done) {
      if (progress) progress(done, total);
    });
    if (!s.ok()) return storage_divergence(s) ? Status{} : s;
    out->records = r.records;
    out->lines.push_back(std::to_string(r.records) + " records (accepted " + std::to_string(r.accepted) +
                         ", rejected " + std::to_string(r.rejected) + "), chain head " +
                         events::to_hex(r.chain_head) + ", state " + events::to_hex(r.state_hash));
    if (!r.intact) {
      Divergence d = r.divergence;
      if (d.what.empty()) d.what = r.error;
      fail(kEmbedded, std::move(d));
    }
    return {};
  }

  // Kafka: each partition of kase.decisions is its own chained log.
  const uint64_t total = total_records(*log);
  uint64_t done = 0;
  for (const int32_t p : log->partitions()) {
    ++out->partitions;
    Refold refold(true);
    Status s = log->scan(p, [&](uint64_t offset, std::span<const uint8_t> bytes) {
      if (!refold.add(offset, bytes)) return false;
      if (progress && ++done % kProgressEvery == 0) progress(done, total);
      return true;
    });
    if (!s.ok()) return s;
    out->records += refold.records();
    out->lines.push_back("partition " + std::to_string(p) + ": " + std::to_string(refold.records()) +
                         " decisions, chain head " + events::to_hex(refold.chain_head()) + ", state " +
                         events::to_hex(projections::state_hash(refold.engine().state())));
    if (!refold.divergence().what.empty()) fail(p, refold.divergence());
  }
  // Every request decided exactly once, byte for byte (and the dead letters).
  kafka::VerifyReport kr;
  if (Status s = kafka::verify(source.brokers, "", &kr); !s.ok()) return s;
  if (!kr.intact) {
    Divergence d;
    d.what = "kase.requests against kase.decisions: " + kr.error;
    fail(kEmbedded, std::move(d));
  }
  return {};
}

// ---- history --------------------------------------------------------------------------

const char* const kHistoryCsvHeader =
    "partition,offset,time,request_id,client,actor,channel,means,type,account,order,amount_cents,outcome,reason,rule,"
    "decision_amount_cents,limit_cents,day_total_cents,block,mode,per_order_limit_cents,daily_limit_cents,"
    "day_total_before_cents,application,application_status";

Status history(const Source& source, const HistoryOptions& options, const Progress& progress,
               const std::function<void(const std::string&)>& emit) {
  std::unique_ptr<Log> log;
  if (Status s = Log::open(source, &log); !s.ok()) return s;
  events::JsonCodec codec;
  if (options.csv) emit(kHistoryCsvHeader);
  const uint64_t total = total_records(*log);
  uint64_t done = 0;
  for (const int32_t p : log->partitions()) {
    engine::Engine engine;
    Status s = fold_partition(*log, p, engine, progress, &done, total, [&](uint64_t offset, const Parsed& rec) {
      const fb::Request& r = *rec.request;
      const int64_t at = r.intake_us();
      if (at < options.from_us || at > options.to_us) return true;
      const engine::State& st = engine.state();
      if (!concerns(r, st, options.subject)) return true;
      // The rights and limits in force before this request decided it.
      const std::string_view person_name =
          options.subject.person.empty() ? sv(r.actor()) : std::string_view(options.subject.person);
      const NameId person = st.names.find(person_name);
      const std::string_view account = account_of(r, st);
      const NameId client = st.names.find(sv(r.client_id()));
      const json::array rights = client == kNoName ? json::array{} : rights_before(st, person, client, account, at);
      const auto* pe = person == kNoName ? nullptr : st.persons.find(person);
      const char* block = fb::EnumNameBlockCause(pe == nullptr ? fb::BlockCause::none : pe->second.block);
      const int64_t amount = amount_of(r, st);
      const fb::Decision& d = *rec.decision;
      if (options.csv) {
        const json::object* g = rights.size() == 1 ? &rights[0].as_object() : nullptr;
        const auto field = [&](const char* k) -> std::string {
          if (g == nullptr || !g->contains(k)) return {};
          const json::value& v = g->at(k);
          if (v.is_string()) return std::string(v.as_string());
          if (v.is_int64()) return std::to_string(v.as_int64());
          return json::serialize(v);
        };
        std::string line = (p == kEmbedded ? std::string() : std::to_string(p)) + "," + std::to_string(offset) + "," +
                           iso_time(at) + "," + csv_field(sv(r.request_id())) + "," + csv_field(sv(r.client_id())) +
                           "," + csv_field(sv(r.actor())) + "," + fb::EnumNameChannel(r.channel()) + "," +
                           fb::EnumNameMeans(r.means()) + "," + fb::EnumNamePayload(r.payload_type()) + "," +
                           csv_field(account) + "," + csv_field(order_of(r)) + "," + num_or_empty(amount) + "," +
                           (d.outcome() == fb::Outcome::accepted ? "accepted" : "rejected") + "," +
                           csv_field(sv(d.reason())) + "," + csv_field(sv(d.rule())) + "," +
                           num_or_empty(d.amount_cents()) + "," + num_or_empty(d.limit_cents()) + "," +
                           num_or_empty(d.day_total_cents()) + "," + block + "," + field("mode") + "," +
                           field("per_order_limit_cents") + "," + field("daily_limit_cents") + "," +
                           field("day_total_cents") + "," + csv_field(field("application")) + "," +
                           field("application_status");
        emit(line);
        return true;
      }
      json::object o;
      if (p != kEmbedded) o["partition"] = p;
      o["offset"] = offset;
      o["time"] = iso_time(at);
      o["request_id"] = sv(r.request_id());
      o["client"] = sv(r.client_id());
      o["actor"] = sv(r.actor());
      o["type"] = fb::EnumNamePayload(r.payload_type());
      if (!account.empty()) o["account"] = account;
      if (amount >= 0) o["amount_cents"] = amount;
      o["decision"] = decision_value(d);
      o["request"] = json::parse(codec.request_to_json(r));
      json::object in_force;
      in_force["person"] = person_name;
      in_force["block"] = block;
      in_force["ekase"] = rights;
      o["rights_before"] = std::move(in_force);
      emit(json::serialize(o));
      return true;
    }, {});
    if (!s.ok()) return s;
  }
  if (progress) progress(done, total);
  return {};
}

// ---- state ----------------------------------------------------------------------------

namespace {

const char* order_status(engine::OrderStatus s) {
  switch (s) {
    case engine::OrderStatus::prepared: return "prepared";
    case engine::OrderStatus::submitted: return "submitted";
    case engine::OrderStatus::cancelled: return "cancelled";
  }
  return "?";
}

json::object order_value(const engine::State& s, std::string_view key, const engine::Order& o) {
  json::object x;
  x["client"] = s.names.name(o.client);
  x["order"] = key.substr(key.find(engine::kKeySep) + 1);
  x["account"] = s.names.name(o.account);
  x["amount_cents"] = o.amount;
  x["preparer"] = o.preparer == kNoName ? std::string_view("") : s.names.name(o.preparer);
  x["beneficiary"] = o.beneficiary;
  x["status"] = order_status(o.status);
  json::array sigs;
  for (const engine::Signature& sig : o.signed_by()) {
    json::object g;
    g["user"] = s.names.name(sig.user);
    g["mode"] = fb::EnumNameAccessMode(sig.mode);
    sigs.push_back(std::move(g));
  }
  x["signatures"] = std::move(sigs);
  return x;
}

json::array orders_where(const engine::State& s, const std::function<bool(const engine::Order&)>& keep) {
  std::vector<std::pair<std::string, json::object>> rows;
  for (const auto& entry : s.orders)
    if (keep(entry.second)) rows.emplace_back(entry.first, order_value(s, entry.first, entry.second));
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  json::array out;
  for (auto& r : rows) out.push_back(std::move(r.second));
  return out;
}

json::array documents_where(const engine::State& s, const std::function<bool(const engine::DocumentKey&)>& keep) {
  std::vector<std::pair<std::string, json::value>> rows;
  for (const auto& entry : s.documents) {
    if (!keep(entry.first)) continue;
    const auto service = static_cast<fb::Service>(entry.first.service);
    const std::string client(s.names.name(entry.first.client));
    const std::string doc(s.names.name(entry.first.document));
    rows.emplace_back(client + "\x1f" + fb::EnumNameService(service) + "\x1f" + doc,
                      json::parse(document_json(s, client, service, doc)));
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  json::array out;
  for (auto& r : rows) out.push_back(std::move(r.second));
  return out;
}

json::array limit_changes(const engine::State& s, const std::function<bool(engine::PairKey)>& keep) {
  std::vector<std::pair<std::string, json::object>> rows;
  for (const auto& entry : s.limit_overrides) {
    if (!keep(entry.first.grant)) continue;
    json::object x;
    x["user"] = s.names.name(engine::first_of(entry.first.grant));
    x["account"] = s.names.name(engine::second_of(entry.first.grant));
    x["date"] = entry.first.date;
    if (entry.second.per_order_limit != -1) x["per_order_limit_cents"] = entry.second.per_order_limit;
    if (entry.second.daily_limit != -1) x["daily_limit_cents"] = entry.second.daily_limit;
    rows.emplace_back(json::serialize(x), std::move(x));
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  json::array out;
  for (auto& r : rows) out.push_back(std::move(r.second));
  return out;
}

json::object account_value(const engine::State& s, std::string_view account, int64_t at_us) {
  json::object o;
  o["account"] = account;
  const NameId id = s.names.find(account);
  const auto* a = id == kNoName ? nullptr : s.accounts.find(id);
  o["known"] = a != nullptr;
  if (a == nullptr) return o;
  o["owner"] = s.names.name(a->second.owner_client);
  o["deposit"] = a->second.deposit;
  o["closed"] = a->second.closed;
  o["blocked"] = a->second.blocked;
  o["fiscal_year"] = a->second.fiscal_year;
  std::vector<std::pair<std::string, json::value>> rows;
  for (const auto& entry : s.grants) {
    if (engine::second_of(entry.first) != id || entry.second.mode == fb::AccessMode::none) continue;
    const NameId user = engine::first_of(entry.first);
    json::array r = rights_before(s, user, entry.second.client, account, at_us);
    for (auto& v : r) {
      v.as_object()["user"] = s.names.name(user);
      rows.emplace_back(std::string(s.names.name(user)), std::move(v));
    }
  }
  std::sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  json::array rights;
  for (auto& r : rows) rights.push_back(std::move(r.second));
  o["rights"] = std::move(rights);
  o["one_day_changes"] = limit_changes(s, [&](engine::PairKey k) { return engine::second_of(k) == id; });
  o["orders"] = orders_where(s, [&](const engine::Order& x) { return x.account == id; });
  return o;
}

json::object client_value(const engine::State& s, std::string_view client, int64_t at_us) {
  json::object o;
  o["client"] = client;
  const NameId id = s.names.find(client);
  o["known"] = id != kNoName;
  if (id == kNoName) return o;
  const auto* ci = s.clients.find(id);
  o["kind"] = fb::EnumNameClientKind(ci == nullptr ? fb::ClientKind::other : ci->second.kind);
  std::vector<std::string> accounts;
  for (const auto& entry : s.accounts)
    if (entry.second.owner_client == id) accounts.emplace_back(s.names.name(entry.first));
  std::sort(accounts.begin(), accounts.end());
  json::array acc;
  for (const auto& a : accounts) acc.push_back(account_value(s, a, at_us));
  o["accounts"] = std::move(acc);
  // Rights held for this client, also on accounts it does not own.
  std::vector<NameId> users;
  for (const auto& entry : s.grants)
    if (entry.second.client == id && entry.second.mode != fb::AccessMode::none)
      users.push_back(engine::first_of(entry.first));
  std::sort(users.begin(), users.end());
  users.erase(std::unique(users.begin(), users.end()), users.end());
  std::vector<std::pair<std::string, json::value>> rows;
  for (const NameId u : users)
    for (auto& v : rights_before(s, u, id, {}, at_us)) {
      v.as_object()["user"] = s.names.name(u);
      rows.emplace_back(std::string(s.names.name(u)), std::move(v));
    }
  std::sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  json::array rights;
  for (auto& r : rows) rights.push_back(std::move(r.second));
  o["rights"] = std::move(rights);
  std::vector<std::pair<std::string, json::object>> apps;
  for (const auto& entry : s.applications) {
    if (entry.second.client != id) continue;
    json::object a;
    a["application"] = s.names.name(entry.first);
    a["user"] = s.names.name(entry.second.user);
    a["kind"] = fb::EnumNameApplicationKind(entry.second.kind);
    a["status"] = kApplicationStatus[static_cast<size_t>(entry.second.status)];
    a["lapses_on"] = entry.second.lapses_on;
    apps.emplace_back(std::string(s.names.name(entry.first)), std::move(a));
  }
  std::sort(apps.begin(), apps.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  json::array applications;
  for (auto& a : apps) applications.push_back(std::move(a.second));
  o["applications"] = std::move(applications);
  o["orders"] = orders_where(s, [&](const engine::Order& x) { return x.client == id; });
  o["documents"] = documents_where(s, [&](const engine::DocumentKey& k) { return k.client == id; });
  return o;
}

json::object person_value(const engine::State& s, std::string_view person, int64_t at_us) {
  json::object o = json::parse(person_json(s, person, at_us)).as_object();
  const NameId id = s.names.find(person);
  o["one_day_changes"] = limit_changes(s, [&](engine::PairKey k) { return engine::first_of(k) == id; });
  o["orders"] = orders_where(s, [&](const engine::Order& x) {
    if (id == kNoName) return false;
    if (x.preparer == id) return true;
    for (const engine::Signature& sig : x.signed_by())
      if (sig.user == id) return true;
    return false;
  });
  // Documents the person took a step on (R37: who did what).
  o["documents"] = documents_where(s, [&](const engine::DocumentKey& k) {
    if (id == kNoName) return false;
    const auto* d = s.documents.find(k);
    for (uint32_t i = 0; d != nullptr && i < d->second.history_count; ++i) {
      const auto* h = s.document_history.find(engine::HistoryKey{k, i});
      if (h != nullptr && h->second.actor == id) return true;
    }
    return false;
  });
  return o;
}

}  // namespace

Status state(const Source& source, const StateOptions& options, const Progress& progress,
             const std::function<void(const std::string&)>& emit) {
  std::unique_ptr<Log> log;
  if (Status s = Log::open(source, &log); !s.ok()) return s;
  const uint64_t total = total_records(*log);
  uint64_t done = 0;
  for (const int32_t p : log->partitions()) {
    engine::Engine engine;
    uint64_t folded = 0;
    int64_t last_intake = 0;
    Status s = fold_partition(
        *log, p, engine, progress, &done, total,
        [&](uint64_t offset, const Parsed& rec) {
          if (options.offset && offset > *options.offset) return false;
          if (options.at_us && rec.request->intake_us() > *options.at_us) return false;  // the log is in intake order
          return true;
        },
        [&](uint64_t, const Parsed& rec, const engine::Verdict&) {
          ++folded;
          last_intake = rec.request->intake_us();
        });
    if (!s.ok()) return s;
    const engine::State& st = engine.state();
    const int64_t at = options.at_us ? *options.at_us : last_intake;
    json::object o;
    if (p != kEmbedded) o["partition"] = p;
    json::object as_of;
    if (options.at_us) as_of["time"] = iso_time(*options.at_us);
    if (options.offset) as_of["offset"] = *options.offset;
    as_of["records_folded"] = folded;
    if (last_intake != 0) as_of["last_request_time"] = iso_time(last_intake);
    o["as_of"] = std::move(as_of);
    if (!options.subject.person.empty()) {
      o["person"] = person_value(st, options.subject.person, at);
    } else if (!options.subject.account.empty()) {
      o["account"] = account_value(st, options.subject.account, at);
    } else if (!options.subject.client.empty()) {
      o["client"] = client_value(st, options.subject.client, at);
    } else {
      const projections::StateCounts c = projections::state_counts(st);
      json::object summary;
      summary["accounts"] = c.accounts;
      summary["representatives"] = c.representatives;
      summary["grants"] = c.grants;
      summary["orders"] = c.orders;
      summary["day_totals"] = c.day_totals;
      summary["limit_changes"] = c.limit_overrides;
      summary["persons"] = c.persons;
      summary["blocked_persons"] = c.blocked_persons;
      summary["documents"] = st.documents.size();
      summary["applications"] = st.applications.size();
      summary["state_hash"] = events::to_hex(projections::state_hash(st));
      o["summary"] = std::move(summary);
    }
    emit(json::serialize(o));
  }
  if (progress) progress(done, total);
  return {};
}

// ---- explain --------------------------------------------------------------------------

Status explain(const Source& source, std::string_view request_id, const Progress& progress,
               std::vector<Explanation>* out) {
  std::unique_ptr<Log> log;
  if (Status s = Log::open(source, &log); !s.ok()) return s;
  events::JsonCodec codec;
  const uint64_t total = total_records(*log);
  uint64_t done = 0;
  for (const int32_t p : log->partitions()) {
    engine::Engine engine;
    engine::Trace trace;
    bool found = false;
    Status s = fold_partition(
        *log, p, engine, progress, &done, total,
        [&](uint64_t, const Parsed& rec) {
          if (found) return false;  // request ids are unique within a log
          if (sv(rec.request->request_id()) == request_id) engine.set_trace(&trace);
          return true;
        },
        [&](uint64_t offset, const Parsed& rec, const engine::Verdict& v) {
          if (sv(rec.request->request_id()) != request_id) return;
          engine.set_trace(nullptr);
          found = true;
          Explanation e;
          e.partition = p;
          e.offset = offset;
          e.request_json = codec.request_to_json(*rec.request);
          e.stored_json = codec.decision_to_json(*rec.decision);
          e.checks = std::move(trace.checks);
          e.recomputed = v;
          const fb::Decision& d = *rec.decision;
          e.equal = (d.outcome() == fb::Outcome::accepted) == v.accepted && sv(d.reason()) == v.reason &&
                    sv(d.rule()) == v.rule && d.amount_cents() == v.amount && d.limit_cents() == v.limit &&
                    d.day_total_cents() == v.day_total;
          out->push_back(std::move(e));
        });
    if (!s.ok()) return s;
  }
  if (progress) progress(done, total);
  return {};
}

std::string explanation_text(const Explanation& e) {
  const json::object req = json::parse(e.request_json).as_object();
  const auto str = [&](const char* k) -> std::string {
    return req.contains(k) && req.at(k).is_string() ? std::string(req.at(k).as_string()) : std::string();
  };
  std::string out = "request " + str("request_id") +
                    (e.partition == kEmbedded ? std::string() : " (partition " + std::to_string(e.partition) + ")") +
                    " at offset " + std::to_string(e.offset) + ": " + str("payload_type") + " by " + str("actor") +
                    " for client " + str("client_id") + " via " +
                    (str("channel").empty() ? std::string("portal") : str("channel"));
  if (req.contains("intake_us") && req.at("intake_us").is_int64())
    out += ", " + iso_time(req.at("intake_us").as_int64());
  out += "\n";
  out += "  " + (req.contains("payload") ? json::serialize(req.at("payload")) : std::string("{}")) + "\n";
  size_t n = 0;
  for (const engine::TraceCheck& c : e.checks) {
    char head[96];
    std::snprintf(head, sizeof head, "%3zu. %s %s (%s): ", ++n, c.passed ? "pass" : "FAIL", c.check,
                  *c.rule != '\0' ? c.rule : "-");
    out += head + c.detail + "\n";
  }
  out += std::string("  -> ") + (e.recomputed.accepted ? "accepted" : "rejected") + ", " + e.recomputed.reason +
         " (" + e.recomputed.rule + "); " +
         (e.equal ? "equal to the stored decision" : "DIFFERS from the stored decision " + e.stored_json) + "\n";
  return out;
}

std::string explanation_json(const Explanation& e) {
  json::object o;
  if (e.partition != kEmbedded) o["partition"] = e.partition;
  o["offset"] = e.offset;
  o["request"] = json::parse(e.request_json);
  json::array checks;
  for (const engine::TraceCheck& c : e.checks) {
    json::object x;
    x["check"] = c.check;
    x["rule"] = c.rule;
    x["passed"] = c.passed;
    x["detail"] = c.detail;
    checks.push_back(std::move(x));
  }
  o["checks"] = std::move(checks);
  o["stored_decision"] = json::parse(e.stored_json);
  o["equal_to_stored"] = e.equal;
  return json::serialize(o);
}

// ---- progress bar ---------------------------------------------------------------------

namespace {
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
std::string short_count(double v) {
  char buf[32];
  if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}
}  // namespace

ProgressBar::ProgressBar(std::string label, bool enabled)
    : label_(std::move(label)), enabled_(enabled), start_ns_(now_ns()) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(uint64_t done, uint64_t total) {
  if (!enabled_) return;
  constexpr int64_t kRedrawNs = 200'000'000;
  const int64_t now = now_ns();
  if (drawn_ && now - last_ns_ < kRedrawNs && done < total) return;
  last_ns_ = now;
  const double seconds = static_cast<double>(now - start_ns_) / 1e9;
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  constexpr int kWidth = 30;
  std::string line = "\r" + label_ + " ";
  if (total > 0) {
    const double f = std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
    const int filled = static_cast<int>(f * kWidth);
    line += "[" + std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(kWidth - filled), '.') +
            "] ";
    char pct[16];
    std::snprintf(pct, sizeof pct, "%3.0f%% ", f * 100);
    line += pct;
  }
  line += short_count(static_cast<double>(done)) + (total > 0 ? "/" + short_count(static_cast<double>(total)) : "") +
          " records, " + short_count(rate) + "/s";
  if (total > 0 && rate > 0 && done < total) {
    char eta[32];
    std::snprintf(eta, sizeof eta, ", %.0f s left", static_cast<double>(total - done) / rate);
    line += eta;
  }
  line += "   ";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (!enabled_ || !drawn_) return;
  std::fputs("\n", stderr);
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace kase::adapters::audit
