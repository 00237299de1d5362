#include "kase/adapters/demo.h"

#include <chrono>
#include <filesystem>
#include <map>

#include "kase/adapters/ledger.h"
#include "kase/engine/calendar.h"
#include "kase/events/build.h"
#include "kase/events/splitmix.h"

namespace kase::adapters {
namespace {

using engine::days_from_civil;
using fb::AccessMode;
using fb::Channel;

using events::SplitMix;

constexpr int64_t kUsPerMinute = 60'000'000;
constexpr int64_t kEur = 100;  // cents

/// UTC micros of a Riga wall-clock time in November (EET, UTC+2).
int64_t riga_nov(int day, int hour, int minute) {
  const int64_t days = days_from_civil(2026, 11, static_cast<uint32_t>(day));
  return ((days * 24 * 60) + hour * 60 + minute - 120) * kUsPerMinute;
}

struct Stream {
  std::vector<std::string> out;
  uint64_t seq = 0;
  std::string id() { return "demo-" + std::to_string(++seq); }
  events::Envelope env(const std::string& id, const std::string& client, const std::string& actor,
                       Channel ch, int64_t t) {
    return {id, client, actor, ch, t};
  }
};

struct Client {
  std::string id;
  std::string account, sig3_account, deposit_account, closed_account, blocked_account, old_account;
  std::string foreign_account;  // owned by the ministry
  std::string head, specimen, manage, sig1, sig2, sig2b, sig3, sig4, view_in, view_out, view_all,
      online_view, online_manage, sig2s, sig1s;
};

}  // namespace

std::vector<std::string> demo_requests(uint64_t seed) {
  SplitMix rng{seed};
  Stream s;
  const std::string op = "treasury-operator-1";
  const int64_t setup = riga_nov(2, 7, 0);

  const std::vector<std::string> names = {"MIN-FINANCE", "INST-EDUCATION", "INST-HEALTH", "INST-ROADS"};
  std::vector<Client> clients;
  for (const auto& n : names) {
    Client c;
    c.id = n;
    c.account = "LV00TREL" + n + "-OPS";
    c.sig3_account = "LV00TREL" + n + "-GRANTS";
    c.deposit_account = "LV00TREL" + n + "-DEPOSIT";
    c.closed_account = "LV00TREL" + n + "-CLOSED";
    c.blocked_account = "LV00TREL" + n + "-BLOCKED";
    c.old_account = "LV00TREL" + n + "-2025";
    c.foreign_account = "LV00TRELMIN-FINANCE-OPS";
    const std::string p = "person-" + n + "-";
    c.head = p + "head";
    c.specimen = p + "specimen";
    c.manage = p + "manage";
    c.sig1 = p + "sig1";
    c.sig2 = p + "sig2";
    c.sig2b = p + "sig2b";
    c.sig3 = p + "sig3";
    c.sig4 = c.head;
    c.view_in = p + "view-in";
    c.view_out = p + "view-out";
    c.view_all = p + "view-all";
    c.online_view = p + "is-view";
    c.online_manage = p + "is-manage";
    c.sig2s = p + "sig2-grants";
    c.sig1s = p + "sig1-grants";
    clients.push_back(c);
  }

  // Calendar and accounts. 7 Nov 2026 is a Saturday made a working day; 20 Nov an extra holiday.
  auto tenv = [&](const std::string& client) {
    return events::Envelope{"", client, op, Channel::treasury, setup};
  };
  auto push = [&](const events::Envelope& base, auto&& build) {
    const std::string id = s.id();
    events::Envelope e = base;
    e.request_id = id;
    s.out.push_back(build(e));
  };
  push(tenv(clients[0].id), [&](const auto& e) { return events::calendar_override(e, 20261107, true); });
  push(tenv(clients[0].id), [&](const auto& e) { return events::calendar_override(e, 20261120, false); });

  for (const Client& c : clients) {
    const auto e = tenv(c.id);
    push(e, [&](const auto& x) { return events::account_opened(x, c.account, c.id, false, 2026); });
    push(e, [&](const auto& x) { return events::account_opened(x, c.sig3_account, c.id, false, 2026); });
    push(e, [&](const auto& x) { return events::account_opened(x, c.deposit_account, c.id, true, 2026); });
    push(e, [&](const auto& x) { return events::account_opened(x, c.closed_account, c.id, false, 2026); });
    push(e, [&](const auto& x) { return events::account_opened(x, c.blocked_account, c.id, false, 2026); });
    push(e, [&](const auto& x) { return events::account_opened(x, c.old_account, c.id, false, 2025); });
    push(e, [&](const auto& x) { return events::account_closed(x, c.closed_account); });
    push(e, [&](const auto& x) { return events::representative(x, c.head, true, true); });
    push(e, [&](const auto& x) { return events::data_exchange_established(x); });  // R24
    push(e, [&](const auto& x) { return events::representative(x, c.specimen, false, true); });

    const int64_t po = 5'000 * kEur, daily = 20'000 * kEur;
    // R3, R4, R7: every user's rights stand on the user's signed eKase
    // application (annex 2), registered by the Treasury (R22); R10: the owner's
    // permission for a foreign account travels on the application naming it.
    std::map<std::string, std::string> application_of;  // user → application in force
    int applications = 0;
    auto apply_for = [&](const std::string& user, const std::vector<events::AccountPermission>& permissions = {}) {
      const std::string app = "APP-" + c.id + "-" + std::to_string(++applications);
      push(events::Envelope{"", c.id, c.head, Channel::portal, setup}, [&](const auto& x) {
        return events::application_submitted(x, app, fb::ApplicationKind::ekase, user, c.head,
                                              setup - 3'600'000'000LL, "sha256:annex2-" + app, permissions);
      });
      push(e, [&](const auto& x) { return events::application_registered(x, app); });
      application_of[user] = app;
    };
    auto grant = [&](const std::string& user, const std::string& account, AccessMode m) {
      const bool lim = m == AccessMode::manage_po || m == AccessMode::signature_1 || m == AccessMode::signature_2 ||
                       m == AccessMode::signature_3 || m == AccessMode::signature_4 || m == AccessMode::online_manage;
      if (application_of.count(user) == 0) apply_for(user);
      push(e, [&](const auto& x) {
        return events::rights_granted_under(x, user, account, m, lim ? po : 0, lim ? daily : 0, application_of[user]);
      });
    };
    grant(c.manage, c.account, AccessMode::manage_po);
    grant(c.sig1, c.account, AccessMode::signature_1);
    grant(c.sig2, c.account, AccessMode::signature_2);
    grant(c.sig2b, c.account, AccessMode::signature_2);
    grant(c.sig4, c.account, AccessMode::signature_4);
    grant(c.view_in, c.account, AccessMode::view_incoming);
    grant(c.view_out, c.account, AccessMode::view_outgoing);
    grant(c.view_all, c.account, AccessMode::view_all);
    grant(c.online_view, c.account, AccessMode::online_view);
    grant(c.online_manage, c.account, AccessMode::online_manage);
    grant(c.sig2s, c.sig3_account, AccessMode::signature_2);
    grant(c.sig1s, c.sig3_account, AccessMode::signature_1);
    grant(c.sig3, c.sig3_account, AccessMode::signature_3);
    grant(c.specimen, c.sig3_account, AccessMode::signature_4);  // R8.8: refused, account has signature-3
    grant(c.manage, c.deposit_account, AccessMode::manage_po);   // R12: refused
    grant(c.view_all, c.deposit_account, AccessMode::view_all);
    grant(c.sig2, c.closed_account, AccessMode::signature_2);    // R13: falls back to view
    grant(c.sig2, c.blocked_account, AccessMode::signature_2);
    grant(c.sig2, c.old_account, AccessMode::signature_2);
    grant(c.sig1, "LV00TREL-NO-SUCH-ACCOUNT", AccessMode::signature_1);  // refused: unknown account
    if (c.id != clients[0].id) {
      grant(c.view_in, c.foreign_account, AccessMode::view_incoming);  // R10: no permission yet: refused
      // R10: the viewer's newer application names the ministry's account with the
      // owner's permission; it supersedes the first (R7), so the Treasury grants
      // the viewer's rights again under it.
      apply_for(c.view_all, {{c.foreign_account, "sha256:permission-" + c.id}});
      grant(c.view_all, c.account, AccessMode::view_all);
      grant(c.view_all, c.deposit_account, AccessMode::view_all);
      grant(c.view_all, c.foreign_account, AccessMode::view_all);
      grant(c.view_in, c.foreign_account, AccessMode::view_incoming);  // later applications need not repeat it
      grant(c.sig2, c.foreign_account, AccessMode::signature_2);       // R11: refused
    }
    push(e, [&](const auto& x) { return events::account_blocked(x, c.blocked_account); });
  }

  // A month of payment orders.
  uint64_t order_no = 0;
  for (int day = 2; day <= 30; ++day) {
    // Business days per the engine's calendar with the two overrides above;
    // on other days only a few users try (and are refused, R32).
    engine::BusinessCalendar calendar;
    calendar.set_override(20261107, true);
    calendar.set_override(20261120, false);
    const bool business = calendar.is_business_day(20261100 + day);
    if (day == 16) {
      // R7: a newer application supersedes the manager's; the Treasury attaches
      // the rights again at 09:30 (R22.2), so early orders that day are refused.
      for (const Client& c : clients) {
        const std::string app = "APP-" + c.id + "-manage-2";
        const int64_t t = riga_nov(day, 7, 0);
        push(events::Envelope{"", c.id, c.head, Channel::portal, t}, [&](const auto& x) {
          return events::application_submitted(x, app, fb::ApplicationKind::ekase, c.manage, c.head, t - 60'000'000,
                                                "sha256:annex2-" + c.id + "-2");
        });
        push(events::Envelope{"", c.id, op, Channel::treasury, t}, [&](const auto& x) {
          return events::application_registered(x, app);
        });
        push(events::Envelope{"", c.id, op, Channel::treasury, riga_nov(day, 9, 30)}, [&](const auto& x) {
          return events::rights_granted_under(x, c.manage, c.account, AccessMode::manage_po, 5'000 * kEur,
                                              20'000 * kEur, app);
        });
      }
    }
    if (day == 3) {
      // R36: a notice to every client; the users read it over the next days,
      // except a few who never do (see `kase query messages`).
      for (const Client& c : clients) {
        push(events::Envelope{"", c.id, op, Channel::treasury, riga_nov(day, 7, 30)},
             [&](const auto& x) { return events::message_posted(x, "MSG-" + c.id + "-limits", "Limits from December"); });
        for (const std::string* who : {&c.sig1, &c.sig2, &c.manage, &c.head, &c.view_all}) {
          if (rng.below(6) == 0) continue;
          push(events::Envelope{"", c.id, *who, Channel::portal, riga_nov(day + 1 + static_cast<int>(rng.below(5)), 9, 5)},
               [&](const auto& x) { return events::message_read(x, "MSG-" + c.id + "-limits"); });
        }
      }
    }
    if (day == 26) {
      // R30: a viewer of the third institution stops using the e-services.
      const Client& c = clients[2];
      const int64_t t = riga_nov(day, 7, 0);
      push(events::Envelope{"", c.id, c.head, Channel::portal, t}, [&](const auto& x) {
        return events::application_submitted(x, "APP-" + c.id + "-termination", fb::ApplicationKind::termination,
                                              c.view_out, c.head, t - 60'000'000, "sha256:annex6-" + c.id);
      });
      push(events::Envelope{"", c.id, op, Channel::treasury, t}, [&](const auto& x) {
        return events::application_registered(x, "APP-" + c.id + "-termination");
      });
    }
    if (day == 16) {
      // R14/R15: a one-day raise of sig2's limits on the ministry's account,
      // applied for with a signed annex 3 application the Treasury registers.
      const Client& c = clients[0];
      const std::string app = "APP-" + c.id + "-limit-20261116";
      push(events::Envelope{"", c.id, c.head, Channel::portal, setup}, [&](const auto& x) {
        return events::application_submitted(x, app, fb::ApplicationKind::ekase_limit_change, c.sig2, c.head,
                                              setup - 3'600'000'000LL, "sha256:annex3-" + c.id);
      });
      push(tenv(c.id), [&](const auto& x) { return events::application_registered(x, app); });
      push(tenv(c.id), [&](const auto& x) {
        return events::limit_change(x, c.sig2, c.account, 20261116, 9'000 * kEur, 40'000 * kEur, app);
      });
    }
    if (business) {
      // R25, R28.1, R29.1: people log in; now and then someone mistypes a
      // password three times, is blocked, and the support service restores it.
      for (const Client& c : clients) {
        const std::string& who = rng.below(2) == 0 ? c.sig1 : c.manage;
        const int wrong = rng.below(8) == 0 ? 3 : static_cast<int>(rng.below(2));
        for (int k = 0; k < wrong; ++k)
          push(events::Envelope{"", c.id, who, Channel::portal, riga_nov(day, 7, 50 + k)},
               [&](const auto& x) { return events::login_attempt(x, fb::Means::unified_login, false); });
        if (wrong == 3) {
          push(events::Envelope{"", c.id, op, Channel::treasury, riga_nov(day, 8, 40)},
               [&](const auto& x) { return events::means_restored(x, who, false); });
        }
        push(events::Envelope{"", c.id, who, Channel::portal, riga_nov(day, wrong == 3 ? 8 : 7, wrong == 3 ? 45 : 55)},
             [&](const auto& x) { return events::login_attempt(x, fb::Means::unified_login, true); });
        // R8.9, R28.4: the client's information system polls statements.
        const int polls = day == 19 && c.id == clients[1].id ? 6 : 3;
        for (int k = 0; k < polls; ++k) {
          const int minute = day == 19 && c.id == clients[1].id ? 2 * k : 40 * k;  // too fast on the 19th
          push(events::Envelope{"", c.id, c.online_view, Channel::online, riga_nov(day, 9, minute)},
               [&](const auto& x) { return events::online_data_request(x, c.account); });
        }
      }
    }
    if (day == 20 + 3) {
      // R29.2: the institution applies to restore its information system's certificate.
      push(events::Envelope{"", clients[1].id, op, Channel::treasury, riga_nov(day, 9, 0)},
           [&](const auto& x) { return events::means_restored(x, clients[1].online_view, true); });
    }
    if (day == 25) {
      // R34: eKase suspended 12:00–13:00.
      events::Envelope sus{"", clients[0].id, op, Channel::treasury, riga_nov(day, 12, 0)};
      push(sus, [&](const auto& x) { return events::service_suspension(x, fb::Service::ekase, true); });
    }
    for (const Client& c : clients) {
      const int per_day = business ? 12 + static_cast<int>(rng.below(10)) : static_cast<int>(rng.below(2));
      for (int k = 0; k < per_day; ++k) {
        const std::string order = c.id + "-PO-" + std::to_string(++order_no);
        int hour = 8 + static_cast<int>(rng.below(10));
        if (rng.below(40) == 0) hour = 18 + static_cast<int>(rng.below(3));  // out of hours
        if (day == 25 && hour == 12 && k % 2 == 0) hour = 13;
        const int64_t t0 = riga_nov(day, hour, static_cast<int>(rng.below(50)));
        auto at = [&](const std::string& actor, int64_t t, Channel ch = Channel::portal) {
          return events::Envelope{"", c.id, actor, ch, t};
        };
        const uint64_t kind = rng.below(100);
        int64_t amount = static_cast<int64_t>(50 + rng.below(4'000)) * kEur + static_cast<int64_t>(rng.below(100));
        if (rng.below(25) == 0) amount = 6'000 * kEur;  // over the per-order limit
        const bool sig3_path = kind >= 80 && kind < 90;
        const std::string account = sig3_path ? c.sig3_account : c.account;
        const std::string preparer = sig3_path ? c.sig2s : (kind < 40 ? c.manage : c.sig2);
        if (kind >= 95) {
          // R8.10: imported by the client's information system.
          push(at(c.online_manage, t0, Channel::online),
               [&](const auto& x) { return events::po_import(x, order, c.account, amount, "supplier"); });
        } else if (kind >= 90) {
          // Wrong modes: view users and manage users try to act.
          const std::string& who = kind % 3 == 0 ? c.view_all : (kind % 3 == 1 ? c.view_in : c.online_view);
          push(at(who, t0), [&](const auto& x) { return events::po_prepare(x, order, c.account, amount, "supplier"); });
          continue;
        } else {
          push(at(preparer, t0), [&](const auto& x) {
            return events::po_prepare(x, order, account, amount, "supplier");
          });
        }
        const int64_t t1 = t0 + 5 * kUsPerMinute;
        const int64_t t2 = t0 + 9 * kUsPerMinute;
        const int64_t t3 = t0 + 14 * kUsPerMinute;
        if (sig3_path) {
          push(at(c.sig2s, t1), [&](const auto& x) { return events::po_sign(x, order); });
          push(at(c.sig1s, t2), [&](const auto& x) { return events::po_sign(x, order); });
          push(at(c.sig3, t3), [&](const auto& x) { return events::po_sign(x, order); });
          continue;
        }
        const uint64_t path = rng.below(20);
        if (path == 0) {
          push(at(preparer, t1), [&](const auto& x) { return events::po_cancel(x, order); });
        } else if (path == 1) {
          push(at(c.sig1, t1), [&](const auto& x) { return events::po_sign(x, order); });  // out of order
        } else if (path == 2) {
          push(at(c.sig2, t1), [&](const auto& x) { return events::po_sign(x, order); });
          push(at(c.sig2, t2), [&](const auto& x) { return events::po_sign(x, order); });  // same person
        } else if (path == 3) {
          push(at(c.view_all, t1), [&](const auto& x) { return events::po_sign(x, order); });
        } else if (path < 7) {
          push(at(c.sig4, t1), [&](const auto& x) { return events::po_sign(x, order); });  // alone
        } else {
          const std::string& second = preparer == c.sig2 ? c.sig2 : c.sig2b;
          push(at(second, t1), [&](const auto& x) { return events::po_sign(x, order); });
          const std::string& last = path < 10 ? c.sig4 : c.sig1;
          push(at(last, t2), [&](const auto& x) { return events::po_sign(x, order); });
        }
      }
      // Attempts on restricted accounts (R12, R13) now and then.
      if (rng.below(5) == 0) {
        const std::string order = c.id + "-PO-" + std::to_string(++order_no);
        const std::string& acc = rng.below(2) == 0 ? c.closed_account : (rng.below(2) == 0 ? c.blocked_account : c.old_account);
        push(events::Envelope{"", c.id, c.sig2, Channel::portal, riga_nov(day, 10, 30)},
             [&](const auto& x) { return events::po_prepare(x, order, acc, 100 * kEur, "supplier"); });
      }
    }
    if (day == 25) {
      events::Envelope res{"", clients[0].id, op, Channel::treasury, riga_nov(day, 13, 0)};
      push(res, [&](const auto& x) { return events::service_suspension(x, fb::Service::ekase, false); });
    }
  }
  // Log order is intake order: sort by intake time, stable for equal times.
  std::vector<std::pair<int64_t, size_t>> order(s.out.size());
  for (size_t i = 0; i < s.out.size(); ++i) {
    order[i] = {fb::GetRequest(s.out[i].data())->intake_us(), i};
  }
  std::stable_sort(order.begin(), order.end(), [](auto& a, auto& b) { return a.first < b.first; });
  std::vector<std::string> sorted;
  sorted.reserve(s.out.size());
  for (auto& [t, i] : order) sorted.push_back(std::move(s.out[i]));
  return sorted;
}

Status run_demo(const std::string& dir, DemoSummary* out) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_empty(dir, ec)) {
    return {Errc::invalid_argument, "data directory " + dir +
                                        " is not empty; the demo writes into a new directory"};
  }
  std::unique_ptr<projections::Store> store;
  if (Status s = projections::open_rocks_store(dir, {}, &store); !s.ok()) return s;
  std::unique_ptr<Ledger> ledger;
  if (Status s = Ledger::open(store.get(), &ledger); !s.ok()) return s;

  const std::vector<std::string> requests = demo_requests(1);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::span<const uint8_t>> batch;
  std::vector<Answer> answers;
  for (size_t i = 0; i < requests.size();) {
    batch.clear();
    for (; i < requests.size() && batch.size() < 1024; ++i) batch.push_back(events::bytes_of(requests[i]));
    if (Status s = ledger->submit(batch, &answers); !s.ok()) return s;
    for (const Answer& a : answers) {
      const fb::Decision* d = a.decision();
      ++out->requests;
      if (d->outcome() == fb::Outcome::accepted) {
        ++out->accepted;
      } else {
        ++out->rejected;
        ++out->rejections[d->reason()->str() + " (" + d->rule()->str() + ")"];
      }
    }
  }
  out->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const engine::State& st = ledger->state();
  std::map<engine::NameId, int> clients;
  for (const auto& [k, a] : st.accounts) clients[a.owner_client]++;
  out->clients = clients.size();
  out->accounts = st.accounts.size();
  std::map<engine::NameId, int> users;
  for (const auto& [k, g] : st.grants) users[engine::first_of(k)]++;
  out->users = users.size();
  for (const auto& [k, o] : st.orders) {
    if (o.status == engine::OrderStatus::submitted) ++out->orders_submitted;
    if (o.status == engine::OrderStatus::prepared) ++out->orders_pending;
    if (o.status == engine::OrderStatus::cancelled) ++out->orders_cancelled;
  }
  out->state_hash = events::to_hex(projections::state_hash(st));
  out->chain_head = events::to_hex(ledger->meta().chain_head);
  return {};
}

}  // namespace kase::adapters
