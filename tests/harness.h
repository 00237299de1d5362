// Test support: an Engine with a clock on a known business day and builders
// that name their request ids. Not a mock: the real fold decides.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kase/engine/calendar.h"
#include "kase/engine/engine.h"
#include "kase/engine/reasons.h"
#include "kase/events/build.h"
#include "kase/events/codec.h"
#include "kase/projections/store.h"

namespace kase::testing {

/// A scratch directory under the system's temporary directory, removed with
/// the object; `what` names the test file in the directory's name.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const char* what = "test") {
    static int n = 0;
    path = std::filesystem::temp_directory_path() /
           ("kase-" + std::string(what) + "-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
    std::filesystem::remove_all(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

/// `record` (a LogRecord) rebuilt from its parts after `edit` has changed
/// them: the decision's fields, the request bytes, the stored hash. A
/// tampered log record, for the tests that must catch one. The fields' views
/// point into `record`.
inline std::string rebuilt_record(
    std::span<const uint8_t> record,
    const std::function<void(events::DecisionFields& decision, std::string& request, events::Hash& hash)>& edit) {
  const auto* rec = flatbuffers::GetRoot<fb::LogRecord>(record.data());
  const fb::Decision& d = *rec->decision();
  events::DecisionFields f;
  f.request_id = d.request_id()->string_view();
  f.offset = d.offset();
  f.accepted = d.outcome() == fb::Outcome::accepted;
  f.reason = d.reason()->string_view();
  f.rule = d.rule()->string_view();
  f.amount_cents = d.amount_cents();
  f.limit_cents = d.limit_cents();
  f.day_total_cents = d.day_total_cents();
  std::string request(reinterpret_cast<const char*>(rec->request()->data()), rec->request()->size());
  events::Hash hash{};
  EXPECT_TRUE(events::from_hex(d.hash()->string_view(), &hash));
  edit(f, request, hash);
  flatbuffers::FlatBufferBuilder b;
  b.ForceVectorAlignment(request.size(), 1, 8);
  const auto nested = b.CreateVector(reinterpret_cast<const uint8_t*>(request.data()), request.size());
  const auto decision = events::build_decision(b, f, &hash);
  fb::LogRecordBuilder rb(b);
  rb.add_request(nested);
  rb.add_decision(decision);
  b.Finish(rb.Finish());
  return {reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize()};
}

using fb::AccessMode;
using fb::Channel;
namespace reason = engine::reason;

constexpr int64_t kUsPerMinute = 60'000'000;
constexpr int64_t kEur = 100;

/// UTC micros of a Riga wall-clock time (handles EET/EEST via the engine's own
/// conversion being checked separately in calendar_test).
inline int64_t riga(int32_t ymd, int hour, int minute) {
  const int64_t day = engine::days_from_ymd(ymd);
  const int64_t local_min = day * 24 * 60 + hour * 60 + minute;
  // Try both offsets; pick the one that maps back to the same local time.
  for (int64_t offset : {120, 180}) {
    const int64_t us = (local_min - offset) * kUsPerMinute;
    const engine::RigaTime t = engine::riga_time(us);
    if (t.date == ymd && t.minute_of_day == hour * 60 + minute) return us;
  }
  ADD_FAILURE() << "no such Riga time";
  return 0;
}

/// Monday 2026-11-30, 10:00 Riga: a business day.
constexpr int32_t kMonday = 20261130;

struct Harness {
  engine::Engine engine;
  int64_t now = riga(kMonday, 10, 0);
  int seq = 0;
  std::string client = "C1";

  std::string next_id() { return "t-" + std::to_string(++seq); }
  events::Envelope as(const std::string& actor, Channel ch = Channel::portal) {
    ids.push_back(next_id());
    actors.push_back(actor);
    return events::Envelope{ids.back(), client, actors.back(), ch, now};
  }
  events::Envelope treasury() { return as("operator", Channel::treasury); }

  engine::Verdict apply(const std::string& bytes) {
    const fb::Request* r = events::verify_request(events::bytes_of(bytes));
    EXPECT_NE(r, nullptr) << "test built an invalid request";
    if (r == nullptr) return engine::Verdict::reject("test.invalid", "");
    if (also) also(bytes);
    const engine::Verdict v = engine.apply(*r);
    if (after) after(bytes, v);
    return v;
  }
  /// When set, every request applied is also handed here (e.g. to partitions).
  std::function<void(const std::string&)> also;
  /// When set, every request applied is handed here with the engine's verdict.
  std::function<void(const std::string&, const engine::Verdict&)> after;

  // ---- Treasury set-up --------------------------------------------------------
  engine::Verdict open_account(const std::string& account, const std::string& owner = "", bool deposit = false,
                               int32_t fiscal_year = 2026) {
    return apply(events::account_opened(treasury(), account, owner.empty() ? client : owner, deposit, fiscal_year));
  }
  /// R7 (schema version 2): rights are granted under the user's eKase
  /// application; `permission` (R10) travels on a new one naming `account`.
  engine::Verdict grant(const std::string& user, const std::string& account, AccessMode mode,
                        int64_t per_order = 5'000 * kEur, int64_t daily = 20'000 * kEur,
                        const std::string& permission = "") {
    std::vector<events::AccountPermission> permissions;
    if (!permission.empty()) permissions.push_back({account, permission});
    const std::string app = application(user, fb::ApplicationKind::ekase, permissions);
    return apply(events::rights_granted_under(treasury(), user, account, mode, per_order, daily, app));
  }
  /// The user's application of `kind` in force for the client (R5, R7, R18,
  /// R20, R31); when there is none, or permissions must travel on it (R10), a
  /// new one is submitted on paper, signed by a registered representative
  /// (R3, R4), and registered (R22). Its id; the tests mostly need not care.
  std::string application(const std::string& user, fb::ApplicationKind kind,
                          const std::vector<events::AccountPermission>& permissions = {}) {
    const engine::State& st = engine.state();
    const engine::NameId u = st.names.find(user);
    const engine::NameId c = st.names.find(client);
    if (permissions.empty() && u != engine::kNoName && c != engine::kNoName) {
      if (const auto* cur = st.in_force.find(engine::pair_key(u, c))) {
        const engine::NameId id = cur->second.by_kind[static_cast<size_t>(kind)];
        const auto* a = id == engine::kNoName ? nullptr : st.applications.find(id);
        if (a != nullptr && a->second.status == engine::ApplicationStatus::in_force &&
            (a->second.lapses_on == 0 || engine::riga_time(now).date < a->second.lapses_on))
          return std::string(st.names.name(id));
      }
    }
    const engine::NameId signer = st.names.find(kApplicationSigner);
    if (c == engine::kNoName || signer == engine::kNoName ||
        st.representatives.find(engine::pair_key(c, signer)) == nullptr)
      apply(events::representative(treasury(), kApplicationSigner, false, false));
    const std::string id = "app-" + std::to_string(++applications) + "-" + user;
    apply(events::application_submitted(treasury(), id, kind, user, kApplicationSigner, now, "sha256:application",
                                        permissions));
    apply(events::application_registered(treasury(), id));
    return id;
  }
  /// R5, R18, R20 (schema version 2): rights in ePlans/eEstimates, eReports
  /// and eLoans under the user's annex 1, 4 or 5 application.
  engine::Verdict plan_rights(const std::string& user, fb::Service service, fb::PlanMode mode) {
    const std::string app = application(user, fb::ApplicationKind::eplans_eestimates);
    return apply(events::plan_rights(treasury(), user, service, mode, app));
  }
  engine::Verdict report_rights(const std::string& user, const std::string& institution, fb::ReportGroup groups,
                                fb::ReportMode modes) {
    const std::string app = application(user, fb::ApplicationKind::ereports_users);
    return apply(events::report_rights(treasury(), user, institution, groups, modes, app));
  }
  engine::Verdict loan_rights(const std::string& user, fb::LoanGroup groups, fb::LoanMode mode) {
    const std::string app = application(user, fb::ApplicationKind::eloans);
    return apply(events::loan_rights(treasury(), user, groups, mode, app));
  }
  /// R14 (schema version 2): a one-day limit change stands on the user's
  /// registered annex 3 application (kind ekase_limit_change), a new one per change.
  engine::Verdict limit_change(const std::string& user, const std::string& account, int32_t date, int64_t per_order,
                               int64_t daily) {
    const std::string app = application(user, fb::ApplicationKind::ekase_limit_change);
    return apply(events::limit_change(treasury(), user, account, date, per_order, daily, app));
  }
  static constexpr const char* kApplicationSigner = "registrar";
  int applications = 0;
  engine::Verdict head(const std::string& person) {
    return apply(events::representative(treasury(), person, true, true));
  }

  // ---- User actions -----------------------------------------------------------------
  engine::Verdict prepare(const std::string& user, const std::string& order, const std::string& account,
                          int64_t amount) {
    return apply(events::po_prepare(as(user), order, account, amount, "supplier"));
  }
  engine::Verdict sign(const std::string& user, const std::string& order) {
    return apply(events::po_sign(as(user), order));
  }
  engine::Verdict cancel(const std::string& user, const std::string& order) {
    return apply(events::po_cancel(as(user), order));
  }

  /// What a restart loads: everything the fold touched, stored and loaded
  /// back into a fresh state (derived tables are rebuilt by the loader).
  std::unique_ptr<engine::State> reloaded() {
    auto store = projections::make_memory_store();
    projections::Batch b;
    b.dirty = engine.take_dirty();
    b.state = &engine.state();
    auto loaded = std::make_unique<engine::State>();
    projections::Meta meta;
    EXPECT_TRUE(store->commit(b).ok());
    EXPECT_TRUE(store->load(loaded.get(), &meta).ok());
    EXPECT_EQ(projections::state_hash(*loaded), projections::state_hash(engine.state()));
    return loaded;
  }

  const engine::Order& order(const std::string& id) {
    return engine.state().orders.at(client + engine::kKeySep + id);
  }

  // Envelopes hold string_views: keep their strings alive.
  std::deque<std::string> ids, actors;
};

#define EXPECT_ACCEPTED(v)                                                        \
  do {                                                                            \
    const ::kase::engine::Verdict v_ = (v);                                       \
    EXPECT_TRUE(v_.accepted) << "rejected: " << v_.reason << " (" << v_.rule << ")"; \
  } while (0)

#define EXPECT_REJECTED(v, code, rule_id)                                          \
  do {                                                                            \
    const ::kase::engine::Verdict v_ = (v);                                       \
    EXPECT_FALSE(v_.accepted) << "accepted, expected " << (code);                 \
    EXPECT_STREQ(v_.reason, (code));                                              \
    EXPECT_STREQ(v_.rule, (rule_id));                                             \
  } while (0)

/// Asserts that each verdict, evaluated in order, was accepted.
#define ASSERT_ACCEPTED_ALL(...)                                                      \
  do {                                                                                \
    int n_ = 0;                                                                       \
    for (const ::kase::engine::Verdict& v_ : {__VA_ARGS__}) {                         \
      ++n_;                                                                           \
      ASSERT_TRUE(v_.accepted) << "step " << n_ << " rejected: " << v_.reason << " (" << v_.rule << ")"; \
    }                                                                                 \
  } while (0)

}  // namespace kase::testing
