// Private to bench/: a realistic eKase request stream built with the
// kase::events builders (the shape of adapters/src/demo.cpp, larger).
//
// Clients with several payment accounts each; on every account two
// signature-2 users (prepare and sign first), two signature-1 users, the head
// of the institution as signature-4 (R8.8), a manage-PO user and view users;
// per-order and daily limits (R9) on every mode that has them, and a few
// one-day limit changes (R14, R15) so that the override lookup is live.
// Orders are spread over business days in November 2026, inside service
// hours (R32), so every planned decision is an acceptance unless the plan
// says otherwise.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "kase/engine/calendar.h"
#include "kase/events/build.h"
#include "kase/events/splitmix.h"
#include "kase/events/codec.h"

namespace kase::bench {

using fb::AccessMode;
using fb::Channel;

inline constexpr int64_t kUsPerMinute = 60'000'000;
inline constexpr int64_t kEur = 100;                          // cents
inline constexpr int64_t kPerOrderLimit = 5'000 * kEur;       // R9
inline constexpr int64_t kDailyLimit = 1'000'000 * kEur;      // R9
inline constexpr int kClients = 8;
inline constexpr int kAccountsPerClient = 4;
inline constexpr int kBusinessDays = 20;

/// True when the binary runs at test size (ctest): `--tiny` or KASE_BENCH_TINY=1.
inline bool& tiny_mode() {
  static bool tiny = [] {
    const char* env = std::getenv("KASE_BENCH_TINY");
    return env != nullptr && env[0] != '\0' && env[0] != '0';
  }();
  return tiny;
}

/// Removes `--tiny` from argv (before benchmark::Initialize sees it).
inline void parse_tiny_flag(int* argc, char** argv) {
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    if (std::string_view(argv[i]) == "--tiny") {
      tiny_mode() = true;
    } else {
      argv[out++] = argv[i];
    }
  }
  *argc = out;
}

using events::SplitMix;

/// UTC micros of a Riga wall-clock time on a date in November/December
/// (EET, UTC+2).
inline int64_t riga_eet(engine::DateYmd date, int minute_of_day) {
  const int64_t days = engine::days_from_ymd(date);
  return (days * 24 * 60 + minute_of_day - 120) * kUsPerMinute;
}

struct PaymentAccount {
  std::string iban;
  std::string sig2[2], sig1[2], manage, viewer;
};

struct Client {
  std::string id;
  std::string head;  // signature_4 on every payment account (R8.8: the head)
  std::string deposit;
  std::vector<PaymentAccount> accounts;
};

/// A request with its intake time, for sorting into log order.
struct Timed {
  int64_t t;
  std::string bytes;
};

class World {
 public:
  /// `clients` institutions: the first eight named, the rest numbered
  /// (bench/compare grows users and accounts with it).
  explicit World(int clients = kClients) {
    static constexpr const char* kNames[kClients] = {
        "MIN-FINANCE", "INST-EDUCATION", "INST-HEALTH",   "INST-ROADS",
        "INST-CULTURE", "INST-JUSTICE",  "INST-INTERIOR", "INST-AGRICULTURE"};
    for (int i = 0; i < clients; ++i) {
      Client c;
      c.id = i < kClients ? std::string(kNames[i]) : "INST-" + std::to_string(i + 1);
      const std::string p = "person-" + c.id + "-";
      c.head = p + "head";
      c.deposit = "LV00TREL" + c.id + "-DEPOSIT";
      for (int k = 0; k < kAccountsPerClient; ++k) {
        PaymentAccount a;
        const std::string ks = std::to_string(k);
        a.iban = "LV00TREL" + c.id + "-OPS-" + ks;
        a.sig2[0] = p + "sig2a-" + ks;
        a.sig2[1] = p + "sig2b-" + ks;
        a.sig1[0] = p + "sig1a-" + ks;
        a.sig1[1] = p + "sig1b-" + ks;
        a.manage = p + "manage-" + ks;
        a.viewer = p + "view-" + ks;
        c.accounts.push_back(std::move(a));
      }
      clients_.push_back(std::move(c));
    }
    engine::BusinessCalendar calendar;
    for (engine::DateYmd d = 20261102; static_cast<int>(days_.size()) < kBusinessDays;) {
      if (calendar.is_business_day(d)) days_.push_back(d);
      d = engine::ymd_from_days(engine::days_from_ymd(d) + 1);
    }
  }

  [[nodiscard]] const std::vector<Client>& clients() const { return clients_; }
  [[nodiscard]] const std::vector<engine::DateYmd>& days() const { return days_; }
  [[nodiscard]] size_t payment_accounts() const { return clients_.size() * kAccountsPerClient; }

