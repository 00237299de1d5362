// Directory facts between Kafka partitions (DESIGN.md, "partition
// self-sufficiency"). A step on another client's document (R6.5, R19.2.4,
// R19.2.7, R19.2.8) is decided in the partition of the document's owner, with
// the acting client's kind, roles, structures, ePlans/eReports rights and the
// applications those rights stand on. Those entries are decided in the acting
// client's partition; each change is copied to every other partition, where
// it lands in the same tables, so the document checks read one state whatever
// the topology. A report accepted by a client of another partition is copied
// to that client's partition, where its consolidated report is signed
// (R19.2.4). With one partition nothing is sent.
#include <algorithm>

#include "checks.h"
#include "kase/engine/engine.h"
#include "kase/engine/reasons.h"

namespace kase::engine {
namespace r = reason;
using detail::sv;
using detail::valid_name;
using Kind = fb::DirectoryFactKind;

namespace {

/// Applications that ePlans/eEstimates and eReports rights stand on (R5, R18).
bool shared_kind(fb::ApplicationKind k) {
  return k == fb::ApplicationKind::eplans_eestimates || k == fb::ApplicationKind::ereports_users;
}

const char* rule_of(Kind k) {
  switch (k) {
    case Kind::client:
    case Kind::structure: return "R16";
    case Kind::roles:
    case Kind::right: return "R19";
    case Kind::application: return "R31";
    case Kind::report: return "R19.2.4";
  }
  return "R47";
}

}  // namespace

void Engine::share_client(NameId client, fb::ClientKind kind) {
  if (!fanning()) return;
  DirectoryOut o;
  o.kind = Kind::client;
  o.client = client;
  o.client_kind = kind;
  directory_outbox_.push_back(std::move(o));
}

void Engine::share_roles(NameId client, NameId person, uint16_t roles) {
  if (!fanning()) return;
  DirectoryOut o;
  o.kind = Kind::roles;
  o.client = client;
  o.person = person;
  o.roles = roles;
  directory_outbox_.push_back(std::move(o));
}

void Engine::share_structure(const StructureKey& k, const Structure& st) {
  if (!fanning()) return;
  DirectoryOut o;
  o.kind = Kind::structure;
  o.client = k.client;
  o.report_type = static_cast<fb::ReportType>(k.type);
  o.year = k.year;
  o.institutions = st.institutions;
  directory_outbox_.push_back(std::move(o));
}

void Engine::share_right(const RightKey& k, const ServiceRight& right) {
  if (!fanning()) return;
  DirectoryOut o;
  o.kind = Kind::right;
  o.client = k.client;
  o.person = k.user;
  if (k.kind == RightKind::report) {
    o.service = fb::Service::ereports;
    o.scope = k.scope;
  } else {
    o.service = static_cast<fb::Service>(k.scope);
  }
  o.mode = right.mode;
  o.groups = right.groups;
  o.application = right.application;
  directory_outbox_.push_back(std::move(o));
}

void Engine::share_application(NameId id, const Application& a) {
  if (!fanning() || !shared_kind(a.kind)) return;
  DirectoryOut o;
  o.kind = Kind::application;
  o.client = a.client;
  o.person = a.user;
  o.application = id;
  o.application_kind = a.kind;
  o.status = static_cast<uint8_t>(a.status);
  o.signed_us = a.signed_us;
  o.registered_us = a.registered_us;
  o.lapses_on = a.lapses_on;
  directory_outbox_.push_back(std::move(o));
}

void Engine::share_accepted_report(const DocumentKey& k, const Document& d) {
  if (!fanning()) return;
  const int32_t to = client_partition(state_.names.name(d.accepted_by), topology_.partitions);
  if (to == topology_.partition) return;
  DirectoryOut o;
  o.to = to;
  o.kind = Kind::report;
  o.client = k.client;
  o.document = k.document;
  o.document_kind = d.kind;
  o.report_type = d.report_type;
  o.year = d.year;
  o.period = d.period;
  o.accepted_by = d.accepted_by;
  directory_outbox_.push_back(std::move(o));
}

Verdict Engine::on_directory_fact(const fb::DirectoryFact& f) {
  const Kind kind = f.kind();
  const std::string_view client_name = sv(f.client());
  if (!valid_name(client_name) || kind > Kind::MAX || f.partition() < 0 || f.partition() >= topology_.partitions)
    return Verdict::reject(r::kValueInvalid, "R47");
  const char* rule = rule_of(kind);
  // A fact is about a client of another partition, sent from there: this
  // partition's own clients are decided here, never overwritten by a copy.
  if (f.partition() == topology_.partition || client_partition(client_name, topology_.partitions) == topology_.partition)
    return Verdict::reject(r::kValueInvalid, "R47");
  if (tracing()) {
    // For `kase audit explain`: where the fact came from and what it is about.
    note("directory.fact", rule, true,
         std::string("kind ") + fb::EnumNameDirectoryFactKind(kind) + " about client " + std::string(client_name) +
             (sv(f.person()).empty() ? std::string() : ", person " + std::string(sv(f.person()))) +
             (sv(f.document()).empty() ? std::string() : ", document " + std::string(sv(f.document()))) +
             " from partition " + std::to_string(f.partition()) + ", caused by request " +
             std::string(sv(f.origin())));
  }
  const NameId client = state_.names.intern(client_name);
  switch (kind) {
    case Kind::client: {
      if (f.client_kind() > fb::ClientKind::MAX) return Verdict::reject(r::kValueInvalid, rule);
      auto [e, fresh] = state_.clients.try_emplace(client);
      (void)fresh;
      e->second.kind = f.client_kind();
      touch(*e, dirty_.clients);
      break;
    }
    case Kind::roles: {
      if (!valid_name(sv(f.person()))) return Verdict::reject(r::kValueInvalid, rule);
      auto [e, fresh] = state_.roles.try_emplace(pair_key(client, state_.names.intern(sv(f.person()))));
      (void)fresh;
      e->second.bits = f.roles();
      touch(*e, dirty_.roles);
      break;
    }
    case Kind::structure: {
      if (f.report_type() > fb::ReportType::MAX || f.year() < 1900 || f.year() > 9999)
        return Verdict::reject(r::kValueInvalid, rule);
      std::vector<NameId> institutions;
      if (f.institutions() != nullptr) {
        for (const auto* i : *f.institutions()) {
          if (!valid_name(sv(i))) return Verdict::reject(r::kValueInvalid, rule);
          institutions.push_back(state_.names.intern(sv(i)));
        }
      }
      std::sort(institutions.begin(), institutions.end());
      institutions.erase(std::unique(institutions.begin(), institutions.end()), institutions.end());
      auto [e, fresh] =
          state_.structures.try_emplace(StructureKey{client, static_cast<uint8_t>(f.report_type()), f.year()});
      (void)fresh;
      e->second.institutions = std::move(institutions);
      touch(*e, dirty_.structures);
      break;
    }
    case Kind::right: {
      if (!valid_name(sv(f.person()))) return Verdict::reject(r::kValueInvalid, rule);
      RightKey k{state_.names.intern(sv(f.person())), client, static_cast<uint32_t>(f.service()), RightKind::plan};
      if (f.service() == fb::Service::ereports) {
        if (!valid_name(sv(f.scope()))) return Verdict::reject(r::kValueInvalid, rule);
        k.kind = RightKind::report;
        k.scope = state_.names.intern(sv(f.scope()));
      } else if ((f.service() != fb::Service::eplans && f.service() != fb::Service::eestimates) ||
                 f.mode() > static_cast<uint8_t>(fb::PlanMode::MAX) || f.groups() != 0) {
        return Verdict::reject(r::kValueInvalid, rule);
      }
      const std::string_view app = sv(f.application());
      if (!app.empty() && !valid_name(app)) return Verdict::reject(r::kValueInvalid, rule);
      put_service_right(k, f.mode(), f.groups(), app.empty() ? kNoName : state_.names.intern(app));
      break;
    }
    case Kind::application: {
      if (!valid_name(sv(f.application())) || !valid_name(sv(f.person())) || !shared_kind(f.application_kind()) ||
          f.status() > static_cast<uint8_t>(ApplicationStatus::annulled))
        return Verdict::reject(r::kValueInvalid, rule);
      auto [e, fresh] = state_.applications.try_emplace(state_.names.intern(sv(f.application())));
      // Application ids are the Treasury's document ids, one per client: an id
      // this partition holds for another client keeps its own application.
      if (!fresh && e->second.client != client) return Verdict::reject(r::kApplicationExists, "R3");
      Application& a = e->second;
      a.client = client;
      a.user = state_.names.intern(sv(f.person()));
      a.kind = f.application_kind();
      a.status = static_cast<ApplicationStatus>(f.status());
      a.signed_us = f.signed_us();
      a.registered_us = f.registered_us();
      a.lapses_on = f.lapses_on();
      // submitted_us stays 0: the R22 deadlines are the home partition's to report.
      touch(*e, dirty_.applications);
      // Derived, as a reload derives it: the application in force per kind.
      const auto kind_slot = static_cast<size_t>(a.kind);
      if (a.status == ApplicationStatus::in_force && a.lapses_on != 0) {
        state_.in_force[pair_key(a.user, a.client)].by_kind[kind_slot] = e->first;
      } else if (auto* cur = state_.in_force.find(pair_key(a.user, a.client));
                 cur != nullptr && cur->second.by_kind[kind_slot] == e->first) {
        cur->second.by_kind[kind_slot] = kNoName;
      }
      break;
    }
    case Kind::report: {
      const fb::DocumentKind dk = f.document_kind();
      if (!valid_name(sv(f.document())) || !valid_name(sv(f.accepted_by())) || !valid_name(sv(f.period())) ||
          f.report_type() > fb::ReportType::MAX || f.year() < 1900 || f.year() > 9999 ||
          (dk != fb::DocumentKind::report && dk != fb::DocumentKind::summary_report &&
           dk != fb::DocumentKind::consolidated_report))
        return Verdict::reject(r::kValueInvalid, rule);
      auto [e, fresh] = state_.documents.try_emplace(
          DocumentKey{client, state_.names.intern(sv(f.document())), static_cast<uint8_t>(fb::Service::ereports)});
      (void)fresh;
      Document& d = e->second;
      d.kind = f.document_kind();
      d.status = DocumentStatus::accepted;
      d.report_type = f.report_type();
      d.year = f.year();
      d.period.assign(sv(f.period()));
      d.accepted_by = state_.names.intern(sv(f.accepted_by()));
      state_.report_slots[ReportSlotKey{client, state_.names.intern(d.period), d.year, static_cast<uint8_t>(d.kind),
                                        static_cast<uint8_t>(d.report_type)}] = e->first.document;
      touch(*e, dirty_.documents);
      break;
    }
  }
  return Verdict::ok(rule);
}

}  // namespace kase::engine
