// Seeded random streams against a small reference model of limits, the
// signature chain, logins, blocks, restorations, terminations and the
// three-year lapse of the applications rights stand on (R31).
// On failure the seed is printed; rerun one with KASE_SEED=<seed>.
#include <cstdlib>
#include <map>
#include <random>
#include <set>

#include "harness.h"
#include "kase/adapters/ledger.h"

namespace kase::testing {
namespace {

using DocumentKindT = fb::DocumentKind;

/// The reference: the R8 interpretation and R9 written out plainly, without
/// the engine's data structures.
struct Model {
  struct User {
    std::string account;
    AccessMode mode;
    int64_t per_order, daily;
    int32_t lapses_on;  // R31: the Riga date the user's eKase application lapses
  };
  /// R31: three years from registration, same calendar day (no 29 February here).
  static int32_t lapse_of(int32_t registered) { return registered + 30000; }
  struct Order {
    std::string account;
    int64_t amount;
    std::string preparer;
    std::vector<std::pair<std::string, AccessMode>> sigs;
    std::set<std::pair<std::string, int32_t>> counted;  // (user, day)
    int status = 0;  // 0 open, 1 submitted, 2 cancelled
  };
  std::map<std::string, User> users;
  std::set<std::string> accounts_with_sig3;
  std::map<std::string, Order> orders;
  std::map<std::tuple<std::string, std::string, int32_t>, int64_t> totals;
  // R28, R29: consecutive failures and the block of each person.
  struct Identity {
    int failures = 0;
    std::string block;  // "" or the reason code naming the block
  };
  std::map<std::string, Identity> ids;

  std::set<std::string> persons;  // R25: everyone ever granted rights stays known
  bool known(const std::string& who) const { return persons.count(who) != 0; }

  /// R30: a registered termination leaves the user no rights for the client;
  /// an account whose signature-3 user leaves has none any more (R8.7).
  void terminate(const std::string& who) {
    auto u = users.find(who);
    if (u == users.end()) return;
    const std::string account = u->second.account;
    users.erase(u);
    bool sig3 = false;
    for (const auto& [name, other] : users) sig3 = sig3 || (other.account == account && other.mode == AccessMode::signature_3);
    if (!sig3) accounts_with_sig3.erase(account);
  }
  /// R28: every request of a blocked person is refused, naming the block.
  std::string blocked(const std::string& who) { return known(who) ? ids[who].block : ""; }

  std::string login(const std::string& who, bool ok) {
    if (auto b = blocked(who); !b.empty()) return b;
    if (!known(who)) return reason::kUnknownPerson;
    Identity& id = ids[who];
    if (ok) {
      id.failures = 0;
      return "";
    }
    if (++id.failures >= 3) {
      id.block = reason::kBlockedWrongCredentials;
      return reason::kBlockedWrongCredentials;
    }
    return reason::kLoginFailed;
  }
  std::string block_on_suspicion(const std::string& who) {
    if (!known(who)) return reason::kUnknownPerson;
    ids[who].block = reason::kBlockedSuspicion;
    return "";
  }
  std::string restore(const std::string& who, bool by_application) {
    if (!known(who)) return reason::kUnknownPerson;
    Identity& id = ids[who];
    if (id.block.empty()) return reason::kNotBlocked;
    // R29.1: wrong password by phone; R29.2: by application, also R28.2 blocks.
    const bool allowed = id.block == reason::kBlockedWrongCredentials || by_application;
    if (!allowed) return reason::kRestorationNotAllowed;
    id = Identity{};
    return "";
  }

  static bool view(AccessMode m) {
    return m == AccessMode::view_all || m == AccessMode::view_incoming || m == AccessMode::view_outgoing ||
           m == AccessMode::online_view;
  }

  std::string limits(const User& u, const std::string& user, int64_t amount, int32_t day, bool count) {
    if (amount > u.per_order) return reason::kPerOrderExceeded;
    if (count && totals[{user, u.account, day}] + amount > u.daily) return reason::kDailyExceeded;
    return "";
  }

  std::string prepare(const std::string& user, const std::string& id, const std::string& account, int64_t amount,
                      int32_t day, bool open) {
    if (auto b = blocked(user); !b.empty()) return b;
    if (!open) return reason::kOutsideHours;
    if (amount <= 0) return reason::kAmountInvalid;
    if (orders.count(id)) return reason::kOrderExists;
    auto u = users.find(user);
    if (u == users.end() || u->second.account != account) return reason::kNoRights;
    if (day >= u->second.lapses_on) return reason::kApplicationLapsed;  // R31
    const AccessMode m = u->second.mode;
    if (view(m)) return reason::kModeViewOnly;
    if (m != AccessMode::manage_po && m != AccessMode::signature_2 && m != AccessMode::signature_4)
      return reason::kModeCannotPrepare;
    if (auto r = limits(u->second, user, amount, day, true); !r.empty()) return r;
    Order o{account, amount, user, {}, {{user, day}}, 0};
    orders[id] = o;
    totals[{user, account, day}] += amount;
    return "";
  }