  std::string next_id(std::string_view channel) {
    char buf[40];
    const int n = std::snprintf(buf, sizeof buf, "%.*s-%010llu", static_cast<int>(channel.size()),
                                channel.data(), static_cast<unsigned long long>(++seq_));
    return {buf, static_cast<size_t>(n)};
  }

  /// Accounts, representatives, grants with limits and one-day limit
  /// changes: treasury requests, all accepted. Each user's rights stand on
  /// the user's registered eKase application (R7, schema version 2); with
  /// `under_applications` false they are schema version 1 grants without one
  /// (R42), the subset the PostgreSQL comparison implements.
  std::vector<std::string> setup(bool under_applications = true) {
    std::vector<std::string> out;
    const std::string op = "treasury-operator-1";
    const int64_t t = riga_eet(20261102, 7 * 60);
    for (const Client& c : clients_) {
      auto push = [&](auto&& build) {
        const std::string id = next_id("treasury");
        out.push_back(build(events::Envelope{id, c.id, op, Channel::treasury, t}));
      };
      push([&](const auto& e) { return events::representative(e, c.head, true, true); });
      push([&](const auto& e) { return events::account_opened(e, c.deposit, c.id, true, 2026); });
      for (const PaymentAccount& a : c.accounts) {
        push([&](const auto& e) { return events::account_opened(e, a.iban, c.id, false, 2026); });
      }
      std::map<std::string, std::string> application_of;  // user → the user's application
      auto grant = [&](const std::string& user, const std::string& account, AccessMode m, bool limits) {
        const int64_t per_order = limits ? kPerOrderLimit : 0, daily = limits ? kDailyLimit : 0;
        if (!under_applications) {
          push([&](const auto& e) {
            return events::with_schema_version(events::rights_granted(e, user, account, m, per_order, daily), 1);
          });
          return;
        }
        auto [it, fresh] = application_of.try_emplace(user, "APP-" + user);
        if (fresh) {
          push([&](const auto& e) {
            return events::application_submitted(e, it->second, fb::ApplicationKind::ekase, user, c.head, t - 1,
                                                 "sha256:annex2-" + user);
          });
          push([&](const auto& e) { return events::application_registered(e, it->second); });
        }
        push([&](const auto& e) {
          return events::rights_granted_under(e, user, account, m, per_order, daily, it->second);
        });
      };
      for (const PaymentAccount& a : c.accounts) {
        for (const auto& u : a.sig2) grant(u, a.iban, AccessMode::signature_2, true);
        for (const auto& u : a.sig1) grant(u, a.iban, AccessMode::signature_1, true);
        grant(c.head, a.iban, AccessMode::signature_4, true);
        grant(a.manage, a.iban, AccessMode::manage_po, true);
        grant(a.viewer, a.iban, AccessMode::view_all, false);
        grant(a.viewer, c.deposit, AccessMode::view_all, false);
        // R14, R15: one-day raises on a few dates, so that limits_for() looks
        // overrides up on every limit check (the map is not empty). Each stands
        // on its own registered annex 3 application (schema version 2); without
        // applications they are schema version 1 changes, as the grants (R42).
        for (size_t d = 3; d < days_.size(); d += 7) {
          if (!under_applications) {
            push([&](const auto& e) {
              return events::with_schema_version(
                  events::limit_change(e, a.sig1[0], a.iban, days_[d], 2 * kPerOrderLimit, 2 * kDailyLimit), 1);
            });
            continue;
          }
          const std::string app = "APP-" + a.sig1[0] + "-limit-" + std::to_string(days_[d]);
          push([&](const auto& e) {
            return events::application_submitted(e, app, fb::ApplicationKind::ekase_limit_change, a.sig1[0], c.head,
                                                 t - 1, "sha256:annex3-" + app);
          });
          push([&](const auto& e) { return events::application_registered(e, app); });
          push([&](const auto& e) {
            return events::limit_change(e, a.sig1[0], a.iban, days_[d], 2 * kPerOrderLimit, 2 * kDailyLimit, app);
          });
        }
      }
    }
    return out;
  }

  /// Intake time of the i-th of n orders: business days in turn, spread over
  /// 08:00–17:30 so that signatures 5 and 9 minutes later are still in hours.
  [[nodiscard]] int64_t order_time(size_t i, size_t n) const {
    const size_t per_day = (n + days_.size() - 1) / days_.size();
    const size_t day = i / per_day;
    const size_t j = i % per_day;
    const int64_t span_us = (17 * 60 + 30 - 8 * 60) * kUsPerMinute;
    return riga_eet(days_[day], 8 * 60) + static_cast<int64_t>(j) * span_us / static_cast<int64_t>(per_day);
  }

