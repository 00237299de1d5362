// R37, R38, R47: audit replay for supervisors — verify, history, state and
// explain over a known stream that crosses a restart, a one-day limit change
// (R14, R15), a block (R28.2) and a lapse of rights (R31, R7).
#include <unistd.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include "harness.h"
#include "kase/adapters/audit.h"
#include "kase/adapters/demo.h"
#include "kase/adapters/ledger.h"
#include "kase/projections/store.h"

namespace kase::testing {
namespace {

namespace audit = adapters::audit;
namespace fs = std::filesystem;
namespace json = boost::json;


constexpr int32_t kTuesday = 20261201;
constexpr int32_t kWednesday = 20261202;
constexpr int32_t kLapsed = 20291203;  // a Monday three years on: the application has lapsed (R31)

/// The known stream, in two batches with a restart (close, reopen) between.
struct Stream {
  std::vector<std::string> before_restart, after_restart;
  std::string daily_rejected, limit_change, limit_changed, per_order_rejected, blocked, restored, lapsed, revoked_sign;
};

Stream known_stream() {
  Harness h;
  Stream s;
  auto& a = s.before_restart;
  // Monday: an account, a head, an eKase application (R3, R4, R7) and rights.
  a.push_back(events::account_opened(h.treasury(), "A1", "C1", false, 2026));
  a.push_back(events::representative(h.treasury(), "boss", true, true));
  a.push_back(events::application_submitted(h.as("boss"), "app-u2", fb::ApplicationKind::ekase, "u2", "boss",
                                            h.now - 60'000'000, "sha256:app-u2"));
  a.push_back(events::application_registered(h.treasury(), "app-u2"));
  a.push_back(events::rights_granted_under(h.treasury(), "u2", "A1", AccessMode::signature_2, 5'000 * kEur,
                                           49'000 * kEur, "app-u2"));
  a.push_back(events::application_submitted(h.as("boss"), "app-u1", fb::ApplicationKind::ekase, "u1", "boss",
                                            h.now - 60'000'000, "sha256:app-u1"));
  a.push_back(events::application_registered(h.treasury(), "app-u1"));
  a.push_back(events::rights_granted_under(h.treasury(), "u1", "A1", AccessMode::signature_1, 10'000 * kEur,
                                           20'000 * kEur, "app-u1"));
  // u2 reaches a day total of 48,000.00, then 1,200.00 more is refused (R9).
  for (int i = 0; i < 9; ++i) a.push_back(events::po_prepare(h.as("u2"), "po" + std::to_string(i), "A1", 5'000 * kEur));
  a.push_back(events::po_prepare(h.as("u2"), "po9", "A1", 3'000 * kEur));
  a.push_back(events::po_prepare(h.as("u2"), "po10", "A1", 1'200 * kEur));
  s.daily_rejected = h.ids.back();

  auto& b = s.after_restart;
  // A one-day change for Tuesday: per order 8,000.00 (R14, R15), on u2's
  // registered annex 3 application.
  b.push_back(events::application_submitted(h.as("boss"), "app-u2-limit", fb::ApplicationKind::ekase_limit_change,
                                            "u2", "boss", h.now - 60'000'000, "sha256:app-u2-limit"));
  b.push_back(events::application_registered(h.treasury(), "app-u2-limit"));
  b.push_back(events::limit_change(h.treasury(), "u2", "A1", kTuesday, 8'000 * kEur, -1, "app-u2-limit"));
  s.limit_change = h.ids.back();
  h.now = riga(kTuesday, 10, 0);
  b.push_back(events::po_prepare(h.as("u2"), "po-t1", "A1", 7'000 * kEur));
  s.limit_changed = h.ids.back();
  b.push_back(events::po_sign(h.as("u2"), "po-t1"));  // R8: signature 2 first
  // Suspicion: the Treasury blocks u1 (R28.2); u1's signature is refused, then restored (R29.2).
  b.push_back(events::means_blocked(h.treasury(), "u1", fb::BlockCause::suspicion));
  h.now = riga(kTuesday, 11, 0);
  b.push_back(events::po_sign(h.as("u1"), "po-t1"));
  s.blocked = h.ids.back();
  b.push_back(events::means_restored(h.treasury(), "u1", true));
  h.now = riga(kTuesday, 12, 0);
  b.push_back(events::po_sign(h.as("u1"), "po-t1"));
  s.restored = h.ids.back();
  // Wednesday: the R7 limit is back (R15).
  h.now = riga(kWednesday, 10, 0);
  b.push_back(events::po_prepare(h.as("u2"), "po-w1", "A1", 7'000 * kEur));
  s.per_order_rejected = h.ids.back();
  // Three years on, the application has lapsed (R31) and u1's rights are revoked (R7).
  h.now = riga(kLapsed, 9, 0);
  b.push_back(events::po_prepare(h.as("u2"), "po-l1", "A1", 100 * kEur));
  s.lapsed = h.ids.back();
  b.push_back(events::po_prepare(h.as("u2"), "po-l0", "A1", 100 * kEur));  // lapsed too
  b.push_back(events::rights_revoked(h.treasury(), "u1", "A1"));
  b.push_back(events::po_sign(h.as("u1"), "po9"));
  s.revoked_sign = h.ids.back();
  return s;
}

void submit(const std::string& dir, const std::vector<std::string>& reqs) {
  std::unique_ptr<projections::Store> store;
  ASSERT_TRUE(projections::open_rocks_store(dir, {}, &store).ok());
  std::unique_ptr<adapters::Ledger> ledger;
  ASSERT_TRUE(adapters::Ledger::open(store.get(), &ledger).ok());
  std::vector<std::span<const uint8_t>> spans;
  for (const auto& r : reqs) spans.push_back(events::bytes_of(r));
  std::vector<adapters::Answer> answers;
  ASSERT_TRUE(ledger->submit(spans, &answers).ok());
}

/// A data directory made by the known stream, with a restart between batches.
const std::string& known_dir() {
  static TempDir dir;
  static const std::string path = [] {
    const Stream s = known_stream();
    submit(dir.path.string(), s.before_restart);
    submit(dir.path.string(), s.after_restart);  // reopened: the restart
    return dir.path.string();
  }();
  return path;
}

std::vector<json::object> lines_of(const std::function<Status(const std::function<void(const std::string&)>&)>& run) {
  std::vector<json::object> out;
  const Status s = run([&](const std::string& line) { out.push_back(json::parse(line).as_object()); });
  EXPECT_TRUE(s.ok()) << s.to_string();
  return out;
}

const json::object* by_request(const std::vector<json::object>& lines, const std::string& id) {
  for (const auto& l : lines)
    if (l.at("request_id").as_string() == id) return &l;
  return nullptr;
}

// ---- verify ------------------------------------------------------------------------

TEST(AuditVerify, R37_KnownStreamAcrossARestartIsIntact) {
  audit::VerifyReport r;
  ASSERT_TRUE(audit::verify({known_dir(), ""}, {}, &r).ok());
  EXPECT_TRUE(r.intact) << r.divergence.what;
  const Stream s = known_stream();
  EXPECT_EQ(r.records, s.before_restart.size() + s.after_restart.size());
}

/// `record` with its decision's amount and stored hash replaced (the
/// request kept): a tampered log record.
std::string tampered(std::span<const uint8_t> record, int64_t amount_cents, const events::Hash& hash) {
  return rebuilt_record(record, [&](events::DecisionFields& f, std::string&, events::Hash& h) {
    f.amount_cents = amount_cents;
    h = hash;
  });
}

events::Hash stored_hash(std::span<const uint8_t> record) {
  events::Hash h{};
  EXPECT_TRUE(events::from_hex(flatbuffers::GetRoot<fb::LogRecord>(record.data())->decision()->hash()->string_view(), &h));
  return h;
}

TEST(AuditVerify, R37_ChangedDecisionIsReportedWithBothVersionsAndTheOffset) {
  // Re-fold the log, changing one stored decision's reason at offset 5.
  std::unique_ptr<projections::Store> store;
  projections::RocksOptions o;
  o.read_only = true;
  ASSERT_TRUE(projections::open_rocks_store(known_dir(), o, &store).ok());
  adapters::Refold refold(true);
  bool ok = true;
  ASSERT_TRUE(store->scan_log(0, [&](uint64_t offset, std::span<const uint8_t> bytes) {
    std::string copy(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    // The same record with a changed amount in its decision (hash kept).
    if (offset == 5) copy = tampered(bytes, 4242, stored_hash(bytes));
    ok = refold.add(offset, events::bytes_of(copy));
    return ok;
  }).ok());
  EXPECT_FALSE(ok);
  EXPECT_EQ(refold.divergence().offset, 5);
  EXPECT_NE(refold.divergence().stored_json.find("4242"), std::string::npos) << refold.divergence().stored_json;
  EXPECT_EQ(refold.divergence().recomputed_json.find("4242"), std::string::npos);
  EXPECT_NE(refold.divergence().recomputed_json.find("\"hash\""), std::string::npos);
}

/// A store whose log has one stored hash changed, at offset 5 (the decision
/// otherwise as recorded): only the chain check can catch it.
class ChangedHashStore : public projections::FaultyStore {
 public:
  explicit ChangedHashStore(projections::Store* inner) : FaultyStore(inner, INT64_MAX) {}
  Status scan_log(uint64_t from, const std::function<bool(uint64_t, std::span<const uint8_t>)>& fn) override {
    return FaultyStore::scan_log(from, [&](uint64_t offset, std::span<const uint8_t> bytes) {
      if (offset != 5) return fn(offset, bytes);
      const auto* d = flatbuffers::GetRoot<fb::LogRecord>(bytes.data())->decision();
      original = d->hash()->str();
      events::Hash h = stored_hash(bytes);
      h[7] ^= 0x10;
      changed = events::to_hex(h);
      const std::string copy = tampered(bytes, d->amount_cents(), h);
      return fn(offset, events::bytes_of(copy));
    });
  }
  std::string original, changed;
};

TEST(AuditVerify, R37_ChangedHashIsReportedAlikeOnOneThreadAndWithTheChainOnASecond) {
  std::unique_ptr<projections::Store> store;
  projections::RocksOptions o;
  o.read_only = true;
  ASSERT_TRUE(projections::open_rocks_store(known_dir(), o, &store).ok());
  for (const int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    ChangedHashStore changed(store.get());
    adapters::Refold refold(true);
    ASSERT_TRUE(refold.run(&changed, threads).ok());
    const adapters::Divergence& d = refold.divergence();
    EXPECT_EQ(d.offset, 5);
    EXPECT_NE(d.what.find("hash chain broken"), std::string::npos) << d.what;
    ASSERT_FALSE(changed.changed.empty());
    EXPECT_NE(d.stored_json.find(changed.changed), std::string::npos) << d.stored_json;
    EXPECT_NE(d.recomputed_json.find(changed.original), std::string::npos) << d.recomputed_json;
    EXPECT_EQ(d.recomputed_json.find(changed.changed), std::string::npos);
  }
}

TEST(AuditVerify, R37_ReadOnlyBesideARunningNode) {
  // The node holds the RocksDB lock; the audit opens read-only beside it.
  TempDir dir;
  const Stream s = known_stream();
  submit(dir.path.string(), s.before_restart);
  std::unique_ptr<projections::Store> live;
  ASSERT_TRUE(projections::open_rocks_store(dir.path.string(), {}, &live).ok());
  audit::VerifyReport r;
  ASSERT_TRUE(audit::verify({dir.path.string(), ""}, {}, &r).ok());
  EXPECT_TRUE(r.intact) << r.divergence.what;
  EXPECT_EQ(r.records, s.before_restart.size());
}

/// Flips single bytes of the table files, write-ahead logs and log segment
/// files of a copy: every
/// flip must be caught (not intact, or an error reading) and none may crash.
TEST(AuditVerify, R37_EverySingleByteFlipIsCaught) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(known_dir())) {
    const auto ext = e.path().extension();
    if (ext == ".sst" || ext == ".log" || ext == ".kseg") files.push_back(fs::relative(e.path(), known_dir()));
  }
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty());
  std::mt19937_64 rng(20261130);
  size_t flips = 0;
  for (const auto& name : files) {
    const auto size = static_cast<size_t>(fs::file_size(fs::path(known_dir()) / name));
    ASSERT_GT(size, 0u);
    // The first and last bytes, and positions spread over the file.
    std::vector<size_t> at = {0, size - 1};
    constexpr size_t kPerFile = 24;
    for (size_t i = 0; i < kPerFile; ++i) at.push_back(std::uniform_int_distribution<size_t>(0, size - 1)(rng));
    for (const size_t pos : at) {
      TempDir copy;
      fs::copy(known_dir(), copy.path, fs::copy_options::recursive);
      {
        std::fstream f(copy.path / name, std::ios::in | std::ios::out | std::ios::binary);
        f.seekg(static_cast<std::streamoff>(pos));
        char c = 0;
        f.get(c);
        c = static_cast<char>(c ^ (1 << std::uniform_int_distribution<int>(0, 7)(rng)));
        f.seekp(static_cast<std::streamoff>(pos));
        f.put(c);
      }
      audit::VerifyReport r;
      const Status s = audit::verify({copy.path.string(), ""}, {}, &r);
      EXPECT_FALSE(s.ok() && r.intact) << name << " byte " << pos << " of " << size << " flipped: reported intact";
      ++flips;
    }
  }
  EXPECT_GE(flips, 2 * files.size());
}

// ---- history -----------------------------------------------------------------------

TEST(AuditHistory, R47_EveryRequestOfAPersonWithTheRightsThatApplied) {
  const Stream s = known_stream();
  audit::HistoryOptions o;
  o.subject.person = "u2";
  const auto lines = lines_of([&](const auto& emit) { return audit::history({known_dir(), ""}, o, {}, emit); });
  // u2's own actions, the application and grant that name u2, the one-day change.
  EXPECT_EQ(lines.size(), 1u /*application*/ + 1 /*registered*/ + 1 /*grant*/ + 11 /*Monday*/ +
                              2 /*annex 3 application, registered*/ + 1 /*change*/ + 2 /*Tuesday*/ +
                              1 /*Wednesday*/ + 2 /*lapsed*/);
  const json::object* daily = by_request(lines, s.daily_rejected);
  ASSERT_NE(daily, nullptr);
  EXPECT_EQ(daily->at("decision").at("reason").as_string(), reason::kDailyExceeded);
  EXPECT_EQ(daily->at("decision").at("rule").as_string(), "R9");
  const auto& before = daily->at("rights_before").at("ekase").as_array();
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].at("mode").as_string(), "signature_2");
  EXPECT_EQ(before[0].at("daily_limit_cents").as_int64(), 49'000 * kEur);
  EXPECT_EQ(before[0].at("day_total_cents").as_int64(), 48'000 * kEur);
  EXPECT_EQ(before[0].at("application").as_string(), "app-u2");

  // R14, R15: the one-day change applied on Tuesday only.
  const json::object* changed = by_request(lines, s.limit_changed);
  ASSERT_NE(changed, nullptr);
  EXPECT_EQ(changed->at("decision").at("outcome").as_string(), "accepted");
  const auto& tue = changed->at("rights_before").at("ekase").as_array()[0];
  EXPECT_EQ(tue.at("per_order_limit_cents").as_int64(), 8'000 * kEur);
  EXPECT_TRUE(tue.at("one_day_change").as_bool());
  const json::object* wed = by_request(lines, s.per_order_rejected);
  ASSERT_NE(wed, nullptr);
  EXPECT_EQ(wed->at("decision").at("reason").as_string(), reason::kPerOrderExceeded);
  EXPECT_EQ(wed->at("rights_before").at("ekase").as_array()[0].at("per_order_limit_cents").as_int64(), 5'000 * kEur);

  // R31: the lapse, with the application's end date in the rights.
  const json::object* lapsed = by_request(lines, s.lapsed);
  ASSERT_NE(lapsed, nullptr);
  EXPECT_EQ(lapsed->at("decision").at("reason").as_string(), reason::kApplicationLapsed);
  EXPECT_EQ(lapsed->at("rights_before").at("ekase").as_array()[0].at("application_lapses_on").as_int64(), 20291130);
}

TEST(AuditHistory, R28_BlockedPersonAndTimeWindowAndCsv) {
  const Stream s = known_stream();
  audit::HistoryOptions o;
  o.subject.person = "u1";
  o.from_us = riga(kTuesday, 0, 0);
  o.to_us = riga(kTuesday, 23, 59);
  const auto lines = lines_of([&](const auto& emit) { return audit::history({known_dir(), ""}, o, {}, emit); });
  ASSERT_EQ(lines.size(), 4u);  // blocked, refused sign, restored, sign
  const json::object* blocked = by_request(lines, s.blocked);
  ASSERT_NE(blocked, nullptr);
  EXPECT_EQ(blocked->at("decision").at("reason").as_string(), reason::kBlockedSuspicion);
  EXPECT_EQ(blocked->at("rights_before").at("block").as_string(), "suspicion");
  const json::object* restored = by_request(lines, s.restored);
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(restored->at("decision").at("outcome").as_string(), "accepted");
  EXPECT_EQ(restored->at("rights_before").at("block").as_string(), "none");

  o.csv = true;
  std::vector<std::string> rows;
  ASSERT_TRUE(audit::history({known_dir(), ""}, o, {}, [&](const std::string& l) { rows.push_back(l); }).ok());
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0], audit::kHistoryCsvHeader);
  bool found = false;
  for (const auto& r : rows)
    if (r.find(s.blocked) != std::string::npos) {
      found = true;
      EXPECT_NE(r.find("identity.blocked_suspicion,R28.2"), std::string::npos) << r;
      EXPECT_NE(r.find(",suspicion,signature_1,1000000,2000000,"), std::string::npos) << r;
    }
  EXPECT_TRUE(found);
}

TEST(AuditHistory, R47_AccountAndClient) {
  const Stream s = known_stream();
  audit::HistoryOptions o;
  o.subject.account = "A1";
  const auto acc = lines_of([&](const auto& emit) { return audit::history({known_dir(), ""}, o, {}, emit); });
  // Everything but the representative, the three applications and their
  // registrations, and the block and restoration.
  EXPECT_EQ(acc.size(), s.before_restart.size() + s.after_restart.size() - 9);
  // A signature names only the order: its account comes from the state.
  EXPECT_NE(by_request(acc, s.restored), nullptr);
  o.subject = {};
  o.subject.client = "C1";
  const auto client = lines_of([&](const auto& emit) { return audit::history({known_dir(), ""}, o, {}, emit); });
  EXPECT_EQ(client.size(), s.before_restart.size() + s.after_restart.size());
  o.subject.client = "nobody";
  EXPECT_TRUE(lines_of([&](const auto& emit) { return audit::history({known_dir(), ""}, o, {}, emit); }).empty());
}

// ---- state -------------------------------------------------------------------------

TEST(AuditState, R47_StateAtATimeAndAtAnOffset) {
  const Stream s = known_stream();
  audit::StateOptions o;
  o.at_us = riga(kTuesday, 10, 30);  // after the block, before the restoration
  o.subject.person = "u1";
  auto lines = lines_of([&](const auto& emit) { return audit::state({known_dir(), ""}, o, {}, emit); });
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].at("person").at("block").as_string(), "suspicion");

  o.subject = {};
  o.subject.account = "A1";
  lines = lines_of([&](const auto& emit) { return audit::state({known_dir(), ""}, o, {}, emit); });
  const auto& account = lines[0].at("account").as_object();
  EXPECT_EQ(account.at("rights").as_array().size(), 2u);
  EXPECT_EQ(account.at("one_day_changes").as_array().size(), 1u);
  EXPECT_EQ(account.at("orders").as_array().size(), 11u);  // po0..po9 and po-t1
  for (const auto& r : account.at("rights").as_array()) {
    if (r.at("user").as_string() == "u2") {
      EXPECT_EQ(r.at("per_order_limit_cents").as_int64(), 8'000 * kEur);
    }
  }

  // At an offset before the restart: Monday's state, u2's day total 48,000.00.
  o.at_us.reset();
  o.offset = s.before_restart.size() - 1;
  o.subject = {};
  o.subject.person = "u2";
  lines = lines_of([&](const auto& emit) { return audit::state({known_dir(), ""}, o, {}, emit); });
  EXPECT_EQ(lines[0].at("as_of").at("records_folded").as_int64(), static_cast<int64_t>(s.before_restart.size()));
  const auto& rights = lines[0].at("person").at("rights").as_array();
  ASSERT_EQ(rights.size(), 1u);
  EXPECT_EQ(rights[0].at("day_total_cents").as_int64(), 48'000 * kEur);
  EXPECT_EQ(lines[0].at("person").at("orders").as_array().size(), 10u);

  o.subject = {};
  o.subject.client = "C1";
  lines = lines_of([&](const auto& emit) { return audit::state({known_dir(), ""}, o, {}, emit); });
  EXPECT_EQ(lines[0].at("client").at("applications").as_array()[0].at("status").as_string(), "in_force");
  o.subject = {};
  lines = lines_of([&](const auto& emit) { return audit::state({known_dir(), ""}, o, {}, emit); });
  EXPECT_EQ(lines[0].at("summary").at("orders").as_int64(), 10);
}

// ---- explain -----------------------------------------------------------------------

const engine::TraceCheck* check_named(const audit::Explanation& e, std::string_view name) {
  for (const auto& c : e.checks)
    if (c.check == name) return &c;
  return nullptr;
}

TEST(AuditExplain, R9_DailyLimitWithTheValuesCompared) {
  const Stream s = known_stream();
  std::vector<audit::Explanation> found;
  ASSERT_TRUE(audit::explain({known_dir(), ""}, s.daily_rejected, {}, &found).ok());
  ASSERT_EQ(found.size(), 1u);
  const audit::Explanation& e = found[0];
  EXPECT_TRUE(e.equal);
  EXPECT_FALSE(e.recomputed.accepted);
  // In the documented order (engine/README.md).
  std::vector<std::string> order;
  for (const auto& c : e.checks) order.emplace_back(c.check);
  const std::vector<std::string> expected = {"envelope", "channel", "identity.not_blocked", "service.open",
                                             "order.amount", "order.new", "rights.grant", "rights.application",
                                             "means", "account.own", "account.not_deposit", "account.usable",
                                             "mode.may_prepare", "limit.per_order", "limit.daily", "decision"};
  EXPECT_EQ(order, expected);
  const auto* per_order = check_named(e, "limit.per_order");
  ASSERT_NE(per_order, nullptr);
  EXPECT_TRUE(per_order->passed);
  EXPECT_EQ(per_order->detail, "amount 1,200.00 <= per-order limit 5,000.00");
  const auto* daily = check_named(e, "limit.daily");
  ASSERT_NE(daily, nullptr);
  EXPECT_FALSE(daily->passed);
  EXPECT_EQ(std::string(daily->rule), "R9");
  EXPECT_EQ(daily->detail, "day total 48,000.00 + amount 1,200.00 > daily limit 49,000.00 on 2026-11-30");
  const std::string text = audit::explanation_text(e);
  EXPECT_NE(text.find("FAIL limit.daily (R9)"), std::string::npos) << text;
  EXPECT_NE(text.find("rejected, limit.daily_exceeded (R9); equal to the stored decision"), std::string::npos);
  const auto j = json::parse(audit::explanation_json(e)).as_object();
  EXPECT_TRUE(j.at("equal_to_stored").as_bool());
  EXPECT_EQ(j.at("checks").as_array().size(), expected.size());
}

TEST(AuditExplain, R15_R28_R31_R7_TheFailingCheckNamesItsRule) {
  const Stream s = known_stream();
  const auto one = [&](const std::string& id) {
    std::vector<audit::Explanation> found;
    EXPECT_TRUE(audit::explain({known_dir(), ""}, id, {}, &found).ok());
    EXPECT_EQ(found.size(), 1u) << id;
    return found.empty() ? audit::Explanation{} : found[0];
  };
  // R14: the change names its annex 3 application, and explain shows the check.
  const audit::Explanation change = one(s.limit_change);
  EXPECT_TRUE(change.recomputed.accepted);
  ASSERT_NE(check_named(change, "application.in_force"), nullptr);
  EXPECT_EQ(std::string(check_named(change, "application.in_force")->rule), "R14");
  EXPECT_TRUE(check_named(change, "application.in_force")->passed);
  EXPECT_NE(check_named(change, "application.in_force")->detail.find("ekase_limit_change"), std::string::npos)
      << check_named(change, "application.in_force")->detail;

  const audit::Explanation changed = one(s.limit_changed);
  EXPECT_TRUE(changed.recomputed.accepted);
  ASSERT_NE(check_named(changed, "limit.per_order"), nullptr);
  EXPECT_EQ(std::string(check_named(changed, "limit.per_order")->rule), "R15");
  EXPECT_NE(check_named(changed, "limit.per_order")->detail.find("7,000.00 <= per-order limit 8,000.00"),
            std::string::npos);

  const audit::Explanation blocked = one(s.blocked);
  ASSERT_NE(check_named(blocked, "identity.not_blocked"), nullptr);
  EXPECT_FALSE(check_named(blocked, "identity.not_blocked")->passed);
  EXPECT_EQ(std::string(check_named(blocked, "identity.not_blocked")->rule), "R28.2");

  const audit::Explanation lapsed = one(s.lapsed);
  ASSERT_NE(check_named(lapsed, "rights.application"), nullptr);
  EXPECT_FALSE(check_named(lapsed, "rights.application")->passed);
  EXPECT_EQ(std::string(check_named(lapsed, "rights.application")->rule), "R31");
  EXPECT_NE(check_named(lapsed, "rights.application")->detail.find("lapses on 2029-11-30 <= Riga date 2029-12-03"),
            std::string::npos);

  const audit::Explanation revoked = one(s.revoked_sign);
  ASSERT_NE(check_named(revoked, "rights.grant"), nullptr);
  EXPECT_FALSE(check_named(revoked, "rights.grant")->passed);
  for (const auto* e : {&changed, &blocked, &lapsed, &revoked}) EXPECT_TRUE(e->equal);

  std::vector<audit::Explanation> none;
  ASSERT_TRUE(audit::explain({known_dir(), ""}, "no-such-request", {}, &none).ok());
  EXPECT_TRUE(none.empty());
}

TEST(AuditExplain, R47_TracingNeverChangesADecision) {
  // The demo month folded with a trace attached and without: the same
  // verdicts and the same state, and every traced request ends in its decision.
  engine::Engine plain, traced;
  engine::Trace trace;
  traced.set_trace(&trace);
  for (const std::string& r : adapters::demo_requests(1)) {
    const fb::Request* req = events::verify_request(events::bytes_of(r));
    ASSERT_NE(req, nullptr);
    trace.checks.clear();
    const engine::Verdict a = plain.apply(*req);
    const engine::Verdict b = traced.apply(*req);
    ASSERT_EQ(a.accepted, b.accepted);
    ASSERT_STREQ(a.reason, b.reason);
    ASSERT_STREQ(a.rule, b.rule);
    ASSERT_EQ(a.amount, b.amount);
    ASSERT_EQ(a.limit, b.limit);
    ASSERT_EQ(a.day_total, b.day_total);
    ASSERT_FALSE(trace.checks.empty());
    ASSERT_STREQ(trace.checks.back().check, "decision");
    ASSERT_EQ(trace.checks.back().passed, b.accepted);
    // A rejection's failing check is traced before the decision (payment orders).
    if (!b.accepted && req->payload_type() == fb::Payload::PaymentOrderSign) {
      bool failed = false;
      for (size_t i = 0; i + 1 < trace.checks.size(); ++i) failed = failed || !trace.checks[i].passed;
      ASSERT_TRUE(failed) << b.reason;
    }
  }
  EXPECT_EQ(projections::state_hash(plain.state()), projections::state_hash(traced.state()));
}

TEST(AuditProgress, SilentWhenDisabled) {
  // The CLI disables it on a pipe; then nothing is written.
  ::testing::internal::CaptureStderr();
  {
    audit::ProgressBar bar("test", false);
    bar.update(5, 10);
    bar.update(10, 10);
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  ::testing::internal::CaptureStderr();
  {
    audit::ProgressBar bar("test", true);
    bar.update(5, 10);
  }
  const std::string shown = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(shown.find("50%"), std::string::npos) << shown;
  EXPECT_NE(shown.find("left"), std::string::npos) << shown;
}

}  // namespace
}  // namespace kase::testing
