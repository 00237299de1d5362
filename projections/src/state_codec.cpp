#include <openssl/sha.h>

#include <algorithm>
#include <optional>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kase/projections/little_endian.h"
#include "kase/projections/store.h"

namespace kase {

const char* errc_name(Errc e) noexcept {
  switch (e) {
    case Errc::ok: return "ok";
    case Errc::io_error: return "io_error";
    case Errc::corruption: return "corruption";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::not_found: return "not_found";
    case Errc::failed_state: return "failed_state";
  }
  return "unknown";
}

void assert_failed(const char* cond, const char* msg, const char* file, int line) {
  std::fprintf(stderr, "kase: assertion failed at %s:%d: %s (%s)\n", file, line, cond, msg);
  std::fflush(stderr);
  std::abort();
}

}  // namespace kase

namespace kase::projections {
using namespace kase::engine;

const char* family_name(Family f) noexcept {
  switch (f) {
    case Family::meta: return "default";
    case Family::log: return "log";
    case Family::request_ids: return "request_ids";
    case Family::accounts: return "accounts";
    case Family::representatives: return "representatives";
    case Family::grants: return "grants";
    case Family::permissions: return "permissions";
    case Family::limit_overrides: return "limit_overrides";
    case Family::day_totals: return "day_totals";
    case Family::orders: return "orders";
    case Family::persons: return "persons";
    case Family::applications: return "applications";
    case Family::data_exchange: return "data_exchange";
    case Family::messages: return "messages";
    case Family::message_reads: return "message_reads";
    case Family::clients: return "clients";
    case Family::roles: return "roles";
    case Family::service_rights: return "service_rights";
    case Family::structures: return "structures";
    case Family::documents: return "documents";
    case Family::document_history: return "document_history";
    case Family::payment_files: return "payment_files";
    case Family::count_: break;
  }
  return "?";
}

std::string offset_key(uint64_t offset) {
  std::string k(8, '\0');
  for (int i = 0; i < 8; ++i) k[7 - i] = static_cast<char>(offset >> (8 * i));
  return k;
}

uint64_t offset_from_key(std::string_view key) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < key.size(); ++i) v = v << 8 | static_cast<uint8_t>(key[i]);
  return v;
}