  std::string sign(const std::string& user, const std::string& id, int32_t day, bool open) {
    if (auto b = blocked(user); !b.empty()) return b;
    if (!open) return reason::kOutsideHours;
    auto it = orders.find(id);
    if (it == orders.end()) return reason::kOrderUnknown;
    Order& o = it->second;
    if (o.status == 1) return reason::kOrderSubmitted;
    if (o.status == 2) return reason::kOrderCancelled;
    auto u = users.find(user);
    if (u == users.end() || u->second.account != o.account) return reason::kNoRights;
    if (day >= u->second.lapses_on) return reason::kApplicationLapsed;  // R31
    const AccessMode m = u->second.mode;
    if (view(m)) return reason::kModeViewOnly;
    if (m == AccessMode::manage_po) return reason::kModeCannotSign;
    for (auto& [who, mode] : o.sigs)
      if (who == user) return reason::kSamePerson;
    std::vector<AccessMode> chain;
    for (auto& s : o.sigs) chain.push_back(s.second);
    chain.push_back(m);
    using A = AccessMode;
    bool valid = false, submits = false;
    if (accounts_with_sig3.count(o.account)) {
      const std::vector<std::vector<A>> ok = {{A::signature_2}, {A::signature_2, A::signature_1},
                                              {A::signature_2, A::signature_1, A::signature_3}};
      for (auto& c : ok) valid = valid || c == chain;
      submits = chain.size() == 3;
    } else {
      const std::vector<std::vector<A>> ok = {{A::signature_2}, {A::signature_2, A::signature_1},
                                              {A::signature_4}, {A::signature_2, A::signature_4}};
      for (auto& c : ok) valid = valid || c == chain;
      submits = valid && m != A::signature_2;
    }
    if (!valid) return reason::kOutOfOrder;
    bool counted = false;
    for (auto& [who, d] : o.counted) counted = counted || who == user;
    if (auto r = limits(u->second, user, o.amount, day, !counted); !r.empty()) return r;
    o.sigs.emplace_back(user, m);
    if (!counted) {
      o.counted.insert({user, day});
      totals[{user, o.account, day}] += o.amount;
    }
    if (submits) o.status = 1;
    return "";
  }

