// Documents in ePlans, eEstimates, eReports and eLoans (R2, R6, R16, R19, R21):
// their lifecycles, decided by the fold. The order of checks and every
// interpretation are in engine/README.md, "Documents".
#include <algorithm>

#include "checks.h"
#include "kase/engine/engine.h"
#include "kase/engine/reasons.h"

namespace kase::engine {
namespace r = reason;
using detail::sv;
using detail::valid_name;
using fb::Payload;

const char* document_status_name(DocumentStatus s) noexcept {
  switch (s) {
    case DocumentStatus::draft: return "draft";
    case DocumentStatus::checked: return "checked";
    case DocumentStatus::approved: return "approved";
    case DocumentStatus::signed_once: return "signed";
    case DocumentStatus::submitted: return "submitted";
    case DocumentStatus::accepted: return "accepted";
  }
  return "?";
}

const char* document_step_name(DocumentStep s) noexcept {
  switch (s) {
    case DocumentStep::create: return "create";
    case DocumentStep::update: return "update";
    case DocumentStep::check: return "check";
    case DocumentStep::approve: return "approve";
    case DocumentStep::sign: return "sign";
    case DocumentStep::submit: return "submit";
    case DocumentStep::accept: return "accept";
    case DocumentStep::view: return "view";
    case DocumentStep::appropriation: return "appropriation";
  }
  return "?";
}

const char* sign_role_name(SignRole role) noexcept {
  switch (role) {
    case SignRole::none: return "none";
    case SignRole::head: return "head";
    case SignRole::finance_employee: return "finance_employee";
    case SignRole::signer: return "signer";
  }
  return "?";
}

fb::Service service_of(fb::DocumentKind k) noexcept {
  switch (k) {
    case fb::DocumentKind::financing_plan: return fb::Service::eplans;
    case fb::DocumentKind::estimate: return fb::Service::eestimates;
    case fb::DocumentKind::report:
    case fb::DocumentKind::summary_report:
    case fb::DocumentKind::consolidated_report: return fb::Service::ereports;
    case fb::DocumentKind::loan_request:
    case fb::DocumentKind::loan_agreement:
    case fb::DocumentKind::disbursement_request: return fb::Service::eloans;
  }
  return fb::Service::ekase;  // not a document kind
}

namespace {

bool is_document_service(fb::Service s) {
  return s == fb::Service::eplans || s == fb::Service::eestimates || s == fb::Service::ereports ||
         s == fb::Service::eloans;
}

/// The rule a service's rights come from, for refusals not tied to one mode.
const char* service_rule(fb::Service s) {
  switch (s) {
    case fb::Service::eplans:
    case fb::Service::eestimates: return "R6";
    case fb::Service::ereports: return "R19";
    case fb::Service::eloans: return "R21";
    default: return "R2";
  }
}

/// The one-application-per-user rule of the service's rights (R5, R18, R20).
const char* application_rule(fb::Service s) {
  switch (s) {
    case fb::Service::ereports: return "R18";
    case fb::Service::eloans: return "R20";
    default: return "R5";
  }
}

const char* structure_rule(fb::ReportType t) {
  switch (t) {
    case fb::ReportType::annual: return "R16.1";
    case fb::ReportType::periodic: return "R16.2";
    default: return "R16.3";
  }
}

bool is_report(fb::DocumentKind k) { return service_of(k) == fb::Service::ereports; }

bool bit_set(uint8_t bits, auto flag) { return (bits & static_cast<uint8_t>(flag)) != 0; }

}  // namespace

/// One document step, read from whichever payload carries it.
struct Engine::DocumentRequest {
  DocumentStep step = DocumentStep::view;
  fb::Service service = fb::Service::ekase;
  std::string_view document, acting_for, digest, period, opinion_digest, agreement;
  fb::DocumentKind kind = fb::DocumentKind::financing_plan;
  Cents amount = -1;  // create: the amount; update: -1 keeps it
  fb::ReportType report_type = fb::ReportType::annual;
  int32_t year = 0;
  bool exchange_test = false;
  fb::AuditVerdict verdict = fb::AuditVerdict::none;
};

/// Whose rights the actor uses on a document, and what they hold.
struct Engine::DocumentRights {
  NameId via = kNoName;      // the client whose rights apply
  bool own = true;           // via is the document's owner
  bool subordinate = false;  // R16: the owner is in via's structure in force for the report
  uint8_t mode = 0;
  uint8_t groups = 0;
};

Verdict Engine::on_document(const fb::Request& req, const RigaTime& t) {
  DocumentRequest d;
  switch (req.payload_type()) {
    case Payload::DocumentCreate: {
      const auto* p = req.payload_as_DocumentCreate();
      d.step = DocumentStep::create;
      d.service = p->service();
      d.document = sv(p->document());
      d.acting_for = sv(p->acting_for());
      d.digest = sv(p->digest());
      d.kind = p->kind();
      d.amount = p->amount_cents();
      d.report_type = p->report_type();
      d.year = p->year();
      d.period = sv(p->period());
      d.exchange_test = p->exchange_test();
      d.agreement = sv(p->agreement());
      break;
    }
    case Payload::DocumentUpdate: {
      const auto* p = req.payload_as_DocumentUpdate();
      d.step = DocumentStep::update;
      d.service = p->service();
      d.document = sv(p->document());
      d.acting_for = sv(p->acting_for());
      d.digest = sv(p->digest());
      d.amount = p->amount_cents();
      d.exchange_test = p->exchange_test();
      break;
    }
    case Payload::DocumentApprove: {
      const auto* p = req.payload_as_DocumentApprove();
      d.step = DocumentStep::approve;
      d.service = p->service();
      d.document = sv(p->document());
      d.acting_for = sv(p->acting_for());
      d.verdict = p->verdict();
      d.opinion_digest = sv(p->opinion_digest());
      break;
    }
#define KASE_DOCUMENT_STEP(PAYLOAD, STEP)            \
  case Payload::PAYLOAD: {                           \
    const auto* p = req.payload_as_##PAYLOAD();      \
    d.step = DocumentStep::STEP;                     \
    d.service = p->service();                        \
    d.document = sv(p->document());                  \
    d.acting_for = sv(p->acting_for());              \
    break;                                           \
  }
      KASE_DOCUMENT_STEP(DocumentCheck, check)
      KASE_DOCUMENT_STEP(DocumentSign, sign)
      KASE_DOCUMENT_STEP(DocumentSubmit, submit)
      KASE_DOCUMENT_STEP(DocumentAccept, accept)
      KASE_DOCUMENT_STEP(DocumentView, view)
#undef KASE_DOCUMENT_STEP
    default: return Verdict::reject(r::kNoPayload, "R47");
  }

  // R2: the four services with documents.
  if (!is_document_service(d.service)) return Verdict::reject(r::kValueInvalid, "R2");
  const char* rule = service_rule(d.service);
  if (!d.acting_for.empty() && !valid_name(d.acting_for)) return Verdict::reject(r::kValueInvalid, rule);
  if (d.exchange_test) return on_exchange_test(req, t, d);
  // R32, R34: the document's own service must be open.
  if (Verdict v = check_service_open(d.service, t); !v.accepted) {
    if (tracing()) note("service.open", v.rule, false, service_detail(d.service, t));
    return v;
  }
  if (tracing()) note("service.open", "R32", true, service_detail(d.service, t));

  // The request's own values, before any state is looked at.
  if (d.step == DocumentStep::create) {
    if (!valid_name(d.document) || !valid_name(sv(req.client_id()))) return Verdict::reject(r::kValueInvalid, rule);
    if (d.kind > fb::DocumentKind::MAX || service_of(d.kind) != d.service)
      return Verdict::reject(r::kDocumentKindNotInService, "R2");
    if (is_report(d.kind) && (d.report_type > fb::ReportType::MAX || d.year < 1900 || d.year > 9999 ||
                              !valid_name(d.period)))
      return Verdict::reject(r::kValueInvalid, "R16");
    // R21.1.2: a disbursement request names its loan agreement; nothing else
    // names one. R42: one of an older version without an agreement is decided
    // as it was (below).
    const bool old_unnamed = d.kind == fb::DocumentKind::disbursement_request && d.agreement.empty() &&
                             req.schema_version() < kSchemaVersionDisbursementsUnderAgreements;
    if (((d.kind == fb::DocumentKind::disbursement_request) == d.agreement.empty() && !old_unnamed) ||
        (!d.agreement.empty() && !valid_name(d.agreement)))
      return Verdict::reject(r::kValueInvalid, "R21.1.2");
  }
  if (d.step == DocumentStep::create || d.step == DocumentStep::update) {
    // R37: what was entered is bound by its digest.
    if (d.digest.empty()) return Verdict::reject(r::kDocumentDigestMissing, "R37");
    if (d.amount < (d.step == DocumentStep::create ? 0 : -1)) {
      Verdict v = Verdict::reject(r::kDocumentAmountInvalid, "R2");
      v.amount = d.amount;
      return v;
    }
  }
  if (d.step == DocumentStep::approve) {
    if (d.service == fb::Service::ereports) {
      // R19.2.8: a mark and the digest of the audit opinion.
      if (d.verdict == fb::AuditVerdict::none || d.verdict > fb::AuditVerdict::MAX || d.opinion_digest.empty())
        return Verdict::reject(r::kReportOpinionMissing, "R19.2.8");
    } else if (d.verdict != fb::AuditVerdict::none || !d.opinion_digest.empty()) {
      return Verdict::reject(r::kValueInvalid, "R6.3");
    }
  }

  const NameId owner = state_.names.find(sv(req.client_id()));
  const NameId name = state_.names.find(d.document);
  const auto service = static_cast<uint8_t>(d.service);
  DocumentEntry* e =
      owner == kNoName || name == kNoName ? nullptr : state_.documents.find(DocumentKey{owner, name, service});
  if (tracing())
    note("document.exists", rule, (d.step == DocumentStep::create) == (e == nullptr),
         std::string(fb::EnumNameService(d.service)) + " document " + std::string(d.document) + " of client " +
             std::string(sv(req.client_id())) +
             (e != nullptr ? std::string(": ") + fb::EnumNameDocumentKind(e->second.kind) + ", status " +
                                 document_status_name(e->second.status)
                           : std::string(" does not exist")) +
             "; step " + document_step_name(d.step));
  if (d.step == DocumentStep::create && e != nullptr) return Verdict::reject(r::kDocumentExists, rule);
  if (d.step != DocumentStep::create && e == nullptr) return Verdict::reject(r::kDocumentUnknown, rule);
  const Document* doc = e != nullptr ? &e->second : nullptr;
  const fb::DocumentKind kind = doc != nullptr ? doc->kind : d.kind;
  // R2: appropriations are held against a financing plan's total: it is never zero.
  if (kind == fb::DocumentKind::financing_plan && d.amount == 0 &&
      (d.step == DocumentStep::create || d.step == DocumentStep::update)) {
    Verdict v = Verdict::reject(r::kDocumentAmountInvalid, "R2");
    v.amount = 0;
    return v;
  }

  DocumentRights rights;
  if (Verdict v = document_rights(req, t, d, owner, doc != nullptr ? doc->report_type : d.report_type,
                                  doc != nullptr ? doc->year : d.year, &rights);
      !v.accepted)
    return v;
  const NameId user = state_.names.find(sv(req.actor()));
  DocumentStatus next = DocumentStatus::draft;
  SignRole role = SignRole::none;
  Verdict v = document_step(d, rights, owner, kind, doc, user, &next, &role);
  if (tracing())
    note("document.step", v.rule, v.accepted,
         std::string("step ") + document_step_name(d.step) + " on a " + fb::EnumNameDocumentKind(kind) + " in status " +
             (doc != nullptr ? document_status_name(doc->status) : "(new)") + " with mode bits " +
             std::to_string(rights.mode) + ", groups " + std::to_string(rights.groups) +
             (v.accepted ? std::string(" -> ") + document_status_name(next) : std::string(": ") + v.reason));
  if (!v.accepted) return v;
  if (d.step == DocumentStep::create && is_report(d.kind)) {
    // R16: one report of a kind per institution, report type, year and period.
    const NameId period = state_.names.find(d.period);
    const auto* slot = owner == kNoName || period == kNoName
                           ? nullptr
                           : state_.report_slots.find(ReportSlotKey{owner, period, d.year, static_cast<uint8_t>(d.kind),
                                                                    static_cast<uint8_t>(d.report_type)});
    if (tracing())
      note("report.period", structure_rule(d.report_type), slot == nullptr,
           std::string(fb::EnumNameDocumentKind(d.kind)) + " of " + std::string(sv(req.client_id())) + " for " +
               fb::EnumNameReportType(d.report_type) + " " + std::to_string(d.year) + " period " +
               std::string(d.period) + (slot != nullptr ? ": already " + name_of(slot->second) : ": none yet"));
    if (slot != nullptr) return Verdict::reject(r::kReportPeriodTaken, structure_rule(d.report_type));
  }
  DocumentEntry* agreement = nullptr;
  // R42: a disbursement request of an older version created without an
  // agreement is created and submitted as before R21.1.2's check.
  const bool under_agreement = d.step == DocumentStep::create ? !d.agreement.empty()
                                                              : doc != nullptr && doc->agreement != kNoName;
  if (kind == fb::DocumentKind::disbursement_request && under_agreement &&
      (d.step == DocumentStep::create || d.step == DocumentStep::submit)) {
    if (Verdict a = check_disbursement(d, owner, doc, &agreement); !a.accepted) return a;
  }
  // R6.1, R19.2.1, R21.2.1: viewing changes nothing; its decision is logged (R47).
  if (d.step == DocumentStep::view) return v;
  if (doc != nullptr && doc->history_count >= kDocumentHistoryMax) return Verdict::reject(r::kDocumentHistoryFull, "R47");

  if (e == nullptr) {
    e = state_.documents
            .try_emplace(DocumentKey{state_.names.intern(sv(req.client_id())), state_.names.intern(d.document), service})
            .first;
    Document& fresh = e->second;
    fresh.kind = d.kind;
    if (agreement != nullptr) fresh.agreement = agreement->first.document;
    if (is_report(d.kind)) {
      fresh.report_type = d.report_type;
      fresh.year = d.year;
      fresh.period.assign(d.period);
      state_.report_slots[ReportSlotKey{e->first.client, state_.names.intern(d.period), d.year,
                                        static_cast<uint8_t>(d.kind), static_cast<uint8_t>(d.report_type)}] =
          e->first.document;
    }
  }
  Document& m = e->second;
  Cents amount = -1;
  std::string_view digest;
  switch (d.step) {
    case DocumentStep::create:
    case DocumentStep::update:
      m.digest.assign(d.digest);
      if (d.amount >= 0) m.amount = d.amount;
      amount = m.amount;
      digest = d.digest;
      break;
    case DocumentStep::sign:
      if (role != SignRole::head || m.kind == fb::DocumentKind::estimate) m.first_signer = user;
      break;
    case DocumentStep::accept: m.accepted_by = rights.via; break;
    case DocumentStep::submit:
      if (agreement != nullptr) {
        // R21.1.2: the agreement's disbursements grow by the request's amount.
        agreement->second.appropriated += m.amount;
        touch(*agreement, dirty_.documents);
      }
      break;
    case DocumentStep::approve:
      if (d.service == fb::Service::ereports) {
        m.verdict = d.verdict;
        m.opinion_digest.assign(d.opinion_digest);
        digest = d.opinion_digest;
      }
      break;
    default: break;
  }
  m.status = next;
  record(*e, req, d.step, rights.via, role, d.verdict, digest, amount);
  // R19.2.4: the accepting client's partition signs its consolidated report.
  if (d.step == DocumentStep::accept) share_accepted_report(e->first, m);
  return v;
}

Verdict Engine::on_exchange_test(const fb::Request& req, const RigaTime& t, const DocumentRequest& d) {
  // R19.2.6: a client's IS developer tests the data-exchange interface with
  // report submissions; they are decided like real ones and change nothing.
  if (d.service != fb::Service::ereports) return Verdict::reject(r::kValueInvalid, "R19.2.6");
  if (req.channel() != fb::Channel::online) return Verdict::reject(r::kWrongChannel, "R19.2.6");
  if (Verdict v = check_service_open(d.service, t); !v.accepted) return v;
  if (d.step == DocumentStep::create) {
    if (!valid_name(d.document) || d.kind > fb::DocumentKind::MAX || !is_report(d.kind))
      return Verdict::reject(r::kDocumentKindNotInService, "R19.2.6");
    if (d.report_type > fb::ReportType::MAX || d.year < 1900 || d.year > 9999 || !valid_name(d.period))
      return Verdict::reject(r::kValueInvalid, "R16");
  }
  if (d.digest.empty()) return Verdict::reject(r::kDocumentDigestMissing, "R37");
  // Tests run on the developer's own client only.
  if (!d.acting_for.empty() && d.acting_for != sv(req.client_id()))
    return Verdict::reject(r::kDocumentOtherInstitution, "R19");
  DocumentRights rights;
  if (Verdict v = document_rights(req, t, d, state_.names.find(sv(req.client_id())), d.report_type, d.year, &rights);
      !v.accepted)
    return v;
  if (!bit_set(rights.mode, fb::ReportMode::exchange_test)) return Verdict::reject(r::kDocumentModeNotAllowed, "R19.2.6");
  return Verdict::ok("R19.2.6");
}

Verdict Engine::document_rights(const fb::Request& req, const RigaTime& t, const DocumentRequest& d, NameId owner,
                                fb::ReportType type, int32_t year, DocumentRights* out) const {
  const char* rule = service_rule(d.service);
  const bool own = d.acting_for.empty() || d.acting_for == sv(req.client_id());
  const NameId via = own ? owner : state_.names.find(d.acting_for);
  const NameId user = state_.names.find(sv(req.actor()));
  out->via = via;
  out->own = own;
  RightKey key{user, via, static_cast<uint32_t>(d.service), RightKind::plan};
  switch (d.service) {
    case fb::Service::eplans:
      // R6.5: a ministry's users act on the plans of the institutions in its
      // structures (they check and submit them to the Treasury).
      if (!own && (client_kind(via) != fb::ClientKind::ministry || !attached(via, owner)))
        return Verdict::reject(r::kDocumentOtherInstitution, "R6.5");
      break;
    case fb::Service::eestimates:
      // R6.2–R6.4: estimates are the institution's own.
      if (!own) return Verdict::reject(r::kDocumentOtherInstitution, "R6");
      break;
    case fb::Service::ereports: {
      key.kind = RightKind::report;
      key.scope = owner;
      if (d.step == DocumentStep::accept && own) return Verdict::reject(r::kReportOwn, "R19.1.2");
      if (own) break;
      // R16, R19: rights are per attached institution; a consolidating client
      // acts on the reports of the institutions in its structure in force.
      const Structure* st = via == kNoName ? nullptr : structure_in_force(via, type, year);
      out->subordinate = st != nullptr && std::binary_search(st->institutions.begin(), st->institutions.end(), owner);
      if (out->subordinate) break;
      // R19.2.7: reports of institutions that are not subordinate are accepted
      // with the recipient's own rights; R19.2.8: so is the State Audit
      // Office's audit mark.
      if (d.step == DocumentStep::accept ||
          (d.step == DocumentStep::approve && client_kind(via) == fb::ClientKind::state_audit_office)) {
        key.scope = via;
        break;
      }
      return Verdict::reject(r::kDocumentOtherInstitution, "R19");
    }
    case fb::Service::eloans:
      key.kind = RightKind::loan;
      key.scope = 0;
      if (!own) return Verdict::reject(r::kDocumentOtherInstitution, "R21");
      break;
    default: return Verdict::reject(r::kValueInvalid, "R2");
  }
  const auto* right = user == kNoName || via == kNoName ? nullptr : state_.service_rights.find(key);
  if (tracing())
    note("rights.service", rule, right != nullptr && right->second.mode != 0,
         "user " + std::string(sv(req.actor())) + " acting for " + name_of(via) + (own ? " (own)" : "") +
             (right != nullptr && right->second.mode != 0
                  ? ": mode bits " + std::to_string(right->second.mode) + ", groups " + std::to_string(right->second.groups)
                  : std::string(": no rights")));
  // R30: a termination leaves mode 0.
  if (right == nullptr || right->second.mode == 0) return Verdict::reject(r::kNoRights, rule);
  // R5, R18, R20, R31: rights granted under an application last as long as it does.
  if (right->second.application != kNoName) {
    const Verdict v = check_application(right->second.application, application_rule(d.service), t);
    if (tracing()) note("rights.application", v.rule, v.accepted, application_detail(right->second.application, t));
    if (!v.accepted) return v;
  }
  // R22.1.1: for R6, R19 and R21, means of the Unified Login Module (as for R8.1–R8.4).
  if (Verdict v = check_means(via, user, AccessMode::view_all, req.means()); !v.accepted || tracing()) {
    if (tracing()) note("means", v.rule, v.accepted, means_detail(via, user, AccessMode::view_all, req.means()));
    if (!v.accepted) return v;
  }
  out->mode = right->second.mode;
  out->groups = right->second.groups;
  return Verdict::ok(rule);
}

Verdict Engine::document_step(const DocumentRequest& d, const DocumentRights& g, NameId owner, fb::DocumentKind kind,
                              const Document* doc, NameId user, DocumentStatus* next, SignRole* role) const {
  using S = DocumentStatus;
  using Step = DocumentStep;
  const S s = doc != nullptr ? doc->status : S::draft;
  *next = s;
  *role = SignRole::none;
  const auto reject = [](const char* reason, const char* rule) { return Verdict::reject(reason, rule); };
  const auto to = [&](S status, const char* rule) {
    *next = status;
    return Verdict::ok(rule);
  };

  switch (d.service) {
    case fb::Service::eplans: {
      const auto m = static_cast<fb::PlanMode>(g.mode);
      const bool ministry_manage = m == fb::PlanMode::ministry_manage;
      switch (d.step) {
        case Step::view: return to(s, "R6.1");  // every mode views
        case Step::create:
        case Step::update: {
          // R6.2 institution users, R6.5 ministry users create and enter plans.
          const bool ministry = ministry_manage || (m != fb::PlanMode::institution_manage &&
                                                    client_kind(g.via) == fb::ClientKind::ministry);
          const char* rule = ministry ? "R6.5" : "R6.2";
          if (m != fb::PlanMode::institution_manage && !ministry_manage) return reject(r::kDocumentModeNotAllowed, rule);
          if (d.step == Step::update && s != S::draft) return reject(r::kDocumentNotEditable, rule);
          return to(S::draft, rule);
        }
        case Step::approve:
          if (m != fb::PlanMode::approve) return reject(r::kDocumentModeNotAllowed, "R6.3");
          if (s != S::draft) return reject(r::kDocumentWrongStatus, "R6.3");
          return to(S::approved, "R6.3");
        case Step::check:
          // R6.5: the ministry checks approved plans ...
          if (!ministry_manage) return reject(r::kDocumentModeNotAllowed, "R6.5");
          if (s == S::draft) return reject(r::kDocumentNotApproved, "R6.5");
          if (s != S::approved) return reject(r::kDocumentWrongStatus, "R6.5");
          return to(S::checked, "R6.5");
        case Step::submit:
          // ... and submits them to the Treasury.
          if (!ministry_manage) return reject(r::kDocumentModeNotAllowed, "R6.5");
          if (s == S::draft) return reject(r::kDocumentNotApproved, "R6.5");
          if (s == S::approved) return reject(r::kDocumentNotChecked, "R6.5");
          if (s != S::checked) return reject(r::kDocumentWrongStatus, "R6.5");
          return to(S::submitted, "R6.5");
        default: return reject(r::kDocumentStepNotForKind, "R6");
      }
    }

    case fb::Service::eestimates: {
      const auto m = static_cast<fb::PlanMode>(g.mode);
      const char* rule = d.step == Step::approve ? "R6.3" : d.step == Step::sign ? "R6.4" : "R6.2";
      // R6.2–R6.4: in eEstimates, institution users only.
      if (d.step != Step::view && client_kind(g.via) == fb::ClientKind::ministry)
        return reject(r::kPlanModeInstitutionsOnly, rule);
      switch (d.step) {
        case Step::view: return to(s, "R6.1");
        case Step::create:
        case Step::update:
          if (m != fb::PlanMode::institution_manage) return reject(r::kDocumentModeNotAllowed, rule);
          // R6.2: refining an approved estimate takes it back to draft; a signed one is final.
          if (d.step == Step::update && s != S::draft && s != S::approved) return reject(r::kDocumentNotEditable, rule);
          return to(S::draft, rule);
        case Step::approve:
          if (m != fb::PlanMode::approve) return reject(r::kDocumentModeNotAllowed, rule);
          if (s == S::signed_once) return reject(r::kDocumentAlreadySigned, rule);
          if (s != S::draft) return reject(r::kDocumentWrongStatus, rule);
          return to(S::approved, rule);
        case Step::sign:
          // R6.4: the head signs an estimate an approve user approved.
          if (m != fb::PlanMode::sign_head) return reject(r::kDocumentModeNotAllowed, rule);
          if (s == S::signed_once) return reject(r::kDocumentAlreadySigned, rule);
          if (s != S::approved) return reject(r::kDocumentNotApproved, rule);
          *role = SignRole::head;
          return to(S::signed_once, rule);
        default: return reject(r::kDocumentStepNotForKind, "R6");
      }
    }

    case fb::Service::ereports: {
      const uint8_t modes = g.mode;
      const auto has = [&](fb::ReportMode x) { return bit_set(modes, x); };
      const auto in_group = [&](fb::ReportGroup x) { return bit_set(g.groups, x); };
      // R19.2.2–R19.2.4: manage enters and checks; manage-sign and consolidate-sign "also".
      const bool prepares = has(fb::ReportMode::manage) || has(fb::ReportMode::manage_sign) ||
                            has(fb::ReportMode::consolidate_sign);
      const bool consolidated = kind == fb::DocumentKind::consolidated_report;
      switch (d.step) {
        case Step::view: return to(s, "R19.2.1");  // any mode views
        case Step::create:
        case Step::update:
        case Step::check: {
          if (!in_group(fb::ReportGroup::view_prepare)) return reject(r::kDocumentGroupRequired, "R19.1.1");
          if (d.step == Step::create && consolidated) {
            // R19.2.4: the consolidated report of the client's structure (R16).
            if (!has(fb::ReportMode::consolidate_sign)) return reject(r::kDocumentModeNotAllowed, "R19.2.4");
            if (structure_in_force(owner, d.report_type, d.year) == nullptr)
              return reject(r::kReportNoStructure, structure_rule(d.report_type));
            return to(S::draft, "R19.2.4");
          }
          if (!prepares) return reject(r::kDocumentModeNotAllowed, "R19.2.2");
          if (d.step == Step::check) {
            if (s != S::draft) return reject(r::kDocumentWrongStatus, "R19.2.2");
            return to(S::checked, "R19.2.2");
          }
          // Entering data into a checked report takes it back to draft.
          if (d.step == Step::update && s != S::draft && s != S::checked)
            return reject(r::kDocumentNotEditable, "R19.2.2");
          return to(S::draft, "R19.2.2");
        }
        case Step::sign: {
          if (!in_group(fb::ReportGroup::view_prepare)) return reject(r::kDocumentGroupRequired, "R19.1.1");
          if (s == S::submitted || s == S::accepted) return reject(r::kDocumentAlreadySigned, "R19.2.5");
          if (s == S::signed_once) {
            // R19.2.5: the head signs after the finance employee, never the same person.
            if (!has(fb::ReportMode::sign_head)) return reject(r::kDocumentModeNotAllowed, "R19.2.5");
            if (doc->first_signer == user) return reject(r::kSamePerson, "R19.2.5");
            *role = SignRole::head;
            return to(S::submitted, "R19.2.5");
          }
          // R19.2.3 (R19.2.4 for the consolidated report): the responsible
          // finance employee signs a checked report first.
          const char* rule = consolidated ? "R19.2.4" : "R19.2.3";
          const bool finance = consolidated ? has(fb::ReportMode::consolidate_sign)
                                            : has(fb::ReportMode::manage_sign) || has(fb::ReportMode::consolidate_sign);
          if (!finance) {
            if (has(fb::ReportMode::sign_head)) return reject(r::kDocumentFinanceSignatureMissing, "R19.2.5");
            return reject(r::kDocumentModeNotAllowed, rule);
          }
          if (s != S::checked) return reject(r::kDocumentNotChecked, rule);
          if (consolidated) {
            if (Verdict v = check_consolidation(owner, *doc); !v.accepted) return v;
          }
          *role = SignRole::finance_employee;
          return to(S::signed_once, rule);
        }
        case Step::accept: {
          // R19.2.4: of an institution in the structure; R19.2.7: of one that is not subordinate.
          if (!in_group(fb::ReportGroup::accept)) return reject(r::kDocumentGroupRequired, "R19.1.2");
          const char* rule = g.subordinate ? "R19.2.4" : "R19.2.7";
          if (!has(g.subordinate ? fb::ReportMode::consolidate_sign : fb::ReportMode::view_accept))
            return reject(r::kDocumentModeNotAllowed, rule);
          if (s == S::accepted) return reject(r::kDocumentAlreadyAccepted, rule);
          if (s != S::submitted) return reject(r::kDocumentNotSubmitted, rule);
          return to(S::accepted, rule);
        }
        case Step::approve: {
          // R19.1.3, R19.2.8: auditors and the State Audit Office mark signed reports.
          if (!in_group(fb::ReportGroup::auditor)) return reject(r::kDocumentGroupRequired, "R19.1.3");
          if (!has(fb::ReportMode::approve)) return reject(r::kDocumentModeNotAllowed, "R19.2.8");
          const uint16_t roles = roles_of(g.via, user);
          const bool auditor = (roles & static_cast<uint16_t>(fb::PersonRole::sworn_auditor)) != 0 ||
                               (roles & static_cast<uint16_t>(fb::PersonRole::audit_firm)) != 0 ||
                               client_kind(g.via) == fb::ClientKind::state_audit_office;
          if (!auditor) return reject(r::kRoleRequired, "R19.2.8");
          if (s != S::submitted && s != S::accepted) return reject(r::kDocumentNotSubmitted, "R19.2.8");
          if (doc->verdict != fb::AuditVerdict::none) return reject(r::kReportOpinionExists, "R19.2.8");
          return to(s, "R19.2.8");
        }
        default: return reject(r::kDocumentStepNotForKind, "R19");
      }
    }

    case fb::Service::eloans: {
      const auto m = static_cast<fb::LoanMode>(g.mode);
      const bool requests = kind == fb::DocumentKind::loan_request;
      // R21.1.1: loan requests (municipalities only); R21.1.2: agreements and disbursement requests.
      if (!bit_set(g.groups, requests ? fb::LoanGroup::loan_requests : fb::LoanGroup::loan_agreements))
        return reject(r::kDocumentGroupRequired, requests ? "R21.1.1" : "R21.1.2");
      if (requests && client_kind(owner) != fb::ClientKind::municipality)
        return reject(r::kMunicipalitiesOnly, "R21.1.1");
      switch (d.step) {
        case Step::view: return to(s, "R21.2.1");
        case Step::create:
        case Step::update: {
          // R21.2.2 manage prepares; R21.2.3 sign prepares too.
          if (m != fb::LoanMode::manage && m != fb::LoanMode::sign) return reject(r::kDocumentModeNotAllowed, "R21.2.2");
          const char* rule = m == fb::LoanMode::sign ? "R21.2.3" : "R21.2.2";
          if (d.step == Step::update && s != S::draft) return reject(r::kDocumentNotEditable, rule);
          return to(S::draft, rule);
        }
        case Step::sign:
          if (m != fb::LoanMode::sign) return reject(r::kDocumentModeNotAllowed, "R21.2.3");
          if (s != S::draft) return reject(r::kDocumentAlreadySigned, "R21.2.3");
          *role = SignRole::signer;
          return to(S::signed_once, "R21.2.3");
        case Step::submit:
          if (m != fb::LoanMode::sign) return reject(r::kDocumentModeNotAllowed, "R21.2.3");
          if (s == S::draft) return reject(r::kDocumentNotSigned, "R21.2.3");
          if (s != S::signed_once) return reject(r::kDocumentWrongStatus, "R21.2.3");
          return to(S::submitted, "R21.2.3");
        default: return reject(r::kDocumentStepNotForKind, "R21");
      }
    }
    default: return reject(r::kValueInvalid, "R2");
  }
}

Verdict Engine::check_disbursement(const DocumentRequest& d, NameId owner, const Document* doc,
                                   DocumentEntry** agreement) {
  // R21.1.2: a disbursement request is made under a loan agreement of the same
  // client that is signed and submitted; submitted requests never draw more
  // than the agreement's amount.
  const NameId name = d.step == DocumentStep::create ? state_.names.find(d.agreement) : doc->agreement;
  DocumentEntry* e = owner == kNoName || name == kNoName
                         ? nullptr
                         : state_.documents.find(DocumentKey{owner, name, static_cast<uint8_t>(fb::Service::eloans)});
  if (tracing())
    note("loan.agreement", "R21.1.2",
         e != nullptr && e->second.kind == fb::DocumentKind::loan_agreement &&
             e->second.status == DocumentStatus::submitted,
         "agreement " + (name != kNoName ? name_of(name) : std::string(d.agreement)) +
             (e == nullptr ? std::string(": unknown")
                           : std::string(": ") + fb::EnumNameDocumentKind(e->second.kind) + ", status " +
                                 document_status_name(e->second.status) + ", amount " +
                                 std::to_string(e->second.amount) + ", disbursed " +
                                 std::to_string(e->second.appropriated)));
  if (e == nullptr || e->second.kind != fb::DocumentKind::loan_agreement)
    return Verdict::reject(r::kLoanAgreementUnknown, "R21.1.2");
  if (e->second.status != DocumentStatus::submitted) return Verdict::reject(r::kLoanAgreementNotSubmitted, "R21.1.2");
  *agreement = e;
  if (d.step != DocumentStep::submit) return Verdict::ok("R21.1.2");
  Verdict v = Verdict::reject(r::kLoanDisbursementExceedsAgreement, "R21.1.2");
  v.amount = doc->amount;
  v.limit = e->second.amount;
  v.day_total = e->second.appropriated;  // disbursed before this one
  if (doc->amount > e->second.amount - e->second.appropriated) return v;
  v.accepted = true;
  v.reason = r::kOk;
  return v;
}

Verdict Engine::check_consolidation(NameId owner, const Document& consolidated) const {
  // R19.2.4: the consolidated report is signed once the reports of every
  // institution in the structure in force, of the same type, year and period,
  // are accepted by the consolidating client.
  const Structure* st = structure_in_force(owner, consolidated.report_type, consolidated.year);
  if (st == nullptr) return Verdict::reject(r::kReportNoStructure, structure_rule(consolidated.report_type));
  const NameId period = state_.names.find(consolidated.period);
  size_t accepted = 0;
  NameId missing = kNoName;
  for (const NameId institution : st->institutions) {
    const auto* slot = period == kNoName ? nullptr
                                         : state_.report_slots.find(ReportSlotKey{
                                               institution, period, consolidated.year,
                                               static_cast<uint8_t>(fb::DocumentKind::report),
                                               static_cast<uint8_t>(consolidated.report_type)});
    const DocumentEntry* e =
        slot == nullptr ? nullptr
                        : state_.documents.find(
                              DocumentKey{institution, slot->second, static_cast<uint8_t>(fb::Service::ereports)});
    if (e != nullptr && e->second.status == DocumentStatus::accepted && e->second.accepted_by == owner) {
      ++accepted;
    } else if (missing == kNoName) {
      missing = institution;
    }
  }
  if (tracing())
    note("report.consolidation", "R19.2.4", missing == kNoName,
         std::to_string(accepted) + " of " + std::to_string(st->institutions.size()) +
             " reports of the structure accepted by " + name_of(owner) + " for period " + consolidated.period +
             (missing != kNoName ? "; not yet: " + name_of(missing) : std::string()));
  if (missing != kNoName) return Verdict::reject(r::kReportConsolidationIncomplete, "R19.2.4");
  return Verdict::ok("R19.2.4");
}

Verdict Engine::on_appropriation(const fb::Request& req, const fb::AppropriationReceived& p) {
  // R2: ePlans receives appropriations against the financing plans submitted (R6.5).
  const NameId owner = state_.names.find(sv(req.client_id()));
  const NameId name = state_.names.find(sv(p.document()));
  DocumentEntry* e = owner == kNoName || name == kNoName
                         ? nullptr
                         : state_.documents.find(DocumentKey{owner, name, static_cast<uint8_t>(fb::Service::eplans)});
  if (e == nullptr) return Verdict::reject(r::kDocumentUnknown, "R2");
  Document& m = e->second;
  const Cents amount = p.amount_cents();
  Verdict v = Verdict::reject(r::kDocumentAmountInvalid, "R2");
  v.amount = amount;
  if (amount <= 0) return v;
  if (m.status != DocumentStatus::submitted) return Verdict::reject(r::kDocumentNotSubmitted, "R2");
  v.limit = m.amount;
  v.day_total = m.appropriated;  // received before this one
  if (amount > m.amount - m.appropriated) {
    v.reason = r::kAppropriationExceedsPlan;
    return v;
  }
  if (m.history_count >= kDocumentHistoryMax) return Verdict::reject(r::kDocumentHistoryFull, "R47");
  m.appropriated += amount;
  record(*e, req, DocumentStep::appropriation, kNoName, SignRole::none, fb::AuditVerdict::none, {}, amount);
  v.accepted = true;
  v.reason = r::kOk;
  return v;
}

void Engine::record(DocumentEntry& e, const fb::Request& req, DocumentStep step, NameId acting_for, SignRole role,
                    fb::AuditVerdict verdict, std::string_view digest, Cents amount) {
  auto [h, fresh] = state_.document_history.try_emplace(HistoryKey{e.first, e.second.history_count});
  KASE_ENGINE_ASSERT(fresh);
  DocumentEvent& ev = h->second;
  ev.at_us = req.intake_us();
  ev.request_id.assign(sv(req.request_id()));
  ev.actor = state_.names.intern(sv(req.actor()));
  ev.acting_for = acting_for;
  ev.step = step;
  ev.status = e.second.status;
  ev.role = role;
  ev.verdict = verdict;
  ev.digest.assign(digest);
  ev.amount = amount;
  ++e.second.history_count;
  touch(*h, dirty_.document_history);
  touch(e, dirty_.documents);
}

}  // namespace kase::engine