 private:
  std::vector<Client> clients_;
  std::vector<engine::DateYmd> days_;
  uint64_t seq_ = 0;
};

/// Verifies every request once (outside any timed region); aborts on bad bytes
/// since the builders never produce them. `bytes`: strings or byte spans.
template <class Bytes>
std::vector<const fb::Request*> verified(const std::vector<Bytes>& bytes) {
  std::vector<const fb::Request*> out;
  out.reserve(bytes.size());
  for (const Bytes& b : bytes) {
    std::span<const uint8_t> span;
    if constexpr (std::is_same_v<Bytes, std::string>) span = events::bytes_of(b);
    else span = b;
    const fb::Request* r = events::verify_request(span);
    if (r == nullptr) {
      std::fprintf(stderr, "bench: a built request does not verify\n");
      std::abort();
    }
    out.push_back(r);
  }
  return out;
}

/// The payment-order stream of the end-to-end benchmarks: setup, then about
/// `target_requests` prepare/sign/cancel requests in intake order.
struct Pool {
  std::vector<std::string> setup_bytes, bytes;
  std::vector<std::span<const uint8_t>> setup, requests;
  size_t orders_submitted = 0, orders_cancelled = 0, planned_rejections = 0;
};

inline Pool build_pool(size_t target_requests) {
  World w;
  Pool p;
  p.setup_bytes = w.setup();
  SplitMix rng{7};
  const size_t accounts = w.payment_accounts();
  // About 2.77 requests per order with the mix below.
  const size_t orders = target_requests * 100 / 277;
  std::vector<Timed> stream;
  stream.reserve(orders * 3);
  for (size_t i = 0; i < orders; ++i) {
    const size_t a = rng.below(accounts);
    const Client& c = w.clients()[a / kAccountsPerClient];
    const PaymentAccount& acc = c.accounts[a % kAccountsPerClient];
    const std::string order = c.id + "-PO-" + std::to_string(i + 1);
    int64_t amount = static_cast<int64_t>(50 + rng.below(3'950)) * kEur + static_cast<int64_t>(rng.below(100));
    const int64_t t0 = w.order_time(i, orders);
    const int64_t t1 = t0 + 5 * kUsPerMinute;
    const int64_t t2 = t0 + 9 * kUsPerMinute;
    auto add = [&](int64_t t, const std::string& actor, auto&& build) {
      stream.push_back({t, build(events::Envelope{w.next_id("portal"), c.id, actor, Channel::portal, t})});
    };
    auto prepare = [&](const std::string& who) {
      add(t0, who, [&](const auto& e) { return events::po_prepare(e, order, acc.iban, amount, "LV00HABA0551000000001"); });
    };
    auto sign = [&](int64_t t, const std::string& who) {
      add(t, who, [&](const auto& e) { return events::po_sign(e, order); });
    };
    const std::string& sig2 = acc.sig2[rng.below(2)];
    const uint64_t kind = rng.below(100);
    if (kind < 62) {  // 2 then 1
      prepare(sig2);
      sign(t1, sig2);
      sign(t2, acc.sig1[rng.below(2)]);
      ++p.orders_submitted;
    } else if (kind < 77) {  // prepared by manage-PO, 2 then 4
      prepare(acc.manage);
      sign(t1, sig2);
      sign(t2, c.head);
      ++p.orders_submitted;
    } else if (kind < 92) {  // 4 alone
      prepare(sig2);
      sign(t1, c.head);
      ++p.orders_submitted;
    } else if (kind < 96) {  // signed once, then cancelled by its preparer
      prepare(sig2);
      sign(t1, sig2);
      add(t2, sig2, [&](const auto& e) { return events::po_cancel(e, order); });
      ++p.orders_cancelled;
    } else if (kind < 98) {  // R8.3: a view user tries to prepare
      prepare(acc.viewer);
      ++p.planned_rejections;
    } else {  // R9: over the per-order limit
      amount = kPerOrderLimit + 1'000 * kEur;
      prepare(sig2);
      ++p.planned_rejections;
    }
  }
  std::stable_sort(stream.begin(), stream.end(), [](const Timed& x, const Timed& y) { return x.t < y.t; });
  p.bytes.reserve(stream.size());
  for (Timed& r : stream) p.bytes.push_back(std::move(r.bytes));
  for (const auto& b : p.setup_bytes) p.setup.push_back(events::bytes_of(b));
  for (const auto& b : p.bytes) p.requests.push_back(events::bytes_of(b));
  (void)verified(p.setup_bytes);
  (void)verified(p.bytes);
  return p;
}

}  // namespace kase::bench