  std::string cancel(const std::string& user, const std::string& id, bool open) {
    if (auto b = blocked(user); !b.empty()) return b;
    if (!open) return reason::kOutsideHours;
    auto it = orders.find(id);
    if (it == orders.end()) return reason::kOrderUnknown;
    Order& o = it->second;
    if (o.status == 1) return reason::kOrderSubmitted;
    if (o.status == 2) return reason::kOrderCancelled;
    bool may = o.preparer == user;
    for (auto& s : o.sigs) may = may || s.first == user;
    if (!may) return reason::kNotPreparerOrSigner;
    for (auto& [who, d] : o.counted) totals[{who, o.account, d}] -= o.amount;
    o.status = 2;
    return "";
  }
};

/// `lapsed`, when given, counts the requests refused for a lapsed application (R31).
void run_seed(uint64_t seed, int ops, int* lapsed = nullptr) {
  SCOPED_TRACE("KASE_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto pick = [&](auto& v) -> decltype(auto) { return v[rng() % v.size()]; };
  Harness h;
  Model model;
  ASSERT_TRUE(h.open_account("A").accepted);
  ASSERT_TRUE(h.open_account("B").accepted);
  ASSERT_TRUE(h.head("s4").accepted);
  // The stream crosses the three-year lapse (R31): the accounts are opened for 2029 too (R13).
  ASSERT_TRUE(h.apply(events::opened_for_year(h.treasury(), "A", 2029)).accepted);
  ASSERT_TRUE(h.apply(events::opened_for_year(h.treasury(), "B", 2029)).accepted);
  const std::vector<std::pair<std::string, std::pair<std::string, AccessMode>>> people = {
      {"m", {"A", AccessMode::manage_po}},   {"s1", {"A", AccessMode::signature_1}},
      {"s2", {"A", AccessMode::signature_2}}, {"s2b", {"A", AccessMode::signature_2}},
      {"s4", {"A", AccessMode::signature_4}}, {"v", {"A", AccessMode::view_all}},
      {"b2", {"B", AccessMode::signature_2}}, {"b1", {"B", AccessMode::signature_1}},
      {"b3", {"B", AccessMode::signature_3}}, {"bm", {"B", AccessMode::manage_po}}};
  // R7: each user's rights stand on an eKase application registered on one
  // of three days before the stream; it lapses three years on (R31).
  const std::vector<int32_t> registered_on = {20261126, 20261127, 20261130};
  for (const auto& [user, am] : people) {
    const int64_t po = (100 + static_cast<int64_t>(rng() % 900)) * kEur;
    const int64_t daily = po + static_cast<int64_t>(rng() % 3000) * kEur;
    const int32_t registered = pick(registered_on);
    h.now = riga(registered, 7, 0);
    ASSERT_TRUE(h.grant(user, am.first, am.second, po, daily).accepted) << user;
    model.users[user] = {am.first, am.second, Model::view(am.second) ? 0 : po, Model::view(am.second) ? 0 : daily,
                         Model::lapse_of(registered)};
    model.persons.insert(user);
  }
  model.accounts_with_sig3.insert("B");

  std::vector<std::string> user_names;
  for (auto& p : people) user_names.push_back(p.first);
  user_names.push_back("stranger");
  std::vector<std::string> order_ids;
  // Two days now, then the week the applications lapse (Mon 26 Nov 2029 to
  // Mon 3 Dec 2029; 28 Nov and 3 Dec: after every lapse unless renewed).
  const std::vector<int32_t> days = {20261130, 20261201, 20291126, 20291128, 20291130, 20291203};
  int32_t day_index = 0;
  int minute = 8 * 60;
  for (int i = 0; i < ops; ++i) {
    minute += static_cast<int>(rng() % 4);
    if (minute >= 18 * 60 + 30 || rng() % 200 == 0) {
      if (day_index + 1 < static_cast<int32_t>(days.size())) ++day_index;
      minute = 7 * 60 + 50 + static_cast<int>(rng() % 20);
    }
    const int32_t day = days[static_cast<size_t>(day_index)];
    h.now = riga(day, minute / 60, minute % 60);
    const bool open = minute >= 8 * 60 && minute < 18 * 60;
    const std::string user = pick(user_names);
    const uint64_t op = rng() % 14;
    std::string expected;
    engine::Verdict got;
    std::string what;
    if (op < 4 || order_ids.empty()) {
      const std::string id = (rng() % 20 == 0 && !order_ids.empty()) ? pick(order_ids) : "o" + std::to_string(i);
      const std::string account = rng() % 2 ? "A" : "B";
      int64_t amount = static_cast<int64_t>(rng() % 1200) * kEur + static_cast<int64_t>(rng() % 100);
      if (rng() % 30 == 0) amount = -amount;
      what = "prepare " + user + " " + id + " " + account + " " + std::to_string(amount);
      expected = model.prepare(user, id, account, amount, day, open);
      got = h.prepare(user, id, account, amount);
      if (got.accepted) order_ids.push_back(id);
    } else if (op < 9) {
      const std::string id = rng() % 25 == 0 ? "nope" : pick(order_ids);
      what = "sign " + user + " " + id;
      expected = model.sign(user, id, day, open);
      got = h.sign(user, id);
    } else if (op < 10) {
      const std::string id = pick(order_ids);
      what = "cancel " + user + " " + id;
      expected = model.cancel(user, id, open);
      got = h.cancel(user, id);
    } else if (op < 12) {
      // R28.1: logins, mostly right, sometimes wrong three times in a row.
      const bool ok = rng() % 3 != 0;
      what = std::string("login ") + (ok ? "ok " : "wrong ") + user;
      expected = model.login(user, ok);
      got = h.apply(events::login_attempt(h.as(user), fb::Means::unified_login, ok));
    } else if (op == 13 && rng() % 3 == 0) {
      // R7, R31: the user's newer eKase application supersedes the older; the
      // Treasury grants the same rights under it, valid three years from today.
      auto u = model.users.find(user);
      if (u == model.users.end()) continue;
      what = "renew " + user;
      const std::string app = "renew-" + std::to_string(i);
      ASSERT_TRUE(h.apply(events::application_submitted(h.as("s4"), app, fb::ApplicationKind::ekase, user, "s4",
                                                        h.now - 1, "sha256:annex2"))
                      .accepted)
          << what;
      ASSERT_TRUE(h.apply(events::application_registered(h.treasury(), app)).accepted) << what;
      expected = "";
      got = h.apply(events::rights_granted_under(h.treasury(), user, u->second.account, u->second.mode,
                                                 u->second.per_order, u->second.daily, app));
      u->second.lapses_on = Model::lapse_of(day);
    } else if (op == 13) {
      if (rng() % 8 != 0) continue;  // rare: a user stops (R30)
      what = "terminate " + user;
      const std::string app = "term-" + std::to_string(i);
      // Signed by the head (a registered representative, R4); documents are
      // not refused for the signer's own login block.
      const engine::Verdict submitted = h.apply(events::application_submitted(
          h.as("s4"), app, fb::ApplicationKind::termination, user, "s4", h.now - 1, "sha256:annex6"));
      ASSERT_TRUE(submitted.accepted) << what << ": " << submitted.reason;
      expected = "";
      got = h.apply(events::application_registered(h.treasury(), app));
      model.terminate(user);
    } else if (rng() % 4 == 0) {
      what = "block on suspicion " + user;
      expected = model.block_on_suspicion(user);
      got = h.apply(events::means_blocked(h.treasury(), user, fb::BlockCause::suspicion));
    } else {
      const bool by_application = rng() % 2 == 0;
      what = std::string("restore ") + (by_application ? "by application " : "by phone ") + user;
      expected = model.restore(user, by_application);
      got = h.apply(events::means_restored(h.treasury(), user, by_application));
    }
    const std::string got_reason = got.accepted ? "" : got.reason;
    ASSERT_EQ(got_reason, expected) << "op " << i << ": " << what << " at day " << day << " minute " << minute;
    if (lapsed != nullptr && expected == reason::kApplicationLapsed) ++*lapsed;
  }
  // Final cross-check of every order's status and the day totals.
  for (const auto& [id, mo] : model.orders) {
    ASSERT_EQ(static_cast<int>(h.order(id).status), mo.status) << id;
  }
  for (const auto& [k, dt] : h.engine.state().day_totals) {
    const auto& names = h.engine.state().names;
    const std::string user(names.name(engine::first_of(k)));
    const std::string account(names.name(engine::second_of(k)));
    const auto key = std::make_tuple(user, account, dt.date);
    ASSERT_EQ(dt.total, model.totals[key]) << k;
  }
}

TEST(RandomStreams, R9_R8_R28_R29_R30_R31_EngineMatchesReferenceModel) {
  if (const char* s = std::getenv("KASE_SEED")) {
    run_seed(std::strtoull(s, nullptr, 10), 3000);
    return;
  }
  const uint64_t base = ::testing::UnitTest::GetInstance()->random_seed();
  int lapsed = 0;
  for (uint64_t k = 0; k < 60 && !::testing::Test::HasFatalFailure(); ++k) run_seed(base * 1000 + k, 1500, &lapsed);
  EXPECT_GT(lapsed, 0) << "no stream crossed the lapse date (R31)";
}

// ---- Documents (R6, R16, R19, R21) ---------------------------------------------------

/// The reference for documents: the lifecycles of engine/README.md
/// ("Documents") written out plainly, for a world of one institution I, a
/// ministry M whose annual 2026 structure holds I, and a municipality MU.
struct DocModel {
  struct Doc {
    DocumentKindT kind;
    int status = 0;  // 0 draft, 1 checked, 2 approved, 3 signed, 4 submitted, 5 accepted
    std::string first_signer;
    bool opinion = false;
    int64_t amount = 0, appropriated = 0;
    std::string period, accepted_by;  // reports
    std::string agreement;            // disbursement requests (R21.1.2); an agreement's disbursed: appropriated
  };
  using Key = std::tuple<std::string, int, std::string>;  // owner, service, id
  std::map<Key, Doc> docs;
  std::map<std::tuple<std::string, int, std::string>, std::string> slots;  // (owner, kind, period) -> report id (R16)
  std::map<std::tuple<std::string, std::string, int>, int> plan;                     // (user, client, service) -> mode
  std::map<std::tuple<std::string, std::string, std::string>, std::pair<int, int>> report;  // (user, client, scope) -> modes, groups
  std::map<std::pair<std::string, std::string>, std::pair<int, int>> loan;             // (user, client) -> mode, groups

  void terminate(const std::string& user, const std::string& client) {
    for (auto it = plan.begin(); it != plan.end();)
      it = std::get<0>(it->first) == user && std::get<1>(it->first) == client ? plan.erase(it) : std::next(it);
    for (auto it = report.begin(); it != report.end();)
      it = std::get<0>(it->first) == user && std::get<1>(it->first) == client ? report.erase(it) : std::next(it);
    loan.erase({user, client});
  }

  struct Step {
    engine::DocumentStep step;
    fb::Service service;
    std::string owner, user, via, id;
    DocumentKindT kind = DocumentKindT::financing_plan;
    int64_t amount = -1;
    std::string period = "Y";  // reports: annual 2026, this period
    std::string agreement;     // disbursement requests: the loan agreement's id
  };

  /// The expected reason ("" = accepted), applying the step when accepted.
  std::string decide(const Step& q, bool open) {
    using St = engine::DocumentStep;
    using K = DocumentKindT;
    namespace r = reason;
    if (!open) return r::kOutsideHours;
    const bool writes = q.step == St::create || q.step == St::update;
    if (writes && q.amount < (q.step == St::create ? 0 : -1)) return r::kDocumentAmountInvalid;
    const Key key{q.owner, static_cast<int>(q.service), q.id};
    auto it = docs.find(key);
    if (q.step == St::create && it != docs.end()) return r::kDocumentExists;
    if (q.step != St::create && it == docs.end()) return r::kDocumentUnknown;
    Doc* d = it == docs.end() ? nullptr : &it->second;
    const K kind = d != nullptr ? d->kind : q.kind;
    if (kind == K::financing_plan && writes && q.amount == 0) return r::kDocumentAmountInvalid;

    // Whose rights: M acts on I's plans and reports (its structure); accept uses the recipient's own.
    const bool own = q.via.empty() || q.via == q.owner;
    const std::string rc = own ? q.owner : q.via;
    const bool subordinate = !own && rc == "M" && q.owner == "I";
    int mode = 0, groups = 0;
    switch (q.service) {
      case fb::Service::eplans:
      case fb::Service::eestimates: {
        if (!own && (q.service == fb::Service::eestimates || !subordinate)) return r::kDocumentOtherInstitution;
        auto p = plan.find({q.user, rc, static_cast<int>(q.service)});
        if (p == plan.end()) return r::kNoRights;
        mode = p->second;
        break;
      }
      case fb::Service::ereports: {
        if (q.step == St::accept && own) return r::kReportOwn;
        if (!own && !subordinate && q.step != St::accept) return r::kDocumentOtherInstitution;
        const std::string scope = own ? q.owner : subordinate ? q.owner : rc;
        auto p = report.find({q.user, rc, scope});
        if (p == report.end()) return r::kNoRights;
        mode = p->second.first;
        groups = p->second.second;
        break;
      }
      default: {
        if (!own) return r::kDocumentOtherInstitution;
        auto p = loan.find({q.user, rc});
        if (p == loan.end()) return r::kNoRights;
        mode = p->second.first;
        groups = p->second.second;
      }
    }

    int next = d != nullptr ? d->status : 0;
    const int s = next;
    switch (q.service) {
      case fb::Service::eplans: {
        const auto m = static_cast<fb::PlanMode>(mode);
        const bool mm = m == fb::PlanMode::ministry_manage;
        switch (q.step) {
          case St::view: break;
          case St::create:
          case St::update:
            if (m != fb::PlanMode::institution_manage && !mm) return r::kDocumentModeNotAllowed;
            if (q.step == St::update && s != 0) return r::kDocumentNotEditable;
            next = 0;
            break;
          case St::approve:
            if (m != fb::PlanMode::approve) return r::kDocumentModeNotAllowed;
            if (s != 0) return r::kDocumentWrongStatus;
            next = 2;
            break;
          case St::check:
            if (!mm) return r::kDocumentModeNotAllowed;
            if (s == 0) return r::kDocumentNotApproved;
            if (s != 2) return r::kDocumentWrongStatus;
            next = 1;
            break;
          case St::submit:
            if (!mm) return r::kDocumentModeNotAllowed;
            if (s == 0) return r::kDocumentNotApproved;
            if (s == 2) return r::kDocumentNotChecked;
            if (s != 1) return r::kDocumentWrongStatus;
            next = 4;
            break;
          default: return r::kDocumentStepNotForKind;
        }
        break;
      }
      case fb::Service::eestimates: {
        const auto m = static_cast<fb::PlanMode>(mode);
        if (q.step != St::view && rc == "M") return r::kPlanModeInstitutionsOnly;  // R6.2–R6.4
        switch (q.step) {
          case St::view: break;
          case St::create:
          case St::update:
            if (m != fb::PlanMode::institution_manage) return r::kDocumentModeNotAllowed;
            if (q.step == St::update && s != 0 && s != 2) return r::kDocumentNotEditable;
            next = 0;
            break;
          case St::approve:
            if (m != fb::PlanMode::approve) return r::kDocumentModeNotAllowed;
            if (s == 3) return r::kDocumentAlreadySigned;
            if (s != 0) return r::kDocumentWrongStatus;
            next = 2;
            break;
          case St::sign:
            if (m != fb::PlanMode::sign_head) return r::kDocumentModeNotAllowed;
            if (s == 3) return r::kDocumentAlreadySigned;
            if (s != 2) return r::kDocumentNotApproved;
            next = 3;
            break;
          default: return r::kDocumentStepNotForKind;
        }
        break;
      }
      case fb::Service::ereports: {
        const auto has = [&](fb::ReportMode x) { return (mode & static_cast<int>(x)) != 0; };
        const auto in = [&](fb::ReportGroup x) { return (groups & static_cast<int>(x)) != 0; };
        const bool prepares = has(fb::ReportMode::manage) || has(fb::ReportMode::manage_sign) ||
                              has(fb::ReportMode::consolidate_sign);
        const bool consolidated = kind == K::consolidated_report;
        switch (q.step) {
          case St::view: break;
          case St::create:
          case St::update:
          case St::check:
            if (!in(fb::ReportGroup::view_prepare)) return r::kDocumentGroupRequired;
            if (q.step == St::create && consolidated) {
              if (!has(fb::ReportMode::consolidate_sign)) return r::kDocumentModeNotAllowed;
              if (q.owner != "M") return r::kReportNoStructure;
              next = 0;
              break;
            }
            if (!prepares) return r::kDocumentModeNotAllowed;
            if (q.step == St::check) {
              if (s != 0) return r::kDocumentWrongStatus;
              next = 1;
            } else {
              if (q.step == St::update && s != 0 && s != 1) return r::kDocumentNotEditable;
              next = 0;
            }
            break;
          case St::sign: {
            if (!in(fb::ReportGroup::view_prepare)) return r::kDocumentGroupRequired;
            if (s == 4 || s == 5) return r::kDocumentAlreadySigned;
            if (s == 3) {
              if (!has(fb::ReportMode::sign_head)) return r::kDocumentModeNotAllowed;
              if (d->first_signer == q.user) return r::kSamePerson;
              next = 4;
              break;
            }
            const bool finance = consolidated ? has(fb::ReportMode::consolidate_sign)
                                              : has(fb::ReportMode::manage_sign) || has(fb::ReportMode::consolidate_sign);
            if (!finance) return has(fb::ReportMode::sign_head) ? r::kDocumentFinanceSignatureMissing : r::kDocumentModeNotAllowed;
            if (s != 1) return r::kDocumentNotChecked;
            if (consolidated) {
              // R19.2.4: I's report of the period (M's structure) accepted by M.
              auto slot = slots.find({"I", static_cast<int>(K::report), d->period});
              const Doc* sub = slot == slots.end()
                                   ? nullptr
                                   : &docs.at(Key{"I", static_cast<int>(fb::Service::ereports), slot->second});
              if (sub == nullptr || sub->status != 5 || sub->accepted_by != "M")
                return r::kReportConsolidationIncomplete;
            }
            d->first_signer = q.user;
            next = 3;
            break;
          }
          case St::accept:
            if (!in(fb::ReportGroup::accept)) return r::kDocumentGroupRequired;
            if (!has(subordinate ? fb::ReportMode::consolidate_sign : fb::ReportMode::view_accept))
              return r::kDocumentModeNotAllowed;
            if (s == 5) return r::kDocumentAlreadyAccepted;
            if (s != 4) return r::kDocumentNotSubmitted;
            d->accepted_by = rc;
            next = 5;
            break;
          case St::approve:
            if (!in(fb::ReportGroup::auditor)) return r::kDocumentGroupRequired;
            if (!has(fb::ReportMode::approve)) return r::kDocumentModeNotAllowed;
            if (s != 4 && s != 5) return r::kDocumentNotSubmitted;
            if (d->opinion) return r::kReportOpinionExists;
            d->opinion = true;
            break;
          default: return r::kDocumentStepNotForKind;
        }
        break;
      }
      default: {
        const auto m = static_cast<fb::LoanMode>(mode);
        const bool requests = kind == K::loan_request;
        if ((groups & static_cast<int>(requests ? fb::LoanGroup::loan_requests : fb::LoanGroup::loan_agreements)) == 0)
          return r::kDocumentGroupRequired;
        switch (q.step) {
          case St::view: break;
          case St::create:
          case St::update:
            if (m != fb::LoanMode::manage && m != fb::LoanMode::sign) return r::kDocumentModeNotAllowed;
            if (q.step == St::update && s != 0) return r::kDocumentNotEditable;
            next = 0;
            break;
          case St::sign:
            if (m != fb::LoanMode::sign) return r::kDocumentModeNotAllowed;
            if (s != 0) return r::kDocumentAlreadySigned;
            next = 3;
            break;
          case St::submit:
            if (m != fb::LoanMode::sign) return r::kDocumentModeNotAllowed;
            if (s == 0) return r::kDocumentNotSigned;
            if (s != 3) return r::kDocumentWrongStatus;
            next = 4;
            break;
          default: return r::kDocumentStepNotForKind;
        }
      }
    }
    if (q.step == St::view) return "";
    Doc* agreement = nullptr;
    if (kind == K::disbursement_request && (q.step == St::create || q.step == St::submit)) {
      // R21.1.2: under a submitted loan agreement of the owner, never beyond its amount.
      auto a = docs.find(Key{q.owner, static_cast<int>(fb::Service::eloans), d != nullptr ? d->agreement : q.agreement});
      if (a == docs.end() || a->second.kind != K::loan_agreement) return r::kLoanAgreementUnknown;
      if (a->second.status != 4) return r::kLoanAgreementNotSubmitted;
      agreement = &a->second;
      if (q.step == St::submit && d->amount > agreement->amount - agreement->appropriated)
        return r::kLoanDisbursementExceedsAgreement;
    }
    if (q.step == St::submit && agreement != nullptr) agreement->appropriated += d->amount;
    const bool report_kind = q.service == fb::Service::ereports;
    if (q.step == St::create && report_kind) {
      // R16: one report of a kind per institution and period.
      if (slots.count({q.owner, static_cast<int>(q.kind), q.period}) != 0) return r::kReportPeriodTaken;
      slots[{q.owner, static_cast<int>(q.kind), q.period}] = q.id;
    }
    if (d == nullptr) {
      d = &docs[key];
      d->kind = q.kind;
      if (report_kind) d->period = q.period;
      if (q.kind == K::disbursement_request) d->agreement = q.agreement;
    }
    if (writes && q.amount >= 0) d->amount = q.amount;
    d->status = next;
    return "";
  }

  std::string appropriation(const std::string& owner, const std::string& id, int64_t amount) {
    auto it = docs.find(Key{owner, static_cast<int>(fb::Service::eplans), id});
    if (it == docs.end()) return reason::kDocumentUnknown;
    if (amount <= 0) return reason::kDocumentAmountInvalid;
    Doc& d = it->second;
    if (d.status != 4) return reason::kDocumentNotSubmitted;
    if (d.appropriated + amount > d.amount) return reason::kAppropriationExceedsPlan;
    d.appropriated += amount;
    return "";
  }
};

/// Accepted steps by "service step", over the seeds run: the streams must
/// reach every lifecycle's end, not only refusals.
using StepTally = std::map<std::string, int>;

void run_document_seed(uint64_t seed, int ops, StepTally* tally) {
  SCOPED_TRACE("KASE_SEED=" + std::to_string(seed) + " (documents)");
  using St = engine::DocumentStep;
  using K = DocumentKindT;
  std::mt19937_64 rng(seed);
  auto pick = [&](const auto& v) -> decltype(auto) { return v[rng() % v.size()]; };
  Harness h;
  DocModel model;
  const auto at = [&](const std::string& client, auto&& f) {
    h.client = client;
    return f();
  };
  const std::map<std::string, std::vector<std::string>> users = {
      {"I", {"i1", "i2", "i3", "i4", "i5"}}, {"M", {"m1", "m2", "m3"}}, {"MU", {"u1", "u2", "u3"}}};
  const uint16_t all_roles = 0x3f;
  for (const auto& client_kind : std::vector<std::pair<std::string, fb::ClientKind>>{
           {"I", fb::ClientKind::other}, {"M", fb::ClientKind::ministry}, {"MU", fb::ClientKind::municipality}}) {
    // Named, not structured bindings: clang 14 cannot capture those in lambdas.
    const std::string& client = client_kind.first;
    const fb::ClientKind kind = client_kind.second;
    ASSERT_TRUE(at(client, [&] { return h.apply(events::client_registered(h.treasury(), kind)); }).accepted);
    ASSERT_TRUE(at(client, [&] { return h.head("head" + client); }).accepted);
    for (const auto& u : users.at(client))
      ASSERT_TRUE(at(client, [&] {
                    return h.apply(events::person_roles(h.treasury(), u, static_cast<fb::PersonRole>(all_roles)));
                  }).accepted);
  }
  ASSERT_TRUE(at("M", [&] {
                return h.apply(events::institution_structure(h.treasury(), fb::ReportType::annual, 2026, {"I"}));
              }).accepted);

  // A random valid grant for `user` of `client`, mirrored in the model.
  const auto grant = [&](const std::string& client, const std::string& user) -> engine::Verdict {
    const uint64_t what = rng() % 3;
    // MU's users hold loan rights, and report rights for MU itself (to accept
    // reports of an institution not subordinate to it, R19.2.7).
    if ((client == "MU" && what != 1) || what == 2) {
      if (client != "MU") return engine::Verdict::ok("");
      const int groups = 1 + static_cast<int>(rng() % 3);
      const int mode = 1 + static_cast<int>(rng() % 3);
      model.loan[{user, client}] = {mode, groups};
      return at(client, [&] {
        return h.loan_rights(user, static_cast<fb::LoanGroup>(groups), static_cast<fb::LoanMode>(mode));
      });
    }
    if (what == 0) {
      const fb::Service service = rng() % 2 ? fb::Service::eplans : fb::Service::eestimates;
      std::vector<fb::PlanMode> modes;
      if (client == "M") {
        modes = service == fb::Service::eplans
                    ? std::vector{fb::PlanMode::view, fb::PlanMode::approve, fb::PlanMode::ministry_manage}
                    : std::vector{fb::PlanMode::view};
      } else {
        modes = {fb::PlanMode::view, fb::PlanMode::institution_manage, fb::PlanMode::approve};
        if (service == fb::Service::eestimates) modes.push_back(fb::PlanMode::sign_head);
      }
      const fb::PlanMode mode = pick(modes);
      model.plan[{user, client, static_cast<int>(service)}] = static_cast<int>(mode);
      return at(client, [&] { return h.plan_rights(user, service, mode); });
    }
    const std::string scope = client == "M" && rng() % 2 ? "I" : client;
    const int groups = 1 + static_cast<int>(rng() % 7);
    const int modes = 1 + static_cast<int>(rng() % 255);
    model.report[{user, client, scope}] = {modes, groups};
    return at(client, [&] {
      return h.report_rights(user, scope, static_cast<fb::ReportGroup>(groups), static_cast<fb::ReportMode>(modes));
    });
  };
  for (const auto& [client, us] : users)
    for (const auto& u : us)
      for (int k = 0; k < 4; ++k) ASSERT_TRUE(grant(client, u).accepted) << client << " " << u;

  std::vector<std::pair<std::string, std::string>> people;  // (home client, user)
  for (const auto& [client, us] : users)
    for (const auto& u : us) people.emplace_back(client, u);
  people.emplace_back("I", "stranger");
  std::map<std::pair<std::string, int>, std::vector<std::string>> ids;  // (owner, service) -> document ids
  int minute = 8 * 60;
  int32_t day = kMonday;
  for (int i = 0; i < ops; ++i) {
    minute += static_cast<int>(rng() % 3);
    if (minute >= 18 * 60 + 20) {
      minute = 7 * 60 + 50;
      day = day == kMonday ? 20261201 : 20261202;
    }
    h.now = riga(day, minute / 60, minute % 60);
    const bool open = minute >= 8 * 60 && minute < 18 * 60;
    const uint64_t op = rng() % 100;
    std::string what, expected;
    engine::Verdict got;
    if (op < 3) {
      const auto& [client, user] = pick(people);
      if (user == "stranger") continue;
      what = "grant " + client + " " + user;
      got = grant(client, user);
      expected = "";
    } else if (op < 4) {
      // R30: the user stops; no rights are left for the client.
      const auto& who = pick(people);
      const std::string client = who.first;
      const std::string user = who.second;
      if (user == "stranger" || rng() % 3 != 0) continue;
      what = "terminate " + client + " " + user;
      const std::string app = "term-" + std::to_string(i);
      const std::string head = "head" + client;
      ASSERT_TRUE(at(client, [&] {
                    return h.apply(events::application_submitted(h.as(head), app, fb::ApplicationKind::termination,
                                                                 user, head, h.now - 1, "sha256:annex6"));
                  }).accepted);
      got = at(client, [&] { return h.apply(events::application_registered(h.treasury(), app)); });
      model.terminate(user, client);
      expected = "";
    } else if (op < 8) {
      const std::string owner = rng() % 2 ? "I" : "M";
      auto& list = ids[{owner, static_cast<int>(fb::Service::eplans)}];
      if (list.empty()) continue;
      // Mostly a plan the model knows is submitted.
      std::vector<std::string> submitted;
      for (const auto& id : list)
        if (model.docs.at({owner, static_cast<int>(fb::Service::eplans), id}).status == 4) submitted.push_back(id);
      const std::string id = !submitted.empty() && rng() % 4 != 0 ? pick(submitted) : pick(list);
      const int64_t amount = static_cast<int64_t>(rng() % 700) - 20;
      what = "appropriation " + owner + " " + id + " " + std::to_string(amount);
      expected = model.appropriation(owner, id, amount);
      got = at(owner, [&] { return h.apply(events::appropriation_received(h.treasury(), id, amount)); });
      if (got.accepted) ++(*tally)["eplans appropriation"];
    } else {
      DocModel::Step q;
      const uint64_t sv = rng() % 4;
      q.service = sv == 0 ? fb::Service::eplans : sv == 1 ? fb::Service::eestimates
                                            : sv == 2 ? fb::Service::ereports : fb::Service::eloans;
      q.owner = q.service == fb::Service::eloans ? (rng() % 8 ? "MU" : "I")
                : q.service == fb::Service::eestimates ? (rng() % 8 ? "I" : "M")
                : (rng() % 3 ? "I" : "M");
      static const std::vector<St> steps = {St::create, St::create, St::update, St::check,  St::approve,
                                            St::approve, St::sign,  St::sign,   St::submit, St::accept,
                                            St::accept,  St::view};
      q.step = pick(steps);
      // A third of the steps are the next one of a document's lifecycle, so
      // that the streams reach the lifecycles' ends (still by random people).
      std::string directed;
      if (rng() % 3 == 0 && !model.docs.empty()) {
        const auto& [key, d] = *std::next(model.docs.begin(), static_cast<long>(rng() % model.docs.size()));
        q.owner = std::get<0>(key);
        q.service = static_cast<fb::Service>(std::get<1>(key));
        directed = std::get<2>(key);
        const int st = d.status;
        switch (q.service) {
          case fb::Service::eplans: q.step = st == 0 ? St::approve : st == 2 ? St::check : st == 1 ? St::submit : St::view; break;
          case fb::Service::eestimates: q.step = st == 0 ? St::approve : st == 2 ? St::sign : St::view; break;
          case fb::Service::ereports:
            q.step = st == 0 ? St::check : st == 1 || st == 3 ? St::sign : st == 4 && rng() % 2 ? St::accept : St::approve;
            break;
          default: q.step = st == 0 ? St::sign : st == 3 ? St::submit : St::view;
        }
      }
      // Mostly people who may have a say: the owner's users, a ministry's for its
      // institution, anyone's for accepting a report; now and then anyone.
      std::vector<std::pair<std::string, std::string>> candidates;
      for (const auto& p : people) {
        const bool for_structure = p.first == "M" && q.owner == "I" && q.service != fb::Service::eestimates;
        if (p.first == q.owner || for_structure || (q.service == fb::Service::ereports && q.step == St::accept))
          candidates.push_back(p);
      }
      const auto& who = candidates.empty() || rng() % 5 == 0 ? pick(people) : pick(candidates);
      q.user = who.second;
      q.via = who.first != q.owner && rng() % 8 != 0 ? who.first : (rng() % 10 == 0 ? q.owner : "");
      auto& list = ids[{q.owner, static_cast<int>(q.service)}];
      // Mostly the few newest documents, so that lifecycles get to their ends.
      const auto recent = [&]() -> std::string {
        return list[list.size() - 1 - rng() % std::min<size_t>(list.size(), 3)];
      };
      if (!directed.empty()) {
        q.id = directed;
      } else if (q.step == St::create) {
        q.id = list.size() < 2 || (list.size() < 8 && rng() % 8 == 0) ? "d" + std::to_string(i) : recent();
      } else {
        q.id = list.empty() || rng() % 40 == 0 ? "none" : rng() % 5 == 0 ? pick(list) : recent();
      }
      switch (q.service) {
        case fb::Service::eplans: q.kind = K::financing_plan; break;
        case fb::Service::eestimates: q.kind = K::estimate; break;
        case fb::Service::ereports:
          q.kind = pick(std::vector{K::report, K::summary_report, K::consolidated_report});
          break;
        default:
          q.kind = pick(std::vector{K::loan_request, K::loan_agreement, K::disbursement_request});
          // A disbursement request names an agreement: mostly one of the owner's loan documents.
          if (q.step == St::create && q.kind == K::disbursement_request)
            q.agreement = list.empty() || rng() % 10 == 0 ? "none" : pick(list);
      }
      // Reports carry no amount (the builder sends 0); two periods, so that
      // both a second report of a period and a complete consolidation happen.
      q.period = rng() % 2 ? "Y" : "H1";
      if (q.step == St::create)
        q.amount = q.service == fb::Service::ereports ? 0
                                                      : static_cast<int64_t>(rng() % 1000) - (rng() % 20 == 0 ? 1000 : 0);
      if (q.step == St::update) q.amount = rng() % 2 ? -1 : static_cast<int64_t>(rng() % 1000);
      what = std::string(engine::document_step_name(q.step)) + " " + fb::EnumNameService(q.service) + " " + q.owner +
             "/" + q.id + " by " + q.user + (q.via.empty() ? "" : " for " + q.via);
      expected = model.decide(q, open);
      h.client = q.owner;
      const events::Envelope e = h.as(q.user);
      std::string bytes;
      switch (q.step) {
        case St::create:
          bytes = q.service == fb::Service::ereports
                      ? events::report_create(e, q.id, q.kind, "sha256:c", fb::ReportType::annual, 2026, q.period, q.via)
                      : events::document_create(e, q.service, q.id, q.kind, "sha256:c", q.amount, q.via, q.agreement);
          break;
        case St::update: bytes = events::document_update(e, q.service, q.id, "sha256:u", q.amount, q.via); break;
        case St::check: bytes = events::document_check(e, q.service, q.id, q.via); break;
        case St::approve:
          bytes = q.service == fb::Service::ereports
                      ? events::document_approve(e, q.service, q.id, q.via, fb::AuditVerdict::verified, "sha256:o")
                      : events::document_approve(e, q.service, q.id, q.via);
          break;
        case St::sign: bytes = events::document_sign(e, q.service, q.id, q.via); break;
        case St::submit: bytes = events::document_submit(e, q.service, q.id, q.via); break;
        case St::accept: bytes = events::document_accept(e, q.service, q.id, q.via); break;
        default: bytes = events::document_view(e, q.service, q.id, q.via); break;
      }
      got = h.apply(bytes);
      if (got.accepted && q.step == St::create) list.push_back(q.id);
      if (got.accepted)
        ++(*tally)[std::string(fb::EnumNameService(q.service)) + " " + engine::document_step_name(q.step) + " " +
                   got.rule];
    }
    const std::string got_reason = got.accepted ? "" : got.reason;
    ASSERT_EQ(got_reason, expected) << "op " << i << ": " << what << " (rule " << got.rule << ")";
  }
  // Final cross-check of every document's status.
  const auto& st = h.engine.state();
  ASSERT_EQ(st.documents.size(), model.docs.size());
  for (const auto& [key, d] : model.docs) {
    const auto& [owner, service, id] = key;
    const auto* e = st.documents.find(
        engine::DocumentKey{st.names.find(owner), st.names.find(id), static_cast<uint8_t>(service)});
    ASSERT_NE(e, nullptr) << owner << "/" << id;
    EXPECT_EQ(static_cast<int>(e->second.status), d.status) << owner << "/" << id;
    EXPECT_EQ(e->second.appropriated, d.appropriated) << owner << "/" << id;
  }
}

TEST(RandomStreams, R6_R16_R19_R21_R30_DocumentsMatchReferenceModel) {
  StepTally tally;
  if (const char* s = std::getenv("KASE_SEED")) {
    run_document_seed(std::strtoull(s, nullptr, 10), 3000, &tally);
    return;
  }
  const uint64_t base = ::testing::UnitTest::GetInstance()->random_seed();
  for (uint64_t k = 0; k < 30 && !::testing::Test::HasFatalFailure(); ++k)
    run_document_seed(base * 1000 + k, 1500, &tally);
  if (::testing::Test::HasFatalFailure()) return;
  // Every lifecycle reached its end somewhere in the streams.
  for (const char* step : {"eplans submit R6.5", "eplans appropriation", "eestimates sign R6.4",
                           "ereports sign R19.2.5", "ereports accept R19.2.4", "ereports accept R19.2.7",
                           "ereports approve R19.2.8", "ereports create R19.2.4", "eloans submit R21.2.3"})
    EXPECT_GT(tally[step], 0) << step;
  std::string seen;
  for (const auto& [step, n] : tally) seen += step + "=" + std::to_string(n) + " ";
  RecordProperty("accepted_steps", seen);
}

}  // namespace
}  // namespace kase::testing
