#include "kase/adapters/query.h"

#include <algorithm>
#include <iterator>
#include <vector>

#include <boost/json.hpp>

#include "kase/events/codec.h"

namespace kase::adapters {
namespace json = boost::json;

Status state_at(projections::Store* store, int64_t at_us, engine::Engine* engine) {
  Status bad;
  Status scan = store->scan_log(0, [&](uint64_t offset, std::span<const uint8_t> bytes) {
    const fb::LogRecord* rec = events::verify_log_record(bytes);
    const fb::Request* req =
        rec != nullptr && rec->request() != nullptr
            ? events::verify_request({rec->request()->data(), rec->request()->size()})
            : nullptr;
    if (req == nullptr) {
      bad = {Errc::corruption, "log record at offset " + std::to_string(offset) + " does not verify"};
      return false;
    }
    if (req->intake_us() > at_us) return false;  // the log is in intake order
    (void)engine->apply(*req);
    (void)engine->take_dirty();
    return true;
  });
  return scan.ok() ? bad : scan;
}

namespace {

json::array means_list(uint8_t bits) {
  json::array out;
  for (int m = 1; m <= static_cast<int>(fb::Means::MAX); ++m)
    if ((bits & (1u << m)) != 0) out.emplace_back(fb::EnumNameMeans(static_cast<fb::Means>(m)));
  return out;
}

}  // namespace

std::string person_json(const engine::State& s, std::string_view person, int64_t at_us) {
  const engine::NameId id = s.names.find(person);
  json::object o;
  o["person"] = person;
  o["at_us"] = at_us;
  const auto* p = id == engine::kNoName ? nullptr : s.persons.find(id);
  o["known"] = p != nullptr;
  if (p != nullptr) {
    o["block"] = fb::EnumNameBlockCause(p->second.block);
    o["consecutive_failures"] = p->second.failures;
    json::object means;
    means["registered"] = means_list(p->second.means_registered);
    means["exception"] = means_list(p->second.means_exception);
    means["activated"] = means_list(p->second.means_activated);
    o["means"] = std::move(means);
  }
  const engine::DateYmd today = engine::riga_time(at_us).date;
  json::array rights;
  for (const auto& [k, g] : s.grants) {
    if (engine::first_of(k) != id || g.mode == fb::AccessMode::none) continue;
    json::object r;
    r["client"] = s.names.name(g.client);
    r["account"] = s.names.name(engine::second_of(k));
    r["mode"] = fb::EnumNameAccessMode(g.mode);
    r["rule"] = engine::rule_of(g.mode);
    if (engine::has_limits(g.mode)) {
      r["per_order_limit_cents"] = g.per_order_limit;
      r["daily_limit_cents"] = g.daily_limit;
      const auto* dt = s.day_totals.find(k);
      r["day_total_cents"] = dt != nullptr && dt->second.date == today ? dt->second.total : 0;
      const auto* ov = s.limit_overrides.find(engine::OverrideKey{k, today});
      if (ov != nullptr) {
        json::object change;
        if (ov->second.per_order_limit != -1) change["per_order_limit_cents"] = ov->second.per_order_limit;
        if (ov->second.daily_limit != -1) change["daily_limit_cents"] = ov->second.daily_limit;
        r["one_day_change"] = std::move(change);  // R14, R15
      }
    }
    if (g.application != engine::kNoName) {
      r["application"] = s.names.name(g.application);
      if (const auto* a = s.applications.find(g.application)) {
        static constexpr const char* kStatus[] = {"submitted", "in_force", "superseded", "terminated", "annulled"};
        r["application_status"] = kStatus[static_cast<size_t>(a->second.status)];
        r["application_lapses_on"] = a->second.lapses_on;
      }
    }
    rights.push_back(std::move(r));
  }
  std::sort(rights.begin(), rights.end(), [](const json::value& a, const json::value& b) {
    return json::serialize(a) < json::serialize(b);
  });
  o["rights"] = std::move(rights);

  // R6, R19, R21: rights in the other e-services.
  json::array others;
  for (const auto& [k, r] : s.service_rights) {
    if (k.user != id || r.mode == 0) continue;
    json::object x;
    x["client"] = s.names.name(k.client);
    switch (k.kind) {
      case engine::RightKind::plan:
        x["service"] = fb::EnumNameService(static_cast<fb::Service>(k.scope));
        x["mode"] = fb::EnumNamePlanMode(static_cast<fb::PlanMode>(r.mode));
        break;
      case engine::RightKind::report: {
        x["service"] = "ereports";
        x["institution"] = s.names.name(static_cast<engine::NameId>(k.scope));
        json::array groups, modes;
        for (int b = 0; b < 8; ++b) {
          if ((r.groups & (1u << b)) != 0) groups.emplace_back(fb::EnumNameReportGroup(static_cast<fb::ReportGroup>(1u << b)));
          if ((r.mode & (1u << b)) != 0) modes.emplace_back(fb::EnumNameReportMode(static_cast<fb::ReportMode>(1u << b)));
        }
        x["groups"] = std::move(groups);
        x["modes"] = std::move(modes);
        break;
      }
      case engine::RightKind::loan: {
        x["service"] = "eloans";
        x["mode"] = fb::EnumNameLoanMode(static_cast<fb::LoanMode>(r.mode));
        json::array groups;
        for (int b = 0; b < 8; ++b)
          if ((r.groups & (1u << b)) != 0) groups.emplace_back(fb::EnumNameLoanGroup(static_cast<fb::LoanGroup>(1u << b)));
        x["groups"] = std::move(groups);
        break;
      }
    }
    others.push_back(std::move(x));
  }
  std::sort(others.begin(), others.end(), [](const json::value& a, const json::value& b) {
    return json::serialize(a) < json::serialize(b);
  });
  o["other_services"] = std::move(others);
  return json::serialize(o);
}

bool document_service(std::string_view name, fb::Service* out) {
  for (const fb::Service v : {fb::Service::eplans, fb::Service::eestimates, fb::Service::ereports, fb::Service::eloans}) {
    if (name == fb::EnumNameService(v)) {
      *out = v;
      return true;
    }
  }
  return false;
}

bool holds_document_rights(const engine::State& s, std::string_view user, std::string_view client,
                           fb::Service service) {
  const engine::NameId u = s.names.find(user);
  const engine::NameId c = s.names.find(client);
  if (u == engine::kNoName || c == engine::kNoName) return false;
  // The keys of engine/src/documents.cpp (document_rights) for the client's own documents.
  engine::RightKey key{u, c, static_cast<uint32_t>(service), engine::RightKind::plan};
  if (service == fb::Service::ereports) {
    key.kind = engine::RightKind::report;
    key.scope = c;
  } else if (service == fb::Service::eloans) {
    key.kind = engine::RightKind::loan;
    key.scope = 0;
  }
  const auto* r = s.service_rights.find(key);
  return r != nullptr && r->second.mode != 0;
}

std::string document_json(const engine::State& s, std::string_view client, fb::Service service,
                          std::string_view document) {
  json::object o;
  o["client"] = client;
  o["service"] = fb::EnumNameService(service);
  o["document"] = document;
  const engine::NameId c = s.names.find(client);
  const engine::NameId d = s.names.find(document);
  const engine::DocumentKey key{c, d, static_cast<uint8_t>(service)};
  const auto* e = c == engine::kNoName || d == engine::kNoName ? nullptr : s.documents.find(key);
  o["known"] = e != nullptr;
  if (e == nullptr) return json::serialize(o);
  const engine::Document& doc = e->second;
  const auto name = [&](engine::NameId id) -> json::value {
    if (id == engine::kNoName) return nullptr;
    return json::string(s.names.name(id));
  };
  o["kind"] = fb::EnumNameDocumentKind(doc.kind);
  o["status"] = engine::document_status_name(doc.status);
  o["digest"] = doc.digest;
  o["amount_cents"] = doc.amount;
  if (doc.kind == fb::DocumentKind::financing_plan) o["appropriated_cents"] = doc.appropriated;  // R2
  if (doc.kind == fb::DocumentKind::loan_agreement) o["disbursed_cents"] = doc.appropriated;     // R21.1.2
  if (doc.kind == fb::DocumentKind::disbursement_request && doc.agreement != engine::kNoName)
    o["agreement"] = std::string(s.names.name(doc.agreement));
  if (engine::service_of(doc.kind) == fb::Service::ereports) {
    o["report_type"] = fb::EnumNameReportType(doc.report_type);
    o["year"] = doc.year;
    o["period"] = doc.period;
    o["accepted_by"] = name(doc.accepted_by);
    json::object audit;
    audit["verdict"] = fb::EnumNameAuditVerdict(doc.verdict);
    audit["opinion_digest"] = doc.opinion_digest;
    o["audit"] = std::move(audit);
  }
  json::array history;
  for (uint32_t seq = 0; seq < doc.history_count; ++seq) {
    const auto* h = s.document_history.find(engine::HistoryKey{key, seq});
    if (h == nullptr) continue;  // never: the fold writes each entry with its document
    const engine::DocumentEvent& ev = h->second;
    json::object x;
    x["seq"] = seq;
    x["at_us"] = ev.at_us;
    x["request_id"] = ev.request_id;
    x["actor"] = name(ev.actor);
    if (ev.acting_for != engine::kNoName && ev.acting_for != c) x["acting_for"] = name(ev.acting_for);
    x["step"] = engine::document_step_name(ev.step);
    x["status"] = engine::document_status_name(ev.status);
    if (ev.role != engine::SignRole::none) x["role"] = engine::sign_role_name(ev.role);
    if (ev.verdict != fb::AuditVerdict::none) x["verdict"] = fb::EnumNameAuditVerdict(ev.verdict);
    if (!ev.digest.empty()) x["digest"] = ev.digest;
    if (ev.amount >= 0) x["amount_cents"] = ev.amount;
    history.push_back(std::move(x));
  }
  o["history"] = std::move(history);
  return json::serialize(o);
}

std::string overdue_messages_jsonl(const engine::State& s, int64_t at_us) {
  std::string out;
  for (const auto& m : engine::overdue_messages(s, at_us)) {
    json::object o;
    o["client"] = m.client;
    o["user"] = m.user;
    o["message"] = m.message;
    o["posted_us"] = m.posted_us;
    o["rule"] = "R36";
    out += json::serialize(o);
    out += '\n';
  }
  return out;
}

std::string late_applications_jsonl(const engine::State& s, int64_t at_us) {
  std::string out;
  for (const auto& l : engine::late_applications(s, at_us)) {
    json::object o;
    o["client"] = l.client;
    o["application"] = l.application;
    o["user"] = l.user;
    o["kind"] = fb::EnumNameApplicationKind(l.kind);
    o["step"] = l.step;
    o["rule"] = l.rule;
    o["deadline"] = l.deadline;
    if (l.done_us != 0) {
      o["done_us"] = l.done_us;
    } else {
      o["done_us"] = nullptr;
    }
    out += json::serialize(o);
    out += '\n';
  }
  return out;
}

std::string order_json(const engine::State& s, std::string_view client, std::string_view order) {
  const auto* e = s.orders.find(client, order);
  if (e == nullptr) return {};
  const engine::Order& o = e->second;
  static constexpr const char* kStatus[] = {"prepared", "submitted", "cancelled"};
  json::object j;
  j["client"] = client;
  j["order"] = order;
  j["account"] = s.names.name(o.account);
  j["amount_cents"] = o.amount;
  j["preparer"] = o.preparer == engine::kNoName ? std::string_view{} : s.names.name(o.preparer);
  j["beneficiary"] = o.beneficiary;
  j["status"] = kStatus[static_cast<size_t>(o.status)];
  json::array sigs;
  for (const engine::Signature& sig : o.signed_by()) {
    json::object x;
    x["user"] = s.names.name(sig.user);
    x["mode"] = fb::EnumNameAccessMode(sig.mode);
    x["rule"] = engine::rule_of(sig.mode);
    sigs.push_back(std::move(x));
  }
  j["signatures"] = std::move(sigs);
  return json::serialize(j);
}

std::string application_json(const engine::State& s, std::string_view application) {
  const engine::NameId id = s.names.find(application);
  const auto* e = id == engine::kNoName ? nullptr : s.applications.find(id);
  if (e == nullptr) return {};
  const engine::Application& a = e->second;
  static constexpr const char* kStatus[] = {"submitted", "in_force", "superseded", "terminated", "annulled"};
  json::object j;
  j["application"] = application;
  j["client"] = s.names.name(a.client);
  j["user"] = s.names.name(a.user);
  j["kind"] = fb::EnumNameApplicationKind(a.kind);
  j["status"] = kStatus[static_cast<size_t>(a.status)];
  j["signed_us"] = a.signed_us;
  j["submitted_us"] = a.submitted_us;
  j["registered_us"] = a.registered_us;
  j["attached_us"] = a.attached_us;
  j["lapses_on"] = a.lapses_on;  // R31; 0 = not registered
  if (a.submitted_us != 0) {
    // R22.1, R22.2: the last business days allowed, counted from the submission.
    const engine::DateYmd submitted = engine::riga_time(a.submitted_us).date;
    json::object d;
    d["registration"] = engine::add_business_days(s.calendar, submitted, 1);
    d["attachment"] = engine::add_business_days(s.calendar, submitted, 3);
    j["deadlines"] = std::move(d);
  }
  return json::serialize(j);
}

std::string blocks_json(const engine::State& s) {
  std::vector<std::pair<std::string_view, const engine::Person*>> blocked;
  for (const auto& [id, p] : s.persons)
    if (p.block != fb::BlockCause::none) blocked.emplace_back(s.names.name(id), &p);
  std::sort(blocked.begin(), blocked.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  static constexpr const char* kRule[] = {"", "R28.1", "R28.2", "R28.3", "R28.4"};
  json::array out;
  for (const auto& [name, p] : blocked) {
    json::object x;
    x["person"] = name;
    x["cause"] = fb::EnumNameBlockCause(p->block);
    const auto cause = static_cast<size_t>(p->block);
    x["rule"] = cause < std::size(kRule) ? kRule[cause] : "R28";
    x["means"] = fb::EnumNameMeans(p->blocked_means);
    out.push_back(std::move(x));
  }
  return json::serialize(out);
}

std::string merge_json_arrays(std::span<const std::string> arrays) {
  json::array out;
  for (const std::string& a : arrays) {
    boost::system::error_code ec;
    json::value v = json::parse(a, ec);
    if (ec || !v.is_array()) continue;
    for (json::value& e : v.as_array())
      if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(std::move(e));
  }
  std::stable_sort(out.begin(), out.end(), [](const json::value& a, const json::value& b) {
    const auto* x = a.is_object() ? a.as_object().if_contains("person") : nullptr;
    const auto* y = b.is_object() ? b.as_object().if_contains("person") : nullptr;
    if (x == nullptr || y == nullptr || !x->is_string() || !y->is_string()) return false;
    return x->as_string() < y->as_string();
  });
  return json::serialize(out);
}

std::string jsonl_to_array(std::string_view lines) {
  std::string out = "[";
  size_t start = 0;
  bool first = true;
  while (start < lines.size()) {
    size_t end = lines.find('\n', start);
    if (end == std::string_view::npos) end = lines.size();
    if (end > start) {
      if (!first) out += ", ";
      out.append(lines.substr(start, end - start));
      first = false;
    }
    start = end + 1;
  }
  out += "]";
  return out;
}

}  // namespace kase::adapters