namespace {

// Little-endian fixed-width fields and length-prefixed strings. Version byte
// first so that the format can grow.
constexpr uint8_t kValueVersion = 1;
/// A person's homes are Kafka partitions: at most one per partition.
constexpr uint64_t kHomesMax = 1 << 16;

void put(std::string* o, uint64_t v, int bytes) { le::put(o, v, bytes); }
void put_i64(std::string* o, int64_t v) { put(o, static_cast<uint64_t>(v), 8); }
void put_i32(std::string* o, int32_t v) { put(o, static_cast<uint32_t>(v), 4); }
void put_u8(std::string* o, uint8_t v) { o->push_back(static_cast<char>(v)); }
void put_str(std::string* o, std::string_view s) {
  put(o, s.size(), 4);
  o->append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool ok() const { return ok_; }
  bool done() const { return ok_ && pos_ == s_.size(); }
  uint64_t get(int bytes) {
    if (!ok_ || s_.size() - pos_ < static_cast<size_t>(bytes)) {
      ok_ = false;
      return 0;
    }
    const uint64_t v = le::get(s_, pos_, bytes);
    pos_ += static_cast<size_t>(bytes);
    return v;
  }
  int64_t i64() { return static_cast<int64_t>(get(8)); }
  int32_t i32() { return static_cast<int32_t>(static_cast<uint32_t>(get(4))); }
  uint8_t u8() { return static_cast<uint8_t>(get(1)); }
  bool boolean() { return u8() != 0; }
  std::string str() {
    const auto n = static_cast<size_t>(get(4));
    if (!ok_ || s_.size() - pos_ < n) {
      ok_ = false;
      return {};
    }
    std::string out(s_.substr(pos_, n));
    pos_ += n;
    return out;
  }
  AccessMode mode() {
    const uint8_t m = u8();
    if (m > static_cast<uint8_t>(AccessMode::MAX)) ok_ = false;
    return static_cast<AccessMode>(m);
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
  bool ok_ = true;
};

Status corrupt(Family f, std::string_view key) {
  return {Errc::corruption, std::string("undecodable value in ") + family_name(f) + " for key of " +
                                std::to_string(key.size()) + " bytes"};
}

}  // namespace

namespace {
void put_name(std::string* o, const Names& n, NameId id) { put_str(o, id == kNoName ? "" : n.name(id)); }

/// YYYYMMDD as 8 digits (the last part of a one-day limit change's key).
void append_date(std::string* o, DateYmd date) {
  char digits[8];
  auto v = static_cast<uint32_t>(date);
  for (int i = 7; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  o->append(digits, sizeof digits);
}
}  // namespace

std::string key_of(const Names& n, NameId id) { return std::string(n.name(id)); }
std::string key_of(const Names& n, PairKey k) {
  std::string out(n.name(first_of(k)));
  out.push_back(kKeySep);
  out.append(n.name(second_of(k)));
  return out;
}
std::string key_of(const Names& n, const OverrideKey& k) {
  std::string out = key_of(n, k.grant);
  out.push_back(kKeySep);
  append_date(&out, k.date);
  return out;
}

std::string key_of(const Names& n, const RightKey& k) {
  // kind ␟ user ␟ client ␟ scope (a service number, an institution, or 0).
  std::string out(1, static_cast<char>('0' + static_cast<int>(k.kind)));
  out.push_back(kKeySep);
  out.append(n.name(k.user));
  out.push_back(kKeySep);
  out.append(n.name(k.client));
  out.push_back(kKeySep);
  if (k.kind == RightKind::report) out.append(n.name(static_cast<NameId>(k.scope)));
  else out.append(std::to_string(k.scope));
  return out;
}
std::string key_of(const Names& n, const StructureKey& k) {
  std::string out(n.name(k.client));
  out.push_back(kKeySep);
  out.push_back(static_cast<char>('0' + k.type));
  out.push_back(kKeySep);
  append_date(&out, k.year);  // 8 digits, zero-padded
  return out;
}

std::string key_of(const Names& n, const DocumentKey& k) {
  // client ␟ service number ␟ document
  std::string out(n.name(k.client));
  out.push_back(kKeySep);
  out.push_back(static_cast<char>('0' + k.service));
  out.push_back(kKeySep);
  out.append(n.name(k.document));
  return out;
}
std::string key_of(const Names& n, const HistoryKey& k) {
  // the document's key ␟ sequence number, 8 digits: sorted in order of the steps
  std::string out = key_of(n, k.document);
  out.push_back(kKeySep);
  append_date(&out, static_cast<DateYmd>(k.seq));
  return out;
}

void encode_value(const ClientInfo& v, const Names&, std::string* o) {
  put_u8(o, kValueVersion);
  put_u8(o, static_cast<uint8_t>(v.kind));
}
void encode_value(const Roles& v, const Names&, std::string* o) {
  put_u8(o, kValueVersion);
  put(o, v.bits, 2);
}
void encode_value(const ServiceRight& v, const Names& n, std::string* o) {
  put_u8(o, kValueVersion);
  put_u8(o, v.mode);
  put_u8(o, v.groups);
  put_name(o, n, v.application);  // appended field: absent in older values
}
void encode_value(const Document& v, const Names& n, std::string* o) {
  put_u8(o, kValueVersion);
  put_u8(o, static_cast<uint8_t>(v.kind));
  put_u8(o, static_cast<uint8_t>(v.status));
  put_str(o, v.digest);
  put_i64(o, v.amount);
  put_i64(o, v.appropriated);
  put_u8(o, static_cast<uint8_t>(v.report_type));
  put_i32(o, v.year);
  put_str(o, v.period);
  put_name(o, n, v.first_signer);
  put_name(o, n, v.accepted_by);
  put_u8(o, static_cast<uint8_t>(v.verdict));
  put_str(o, v.opinion_digest);
  put_i32(o, static_cast<int32_t>(v.history_count));
  // Appended for disbursement requests only: other documents keep their bytes.
  if (v.kind == fb::DocumentKind::disbursement_request) put_name(o, n, v.agreement);
}
void encode_value(const PaymentFile& v, const Names& n, std::string* o) {
  put_u8(o, kValueVersion);
  put_name(o, n, v.client);
  put_name(o, n, v.account);
  put_name(o, n, v.signer);
  put_i32(o, v.payments);
  put_i32(o, v.applied);
  put_i64(o, v.total);
  put_i64(o, v.applied_total);
  put_i32(o, v.decided);  // appended: values written before it decode with decided = applied
}
void encode_value(const DocumentEvent& v, const Names& n, std::string* o) {
  put_u8(o, kValueVersion);
  put_i64(o, v.at_us);
  put_str(o, v.request_id);
  put_name(o, n, v.actor);
  put_name(o, n, v.acting_for);
  put_u8(o, static_cast<uint8_t>(v.step));
  put_u8(o, static_cast<uint8_t>(v.status));
  put_u8(o, static_cast<uint8_t>(v.role));
  put_u8(o, static_cast<uint8_t>(v.verdict));
  put_str(o, v.digest);
  put_i64(o, v.amount);
}
void encode_value(const Structure& v, const Names& n, std::string* o) {
  // By name, not by id: ids depend on interning order, the persisted form must not.
  std::vector<std::string_view> names;
  for (const NameId i : v.institutions) names.push_back(n.name(i));
  std::sort(names.begin(), names.end());
  put_u8(o, kValueVersion);
  put(o, names.size(), 4);
  for (const auto name : names) put_str(o, name);
}

void encode_value(const Account& v, const Names& n, std::string* o) {
  put_u8(o, kValueVersion);
  put_name(o, n, v.owner_client);
  put_u8(o, v.deposit);
  put_u8(o, v.closed);
  put_u8(o, v.blocked);
  put_i32(o, v.fiscal_year);
  put_i32(o, v.signature3_users);
  put_i32(o, v.signature4_users);
}
void encode_value(const Representative& v, const Names&, std::string* o) {
  put_u8(o, kValueVersion);
  put_u8(o, v.head);
  put_u8(o, v.specimen_card);
}
void encode_value(const Grant& v, const Names& n, std::string* o) {
  put_u8(o, kValueVersion);
  put_name(o, n, v.client);
  put_u8(o, static_cast<uint8_t>(v.mode));
  put_i64(o, v.per_order_limit);
  put_i64(o, v.daily_limit);
  put_name(o, n, v.application);  // appended field: absent in older values
}
void encode_value(const Message& v, const Names& n, std::string* o) {
  put_u8(o, kValueVersion);
  put_name(o, n, v.client);
  put_i64(o, v.posted_us);
}
void encode_value(const Application& v, const Names& n, std::string* o) {
  put_u8(o, kValueVersion);
  put_name(o, n, v.client);
  put_name(o, n, v.user);
  put_u8(o, static_cast<uint8_t>(v.kind));
  put_u8(o, static_cast<uint8_t>(v.status));
  put_i64(o, v.signed_us);
  put_i64(o, v.registered_us);
  put_i32(o, v.lapses_on);
  put_i64(o, v.submitted_us);  // appended fields: absent in older values
  put_i64(o, v.attached_us);
  if (!v.permitted_accounts.empty()) {  // appended (R10, schema version 2): absent when none
    put(o, v.permitted_accounts.size(), 4);
    for (const NameId account : v.permitted_accounts) put_name(o, n, account);
  }
}
void encode_value(const Dirty&, const Names&, std::string* o) { put_u8(o, kValueVersion); }
void encode_value(const LimitOverride& v, const Names&, std::string* o) {
  put_u8(o, kValueVersion);
  put_i64(o, v.per_order_limit);
  put_i64(o, v.daily_limit);
}
void encode_value(const DayTotal& v, const Names&, std::string* o) {
  put_u8(o, kValueVersion);
  put_i32(o, v.date);
  put_i64(o, v.total);
}
void encode_value(const Order& v, const Names& n, std::string* o) {
  put_u8(o, kValueVersion);
  put_name(o, n, v.client);
  put_name(o, n, v.account);
  put_i64(o, v.amount);
  put_name(o, n, v.preparer);
  put_str(o, v.beneficiary);
  put_u8(o, static_cast<uint8_t>(v.status));
  put(o, v.signature_count, 4);
  for (const auto& sig : v.signed_by()) {
    put_name(o, n, sig.user);
    put_u8(o, static_cast<uint8_t>(sig.mode));
  }
  put(o, v.counted_count, 4);
  for (const auto& c : v.counted_by()) {
    put_name(o, n, c.user);
    put_i32(o, c.date);
  }
}

void encode_value(const Person& v, const Names&, std::string* o) {
  put_u8(o, kValueVersion);
  put_u8(o, v.failures);
  put_u8(o, static_cast<uint8_t>(v.block));
  put_u8(o, static_cast<uint8_t>(v.blocked_means));
  put_i64(o, v.last_online_us);
  put_i32(o, v.short_day);
  put_u8(o, v.short_intervals);
  put_u8(o, v.means_registered);  // appended fields: absent in older values
  put_u8(o, v.means_exception);
  put_u8(o, v.means_activated);
  // Appended: the identity partition's homes (Kafka); absent when none, so
  // values (and state hashes) without them stay as they were.
  if (!v.homes.empty()) {
    put(o, v.homes.size(), 4);
    for (const int32_t h : v.homes) put_i32(o, h);
  }
}

// Settings version 2 appends the identity policy (R28.1, R28.4) to version 1.
constexpr uint8_t kSettingsVersion = 3;

void encode_settings(const State& s, std::string* o) {
  put_u8(o, kSettingsVersion);
  put(o, s.services.size(), 4);
  for (const auto& sv : s.services) {
    put_i32(o, sv.open_minute);
    put_i32(o, sv.close_minute);
    put_u8(o, sv.suspended);
  }
  put(o, s.calendar.overrides().size(), 4);
  for (const auto& [date, working] : s.calendar.overrides()) {
    put_i32(o, date);
    put_u8(o, working);
  }
  put_i32(o, s.identity_policy.failures_to_block);
  put_i64(o, s.identity_policy.request_interval_us);
  put_i32(o, s.identity_policy.short_intervals_to_block);
  for (const auto& sv : s.services) {  // version 3: R48 outages
    put_i64(o, sv.down_since_us);
    put_i32(o, sv.expected_minutes);
  }
}

Status decode_settings(std::string_view value, State* s) {
  Reader r(value);
  const uint8_t version = r.u8();
  if (version < 1 || version > kSettingsVersion) return corrupt(Family::meta, "settings");
  const auto n = r.get(4);
  if (n != s->services.size()) return corrupt(Family::meta, "settings");
  for (auto& sv : s->services) {
    sv.open_minute = r.i32();
    sv.close_minute = r.i32();
    sv.suspended = r.boolean();
  }
  const auto m = r.get(4);
  for (uint64_t i = 0; i < m && r.ok(); ++i) {
    const int32_t date = r.i32();
    const bool working = r.boolean();
    s->calendar.set_override(date, working);
  }
  if (version >= 2) {
    s->identity_policy.failures_to_block = r.i32();
    s->identity_policy.request_interval_us = r.i64();
    s->identity_policy.short_intervals_to_block = r.i32();
  }
  if (version >= 3) {
    for (auto& sv : s->services) {
      sv.down_since_us = r.i64();
      sv.expected_minutes = r.i32();
    }
  }
  return r.done() ? Status::Ok() : corrupt(Family::meta, "settings");
}

namespace {

/// Splits a persisted key into its `parts` names; false when it has another shape.
bool split_key(std::string_view key, size_t parts, std::string_view* out) {
  for (size_t i = 0; i + 1 < parts; ++i) {
    const size_t sep = key.find(kKeySep);
    if (sep == std::string_view::npos) return false;
    out[i] = key.substr(0, sep);
    key.remove_prefix(sep + 1);
  }
  out[parts - 1] = key;
  return key.find(kKeySep) == std::string_view::npos;
}

NameId intern_or_none(Names& n, std::string_view s) { return s.empty() ? kNoName : n.intern(s); }

/// client ␟ service number ␟ document.
bool document_key(std::string_view key, Names* names, DocumentKey* out) {
  std::string_view part[3];
  if (!split_key(key, 3, part) || part[0].empty() || part[2].empty() || part[1].size() != 1 || part[1][0] < '0' ||
      part[1][0] > '0' + static_cast<int>(fb::Service::MAX))
    return false;
  out->client = names->intern(part[0]);
  out->service = static_cast<uint8_t>(part[1][0] - '0');
  out->document = names->intern(part[2]);
  return true;
}

}  // namespace

Status decode_entry(Family f, std::string_view key, std::string_view value, State* s) {
  Reader r(value);
  if (r.u8() != kValueVersion) return corrupt(f, key);
  Names& names = s->names;
  std::string_view part[3];
  auto pair = [&]() -> std::optional<PairKey> {
    if (!split_key(key, 2, part)) return std::nullopt;
    return pair_key(names.intern(part[0]), names.intern(part[1]));
  };
  switch (f) {
    case Family::accounts: {
      Account& a = s->accounts[names.intern(key)];
      a.owner_client = intern_or_none(names, r.str());
      a.deposit = r.boolean();
      a.closed = r.boolean();
      a.blocked = r.boolean();
      a.fiscal_year = r.i32();
      a.signature3_users = r.i32();
      a.signature4_users = r.i32();
      break;
    }
    case Family::representatives: {
      const auto k = pair();
      if (!k) return corrupt(f, key);
      Representative& p = s->representatives[*k];
      p.head = r.boolean();
      p.specimen_card = r.boolean();
      break;
    }
    case Family::grants: {
      const auto k = pair();
      if (!k) return corrupt(f, key);
      Grant& g = s->grants[*k];
      g.client = intern_or_none(names, r.str());
      g.mode = r.mode();
      g.per_order_limit = r.i64();
      g.daily_limit = r.i64();
      if (!r.done()) g.application = intern_or_none(names, r.str());
      break;
    }
    case Family::permissions: {
      const auto k = pair();
      if (!k) return corrupt(f, key);
      s->permissions[*k];
      break;
    }
    case Family::data_exchange: s->data_exchange[names.intern(key)]; break;
    case Family::clients: {
      const uint8_t kind = r.u8();
      if (kind > static_cast<uint8_t>(fb::ClientKind::MAX)) return corrupt(f, key);
      s->clients[names.intern(key)].kind = static_cast<fb::ClientKind>(kind);
      break;
    }
    case Family::roles: {
      const auto k = pair();
      if (!k) return corrupt(f, key);
      s->roles[*k].bits = static_cast<uint16_t>(r.get(2));
      break;
    }
    case Family::service_rights: {
      std::string_view parts[4];
      if (key.size() < 2 || key[1] != kKeySep) return corrupt(f, key);
      const int kind = key[0] - '0';
      if (kind < 0 || kind > 2 || !split_key(key.substr(2), 3, parts)) return corrupt(f, key);
      RightKey k;
      k.kind = static_cast<RightKind>(kind);
      k.user = names.intern(parts[0]);
      k.client = names.intern(parts[1]);
      if (k.kind == RightKind::report) {
        k.scope = names.intern(parts[2]);
      } else {
        uint32_t v = 0;
        for (char c : parts[2]) {
          if (c < '0' || c > '9') return corrupt(f, key);
          v = v * 10 + static_cast<uint32_t>(c - '0');
        }
        k.scope = v;
      }
      ServiceRight& sr = s->service_rights[k];
      sr.mode = r.u8();
      sr.groups = r.u8();
      if (!r.done()) sr.application = intern_or_none(names, r.str());
      break;
    }
    case Family::documents: {
      DocumentKey k;
      if (!document_key(key, &names, &k)) return corrupt(f, key);
      Document& d = s->documents[k];
      const uint8_t kind = r.u8();
      const uint8_t status = r.u8();
      if (kind > static_cast<uint8_t>(fb::DocumentKind::MAX) || status > kDocumentStatusMax) return corrupt(f, key);
      d.kind = static_cast<fb::DocumentKind>(kind);
      d.status = static_cast<DocumentStatus>(status);
      d.digest = r.str();
      d.amount = r.i64();
      d.appropriated = r.i64();
      const uint8_t type = r.u8();
      if (type > static_cast<uint8_t>(fb::ReportType::MAX)) return corrupt(f, key);
      d.report_type = static_cast<fb::ReportType>(type);
      d.year = r.i32();
      d.period = r.str();
      d.first_signer = intern_or_none(names, r.str());
      d.accepted_by = intern_or_none(names, r.str());
      const uint8_t verdict = r.u8();
      if (verdict > static_cast<uint8_t>(fb::AuditVerdict::MAX)) return corrupt(f, key);
      d.verdict = static_cast<fb::AuditVerdict>(verdict);
      d.opinion_digest = r.str();
      const int32_t count = r.i32();
      if (count < 0 || static_cast<uint32_t>(count) > kDocumentHistoryMax) return corrupt(f, key);
      d.history_count = static_cast<uint32_t>(count);
      if (!r.done()) d.agreement = intern_or_none(names, r.str());
      if (service_of(d.kind) == fb::Service::ereports)  // derived
        s->report_slots[ReportSlotKey{k.client, names.intern(d.period), d.year, kind, type}] = k.document;
      break;
    }
    case Family::payment_files: {
      if (key.empty()) return corrupt(f, key);
      PaymentFile& pf = s->payment_files[names.intern(key)];
      pf.client = intern_or_none(names, r.str());
      pf.account = intern_or_none(names, r.str());
      pf.signer = intern_or_none(names, r.str());
      pf.payments = r.i32();
      pf.applied = r.i32();
      pf.total = r.i64();
      pf.applied_total = r.i64();
      pf.decided = r.done() ? pf.applied : r.i32();
      break;
    }
    case Family::document_history: {
      const size_t sep = key.rfind(kKeySep);
      if (sep == std::string_view::npos || key.size() - sep - 1 != 8) return corrupt(f, key);
      uint32_t seq = 0;
      for (char c : key.substr(sep + 1)) {
        if (c < '0' || c > '9') return corrupt(f, key);
        seq = seq * 10 + static_cast<uint32_t>(c - '0');
      }
      HistoryKey k;
      k.seq = seq;
      if (seq >= kDocumentHistoryMax || !document_key(key.substr(0, sep), &names, &k.document)) return corrupt(f, key);
      DocumentEvent& e = s->document_history[k];
      e.at_us = r.i64();
      e.request_id = r.str();
      e.actor = intern_or_none(names, r.str());
      e.acting_for = intern_or_none(names, r.str());
      const uint8_t step = r.u8();
      const uint8_t status = r.u8();
      const uint8_t role = r.u8();
      const uint8_t verdict = r.u8();
      if (step > kDocumentStepMax || status > kDocumentStatusMax || role > kSignRoleMax ||
          verdict > static_cast<uint8_t>(fb::AuditVerdict::MAX))
        return corrupt(f, key);
      e.step = static_cast<DocumentStep>(step);
      e.status = static_cast<DocumentStatus>(status);
      e.role = static_cast<SignRole>(role);
      e.verdict = static_cast<fb::AuditVerdict>(verdict);
      e.digest = r.str();
      e.amount = r.i64();
      break;
    }
    case Family::structures: {
      if (!split_key(key, 3, part) || part[1].size() != 1 || part[2].size() != 8) return corrupt(f, key);
      int32_t year = 0;
      for (char c : part[2]) {
        if (c < '0' || c > '9') return corrupt(f, key);
        year = year * 10 + (c - '0');
      }
      Structure& st = s->structures[StructureKey{names.intern(part[0]), static_cast<uint8_t>(part[1][0] - '0'), year}];
      const auto n = r.get(4);
      for (uint64_t i = 0; i < n && r.ok(); ++i) st.institutions.push_back(names.intern(r.str()));
      std::sort(st.institutions.begin(), st.institutions.end());  // the engine searches by id
      break;
    }
    case Family::messages: {
      Message& m = s->messages[names.intern(key)];
      m.client = intern_or_none(names, r.str());
      m.posted_us = r.i64();
      break;
    }
    case Family::message_reads: {
      const auto k = pair();
      if (!k) return corrupt(f, key);
      s->message_reads[*k];
      break;
    }
    case Family::limit_overrides: {
      if (!split_key(key, 3, part) || part[2].size() != 8) return corrupt(f, key);
      DateYmd date = 0;
      for (char c : part[2]) {
        if (c < '0' || c > '9') return corrupt(f, key);
        date = date * 10 + (c - '0');
      }
      LimitOverride& l = s->limit_overrides[OverrideKey{pair_key(names.intern(part[0]), names.intern(part[1])), date}];
      l.per_order_limit = r.i64();
      l.daily_limit = r.i64();
      break;
    }
    case Family::day_totals: {
      const auto k = pair();
      if (!k) return corrupt(f, key);
      DayTotal& d = s->day_totals[*k];
      d.date = r.i32();
      d.total = r.i64();
      break;
    }
    case Family::orders: {
      if (key.find(kKeySep) == std::string_view::npos) return corrupt(f, key);
      Order& o = s->orders[key];
      o.client = intern_or_none(names, r.str());
      o.account = intern_or_none(names, r.str());
      o.amount = r.i64();
      o.preparer = intern_or_none(names, r.str());
      o.beneficiary = s->orders.keep(r.str());
      const uint8_t st = r.u8();
      if (st > static_cast<uint8_t>(OrderStatus::cancelled)) return corrupt(f, key);
      o.status = static_cast<OrderStatus>(st);
      const auto ns = r.get(4);
      if (ns > kSignaturesMax) return corrupt(f, key);
      o.signature_count = static_cast<uint8_t>(ns);
      for (uint64_t i = 0; i < ns && r.ok(); ++i) {
        o.signatures[i].user = intern_or_none(names, r.str());
        o.signatures[i].mode = r.mode();
      }
      const auto nc = r.get(4);
      if (nc > kCountedMax) return corrupt(f, key);
      o.counted_count = static_cast<uint8_t>(nc);
      for (uint64_t i = 0; i < nc && r.ok(); ++i) {
        o.counted[i].user = intern_or_none(names, r.str());
        o.counted[i].date = r.i32();
      }
      break;
    }
    case Family::persons: {
      Person& p = s->persons[names.intern(key)];
      p.failures = r.u8();
      const uint8_t block = r.u8();
      const uint8_t means = r.u8();
      if (block > static_cast<uint8_t>(fb::BlockCause::MAX) || means > static_cast<uint8_t>(fb::Means::MAX))
        return corrupt(f, key);
      p.block = static_cast<fb::BlockCause>(block);
      p.blocked_means = static_cast<fb::Means>(means);
      p.last_online_us = r.i64();
      p.short_day = r.i32();
      p.short_intervals = r.u8();
      if (!r.done()) {
        p.means_registered = r.u8();
        p.means_exception = r.u8();
        p.means_activated = r.u8();
      }
      if (!r.done()) {
        const auto n = r.get(4);
        if (n > kHomesMax) return corrupt(f, key);
        p.homes.clear();
        for (uint64_t i = 0; i < n && r.ok(); ++i) p.homes.push_back(r.i32());
      }
      if (p.block != fb::BlockCause::none) ++s->blocked_persons;  // derived
      if (p.means_registered != 0) ++s->persons_with_means;      // derived
      break;
    }
    case Family::applications: {
      const NameId id = names.intern(key);
      Application& a = s->applications[id];
      a.client = intern_or_none(names, r.str());
      a.user = intern_or_none(names, r.str());
      const uint8_t kind = r.u8();
      const uint8_t status = r.u8();
      if (kind >= kApplicationKinds || status > static_cast<uint8_t>(ApplicationStatus::annulled))
        return corrupt(f, key);
      a.kind = static_cast<fb::ApplicationKind>(kind);
      a.status = static_cast<ApplicationStatus>(status);
      a.signed_us = r.i64();
      a.registered_us = r.i64();
      a.lapses_on = r.i32();
      if (!r.done()) {
        a.submitted_us = r.i64();
        a.attached_us = r.i64();
      }
      if (!r.done()) {
        const auto n = r.get(4);
        for (uint64_t i = 0; i < n && r.ok(); ++i) a.permitted_accounts.push_back(names.intern(r.str()));
      }
      // Derived: the application in force per kind (terminations and one-off kinds have lapses_on 0).
      if (a.status == ApplicationStatus::in_force && a.lapses_on != 0)
        s->in_force[pair_key(a.user, a.client)].by_kind[kind] = id;
      break;
    }
    default: return {Errc::invalid_argument, "not a state family"};
  }
  return r.done() ? Status::Ok() : corrupt(f, key);
}

namespace {

/// Hashes a table as its persisted (key, value) pairs in key order, so that the
/// hash never depends on interning order or hash-table layout.
template <class Map>
void hash_table(SHA256_CTX* c, Family f, const Map& t, const Names& names) {
  std::vector<std::pair<std::string, std::string>> entries;
  entries.reserve(t.size());
  for (const auto& e : t) {
    std::string value;
    encode_value(e.second, names, &value);
    entries.emplace_back(key_of(names, e.first), std::move(value));
  }
  std::sort(entries.begin(), entries.end());
  std::string buf;
  for (const auto& [k, v] : entries) {
    buf.clear();
    put_u8(&buf, static_cast<uint8_t>(f));
    put_str(&buf, k);
    put_str(&buf, v);
    SHA256_Update(c, buf.data(), buf.size());
  }
}

}  // namespace

events::Hash state_hash(const State& s) {
  SHA256_CTX c;
  SHA256_Init(&c);
  hash_table(&c, Family::accounts, s.accounts, s.names);
  hash_table(&c, Family::representatives, s.representatives, s.names);
  hash_table(&c, Family::grants, s.grants, s.names);
  hash_table(&c, Family::permissions, s.permissions, s.names);
  hash_table(&c, Family::limit_overrides, s.limit_overrides, s.names);
  hash_table(&c, Family::day_totals, s.day_totals, s.names);
  hash_table(&c, Family::orders, s.orders, s.names);
  hash_table(&c, Family::persons, s.persons, s.names);
  hash_table(&c, Family::applications, s.applications, s.names);
  hash_table(&c, Family::data_exchange, s.data_exchange, s.names);
  hash_table(&c, Family::messages, s.messages, s.names);
  hash_table(&c, Family::message_reads, s.message_reads, s.names);
  hash_table(&c, Family::clients, s.clients, s.names);
  hash_table(&c, Family::roles, s.roles, s.names);
  hash_table(&c, Family::service_rights, s.service_rights, s.names);
  hash_table(&c, Family::structures, s.structures, s.names);
  hash_table(&c, Family::documents, s.documents, s.names);
  hash_table(&c, Family::document_history, s.document_history, s.names);
  hash_table(&c, Family::payment_files, s.payment_files, s.names);
  std::string settings;
  encode_settings(s, &settings);
  SHA256_Update(&c, settings.data(), settings.size());
  events::Hash out;
  SHA256_Final(out.data(), &c);
  return out;
}

StateCounts state_counts(const State& s) {
  StateCounts c;
  c.accounts = s.accounts.size();
  c.representatives = s.representatives.size();
  for (const auto& [k, g] : s.grants) c.grants += g.mode != AccessMode::none ? 1 : 0;
  c.orders = s.orders.size();
  c.day_totals = s.day_totals.size();
  c.limit_overrides = s.limit_overrides.size();
  c.persons = s.persons.size();
  c.blocked_persons = static_cast<size_t>(s.blocked_persons);
  return c;
}

}  // namespace kase::projections
