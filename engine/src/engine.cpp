#include "kase/engine/engine.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <tuple>

#include "kase/engine/reasons.h"
#include "checks.h"

namespace kase::engine {
namespace r = reason;
using fb::Payload;

namespace {

using detail::compare_cents;
using detail::NoTrace;
using detail::sv;
using detail::Tracing;
using detail::valid_name;

constexpr size_t service_index(fb::Service s) { return static_cast<size_t>(s); }

std::string ymd_text(DateYmd d) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d / 10000, d / 100 % 100, d % 100);
  return buf;
}

std::string minute_text(int32_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d:%02d", m / 60 % 100, m % 60);
  return buf;
}

}  // namespace

std::string format_cents(Cents c) {
  const bool negative = c < 0;
  const uint64_t v = negative ? 0 - static_cast<uint64_t>(c) : static_cast<uint64_t>(c);
  std::string whole = std::to_string(v / 100);
  for (int i = static_cast<int>(whole.size()) - 3; i > 0; i -= 3) whole.insert(static_cast<size_t>(i), ",");
  char cents[4];
  std::snprintf(cents, sizeof cents, "%02u", static_cast<unsigned>(v % 100));
  return (negative ? "-" : "") + whole + "." + cents;
}

std::string Engine::name_of(NameId id) const {
  return id == kNoName || id >= state_.names.size() ? std::string("(unknown)") : std::string(state_.names.name(id));
}

std::string Engine::service_detail(fb::Service service, const RigaTime& t) const {
  const ServiceState& s = state_.services[service_index(service)];
  return std::string(fb::EnumNameService(service)) + (s.suspended ? " suspended" : " not suspended") + "; Riga " +
         ymd_text(t.date) + " " + minute_text(t.minute_of_day) + " (" +
         (is_business_day(t) ? "business day" : "not a business day") + "), hours " + minute_text(s.open_minute) +
         "-" + minute_text(s.close_minute);
}

std::string Engine::application_detail(NameId application, const RigaTime& t) const {
  static constexpr const char* kStatus[] = {"submitted", "in_force", "superseded", "terminated", "annulled"};
  const auto* e = state_.applications.find(application);
  if (e == nullptr) return "application " + name_of(application) + " unknown";
  std::string d = "application " + name_of(application) + " " + kStatus[static_cast<size_t>(e->second.status)];
  if (e->second.lapses_on != 0)
    d += "; lapses on " + ymd_text(e->second.lapses_on) + (t.date >= e->second.lapses_on ? " <= " : " > ") + "Riga date " +
         ymd_text(t.date);
  return d;
}

const char* rule_of(AccessMode mode) noexcept {
  switch (mode) {
    case AccessMode::view_incoming: return "R8.1";
    case AccessMode::view_outgoing: return "R8.2";
    case AccessMode::view_all: return "R8.3";
    case AccessMode::manage_po: return "R8.4";
    case AccessMode::signature_1: return "R8.5";
    case AccessMode::signature_2: return "R8.6";
    case AccessMode::signature_3: return "R8.7";
    case AccessMode::signature_4: return "R8.8";
    case AccessMode::online_view: return "R8.9";
    case AccessMode::online_manage: return "R8.10";
    default: return "R8";
  }
}

bool is_view_mode(AccessMode mode) noexcept {
  return mode == AccessMode::view_incoming || mode == AccessMode::view_outgoing ||
         mode == AccessMode::view_all || mode == AccessMode::online_view;
}

bool has_limits(AccessMode mode) noexcept {
  return (mode >= AccessMode::manage_po && mode <= AccessMode::signature_4) ||
         mode == AccessMode::online_manage;
}

NameId Names::intern(std::string_view s) {
  if (const uint64_t* id = ids_.find(s)) return static_cast<NameId>(*id);
  const auto id = static_cast<NameId>(names_.size());
  names_.push_back(ids_.insert(s, id));
  return id;
}

OrderTable::Entry& OrderTable::emplace(std::string_view client, std::string_view order) {
  Entry& e = entries_.emplace_back(arena_.keep(client, kKeySep, order), Order{});
  index_.insert(&e, hash(client, order), entries_.size() - 1);
  return e;
}

Order& OrderTable::operator[](std::string_view key) {
  const size_t sep = key.find(kKeySep);
  const std::string_view client = key.substr(0, sep == std::string_view::npos ? key.size() : sep);
  const std::string_view order = sep == std::string_view::npos ? std::string_view{} : key.substr(sep + 1);
  if (Entry* e = find(client, order)) return e->second;
  return emplace(client, order).second;
}

const Order& OrderTable::at(std::string_view key) const {
  const size_t sep = key.find(kKeySep);
  if (sep == std::string_view::npos) throw std::out_of_range("order key without separator");
  const Entry* e = find(key.substr(0, sep), key.substr(sep + 1));
  if (e == nullptr) throw std::out_of_range("no such order");
  return e->second;
}

void Engine::prefetch(const fb::Request& req) const noexcept {
  const fb::Payload t = req.payload_type();
  const flatbuffers::String* order = nullptr;
  if (t == fb::Payload::PaymentOrderSign) order = req.payload_as_PaymentOrderSign()->order();
  else if (t == fb::Payload::PaymentOrderCancel) order = req.payload_as_PaymentOrderCancel()->order();
  if (order != nullptr) state_.orders.prefetch(sv(req.client_id()), sv(order));
}

DirtySet Engine::take_dirty() {
  DirtySet out = std::move(dirty_);
  dirty_ = DirtySet{};
  ++batch_;
  return out;
}

// ---- Envelope and availability ---------------------------------------------

Verdict Engine::check_envelope(const fb::Request& req) const {
  if (req.schema_version() < kSchemaVersionMin || req.schema_version() > kSchemaVersionMax)
    return Verdict::reject(r::kUnsupportedSchema, "R42");
  if (req.intake_us() <= 0) return Verdict::reject(r::kMissingTimestamp, "R47");
  // Up to 9999-12-31T23:59:59.999999Z: calendar arithmetic stays far from overflow.
  constexpr int64_t kIntakeUsMax = 253402300799999999;
  if (req.intake_us() > kIntakeUsMax) return Verdict::reject(r::kValueInvalid, "R47");
  if (req.payload_type() == Payload::NONE || req.payload() == nullptr ||
      req.payload_type() > Payload::MAX)
    return Verdict::reject(r::kNoPayload, "R47");
  if (sv(req.actor()).empty()) return Verdict::reject(r::kMissingActor, "R37");
  if (req.means() > fb::Means::MAX) return Verdict::reject(r::kValueInvalid, "R25");
  // Names are checked for the key separator where they are first stored
  // (valid_name), not on every request: lookups of a bad name simply miss.
  return Verdict::ok("");
}

bool Engine::is_business_day(const RigaTime& t) const {
  if (t.day_number != business_day_number_) {
    business_day_ = state_.calendar.is_business_day(t.date);
    business_day_number_ = t.day_number;
  }
  return business_day_;
}

Verdict Engine::check_service_open(fb::Service service, const RigaTime& t) const {
  const ServiceState& s = state_.services[service_index(service)];
  if (s.suspended) return Verdict::reject(r::kServiceSuspended, "R34");
  if (!is_business_day(t)) return Verdict::reject(r::kNotBusinessDay, "R32");
  if (t.minute_of_day < s.open_minute || t.minute_of_day >= s.close_minute)
    return Verdict::reject(r::kOutsideHours, "R32");
  return Verdict::ok("R32");
}

namespace {

/// A step on a document in ePlans, eEstimates, eReports or eLoans: the
/// eight document payloads sit next to each other in the union.
bool is_document_payload(Payload t) { return t >= Payload::DocumentCreate && t <= Payload::DocumentView; }
static_assert(static_cast<int>(Payload::DocumentView) - static_cast<int>(Payload::DocumentCreate) == 7,
              "the document payloads must stay contiguous in the union");

/// Payloads a person sends; everything else comes from the Treasury.
bool is_user_payload(Payload t) {
  switch (t) {
    case Payload::PaymentOrderPrepare:
    case Payload::PaymentOrderSign:
    case Payload::PaymentOrderCancel:
    case Payload::PaymentOrderImport:
    case Payload::OnlineDataRequest:
    case Payload::LoginAttempt:
    case Payload::BreachReported:
    case Payload::MessageRead:
      return true;
    default:
      return is_document_payload(t);
  }
}

/// R32: logins and breach reports are taken at any hour; the services are not.
/// Document steps are bound by their own service's hours (documents.cpp).
bool bound_by_hours(Payload t) {
  return is_user_payload(t) && t != Payload::LoginAttempt && t != Payload::BreachReported &&
         t != Payload::MessageRead && !is_document_payload(t);
}

}  // namespace

Verdict Engine::apply(const fb::Request& req) {
  // The one branch tracing costs when off: decide<NoTrace> holds no trace code.
  if (trace_ == nullptr) [[likely]] {
    const Verdict v = decide(req, NoTrace{});
    probe_.count(kind_of(req), v.reason);
    return v;
  }
  const Verdict v = decide(req, Tracing{trace_});
  probe_.count(kind_of(req), v.reason);
  std::string d = v.reason;
  if (v.amount >= 0) d += "; amount " + format_cents(v.amount);
  if (v.limit >= 0) d += "; limit " + format_cents(v.limit);
  if (v.day_total >= 0) d += "; day total before " + format_cents(v.day_total);
  trace_->add("decision", v.rule, v.accepted, std::move(d));
  return v;
}

template <class T>
Verdict Engine::decide(const fb::Request& req, T tr) {
  if (Verdict v = check_envelope(req); !v.accepted) {
    KASE_TRACE(tr, "envelope", v.rule, false, std::string(v.reason) + " (schema version " +
                                                  std::to_string(req.schema_version()) + ")");
    return v;
  }
  const Payload type = req.payload_type();
  KASE_TRACE(tr, "envelope", "R47", true,
             std::string("schema version ") + std::to_string(req.schema_version()) + ", payload " +
                 fb::EnumNamePayload(type) + ", actor " + std::string(sv(req.actor())) + ", client " +
                 std::string(sv(req.client_id())) + ", means " + fb::EnumNameMeans(req.means()));
  // Identity facts come from kase itself (channel engine), never from a channel,
  // and the engine channel carries nothing else.
  const bool fact = type == Payload::IdentityFact || type == Payload::DirectoryFact;
  if (fact || req.channel() == fb::Channel::engine) {
    const bool ok = fact && req.channel() == fb::Channel::engine;
    KASE_TRACE(tr, "channel", "R41", ok,
               std::string("channel ") + fb::EnumNameChannel(req.channel()) +
                   "; identity and directory facts are written by kase itself, and nothing else is");
    if (!ok) return Verdict::reject(r::kEngineOnly, "R41");
    if (type == Payload::DirectoryFact) return on_directory_fact(*req.payload_as_DirectoryFact());
    return on_identity_fact(*req.payload_as_IdentityFact());
  }
  const bool user_payload = is_user_payload(type);
  const bool from_treasury = req.channel() == fb::Channel::treasury;
  // R3: an application is an electronic document (portal) or paper the Treasury enters.
  const bool application = type == Payload::ApplicationSubmitted;
  const char* channel_rule = application ? "R3" : "R41";
  const bool channel_ok = application ? (req.channel() == fb::Channel::portal || from_treasury)
                                      : (user_payload != from_treasury);
  KASE_TRACE(tr, "channel", channel_rule, channel_ok,
             std::string("channel ") + fb::EnumNameChannel(req.channel()) + "; " +
                 (application ? "an application comes through the portal or the Treasury"
                  : user_payload ? "a user's action never comes from the treasury channel"
                                 : "only the treasury channel sends this payload"));
  if (application && !channel_ok) return Verdict::reject(r::kWrongChannel, "R3");
  if (!application && !user_payload && !from_treasury) return Verdict::reject(r::kTreasuryOnly, "R41");
  if (user_payload && from_treasury) return Verdict::reject(r::kWrongChannel, "R41");
  if (user_payload && state_.blocked_persons > 0) {
    if (Verdict v = check_not_blocked(req); !v.accepted) {
      KASE_TRACE(tr, "identity.not_blocked", v.rule, false,
                 "actor " + std::string(sv(req.actor())) + " is blocked: " + v.reason);
      return v;
    }
  }
  if (user_payload) KASE_TRACE(tr, "identity.not_blocked", "R28", true, "actor " + std::string(sv(req.actor())) + " is not blocked");

  const RigaTime t = clock_.at(req.intake_us());
  if (bound_by_hours(type)) {
    // R32, R34: users act only while the service is open.
    const Verdict v = check_service_open(fb::Service::ekase, t);
    KASE_TRACE(tr, "service.open", v.rule, v.accepted, service_detail(fb::Service::ekase, t));
    if (!v.accepted) return v;
  }

  switch (type) {
    case Payload::PaymentOrderSign: return on_sign(req, t, *req.payload_as_PaymentOrderSign(), tr);
    case Payload::PaymentOrderPrepare: {
      const auto* p = req.payload_as_PaymentOrderPrepare();
      return on_prepare(req, t, p->order(), p->account(), p->amount_cents(), p->beneficiary(), false, tr);
    }
    case Payload::PaymentOrderImport: {
      const auto* p = req.payload_as_PaymentOrderImport();
      return on_prepare(req, t, p->order(), p->account(), p->amount_cents(), p->beneficiary(), true, tr);
    }
    case Payload::PaymentOrderCancel: return on_cancel(req, *req.payload_as_PaymentOrderCancel(), tr);
    case Payload::AccountOpened: return on_account_opened(req, *req.payload_as_AccountOpened());
    case Payload::AccountClosed: return on_account_closed(*req.payload_as_AccountClosed());
    case Payload::AccountBlocked: return on_account_blocked(*req.payload_as_AccountBlocked());
    case Payload::AccountUnblocked: return on_account_unblocked(*req.payload_as_AccountUnblocked());
    case Payload::AccountDepositFlagSet: return on_deposit_flag(*req.payload_as_AccountDepositFlagSet());
    case Payload::AccountOpenedForYear: return on_opened_for_year(*req.payload_as_AccountOpenedForYear());
    case Payload::RepresentativeRegistered:
      return on_representative(req, *req.payload_as_RepresentativeRegistered());
    case Payload::RightsGranted: return on_rights_granted(req, *req.payload_as_RightsGranted());
    case Payload::RightsRevoked: return on_rights_revoked(req, *req.payload_as_RightsRevoked());
    case Payload::LimitChangeOneDay: return on_limit_change(req, t, *req.payload_as_LimitChangeOneDay());
    case Payload::ServiceHoursNotice: return on_service_hours(*req.payload_as_ServiceHoursNotice());
    case Payload::ServiceSuspension: return on_suspension(*req.payload_as_ServiceSuspension());
    case Payload::CalendarOverride: return on_calendar_override(*req.payload_as_CalendarOverride());
    case Payload::LoginAttempt: return on_login(req, *req.payload_as_LoginAttempt());
    case Payload::BreachReported: return on_breach_reported(req);
    case Payload::MeansBlocked: return on_means_blocked(*req.payload_as_MeansBlocked());
    case Payload::MeansRestored: return on_means_restored(*req.payload_as_MeansRestored());
    case Payload::OnlineDataRequest: return on_online_request(req, t, *req.payload_as_OnlineDataRequest());
    case Payload::IdentityPolicy: return on_identity_policy(*req.payload_as_IdentityPolicy());
    case Payload::ApplicationSubmitted:
      return on_application_submitted(req, *req.payload_as_ApplicationSubmitted());
    case Payload::ApplicationRegistered:
    {
      const Verdict v = on_application_registered(req, t, *req.payload_as_ApplicationRegistered());
      // Shared with its outcome set (in force, lapse date).
      if (v.accepted && fanning())
        if (const auto* e = state_.applications.find(state_.names.find(sv(req.payload_as_ApplicationRegistered()->application()))))
          share_application(e->first, e->second);
      return v;
    }
    case Payload::ApplicationsAnnulled: return on_applications_annulled(req);
    case Payload::MeansRegistered: return on_means_registered(*req.payload_as_MeansRegistered());
    case Payload::MeansActivated: return on_means_activated(*req.payload_as_MeansActivated());
    case Payload::DataExchangeEstablished:
      return on_data_exchange(req, *req.payload_as_DataExchangeEstablished());
    case Payload::MessagePosted: return on_message_posted(req, *req.payload_as_MessagePosted());
    case Payload::MessageRead: return on_message_read(req, *req.payload_as_MessageRead());
    case Payload::ClientRegistered: return on_client_registered(req, *req.payload_as_ClientRegistered());
    case Payload::PersonRolesSet: return on_roles(req, *req.payload_as_PersonRolesSet());
    case Payload::PlanRightsGranted: return on_plan_rights(req, *req.payload_as_PlanRightsGranted());
    case Payload::InstitutionStructure: return on_structure(req, *req.payload_as_InstitutionStructure());
    case Payload::ReportRightsGranted: return on_report_rights(req, *req.payload_as_ReportRightsGranted());
    case Payload::LoanRightsGranted: return on_loan_rights(req, *req.payload_as_LoanRightsGranted());
    case Payload::DocumentCreate:
    case Payload::DocumentUpdate:
    case Payload::DocumentCheck:
    case Payload::DocumentApprove:
    case Payload::DocumentSign:
    case Payload::DocumentSubmit:
    case Payload::DocumentAccept:
    case Payload::DocumentView:
      return on_document(req, t);
    case Payload::AppropriationReceived:
      return on_appropriation(req, *req.payload_as_AppropriationReceived());
    case Payload::ServiceOutage: return on_outage(req, *req.payload_as_ServiceOutage());
    case Payload::PaymentFileSubmitted: return on_payment_file(req, *req.payload_as_PaymentFileSubmitted());
    case Payload::PaymentFromFile: return on_payment_from_file(req, t, *req.payload_as_PaymentFromFile());
    case Payload::IdentityFact: return on_identity_fact(*req.payload_as_IdentityFact());  // taken above
    case Payload::DirectoryFact: return on_directory_fact(*req.payload_as_DirectoryFact());  // taken above
    case Payload::NONE: break;
  }
  return Verdict::reject(r::kNoPayload, "R47");
}

// ---- Accounts ---------------------------------------------------------------

Verdict Engine::on_account_opened(const fb::Request& req, const fb::AccountOpened& p) {
  (void)req;
  if (!valid_name(sv(p.account())) || !valid_name(sv(p.owner_client())) || p.fiscal_year() < 0)
    return Verdict::reject(r::kValueInvalid, "R13");
  if (state_.accounts.count(state_.names.find(sv(p.account()))) != 0)
    return Verdict::reject(r::kAccountExists, "R13");
  auto [it, inserted] = state_.accounts.try_emplace(state_.names.intern(sv(p.account())));
  Account& a = it->second;
  a.owner_client = state_.names.intern(sv(p.owner_client()));
  a.deposit = p.deposit();
  a.fiscal_year = p.fiscal_year();
  touch(*it, dirty_.accounts);
  return Verdict::ok("R13");
}

Engine::AccountEntry* Engine::find_account(const flatbuffers::String* name) {
  auto it = state_.accounts.find(state_.names.find(sv(name)));
  return it == nullptr ? nullptr : &*it;
}

/// R13: closing, blocking and unblocking flip one flag of an account; doing
/// it twice is refused with `already`.
Verdict Engine::set_account_flag(const flatbuffers::String* account, bool Account::*flag, bool value,
                                 const char* already) {
  AccountEntry* e = find_account(account);
  if (e == nullptr) return Verdict::reject(r::kAccountUnknown, "R13");
  if (e->second.*flag == value) return Verdict::reject(already, "R13");
  e->second.*flag = value;
  touch(*e, dirty_.accounts);
  return Verdict::ok("R13");
}

Verdict Engine::on_account_closed(const fb::AccountClosed& p) {
  return set_account_flag(p.account(), &Account::closed, true, r::kAccountClosed);
}

Verdict Engine::on_account_blocked(const fb::AccountBlocked& p) {
  return set_account_flag(p.account(), &Account::blocked, true, r::kAccountAlreadyBlocked);
}

Verdict Engine::on_account_unblocked(const fb::AccountUnblocked& p) {
  return set_account_flag(p.account(), &Account::blocked, false, r::kAccountNotBlocked);
}

Verdict Engine::on_deposit_flag(const fb::AccountDepositFlagSet& p) {
  AccountEntry* e = find_account(p.account());
  if (e == nullptr) return Verdict::reject(r::kAccountUnknown, "R12");
  e->second.deposit = p.deposit();
  touch(*e, dirty_.accounts);
  return Verdict::ok("R12");
}

Verdict Engine::on_opened_for_year(const fb::AccountOpenedForYear& p) {
  AccountEntry* e = find_account(p.account());
  if (e == nullptr) return Verdict::reject(r::kAccountUnknown, "R13");
  if (p.fiscal_year() < 1900 || p.fiscal_year() > 9999) return Verdict::reject(r::kValueInvalid, "R13");
  e->second.fiscal_year = std::max(e->second.fiscal_year, p.fiscal_year());
  touch(*e, dirty_.accounts);
  return Verdict::ok("R13");
}

// ---- Representatives and rights ----------------------------------------------

Verdict Engine::on_representative(const fb::Request& req, const fb::RepresentativeRegistered& p) {
  if (!valid_name(sv(p.person())) || !valid_name(sv(req.client_id()))) return Verdict::reject(r::kValueInvalid, "R4");
  const NameId client = state_.names.intern(sv(req.client_id()));
  const NameId person = state_.names.intern(sv(p.person()));
  auto it = state_.representatives.try_emplace(pair_key(client, person)).first;
  (void)this->person(person);
  it->second.head = p.head();
  it->second.specimen_card = p.specimen_card();
  touch(*it, dirty_.representatives);
  return Verdict::ok("R4");
}

Verdict Engine::on_rights_granted(const fb::Request& req, const fb::RightsGranted& p) {
  const AccessMode mode = p.mode();
  if (mode == AccessMode::none || mode > AccessMode::MAX) return Verdict::reject(r::kModeInvalid, "R8");
  if (!valid_name(sv(p.user())) || !valid_name(sv(req.client_id()))) return Verdict::reject(r::kValueInvalid, "R8");
  AccountEntry* acc = find_account(p.account());
  if (acc == nullptr) return Verdict::reject(r::kAccountUnknown, "R8");
  Account& a = acc->second;
  const NameId account = acc->first;
  const NameId client = state_.names.find(sv(req.client_id()));  // kNoName: a client not seen yet
  const NameId user = state_.names.find(sv(p.user()));
  const bool foreign = a.owner_client != client;

  if (foreign) {
    // R10: the owner's permission travels with the first application naming the
    // account. From schema version 2 it is on the application (recorded when the
    // application is registered); version 1 grants carried it themselves (R42).
    const bool permitted = state_.permissions.count(pair_key(client, account)) != 0;
    const bool on_grant =
        req.schema_version() < kSchemaVersionGrantsUnderApplications && !sv(p.owner_permission()).empty();
    if (tracing())
      note("rights.owner_permission", "R10", permitted || on_grant,
           "account " + std::string(sv(p.account())) + " of owner " + name_of(a.owner_client) + " for client " +
               std::string(sv(req.client_id())) +
               (permitted ? ": permission recorded"
                          : on_grant ? ": permission on the grant (schema version 1)"
                                     : ": no permission recorded from a registered application"));
    if (!permitted && !on_grant) return Verdict::reject(r::kOwnerPermissionMissing, "R10");
    if (!is_view_mode(mode)) return Verdict::reject(r::kModeNotAllowedForeign, "R11");
  }
  if (a.deposit && !is_view_mode(mode)) return Verdict::reject(r::kModeNotAllowedDeposit, "R12");
  if (has_limits(mode)) {
    Verdict v = Verdict::reject(r::kLimitsInvalid, "R9");
    v.amount = p.per_order_limit_cents();
    v.limit = p.daily_limit_cents();
    if (p.per_order_limit_cents() <= 0 || p.daily_limit_cents() <= 0 ||
        p.per_order_limit_cents() > p.daily_limit_cents())
      return v;
  }

  const Grant* existing = nullptr;
  if (auto found = state_.grants.find(pair_key(user, account)); user != kNoName && found != nullptr)
    existing = &found->second;
  if (existing != nullptr && existing->mode != AccessMode::none && existing->client != client) {
    // One person holds one mode per account; another client's grant stays.
    return Verdict::reject(r::kModeInvalid, "R8");
  }
  const AccessMode previous = existing != nullptr ? existing->mode : AccessMode::none;
  if (mode == AccessMode::signature_4) {
    // R8.8: only the head or persons on the signature specimen card, and
    // never on an account with a signature-3 user.
    auto rep = state_.representatives.find(pair_key(client, user));
    if (client == kNoName || user == kNoName || rep == nullptr ||
        (!rep->second.head && !rep->second.specimen_card))
      return Verdict::reject(r::kSignature4NotAuthorised, "R8.8");
    if (a.signature3_users - (previous == AccessMode::signature_3 ? 1 : 0) > 0)
      return Verdict::reject(r::kSignature4WithSignature3, "R8.8");
  }
  if (mode == AccessMode::signature_3 &&
      a.signature4_users - (previous == AccessMode::signature_4 ? 1 : 0) > 0)
    return Verdict::reject(r::kSignature4WithSignature3, "R8.8");

  // R7: rights granted under an application need it registered, in force,
  // an eKase one, for this user and client.
  NameId application = kNoName;
  if (Verdict v = grant_application(req, p.application(), fb::ApplicationKind::ekase, p.user(), "R7", &application);
      !v.accepted)
    return v;

  const NameId client_id = state_.names.intern(sv(req.client_id()));
  const NameId user_id = state_.names.intern(sv(p.user()));
  auto git = state_.grants.try_emplace(pair_key(user_id, account)).first;
  Grant& g = git->second;
  (void)person(user_id);
  // R7: the newer application replaces the user's mode on this account.
  if (previous == AccessMode::signature_3) --a.signature3_users;
  if (previous == AccessMode::signature_4) --a.signature4_users;
  if (mode == AccessMode::signature_3) ++a.signature3_users;
  if (mode == AccessMode::signature_4) ++a.signature4_users;
  g.client = client_id;
  g.application = application;
  g.mode = mode;
  g.per_order_limit = has_limits(mode) ? p.per_order_limit_cents() : 0;
  g.daily_limit = has_limits(mode) ? p.daily_limit_cents() : 0;
  touch(*git, dirty_.grants);
  touch(*acc, dirty_.accounts);
  if (foreign) {
    auto [pit, pnew] = state_.permissions.try_emplace(pair_key(client_id, account));
    if (pnew) touch(*pit, dirty_.permissions);
  }
  return Verdict::ok(rule_of(mode));
}

Engine::GrantEntry* Engine::find_grant(const fb::Request& req, const flatbuffers::String* user,
                                       const flatbuffers::String* account) {
  const NameId u = state_.names.find(sv(user));
  const NameId a = state_.names.find(sv(account));
  const NameId client = state_.names.find(sv(req.client_id()));
  if (u == kNoName || a == kNoName || client == kNoName) return nullptr;
  auto it = state_.grants.find(pair_key(u, a));
  if (it == nullptr || it->second.mode == AccessMode::none || it->second.client != client)
    return nullptr;
  return &*it;
}

Verdict Engine::on_rights_revoked(const fb::Request& req, const fb::RightsRevoked& p) {
  GrantEntry* git = find_grant(req, p.user(), p.account());
  if (git == nullptr) return Verdict::reject(r::kNoRights, "R7");
  revoke(*git);
  return Verdict::ok("R7");
}

void Engine::revoke(GrantEntry& g) {
  // The account's signature-3/-4 counts follow the grants (R8.7, R8.8).
  if (auto* acc = state_.accounts.find(second_of(g.first))) {
    if (g.second.mode == AccessMode::signature_3) --acc->second.signature3_users;
    if (g.second.mode == AccessMode::signature_4) --acc->second.signature4_users;
    touch(*acc, dirty_.accounts);
  }
  g.second.mode = AccessMode::none;
  g.second.per_order_limit = 0;
  g.second.daily_limit = 0;
  touch(g, dirty_.grants);
}

Verdict Engine::on_limit_change(const fb::Request& req, const RigaTime& t,
                                const fb::LimitChangeOneDay& p) {
  GrantEntry* git = find_grant(req, p.user(), p.account());
  if (tracing()) note("rights.grant", "R14", git != nullptr,
       "user " + std::string(sv(p.user())) + " on account " + std::string(sv(p.account())) + " for client " +
           std::string(sv(req.client_id())) +
           (git != nullptr ? std::string(": ") + fb::EnumNameAccessMode(git->second.mode) : std::string(": no mode")));
  if (git == nullptr) return Verdict::reject(r::kNoRights, "R14");
  if (tracing()) note("rights.has_limits", "R14", has_limits(git->second.mode), "R9 limits belong to R8.4-R8.8 and R8.10");
  if (!has_limits(git->second.mode)) return Verdict::reject(r::kChangeNoLimits, "R14");
  if (!ymd_valid(p.date())) return Verdict::reject(r::kDateInvalid, "R15");
  if (tracing()) note("limit_change.date", "R15", p.date() >= t.date,
       "date " + std::to_string(p.date()) + (p.date() >= t.date ? " >= " : " < ") + "Riga date " + ymd_text(t.date));
  if (p.date() < t.date) return Verdict::reject(r::kChangeDatePast, "R15");
  const Cents po = p.per_order_limit_cents();
  const Cents daily = p.daily_limit_cents();
  if (po == -1 && daily == -1) return Verdict::reject(r::kChangeEmpty, "R14");
  if ((po != -1 && po <= 0) || (daily != -1 && daily <= 0)) {
    Verdict v = Verdict::reject(r::kLimitsInvalid, "R14");
    v.amount = po;
    v.limit = daily;
    return v;
  }
  if (Verdict v = limit_change_application(req, p, t); !v.accepted) return v;
  auto it = state_.limit_overrides.try_emplace(OverrideKey{git->first, p.date()}).first;
  it->second.per_order_limit = po;
  it->second.daily_limit = daily;
  touch(*it, dirty_.limit_overrides);
  return Verdict::ok("R14");
}

Verdict Engine::limit_change_application(const fb::Request& req, const fb::LimitChangeOneDay& p,
                                         const RigaTime& t) const {
  // R42: before schema version 2 the Treasury entered a one-day change on its
  // own word; the application field did not exist and is not read.
  if (req.schema_version() < kSchemaVersionLimitChangesUnderApplications) {
    if (tracing()) note("application.in_force", "R14", true, "no application needed (schema version 1)");
    return Verdict::ok("R14");
  }
  // R14: the change is an application (annex 3): a registered one of kind
  // ekase_limit_change, about this user, of this client, still in force.
  const std::string_view named = sv(p.application());
  const auto* app = named.empty() ? nullptr : state_.applications.find(state_.names.find(named));
  const NameId user = state_.names.find(sv(p.user()));
  const NameId client = state_.names.find(sv(req.client_id()));
  const bool matches = app != nullptr && app->second.kind == fb::ApplicationKind::ekase_limit_change &&
                       user != kNoName && app->second.user == user && app->second.client == client;
  const Verdict v = named.empty()   ? Verdict::reject(r::kChangeApplicationMissing, "R14")
                    : !matches      ? Verdict::reject(r::kApplicationNotInForce, "R14")
                                    : check_application(app->first, "R14", t);
  if (tracing())
    note("application.in_force", v.accepted ? "R14" : v.rule, v.accepted,
         (named.empty() ? std::string("no application named")
          : app == nullptr
              ? "application " + std::string(named) + " unknown"
              : application_detail(app->first, t) + ", kind " + fb::EnumNameApplicationKind(app->second.kind) +
                    " for user " + name_of(app->second.user) + " and client " + name_of(app->second.client)) +
             "; needs a registered ekase_limit_change application of user " + std::string(sv(p.user())) +
             " and client " + std::string(sv(req.client_id())));
  return v.accepted ? Verdict::ok("R14") : v;
}

// ---- Payment orders -------------------------------------------------------------

template <class T>
Verdict Engine::acting_rights(NameId client, NameId user, NameId account, const RigaTime& t, fb::Means means,
                              ActingRights* out, T tr) {
  auto git = state_.grants.find(pair_key(user, account));
  if (user == kNoName || account == kNoName || git == nullptr ||
      git->second.mode == AccessMode::none || git->second.client != client) {
    KASE_TRACE(tr, "rights.grant", "R8", false,
               "user " + name_of(user) + " holds no mode on account " + name_of(account) + " for client " +
                   name_of(client));
    return Verdict::reject(r::kNoRights, "R8");
  }
  KASE_TRACE(tr, "rights.grant", rule_of(git->second.mode), true,
             "user " + name_of(user) + " holds " + fb::EnumNameAccessMode(git->second.mode) + " on account " +
                 name_of(account) + " for client " + name_of(client) +
                 (has_limits(git->second.mode) ? "; R7 limits per order " + format_cents(git->second.per_order_limit) +
                                                     ", daily " + format_cents(git->second.daily_limit)
                                               : std::string()));
  // R7, R30, R31: rights granted under an application last as long as it does.
  if (git->second.application != kNoName) {
    const Verdict v = check_application(git->second.application, "R7", t);
    KASE_TRACE(tr, "rights.application", v.rule, v.accepted, application_detail(git->second.application, t));
    if (!v.accepted) return v;
  } else {
    KASE_TRACE(tr, "rights.application", "R7", true, "granted without an application: stands until revoked");
  }
  {
    const Verdict v = check_means(client, user, git->second.mode, means);
    KASE_TRACE(tr, "means", v.rule, v.accepted, means_detail(client, user, git->second.mode, means));
    if (!v.accepted) return v;
  }
  auto acc = state_.accounts.find(account);
  if (acc == nullptr) return Verdict::reject(r::kAccountUnknown, "R8");
  const Account& a = acc->second;
  const AccessMode mode = git->second.mode;
  if (!is_view_mode(mode)) {
    // R11–R13: stronger modes fall back to view.
    KASE_TRACE(tr, "account.own", "R11", a.owner_client == client,
               "account owner " + name_of(a.owner_client) + ", acting client " + name_of(client));
    if (a.owner_client != client) return Verdict::reject(r::kAccountViewOnly, "R11");
    KASE_TRACE(tr, "account.not_deposit", "R12", !a.deposit, a.deposit ? "a deposit account" : "not a deposit account");
    if (a.deposit) return Verdict::reject(r::kAccountViewOnly, "R12");
    const bool usable = !a.closed && !a.blocked && a.fiscal_year >= t.date / 10000;
    KASE_TRACE(tr, "account.usable", "R13", usable,
               std::string(a.closed ? "closed" : "open") + ", " + (a.blocked ? "blocked" : "not blocked") +
                   ", opened for fiscal year " + std::to_string(a.fiscal_year) + " (request year " +
                   std::to_string(t.date / 10000) + ")");
    if (!usable) return Verdict::reject(r::kAccountViewOnly, "R13");
  }
  out->grant = &git->second;
  out->account = &acc->second;
  return Verdict::ok(rule_of(mode));
}

void Engine::limits_for(PairKey grant_key, const Grant& g, DateYmd date, Cents* per_order,
                        Cents* daily) const {
  *per_order = g.per_order_limit;
  *daily = g.daily_limit;
  if (state_.limit_overrides.empty()) return;
  auto it = state_.limit_overrides.find(OverrideKey{grant_key, date});
  if (it == nullptr) return;
  // R15: the one-day change applies on its date only; the R7 limits return after.
  if (it->second.per_order_limit != -1) *per_order = it->second.per_order_limit;
  if (it->second.daily_limit != -1) *daily = it->second.daily_limit;
}

template <class T>
Verdict Engine::check_limits(NameId user, NameId account, const Grant& g, const Order* order, Cents amount,
                             const RigaTime& t, bool* count, DayTotalEntry** day_total, T tr) {
  const PairKey k = pair_key(user, account);
  Cents per_order = 0;
  Cents daily = 0;
  limits_for(k, g, t.date, &per_order, &daily);
  KASE_TRACE(tr, "limit.per_order", per_order != g.per_order_limit ? "R15" : "R9", amount <= per_order,
             compare_cents("amount", amount, "per-order limit", per_order) +
                 (per_order != g.per_order_limit ? " (one-day change for " + ymd_text(t.date) + ", R14)" : ""));
  if (amount > per_order) {
    Verdict v = Verdict::reject(r::kPerOrderExceeded, "R9");
    v.amount = amount;
    v.limit = per_order;
    return v;
  }
  // R9: each order counts once per user in that user's day total.
  *count = true;
  if (order != nullptr) {
    for (const Counted& c : order->counted_by())
      if (c.user == user) *count = false;
  }
  auto dt = state_.day_totals.find(k);
  *day_total = dt != nullptr ? &*dt : nullptr;
  const Cents before = (dt != nullptr && dt->second.date == t.date) ? dt->second.total : 0;
  KASE_TRACE(tr, "limit.daily", daily != g.daily_limit ? "R15" : "R9", !*count || before + amount <= daily,
             !*count ? "the order already counts in this user's day total (" + format_cents(before) + ")"
                     : "day total " + format_cents(before) + " + amount " + format_cents(amount) +
                           (before + amount <= daily ? " <= " : " > ") + "daily limit " + format_cents(daily) +
                           " on " + ymd_text(t.date) +
                           (daily != g.daily_limit ? " (one-day change, R14)" : ""));
  if (*count && before + amount > daily) {
    Verdict v = Verdict::reject(r::kDailyExceeded, "R9");
    v.amount = amount;
    v.limit = daily;
    v.day_total = before;
    return v;
  }
  Verdict v = Verdict::ok("R9");
  v.amount = amount;
  v.limit = daily;
  v.day_total = before;
  return v;
}

void Engine::count_in_day_total(Order& o, NameId user, Cents amount, DateYmd date, Cents daily,
                                DayTotalEntry* entry) {
  DayTotalEntry* it = entry != nullptr ? entry : &*state_.day_totals.try_emplace(pair_key(user, o.account)).first;
  DayTotal& d = it->second;
  if (d.date != date) {
    d.date = date;
    d.total = 0;
  }
  d.total += amount;
  probe_.count_limit_share(d.total, daily);
  touch(*it, dirty_.day_totals);
  KASE_ENGINE_ASSERT(o.counted_count < kCountedMax);
  o.counted[o.counted_count++] = Counted{user, date};
}

template <class T>
Verdict Engine::on_prepare(const fb::Request& req, const RigaTime& t, const flatbuffers::String* order,
                           const flatbuffers::String* account, Cents amount,
                           const flatbuffers::String* beneficiary, bool import, T tr) {
  if (!valid_name(sv(order)) || !valid_name(sv(req.client_id())) || sv(account).empty()) {
    KASE_TRACE(tr, "values", "R8", false, "order, client and account must be non-empty names");
    return Verdict::reject(r::kValueInvalid, "R8");
  }
  KASE_TRACE(tr, "order.amount", "R9", amount > 0, "amount " + format_cents(amount) + (amount > 0 ? " > 0" : " <= 0"));
  if (amount <= 0) {
    Verdict v = Verdict::reject(r::kAmountInvalid, "R9");
    v.amount = amount;
    return v;
  }
  if (import) KASE_TRACE(tr, "channel.online", "R8.10", req.channel() == fb::Channel::online,
                         std::string("an import comes through the online channel; channel ") +
                             fb::EnumNameChannel(req.channel()));
  if (import && req.channel() != fb::Channel::online) return Verdict::reject(r::kWrongChannel, "R8.10");
  const bool exists = state_.orders.find(sv(req.client_id()), sv(order)) != nullptr;
  KASE_TRACE(tr, "order.new", "R8", !exists,
             "order " + std::string(sv(order)) + (exists ? " already exists" : " is new") + " for client " +
                 std::string(sv(req.client_id())));
  if (exists) return Verdict::reject(r::kOrderExists, "R8");

  const NameId client = state_.names.find(sv(req.client_id()));
  const NameId user = state_.names.find(sv(req.actor()));
  const NameId acc = state_.names.find(sv(account));
  ActingRights rights;
  if (Verdict v = acting_rights(client, user, acc, t, req.means(), &rights, tr); !v.accepted) return v;
  const AccessMode mode = rights.grant->mode;
  const bool may = import ? mode == AccessMode::online_manage
                          : mode == AccessMode::manage_po || mode == AccessMode::signature_2 ||
                                mode == AccessMode::signature_4;
  KASE_TRACE(tr, "mode.may_prepare", rule_of(mode), may,
             std::string("mode ") + fb::EnumNameAccessMode(mode) +
                 (import ? "; imports need online_manage (R8.10)"
                         : "; manage_po, signature_2 and signature_4 prepare (R8.4, R8.6, R8.8)"));
  if (import) {
    if (mode != AccessMode::online_manage) return Verdict::reject(r::kModeCannotImport, rule_of(mode));
  } else if (is_view_mode(mode)) {
    return Verdict::reject(r::kModeViewOnly, rule_of(mode));
  } else if (mode != AccessMode::manage_po && mode != AccessMode::signature_2 &&
             mode != AccessMode::signature_4) {
    // R8.5, R8.7 sign only; R8.10 imports through the online module.
    return Verdict::reject(r::kModeCannotPrepare, rule_of(mode));
  }
  bool count = false;
  DayTotalEntry* day_total = nullptr;
  Verdict v = check_limits(user, acc, *rights.grant, nullptr, amount, t, &count, &day_total, tr);
  if (!v.accepted) return v;

  OrderTable::Entry* it = &state_.orders.emplace(sv(req.client_id()), sv(order));
  Order& o = it->second;
  o.client = client;
  o.account = acc;
  o.amount = amount;
  o.preparer = user;
  o.beneficiary = state_.orders.keep(sv(beneficiary));
  count_in_day_total(o, user, amount, t.date, v.limit, day_total);
  touch(*it, dirty_.orders);
  // R28.4: an import is a data request too; a block it trips applies from the next request.
  if (import) (void)count_online_request(user, t, req.intake_us());
  v.rule = import ? "R8.10" : rule_of(mode);
  return v;
}

// Out of line, as before tracing: inlined into decide(), it pushed acting_rights()
// and check_limits() out of line instead (about 40 instructions more a request).
template <class T>
[[gnu::noinline]] Verdict Engine::on_sign(const fb::Request& req, const RigaTime& t, const fb::PaymentOrderSign& p,
                                          T tr) {
  OrderTable::Entry* it = state_.orders.find(sv(req.client_id()), sv(p.order()));
  KASE_TRACE(tr, "order.exists", "R8", it != nullptr,
             "order " + std::string(sv(p.order())) + " of client " + std::string(sv(req.client_id())) +
                 (it != nullptr ? ": amount " + format_cents(it->second.amount) + " on account " +
                                      name_of(it->second.account) + ", " +
                                      std::to_string(it->second.signature_count) + " signature(s)"
                                : std::string(" unknown")));
  if (it == nullptr) return Verdict::reject(r::kOrderUnknown, "R8");
  Order& o = it->second;
  KASE_TRACE(tr, "order.open", "R8", o.status == OrderStatus::prepared,
             o.status == OrderStatus::prepared    ? "awaiting signatures"
             : o.status == OrderStatus::submitted ? "already submitted for execution"
                                                  : "cancelled");
  if (o.status == OrderStatus::submitted) return Verdict::reject(r::kOrderSubmitted, "R8");
  if (o.status == OrderStatus::cancelled) return Verdict::reject(r::kOrderCancelled, "R8");

  const NameId user = state_.names.find(sv(req.actor()));
  ActingRights rights;
  if (Verdict v = acting_rights(o.client, user, o.account, t, req.means(), &rights, tr); !v.accepted) return v;
  const AccessMode mode = rights.grant->mode;
  KASE_TRACE(tr, "mode.may_sign", rule_of(mode),
             !is_view_mode(mode) && mode != AccessMode::manage_po && mode != AccessMode::online_manage,
             std::string("mode ") + fb::EnumNameAccessMode(mode) + "; signature_1 to signature_4 sign (R8.5-R8.8)");
  if (is_view_mode(mode)) return Verdict::reject(r::kModeViewOnly, rule_of(mode));
  if (mode == AccessMode::manage_po || mode == AccessMode::online_manage)
    return Verdict::reject(r::kModeCannotSign, rule_of(mode));
  bool signed_before = false;
  for (const Signature& s : o.signed_by()) signed_before = signed_before || s.user == user;
  KASE_TRACE(tr, "signature.one_per_person", "R8", !signed_before,
             "user " + name_of(user) + (signed_before ? " already signed this order" : " has not signed this order"));
  if (signed_before) return Verdict::reject(r::kSamePerson, "R8");

  // The signature chain (the R8 interpretation in engine/README.md).
  const size_t n = o.signature_count;
  const auto at = [&](size_t i) { return o.signatures[i].mode; };
  bool submits = false;
  bool in_order = false;
  if (rights.account->signature3_users > 0) {
    // 2, then 1, then 3, which submits.
    if (mode == AccessMode::signature_2) in_order = n == 0;
    if (mode == AccessMode::signature_1) in_order = n == 1 && at(0) == AccessMode::signature_2;
    if (mode == AccessMode::signature_3) {
      in_order = n == 2 && at(0) == AccessMode::signature_2 && at(1) == AccessMode::signature_1;
      submits = in_order;
    }
  } else {
    // 2 then 1; 4 alone; 2 then 4.
    if (mode == AccessMode::signature_2) in_order = n == 0;
    if (mode == AccessMode::signature_1 || mode == AccessMode::signature_4)
      in_order = (n == 1 && at(0) == AccessMode::signature_2) || (n == 0 && mode == AccessMode::signature_4);
    submits = in_order && mode != AccessMode::signature_2;
  }
  if constexpr (T::kOn) {
    if (tr.sink != nullptr) {
      std::string chain;
      for (size_t i = 0; i < n; ++i) chain += std::string(i == 0 ? "" : ", ") + fb::EnumNameAccessMode(at(i));
      tr.sink->add("signature.chain", rule_of(mode), in_order,
                   "signed so far [" + chain + "], now " + fb::EnumNameAccessMode(mode) + "; account " +
                       (rights.account->signature3_users > 0 ? "has a signature-3 user: 2, 1, then 3 submits"
                                                             : "has no signature-3 user: 2 then 1, 4 alone, or 2 then 4") +
                       (submits ? "; this signature submits the order" : ""));
    }
  }
  if (!in_order) return Verdict::reject(r::kOutOfOrder, rule_of(mode));

  bool count = false;
  DayTotalEntry* day_total = nullptr;
  Verdict v = check_limits(user, o.account, *rights.grant, &o, o.amount, t, &count, &day_total, tr);
  if (!v.accepted) return v;

  KASE_ENGINE_ASSERT(o.signature_count < kSignaturesMax);
  o.signatures[o.signature_count++] = Signature{user, mode};
  if (count) count_in_day_total(o, user, o.amount, t.date, v.limit, day_total);
  if (submits) o.status = OrderStatus::submitted;
  touch(*it, dirty_.orders);
  v.rule = rule_of(mode);
  return v;
}

template <class T>
Verdict Engine::on_cancel(const fb::Request& req, const fb::PaymentOrderCancel& p, T tr) {
  OrderTable::Entry* it = state_.orders.find(sv(req.client_id()), sv(p.order()));
  KASE_TRACE(tr, "order.exists", "R8", it != nullptr,
             "order " + std::string(sv(p.order())) + " of client " + std::string(sv(req.client_id())));
  if (it == nullptr) return Verdict::reject(r::kOrderUnknown, "R8");
  Order& o = it->second;
  KASE_TRACE(tr, "order.open", "R8", o.status == OrderStatus::prepared,
             o.status == OrderStatus::prepared    ? "awaiting signatures"
             : o.status == OrderStatus::submitted ? "already submitted for execution"
                                                  : "cancelled");
  if (o.status == OrderStatus::submitted) return Verdict::reject(r::kOrderSubmitted, "R8");
  if (o.status == OrderStatus::cancelled) return Verdict::reject(r::kOrderCancelled, "R8");
  const NameId user = state_.names.find(sv(req.actor()));
  bool may = user != kNoName && o.preparer == user;
  for (const Signature& s : o.signed_by()) may = may || (user != kNoName && s.user == user);
  KASE_TRACE(tr, "order.preparer_or_signer", "R8", may,
             "user " + std::string(sv(req.actor())) + (may ? " prepared or signed it" : " neither prepared nor signed it"));
  if (!may) return Verdict::reject(r::kNotPreparerOrSigner, "R8");

  // R9: a cancelled order releases its amount from the day totals it entered.
  for (const Counted& c : o.counted_by()) {
    auto dt = state_.day_totals.find(pair_key(c.user, o.account));
    if (dt != nullptr && dt->second.date == c.date) {
      dt->second.total -= o.amount;
      touch(*dt, dirty_.day_totals);
    }
  }
  o.status = OrderStatus::cancelled;
  touch(*it, dirty_.orders);
  Verdict v = Verdict::ok("R9");
  v.amount = o.amount;
  return v;
}

// ---- Service availability and calendar ------------------------------------------

Verdict Engine::on_service_hours(const fb::ServiceHoursNotice& p) {
  if (p.service() > fb::Service::MAX) return Verdict::reject(r::kValueInvalid, "R34");
  if (p.open_minute() < 0 || p.close_minute() > 24 * 60 || p.open_minute() >= p.close_minute())
    return Verdict::reject(r::kHoursInvalid, "R32");
  ServiceState& s = state_.services[service_index(p.service())];
  s.open_minute = p.open_minute();
  s.close_minute = p.close_minute();
  dirty_.settings = true;
  return Verdict::ok("R32");
}

Verdict Engine::on_suspension(const fb::ServiceSuspension& p) {
  if (p.service() > fb::Service::MAX) return Verdict::reject(r::kValueInvalid, "R34");
  state_.services[service_index(p.service())].suspended = p.suspended();
  dirty_.settings = true;
  return Verdict::ok("R34");
}

Verdict Engine::on_calendar_override(const fb::CalendarOverride& p) {
  if (!ymd_valid(p.date())) return Verdict::reject(r::kDateInvalid, "R32");
  state_.calendar.set_override(p.date(), p.working());
  business_day_number_ = INT64_MIN;
  dirty_.settings = true;
  return Verdict::ok("R32");
}

// ---- Identification means and blocking (R25–R29) ---------------------------------

namespace {

struct BlockName {
  const char* reason;
  const char* rule;
};
BlockName block_name(fb::BlockCause c) {
  switch (c) {
    case fb::BlockCause::wrong_credentials: return {r::kBlockedWrongCredentials, "R28.1"};
    case fb::BlockCause::suspicion: return {r::kBlockedSuspicion, "R28.2"};
    case fb::BlockCause::reported_by_user: return {r::kBlockedReported, "R28.3"};
    case fb::BlockCause::request_rate: return {r::kBlockedRequestRate, "R28.4"};
    default: return {r::kValueInvalid, "R28"};
  }
}

}  // namespace

Engine::PersonEntry& Engine::person(NameId id) {
  auto [e, fresh] = state_.persons.try_emplace(id);
  if (fresh) {
    touch(*e, dirty_.persons);
    // Kafka: the identity partition learns where the person is known.
    if (fanning()) {
      const int32_t home = identity_home(id);
      if (home != topology_.partition) {
        IdentityOut out;
        out.to = home;
        out.kind = fb::IdentityFactKind::home;
        out.person = id;
        outbox_.push_back(out);
      }
    }
  }
  return *e;
}

bool treasury_wide(fb::Payload t) noexcept {
  return t == fb::Payload::CalendarOverride || t == fb::Payload::ServiceHoursNotice ||
         t == fb::Payload::ServiceSuspension || t == fb::Payload::IdentityPolicy;
}

int32_t client_partition(std::string_view client, int32_t partitions) noexcept {
  if (partitions <= 1) return 0;
  // Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), seed 0x9747b28c.
  constexpr uint32_t m = 0x5bd1e995;
  const auto* data = reinterpret_cast<const uint8_t*>(client.data());
  const auto length = static_cast<uint32_t>(client.size());
  uint32_t h = 0x9747b28cU ^ length;
  const uint32_t length4 = length / 4;
  for (uint32_t i = 0; i < length4; ++i) {
    const uint32_t i4 = i * 4;
    uint32_t k = data[i4] | (static_cast<uint32_t>(data[i4 + 1]) << 8) | (static_cast<uint32_t>(data[i4 + 2]) << 16) |
                 (static_cast<uint32_t>(data[i4 + 3]) << 24);
    k *= m;
    k ^= k >> 24;
    k *= m;
    h *= m;
    h ^= k;
  }
  const uint32_t tail = length & ~3U;
  switch (length % 4) {
    case 3: h ^= static_cast<uint32_t>(data[tail + 2]) << 16; [[fallthrough]];
    case 2: h ^= static_cast<uint32_t>(data[tail + 1]) << 8; [[fallthrough]];
    case 1:
      h ^= data[tail];
      h *= m;
      break;
    default: break;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>((h & 0x7fffffffU) % static_cast<uint32_t>(partitions));
}

int32_t identity_partition(std::string_view person, int32_t partitions) noexcept {
  if (partitions <= 1) return 0;
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a: stable across builds and machines
  for (const char c : person) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ULL;
  return static_cast<int32_t>(h % static_cast<uint64_t>(partitions));
}

std::string_view identity_subject(const fb::Request& r) noexcept {
  switch (r.payload_type()) {
    case Payload::LoginAttempt:
    case Payload::BreachReported: return sv(r.actor());
    case Payload::MeansBlocked: return sv(r.payload_as_MeansBlocked()->person());
    case Payload::MeansRestored: return sv(r.payload_as_MeansRestored()->person());
    case Payload::MeansRegistered: return sv(r.payload_as_MeansRegistered()->person());
    case Payload::MeansActivated: return sv(r.payload_as_MeansActivated()->person());
    default: return {};
  }
}

int32_t Engine::identity_home(NameId person) const {
  return identity_partition(state_.names.name(person), topology_.partitions);
}

void Engine::send_state(const PersonEntry& e, int32_t to) {
  const Person& p = e.second;
  IdentityOut out;
  out.to = to;
  out.kind = fb::IdentityFactKind::state;
  out.person = e.first;
  out.block = p.block;
  out.blocked_means = p.blocked_means;
  out.means_registered = p.means_registered;
  out.means_exception = p.means_exception;
  out.means_activated = p.means_activated;
  outbox_.push_back(out);
}

void Engine::identity_changed(PersonEntry& e, IdentityOut change) {
  if (!fanning()) return;
  const int32_t home = identity_home(e.first);
  if (home != topology_.partition) {
    change.to = home;
    change.kind = fb::IdentityFactKind::changed;
    change.person = e.first;
    outbox_.push_back(change);
    return;
  }
  for (const int32_t to : e.second.homes)
    if (to != topology_.partition) send_state(e, to);
}

Verdict Engine::on_identity_fact(const fb::IdentityFact& f) {
  if (!valid_name(sv(f.person())) || f.kind() > fb::IdentityFactKind::MAX || f.partition() < 0 ||
      f.block() > fb::BlockCause::MAX || f.blocked_means() > fb::Means::MAX)
    return Verdict::reject(r::kValueInvalid, "R28");
  if (tracing()) {
    // For `kase audit explain`: where the fact came from and what it says.
    std::string d = std::string("kind ") + fb::EnumNameIdentityFactKind(f.kind()) + " about " +
                    std::string(sv(f.person())) + " from partition " + std::to_string(f.partition()) +
                    ", caused by request " + std::string(sv(f.origin()));
    if (f.kind() != fb::IdentityFactKind::home) {
      d += std::string("; block ") + fb::EnumNameBlockCause(f.block()) + " (means " +
           fb::EnumNameMeans(f.blocked_means()) + ")" + (f.restored() ? ", restored" : "") +
           "; means registered bits " + std::to_string(f.means_registered()) + ", activated bits " +
           std::to_string(f.means_activated());
    }
    note("identity.fact", "R28", true, std::move(d));
  }
  PersonEntry& e = person(state_.names.intern(sv(f.person())));
  Person& p = e.second;
  auto add_home = [&](int32_t partition) {
    auto it = std::lower_bound(p.homes.begin(), p.homes.end(), partition);
    if (it != p.homes.end() && *it == partition) return false;
    p.homes.insert(it, partition);
    return true;
  };
  auto set_means = [&](uint8_t registered, uint8_t exception, uint8_t activated) {
    if (p.means_registered == 0 && registered != 0) ++state_.persons_with_means;
    if (p.means_registered != 0 && registered == 0) --state_.persons_with_means;
    p.means_registered = registered;
    p.means_exception = exception;
    p.means_activated = activated;
  };
  auto set_block = [&](fb::BlockCause cause, fb::Means means) {
    if (p.block == fb::BlockCause::none && cause != fb::BlockCause::none) ++state_.blocked_persons;
    if (p.block != fb::BlockCause::none && cause == fb::BlockCause::none) {
      --state_.blocked_persons;
      p.failures = 0;  // as a restoration here would (R29)
      p.short_intervals = 0;
    }
    p.block = cause;
    p.blocked_means = cause == fb::BlockCause::none ? fb::Means::unknown : means;
  };
  touch(e, dirty_.persons);
  switch (f.kind()) {
    case fb::IdentityFactKind::home: {
      // The person is known in another partition: it gets the identity as it stands.
      const bool fresh = add_home(f.partition());
      if (fresh && fanning() && f.partition() != topology_.partition &&
          (p.block != fb::BlockCause::none || p.means_registered != 0))
        send_state(e, f.partition());
      return Verdict::ok("R25");
    }
    case fb::IdentityFactKind::changed: {
      // Decided in another partition (an R28.4 block, or a request produced
      // there): taken into the person's identity, then sent to every home.
      (void)add_home(f.partition());
      if (f.block() != fb::BlockCause::none && p.block == fb::BlockCause::none) set_block(f.block(), f.blocked_means());
      if (f.restored() && p.block != fb::BlockCause::none) set_block(fb::BlockCause::none, fb::Means::unknown);
      set_means(p.means_registered | f.means_registered(), p.means_exception | f.means_exception(),
                p.means_activated | f.means_activated());
      if (fanning())
        for (const int32_t to : p.homes)
          if (to != topology_.partition) send_state(e, to);
      return Verdict::ok("R28");
    }
    case fb::IdentityFactKind::state:
      // The identity partition's word on the person.
      set_block(f.block(), f.blocked_means());
      set_means(f.means_registered(), f.means_exception(), f.means_activated());
      return Verdict::ok("R28");
  }
  return Verdict::reject(r::kValueInvalid, "R28");
}

Verdict Engine::check_not_blocked(const fb::Request& req) const {
  const Person* p = nullptr;
  if (const auto* e = state_.persons.find(state_.names.find(sv(req.actor())))) p = &e->second;
  if (p == nullptr || p->block == fb::BlockCause::none) return Verdict::ok("R28");
  const BlockName b = block_name(p->block);
  return Verdict::reject(b.reason, b.rule);
}

void Engine::block(PersonEntry& p, fb::BlockCause cause, fb::Means means) {
  if (p.second.block == fb::BlockCause::none) ++state_.blocked_persons;
  p.second.block = cause;
  p.second.blocked_means = means;
  touch(p, dirty_.persons);
  IdentityOut change;
  change.block = cause;
  change.blocked_means = means;
  identity_changed(p, change);
}

Verdict Engine::on_login(const fb::Request& req, const fb::LoginAttempt& p) {
  // R25: the Treasury identifies users by their means; a person it never
  // registered (no rights, not a representative) is not identified.
  if (p.means() > fb::Means::MAX) return Verdict::reject(r::kValueInvalid, "R25");
  auto* e = state_.persons.find(state_.names.find(sv(req.actor())));
  if (tracing()) note("identity.known", "R25", e != nullptr,
       "person " + std::string(sv(req.actor())) + (e != nullptr ? " is known to the Treasury" : " is not known"));
  if (e == nullptr) return Verdict::reject(r::kUnknownPerson, "R25");
  Person& person = e->second;
  if (tracing())
    note("login.credentials", "R28.1", p.success(),
         std::string(p.success() ? "correct" : "wrong") + " entry with " + fb::EnumNameMeans(p.means()) + "; " +
             std::to_string(person.failures) + " consecutive wrong entries before, block at " +
             std::to_string(state_.identity_policy.failures_to_block));
  if (p.success()) {
    if (person.failures != 0) {
      person.failures = 0;  // R28.1: a success resets the count
      touch(*e, dirty_.persons);
    }
    return Verdict::ok("R25");
  }
  // A failed login is refused and counted (the count is state, decided here).
  ++person.failures;
  touch(*e, dirty_.persons);
  Verdict v = Verdict::reject(r::kLoginFailed, "R28.1");
  v.amount = person.failures;
  v.limit = state_.identity_policy.failures_to_block;
  if (person.failures >= state_.identity_policy.failures_to_block) {
    block(*e, fb::BlockCause::wrong_credentials, p.means());
    v.reason = r::kBlockedWrongCredentials;
  }
  return v;
}

Verdict Engine::on_breach_reported(const fb::Request& req) {
  // R27, R28.3: the user's own report blocks the means at once.
  const fb::Means means = req.payload_as_BreachReported()->means();
  if (means > fb::Means::MAX) return Verdict::reject(r::kValueInvalid, "R28.3");
  auto* e = state_.persons.find(state_.names.find(sv(req.actor())));
  if (e == nullptr) return Verdict::reject(r::kUnknownPerson, "R25");
  block(*e, fb::BlockCause::reported_by_user, means);
  return Verdict::ok("R28.3");
}

Verdict Engine::on_means_blocked(const fb::MeansBlocked& p) {
  auto* e = state_.persons.find(state_.names.find(sv(p.person())));
  if (tracing()) note("identity.known", "R25", e != nullptr, "person " + std::string(sv(p.person())));
  if (e == nullptr) return Verdict::reject(r::kUnknownPerson, "R25");
  if (tracing()) note("block.cause", "R28.2",
       p.cause() == fb::BlockCause::suspicion || p.cause() == fb::BlockCause::reported_by_user,
       std::string("cause ") + (p.cause() <= fb::BlockCause::MAX ? fb::EnumNameBlockCause(p.cause()) : "?") +
           "; the Treasury blocks on suspicion or report");
  // Wrong entries (R28.1) and request rates (R28.4) are decided by the engine
  // from the events themselves; the Treasury blocks on suspicion or report.
  if (p.cause() != fb::BlockCause::suspicion && p.cause() != fb::BlockCause::reported_by_user)
    return Verdict::reject(r::kValueInvalid, "R28.2");
  block(*e, p.cause(), fb::Means::unknown);
  return Verdict::ok(block_name(p.cause()).rule);
}

Verdict Engine::on_means_restored(const fb::MeansRestored& p) {
  auto* e = state_.persons.find(state_.names.find(sv(p.person())));
  if (e == nullptr) return Verdict::reject(r::kUnknownPerson, "R25");
  Person& person = e->second;
  if (tracing()) note("identity.blocked", "R29", person.block != fb::BlockCause::none,
       std::string("block ") + fb::EnumNameBlockCause(person.block) + ", blocked means " +
           fb::EnumNameMeans(person.blocked_means));
  if (person.block == fb::BlockCause::none) return Verdict::reject(r::kNotBlocked, "R29");
  const fb::Means m = person.blocked_means;
  bool allowed = false;
  const char* rule = p.by_application() ? "R29.2" : "R29.1";
  if (!p.by_application()) {
    // R29.1, by phone to the support service: wrong user name, password or code-card code.
    allowed = person.block == fb::BlockCause::wrong_credentials &&
              (m == fb::Means::unified_login || m == fb::Means::code_card || m == fb::Means::unknown);
  } else {
    // R29.2, by application (annex 6): wrong user name or calculator code, and
    // blocks under R27 or R28.2; a R28.4 block too (the rule names no other way).
    allowed = (person.block == fb::BlockCause::wrong_credentials &&
               (m == fb::Means::unified_login || m == fb::Means::code_calculator || m == fb::Means::unknown)) ||
              person.block == fb::BlockCause::suspicion || person.block == fb::BlockCause::reported_by_user ||
              person.block == fb::BlockCause::request_rate;
  }
  if (tracing()) note("restoration.way", rule, allowed,
       std::string(p.by_application() ? "by application (R29.2)" : "by the support service (R29.1)") + " for block " +
           fb::EnumNameBlockCause(person.block));
  if (!allowed) return Verdict::reject(r::kRestorationNotAllowed, rule);
  person.block = fb::BlockCause::none;
  person.blocked_means = fb::Means::unknown;
  person.failures = 0;
  person.short_intervals = 0;
  --state_.blocked_persons;
  touch(*e, dirty_.persons);
  IdentityOut change;
  change.restored = true;
  identity_changed(*e, change);
  return Verdict::ok(rule);
}

bool Engine::count_online_request(NameId user, const RigaTime& t, int64_t intake_us) {
  PersonEntry& e = person(user);
  Person& p = e.second;
  bool short_interval = p.last_online_us != 0 && intake_us - p.last_online_us < state_.identity_policy.request_interval_us;
  p.last_online_us = intake_us;
  touch(e, dirty_.persons);
  if (!short_interval) return false;
  // R28.4, "repeatedly": the policy's number of short intervals in one business day.
  if (p.short_day != t.date) {
    p.short_day = t.date;
    p.short_intervals = 0;
  }
  ++p.short_intervals;
  if (p.short_intervals < state_.identity_policy.short_intervals_to_block) return false;
  block(e, fb::BlockCause::request_rate, fb::Means::x509_certificate);
  return true;
}

Verdict Engine::on_online_request(const fb::Request& req, const RigaTime& t, const fb::OnlineDataRequest& p) {
  if (req.channel() != fb::Channel::online) return Verdict::reject(r::kWrongChannel, "R8.9");
  const NameId user = state_.names.find(sv(req.actor()));
  ActingRights rights;
  if (Verdict v = acting_rights(state_.names.find(sv(req.client_id())), user,
                                state_.names.find(sv(p.account())), t, req.means(), &rights, Tracing{trace_});
      !v.accepted)
    return v;
  const AccessMode mode = rights.grant->mode;
  if (mode != AccessMode::online_view && mode != AccessMode::online_manage)
    return Verdict::reject(r::kNotOnlineMode, rule_of(mode));
  if (count_online_request(user, t, req.intake_us())) {
    Verdict v = Verdict::reject(r::kBlockedRequestRate, "R28.4");
    v.amount = state_.identity_policy.short_intervals_to_block;
    return v;
  }
  return Verdict::ok(rule_of(mode));
}

Verdict Engine::on_identity_policy(const fb::IdentityPolicy& p) {
  if (p.failures_to_block() < 1 || p.failures_to_block() > 20 || p.request_interval_seconds() < 1 ||
      p.request_interval_seconds() > 24 * 3600 || p.short_intervals_to_block() < 1)
    return Verdict::reject(r::kValueInvalid, "R28.4");
  state_.identity_policy.failures_to_block = p.failures_to_block();
  state_.identity_policy.request_interval_us = static_cast<int64_t>(p.request_interval_seconds()) * 1000 * 1000;
  state_.identity_policy.short_intervals_to_block = p.short_intervals_to_block();
  dirty_.settings = true;
  return Verdict::ok("R28.4");
}

// ---- Applications (R3–R5, R7, R18, R20, R30, R31) -----------------------------------

namespace {

/// The rule that makes a kind "one application per user".
const char* one_per_user_rule(fb::ApplicationKind k) {
  switch (k) {
    case fb::ApplicationKind::eplans_eestimates: return "R5";
    case fb::ApplicationKind::ekase: return "R7";
    case fb::ApplicationKind::ereports_users: return "R18";
    case fb::ApplicationKind::eloans: return "R20";
    default: return nullptr;
  }
}

}  // namespace

Verdict Engine::on_application_submitted(const fb::Request& req, const fb::ApplicationSubmitted& p) {
  if (!valid_name(sv(p.application())) || !valid_name(sv(p.user())) || p.kind() > fb::ApplicationKind::MAX)
    return Verdict::reject(r::kValueInvalid, "R3");
  // R10 (schema version 2): owner permissions travel on eKase applications, one
  // per named foreign account. Version 1 had no such field (R42).
  const auto* permissions =
      req.schema_version() >= kSchemaVersionGrantsUnderApplications ? p.owner_permissions() : nullptr;
  if (permissions != nullptr && permissions->size() > 0) {
    if (p.kind() != fb::ApplicationKind::ekase || permissions->size() > kOwnerPermissionsPerApplicationMax)
      return Verdict::reject(r::kValueInvalid, "R10");
    for (const fb::OwnerPermission* op : *permissions) {
      if (!valid_name(sv(op->account())) || sv(op->digest()).empty())
        return Verdict::reject(r::kValueInvalid, "R10");
    }
  }
  // R3: each document signed separately, with a signature time stamp and its digest.
  if (sv(p.signer()).empty() || p.signed_us() <= 0) return Verdict::reject(r::kApplicationUnsigned, "R3");
  if (sv(p.digest()).empty()) return Verdict::reject(r::kApplicationNoDigest, "R3");
  if (p.signed_us() > req.intake_us()) return Verdict::reject(r::kApplicationSignedInFuture, "R3");
  // R4: signed by a person entitled to represent the client or authorised by it.
  const NameId client = state_.names.find(sv(req.client_id()));
  const NameId signer = state_.names.find(sv(p.signer()));
  const bool representative =
      client != kNoName && signer != kNoName && state_.representatives.find(pair_key(client, signer)) != nullptr;
  if (tracing()) note("application.signer", "R4", representative,
       "signer " + std::string(sv(p.signer())) + (representative ? " is" : " is not") +
           " a registered representative of client " + std::string(sv(req.client_id())));
  if (!representative) return Verdict::reject(r::kApplicationSignerNotRepresentative, "R4");
  if (state_.applications.count(state_.names.find(sv(p.application()))) != 0)
    return Verdict::reject(r::kApplicationExists, "R3");
  auto [e, fresh] = state_.applications.try_emplace(state_.names.intern(sv(p.application())));
  (void)fresh;
  Application& a = e->second;
  a.client = client;
  a.user = state_.names.intern(sv(p.user()));
  a.kind = p.kind();
  a.signed_us = p.signed_us();
  a.submitted_us = req.intake_us();
  if (permissions != nullptr) {
    for (const fb::OwnerPermission* op : *permissions)
      a.permitted_accounts.push_back(state_.names.intern(sv(op->account())));
  }
  touch(*e, dirty_.applications);
  return Verdict::ok("R3");
}

Verdict Engine::on_application_registered(const fb::Request& req, const RigaTime& t,
                                          const fb::ApplicationRegistered& p) {
  auto* e = state_.applications.find(state_.names.find(sv(p.application())));
  if (e == nullptr || e->second.client != state_.names.find(sv(req.client_id())))
    return Verdict::reject(r::kApplicationUnknown, "R22");
  Application& a = e->second;
  if (tracing()) note("application.pending", "R22", a.status == ApplicationStatus::submitted, application_detail(e->first, t));
  if (a.status != ApplicationStatus::submitted) return Verdict::reject(r::kApplicationNotPending, "R22");
  a.status = ApplicationStatus::in_force;
  a.registered_us = req.intake_us();
  touch(*e, dirty_.applications);

  // R10: the owners' permissions the application carries now stand for the client.
  for (const NameId account : a.permitted_accounts) {
    auto [pit, pnew] = state_.permissions.try_emplace(pair_key(a.client, account));
    if (pnew) touch(*pit, dirty_.permissions);
  }
  InForce& current = state_.in_force[pair_key(a.user, a.client)];

  if (const char* rule = one_per_user_rule(a.kind)) {
    // R31: valid three years from registration (same Riga calendar day).
    a.lapses_on = ymd_from_days(days_from_civil(t.date / 10000 + 3, static_cast<uint32_t>(t.date / 100 % 100),
                                                static_cast<uint32_t>(t.date % 100)));
    // R5, R7, R18, R20: one application per user; the newer supersedes the older.
    NameId& slot = current.by_kind[static_cast<size_t>(a.kind)];
    if (slot != kNoName) {
      if (auto* old = state_.applications.find(slot)) {
        old->second.status = ApplicationStatus::superseded;
        touch(*old, dirty_.applications);
        share_application(old->first, old->second);
      }
    }
    slot = e->first;
    return Verdict::ok(rule);
  }
  if (a.kind == fb::ApplicationKind::termination) {
    // R30: the user stops; every application in force for this client ends and
    // no right of the user for this client is left.
    for (NameId& slot : current.by_kind) {
      if (slot == kNoName) continue;
      if (auto* old = state_.applications.find(slot)) {
        old->second.status = ApplicationStatus::terminated;
        touch(*old, dirty_.applications);
        share_application(old->first, old->second);
      }
      slot = kNoName;
    }
    for (const auto& entry : state_.grants) {
      if (first_of(entry.first) != a.user || entry.second.client != a.client ||
          entry.second.mode == AccessMode::none)
        continue;
      revoke(*state_.grants.find(entry.first));
    }
    // ... and in ePlans, eEstimates, eReports and eLoans.
    std::vector<const std::pair<const RightKey, ServiceRight>*> ended;
    for (const auto& entry : state_.service_rights) {
      if (entry.first.user != a.user || entry.first.client != a.client || entry.second.mode == 0) continue;
      auto* sr = state_.service_rights.find(entry.first);
      sr->second.mode = 0;
      sr->second.groups = 0;
      touch(*sr, dirty_.service_rights);
      if (fanning() && sr->first.kind != RightKind::loan) ended.push_back(sr);
    }
    // Shared in an order a re-fold from the persisted state repeats (the
    // table's own order is the order entries were made or loaded in).
    std::sort(ended.begin(), ended.end(), [&](const auto* x, const auto* y) {
      const auto scope = [&](const RightKey& k) {
        return k.kind == RightKind::report ? std::string(state_.names.name(k.scope)) : std::to_string(k.scope);
      };
      return std::pair(static_cast<uint8_t>(x->first.kind), scope(x->first)) <
             std::pair(static_cast<uint8_t>(y->first.kind), scope(y->first));
    });
    for (const auto* sr : ended) share_right(sr->first, sr->second);
    return Verdict::ok("R30");
  }
  return Verdict::ok(a.kind == fb::ApplicationKind::ekase_limit_change ? "R14" : "R29.2");
}

Verdict Engine::on_applications_annulled(const fb::Request& req) {
  // R31: a reorganised or liquidated client: every application of it ends.
  const NameId client = state_.names.find(sv(req.client_id()));
  if (client == kNoName) return Verdict::reject(r::kApplicationUnknown, "R31");
  std::vector<const std::pair<const NameId, Application>*> annulled;
  for (const auto& entry : state_.applications) {
    if (entry.second.client != client) continue;
    if (entry.second.status != ApplicationStatus::submitted && entry.second.status != ApplicationStatus::in_force)
      continue;
    auto* a = state_.applications.find(entry.first);
    a->second.status = ApplicationStatus::annulled;
    touch(*a, dirty_.applications);
    if (fanning()) annulled.push_back(a);
    if (auto* cur = state_.in_force.find(pair_key(a->second.user, client)))
      cur->second.by_kind[static_cast<size_t>(a->second.kind)] = kNoName;
  }
  // Shared in an order a re-fold from the persisted state repeats.
  std::sort(annulled.begin(), annulled.end(),
            [&](const auto* x, const auto* y) { return state_.names.name(x->first) < state_.names.name(y->first); });
  for (const auto* a : annulled) share_application(a->first, a->second);
  return Verdict::ok("R31");
}

Verdict Engine::check_application(NameId application, const char* rule, const RigaTime& t) const {
  const auto* e = state_.applications.find(application);
  if (e == nullptr) return Verdict::reject(r::kApplicationUnknown, rule);
  switch (e->second.status) {
    case ApplicationStatus::superseded: return Verdict::reject(r::kApplicationSuperseded, rule);
    case ApplicationStatus::terminated: return Verdict::reject(r::kApplicationTerminated, "R30");
    case ApplicationStatus::annulled: return Verdict::reject(r::kApplicationAnnulled, "R31");
    case ApplicationStatus::submitted: return Verdict::reject(r::kApplicationNotInForce, rule);
    case ApplicationStatus::in_force: break;
  }
  if (e->second.lapses_on != 0 && t.date >= e->second.lapses_on) return Verdict::reject(r::kApplicationLapsed, "R31");
  return Verdict::ok("R31");
}

Verdict Engine::grant_application(const fb::Request& req, const flatbuffers::String* application,
                                  fb::ApplicationKind kind, const flatbuffers::String* user, const char* rule,
                                  NameId* out) {
  *out = kNoName;
  // R42: before schema version 2 rights could be granted without an application
  // (they stand until revoked); from version 2 every grant names the one it stands on.
  const bool required = req.schema_version() >= kSchemaVersionGrantsUnderApplications;
  if (sv(application).empty()) {
    if (tracing())
      note("application.in_force", rule, !required,
           required ? std::string("no application named; needs a registered ") + fb::EnumNameApplicationKind(kind) +
                          " application of user " + std::string(sv(user)) + " and client " +
                          std::string(sv(req.client_id()))
                    : std::string("no application named: stands until revoked (schema version 1)"));
    return required ? Verdict::reject(r::kGrantApplicationMissing, rule) : Verdict::ok(rule);
  }
  const NameId u = state_.names.find(sv(user));
  const NameId client = state_.names.find(sv(req.client_id()));
  auto* app = state_.applications.find(state_.names.find(sv(application)));
  const bool matches = app != nullptr && app->second.kind == kind && u != kNoName && app->second.user == u &&
                       app->second.client == client;
  bool fits = matches && app->second.status == ApplicationStatus::in_force;
  Verdict in_force = Verdict::ok(rule);
  if (required && matches) {
    // R31 (version 2): superseded, lapsed, terminated or annulled, each by its code.
    in_force = check_application(app->first, rule, riga_time(req.intake_us()));
    fits = in_force.accepted;
  }
  if (tracing())
    note("application.in_force", rule, fits,
         (app == nullptr ? "application " + std::string(sv(application)) + " unknown"
                         : application_detail(app->first, riga_time(req.intake_us())) + ", kind " +
                               fb::EnumNameApplicationKind(app->second.kind) + " for user " + name_of(app->second.user) +
                               " and client " + name_of(app->second.client)) +
             "; needs a registered " + fb::EnumNameApplicationKind(kind) + " application of user " +
             std::string(sv(user)) + " and client " + std::string(sv(req.client_id())));
  if (!in_force.accepted) return in_force;
  if (!fits) return Verdict::reject(r::kApplicationNotInForce, rule);
  *out = app->first;
  if (app->second.attached_us == 0) {
    // R22.2: the first attachment of services and modes under the application.
    app->second.attached_us = req.intake_us();
    touch(*app, dirty_.applications);
  }
  return Verdict::ok(rule);
}

// ---- Means per mode (R22–R24) ------------------------------------------------------

namespace {
constexpr uint8_t bit(fb::Means m) {
  return m > fb::Means::MAX ? uint8_t{0} : static_cast<uint8_t>(1u << static_cast<unsigned>(m));
}
bool is_code_means(fb::Means m) { return m == fb::Means::code_card || m == fb::Means::code_calculator; }
}  // namespace

std::string Engine::means_detail(NameId client, NameId user, AccessMode mode, fb::Means means) const {
  const auto list = [](uint8_t bits) {
    std::string out;
    for (int m = 1; m <= static_cast<int>(fb::Means::MAX); ++m)
      if ((bits & (1u << m)) != 0) out += std::string(out.empty() ? "" : " ") + fb::EnumNameMeans(static_cast<fb::Means>(m));
    return out.empty() ? std::string("none") : out;
  };
  std::string d = std::string("session means ") + (means <= fb::Means::MAX ? fb::EnumNameMeans(means) : "?") +
                  " for mode " + fb::EnumNameAccessMode(mode);
  if (mode == AccessMode::online_view || mode == AccessMode::online_manage)
    d += std::string("; client's data exchange ") +
         (state_.data_exchange.find(client) != nullptr ? "established" : "not established") + " (R24)";
  const auto* e = user == kNoName ? nullptr : state_.persons.find(user);
  if (e == nullptr || e->second.means_registered == 0) return d + "; no means recorded: identified by the channel";
  return d + "; registered [" + list(e->second.means_registered) + "], exception [" +
         list(e->second.means_exception) + "], activated [" + list(e->second.means_activated) + "]";
}

Verdict Engine::check_means(NameId client, NameId user, AccessMode mode, fb::Means means) const {
  const bool online = mode == AccessMode::online_view || mode == AccessMode::online_manage;
  // R24: online modes work only once the client's data exchange is established.
  if (online && state_.data_exchange.find(client) == nullptr)
    return Verdict::reject(r::kDataExchangeNotEstablished, "R24");
  if (state_.persons_with_means == 0) return Verdict::ok("R22");
  const auto* e = state_.persons.find(user);
  // People whose means the Treasury has not recorded (before R22 registration
  // was kept in the log) are identified by the channel alone.
  if (e == nullptr || e->second.means_registered == 0) return Verdict::ok("R22");
  const Person& p = e->second;
  if (means == fb::Means::unknown) return Verdict::reject(r::kMeansNotStated, "R25");
  if ((p.means_registered & bit(means)) == 0) return Verdict::reject(r::kMeansNotRegistered, "R25");
  if (online) {
    // R22.1.3: an X.509 authentication certificate.
    if (means != fb::Means::x509_certificate) return Verdict::reject(r::kMeansTooWeak, "R22.1.3");
    return Verdict::ok("R22.1.3");
  }
  if (mode >= AccessMode::signature_1 && mode <= AccessMode::signature_4) {
    // R22.1.2: qualified high-assurance means; code card or calculator only as
    // a recorded Treasury exception, and after activation (R24).
    if (means == fb::Means::esignature_card || means == fb::Means::eid_card) return Verdict::ok("R22.1.2");
    if (!is_code_means(means)) return Verdict::reject(r::kMeansTooWeak, "R22.1.2");
    if ((p.means_exception & bit(means)) == 0) return Verdict::reject(r::kMeansExceptionOnly, "R22.1.2");
    if ((p.means_activated & bit(means)) == 0) return Verdict::reject(r::kMeansNotActivated, "R24");
    return Verdict::ok("R22.1.2");
  }
  // R22.1.1: means supported by the Unified Login Module (R8.1–R8.4).
  if (means == fb::Means::unified_login || means == fb::Means::esignature_card || means == fb::Means::eid_card)
    return Verdict::ok("R22.1.1");
  if (is_code_means(means) && (p.means_activated & bit(means)) == 0)
    return Verdict::reject(r::kMeansNotActivated, "R24");
  if (is_code_means(means)) return Verdict::ok("R22.1.1");
  return Verdict::reject(r::kMeansTooWeak, "R22.1.1");
}

Verdict Engine::on_means_registered(const fb::MeansRegistered& p) {
  auto* e = state_.persons.find(state_.names.find(sv(p.person())));
  if (e == nullptr) return Verdict::reject(r::kUnknownPerson, "R25");
  if (p.means() == fb::Means::unknown || p.means() > fb::Means::MAX) return Verdict::reject(r::kValueInvalid, "R22");
  Person& person = e->second;
  const uint8_t b = bit(p.means());
  // R23: a person who already holds the means keeps using them.
  if ((person.means_registered & b) != 0 && (!p.exception() || (person.means_exception & b) != 0))
    return Verdict::ok("R23");
  if (person.means_registered == 0) ++state_.persons_with_means;
  person.means_registered |= b;
  if (p.exception()) person.means_exception |= b;
  touch(*e, dirty_.persons);
  IdentityOut change;
  change.means_registered = b;
  change.means_exception = p.exception() ? b : 0;
  identity_changed(*e, change);
  return Verdict::ok("R22.1");
}

Verdict Engine::on_means_activated(const fb::MeansActivated& p) {
  auto* e = state_.persons.find(state_.names.find(sv(p.person())));
  if (e == nullptr) return Verdict::reject(r::kUnknownPerson, "R25");
  const uint8_t b = bit(p.means());
  if (!is_code_means(p.means()) || (e->second.means_registered & b) == 0)
    return Verdict::reject(r::kMeansNotRegistered, "R24");
  e->second.means_activated |= b;
  touch(*e, dirty_.persons);
  IdentityOut change;
  change.means_activated = b;
  identity_changed(*e, change);
  return Verdict::ok("R24");
}

Verdict Engine::on_data_exchange(const fb::Request& req, const fb::DataExchangeEstablished&) {
  if (!valid_name(sv(req.client_id()))) return Verdict::reject(r::kValueInvalid, "R24");
  const NameId client = state_.names.intern(sv(req.client_id()));
  auto [e, fresh] = state_.data_exchange.try_emplace(client);
  if (fresh) touch(*e, dirty_.data_exchange);
  return Verdict::ok("R24");
}

// ---- Messages (R36) -----------------------------------------------------------------

Verdict Engine::on_message_posted(const fb::Request& req, const fb::MessagePosted& p) {
  if (!valid_name(sv(p.message())) || !valid_name(sv(req.client_id()))) return Verdict::reject(r::kValueInvalid, "R36");
  if (state_.messages.count(state_.names.find(sv(p.message()))) != 0) return Verdict::reject(r::kMessageExists, "R36");
  auto [e, fresh] = state_.messages.try_emplace(state_.names.intern(sv(p.message())));
  (void)fresh;
  e->second.client = state_.names.intern(sv(req.client_id()));
  e->second.posted_us = req.intake_us();
  touch(*e, dirty_.messages);
  return Verdict::ok("R36");
}

Verdict Engine::on_message_read(const fb::Request& req, const fb::MessageRead& p) {
  const auto* m = state_.messages.find(state_.names.find(sv(p.message())));
  if (m == nullptr || m->second.client != state_.names.find(sv(req.client_id())))
    return Verdict::reject(r::kMessageUnknown, "R36");
  const NameId user = state_.names.find(sv(req.actor()));
  if (user == kNoName || state_.persons.find(user) == nullptr) return Verdict::reject(r::kUnknownPerson, "R25");
  auto [e, fresh] = state_.message_reads.try_emplace(pair_key(m->first, user));
  if (fresh) touch(*e, dirty_.message_reads);
  return Verdict::ok("R36");
}

std::vector<OverdueMessage> overdue_messages(const State& s, int64_t now_us) {
  std::vector<OverdueMessage> out;
  for (const auto& [id, m] : s.messages) {
    if (now_us - m.posted_us <= kMessageReadPeriodUs) continue;
    // The client's users: people holding a live grant for it (each once).
    std::vector<NameId> users;
    for (const auto& [k, g] : s.grants)
      if (g.client == m.client && g.mode != AccessMode::none) users.push_back(first_of(k));
    std::sort(users.begin(), users.end());
    users.erase(std::unique(users.begin(), users.end()), users.end());
    for (const NameId u : users) {
      if (s.message_reads.find(pair_key(id, u)) != nullptr) continue;
      out.push_back({std::string(s.names.name(m.client)), std::string(s.names.name(u)), std::string(s.names.name(id)),
                     m.posted_us});
    }
  }
  std::sort(out.begin(), out.end(), [](const OverdueMessage& a, const OverdueMessage& b) {
    return std::tie(a.client, a.user, a.message) < std::tie(b.client, b.user, b.message);
  });
  return out;
}

// ---- Registration and attachment deadlines (R22) ----------------------------------

DateYmd add_business_days(const BusinessCalendar& c, DateYmd from, int n) {
  int64_t day = days_from_ymd(from);
  for (int found = 0; found < n;) {
    ++day;
    if (c.is_business_day(ymd_from_days(day))) ++found;
  }
  return ymd_from_days(day);
}

std::vector<LateApplication> late_applications(const State& s, int64_t now_us) {
  std::vector<LateApplication> out;
  const DateYmd today = riga_time(now_us).date;
  for (const auto& entry : s.applications) {
    // Named, not a structured binding: clang 14 cannot capture those in the lambda below.
    const NameId id = entry.first;
    const Application& a = entry.second;
    if (a.status == ApplicationStatus::annulled || a.submitted_us == 0) continue;
    const DateYmd submitted = riga_time(a.submitted_us).date;
    auto add = [&](const char* step, const char* rule, DateYmd deadline, int64_t done_us) {
      LateApplication l;
      l.client = s.names.name(a.client);
      l.application = s.names.name(id);
      l.user = s.names.name(a.user);
      l.kind = a.kind;
      l.step = step;
      l.rule = rule;
      l.deadline = deadline;
      l.done_us = done_us;
      out.push_back(std::move(l));
    };
    // R22.1: registered within 1 business day.
    const DateYmd reg_deadline = add_business_days(s.calendar, submitted, 1);
    if (a.registered_us != 0 ? riga_time(a.registered_us).date > reg_deadline
                             : (a.status == ApplicationStatus::submitted && today > reg_deadline))
      add("registration", "R22.1", reg_deadline, a.registered_us);
    // R22.2: services and modes attached within 3 business days (applications that grant rights).
    const bool grants_rights = a.kind == fb::ApplicationKind::eplans_eestimates || a.kind == fb::ApplicationKind::ekase ||
                               a.kind == fb::ApplicationKind::ereports_users || a.kind == fb::ApplicationKind::eloans;
    if (!grants_rights) continue;
    const DateYmd attach_deadline = add_business_days(s.calendar, submitted, 3);
    const bool waiting = a.attached_us == 0 &&
                         (a.status == ApplicationStatus::submitted || a.status == ApplicationStatus::in_force);
    if (a.attached_us != 0 ? riga_time(a.attached_us).date > attach_deadline : (waiting && today > attach_deadline))
      add("attachment", "R22.2", attach_deadline, a.attached_us);
  }
  std::sort(out.begin(), out.end(), [](const LateApplication& x, const LateApplication& y) {
    return std::tie(x.client, x.application, x.rule) < std::tie(y.client, y.application, y.rule);
  });
  return out;
}

// ---- Rights in ePlans, eEstimates, eReports and eLoans (R6, R16, R19, R21) --------------

fb::ClientKind Engine::client_kind(NameId client) const {
  const auto* c = state_.clients.find(client);
  return c == nullptr ? fb::ClientKind::other : c->second.kind;
}

uint16_t Engine::roles_of(NameId client, NameId person) const {
  const auto* r = state_.roles.find(pair_key(client, person));
  return r == nullptr ? 0 : r->second.bits;
}

void Engine::set_service_right(const RightKey& k, uint8_t mode, uint8_t groups, NameId application) {
  put_service_right(k, mode, groups, application);
  if (k.kind != RightKind::loan) share_right(k, state_.service_rights.find(k)->second);
}

void Engine::put_service_right(const RightKey& k, uint8_t mode, uint8_t groups, NameId application) {
  auto [e, fresh] = state_.service_rights.try_emplace(k);
  (void)fresh;
  (void)person(k.user);  // R25: a person holding rights is known
  e->second.mode = mode;
  e->second.groups = groups;
  e->second.application = application;
  touch(*e, dirty_.service_rights);
}

bool Engine::attached(NameId client, NameId institution) const {
  for (const auto& [k, st] : state_.structures) {
    if (k.client == client && std::binary_search(st.institutions.begin(), st.institutions.end(), institution))
      return true;
  }
  return false;
}

const Structure* Engine::structure_in_force(NameId client, fb::ReportType type, int32_t year) const {
  const auto t = static_cast<uint8_t>(type);
  if (const auto* e = state_.structures.find(StructureKey{client, t, year})) return &e->second;
  if (type == fb::ReportType::annual) {
    if (const auto* e = state_.structures.find(StructureKey{client, t, year + 1})) return &e->second;
  }
  // R31: a structure stands until a newer one.
  const Structure* best = nullptr;
  int32_t best_year = INT32_MIN;
  for (const auto& [k, st] : state_.structures) {
    if (k.client == client && k.type == t && k.year < year && k.year > best_year) {
      best = &st;
      best_year = k.year;
    }
  }
  return best;
}

Verdict Engine::on_client_registered(const fb::Request& req, const fb::ClientRegistered& p) {
  if (!valid_name(sv(req.client_id())) || p.kind() > fb::ClientKind::MAX) return Verdict::reject(r::kValueInvalid, "R16");
  auto [e, fresh] = state_.clients.try_emplace(state_.names.intern(sv(req.client_id())));
  (void)fresh;
  e->second.kind = p.kind();
  touch(*e, dirty_.clients);
  share_client(e->first, p.kind());
  return Verdict::ok("R16");
}

Verdict Engine::on_roles(const fb::Request& req, const fb::PersonRolesSet& p) {
  if (!valid_name(sv(p.person())) || !valid_name(sv(req.client_id()))) return Verdict::reject(r::kValueInvalid, "R19");
  const NameId client = state_.names.intern(sv(req.client_id()));
  const NameId person = state_.names.intern(sv(p.person()));
  auto [e, fresh] = state_.roles.try_emplace(pair_key(client, person));
  (void)fresh;
  e->second.bits = static_cast<uint16_t>(p.roles());
  touch(*e, dirty_.roles);
  share_roles(client, person, e->second.bits);
  return Verdict::ok("R19");
}

Verdict Engine::on_plan_rights(const fb::Request& req, const fb::PlanRightsGranted& p) {
  const fb::Service service = p.service();
  if (service != fb::Service::eplans && service != fb::Service::eestimates) return Verdict::reject(r::kValueInvalid, "R6");
  if (!valid_name(sv(p.user())) || !valid_name(sv(req.client_id()))) return Verdict::reject(r::kValueInvalid, "R6");
  const bool ministry = client_kind(state_.names.find(sv(req.client_id()))) == fb::ClientKind::ministry;
  const bool estimates = service == fb::Service::eestimates;
  const char* rule = "R6";
  switch (p.mode()) {
    case fb::PlanMode::view: rule = "R6.1"; break;
    case fb::PlanMode::institution_manage:
      rule = "R6.2";  // institution users only
      if (ministry) return Verdict::reject(r::kPlanModeInstitutionsOnly, rule);
      break;
    case fb::PlanMode::approve:
      rule = "R6.3";  // in eEstimates institution users only
      if (estimates && ministry) return Verdict::reject(r::kPlanModeInstitutionsOnly, rule);
      break;
    case fb::PlanMode::sign_head:
      rule = "R6.4";  // signs estimates: eEstimates, institution users only
      if (!estimates) return Verdict::reject(r::kModeNotInService, rule);
      if (ministry) return Verdict::reject(r::kPlanModeInstitutionsOnly, rule);
      break;
    case fb::PlanMode::ministry_manage:
      rule = "R6.5";  // financing plans: ePlans, ministry users only
      if (estimates) return Verdict::reject(r::kModeNotInService, rule);
      if (!ministry) return Verdict::reject(r::kPlanModeMinistriesOnly, rule);
      break;
    default: return Verdict::reject(r::kModeInvalid, "R6");
  }
  NameId application = kNoName;
  if (Verdict v = grant_application(req, p.application(), fb::ApplicationKind::eplans_eestimates, p.user(), "R5",
                                    &application);
      !v.accepted)
    return v;
  set_service_right(RightKey{state_.names.intern(sv(p.user())), state_.names.intern(sv(req.client_id())),
                             static_cast<uint32_t>(service), RightKind::plan},
                    static_cast<uint8_t>(p.mode()), 0, application);
  return Verdict::ok(rule);
}

Verdict Engine::on_structure(const fb::Request& req, const fb::InstitutionStructure& p) {
  const char* rule = p.report_type() == fb::ReportType::annual    ? "R16.1"
                     : p.report_type() == fb::ReportType::periodic ? "R16.2"
                                                                   : "R16.3";
  if (p.report_type() > fb::ReportType::MAX || p.year() < 1900 || p.year() > 9999 || !valid_name(sv(req.client_id())))
    return Verdict::reject(r::kValueInvalid, rule);
  // R16: ministries, central institutions, municipalities, ports, free ports
  // and institutions that aggregate accounting data submit structures.
  switch (client_kind(state_.names.find(sv(req.client_id())))) {
    case fb::ClientKind::ministry:
    case fb::ClientKind::central_institution:
    case fb::ClientKind::municipality:
    case fb::ClientKind::port:
    case fb::ClientKind::free_port:
    case fb::ClientKind::aggregator:
      break;
    default: return Verdict::reject(r::kStructureNotForClientKind, rule);
  }
  std::vector<NameId> institutions;
  if (p.institutions() != nullptr) {
    for (const auto* i : *p.institutions()) {
      if (!valid_name(sv(i))) return Verdict::reject(r::kValueInvalid, rule);
      institutions.push_back(state_.names.intern(sv(i)));
    }
  }
  std::sort(institutions.begin(), institutions.end());
  institutions.erase(std::unique(institutions.begin(), institutions.end()), institutions.end());
  const NameId client = state_.names.intern(sv(req.client_id()));
  // R31: a structure lasts until a newer one for the same type and year.
  auto [e, fresh] =
      state_.structures.try_emplace(StructureKey{client, static_cast<uint8_t>(p.report_type()), p.year()});
  (void)fresh;
  e->second.institutions = std::move(institutions);
  touch(*e, dirty_.structures);
  share_structure(e->first, e->second);
  return Verdict::ok(rule);
}

Verdict Engine::on_report_rights(const fb::Request& req, const fb::ReportRightsGranted& p) {
  if (!valid_name(sv(p.user())) || !valid_name(sv(p.institution())) || !valid_name(sv(req.client_id())))
    return Verdict::reject(r::kValueInvalid, "R19");
  const auto groups = static_cast<uint8_t>(p.groups());
  const auto modes = static_cast<uint8_t>(p.modes());
  if (groups == 0 || modes == 0) return Verdict::reject(r::kModeInvalid, "R19");
  const NameId client = state_.names.find(sv(req.client_id()));
  const NameId institution = state_.names.find(sv(p.institution()));
  // Rights are per attached institution: the client itself or one in its structures (R16).
  if (sv(p.institution()) != sv(req.client_id()) && !attached(client, institution))
    return Verdict::reject(r::kNotInStructure, "R16");
  const uint16_t roles = roles_of(client, state_.names.find(sv(p.user())));
  const auto has = [&](fb::PersonRole r) { return (roles & static_cast<uint16_t>(r)) != 0; };
  const bool auditor = has(fb::PersonRole::sworn_auditor) || has(fb::PersonRole::audit_firm) ||
                       client_kind(client) == fb::ClientKind::state_audit_office;
  const auto mode_on = [&](fb::ReportMode m) { return (modes & static_cast<uint8_t>(m)) != 0; };
  if ((groups & static_cast<uint8_t>(fb::ReportGroup::auditor)) != 0 && !auditor)
    return Verdict::reject(r::kRoleRequired, "R19.1.3");
  if (mode_on(fb::ReportMode::approve) && !auditor) return Verdict::reject(r::kRoleRequired, "R19.2.8");
  if (mode_on(fb::ReportMode::manage_sign) && !has(fb::PersonRole::finance_employee))
    return Verdict::reject(r::kRoleRequired, "R19.2.3");
  if (mode_on(fb::ReportMode::consolidate_sign) && !has(fb::PersonRole::finance_employee))
    return Verdict::reject(r::kRoleRequired, "R19.2.4");
  if (mode_on(fb::ReportMode::sign_head) && !has(fb::PersonRole::head) && !has(fb::PersonRole::authorised_signatory))
    return Verdict::reject(r::kRoleRequired, "R19.2.5");
  if (mode_on(fb::ReportMode::exchange_test) && !has(fb::PersonRole::is_developer))
    return Verdict::reject(r::kRoleRequired, "R19.2.6");
  NameId application = kNoName;
  if (Verdict v = grant_application(req, p.application(), fb::ApplicationKind::ereports_users, p.user(), "R18",
                                    &application);
      !v.accepted)
    return v;
  set_service_right(RightKey{state_.names.intern(sv(p.user())), state_.names.intern(sv(req.client_id())),
                             state_.names.intern(sv(p.institution())), RightKind::report},
                    modes, groups, application);
  return Verdict::ok("R19");
}

Verdict Engine::on_loan_rights(const fb::Request& req, const fb::LoanRightsGranted& p) {
  if (!valid_name(sv(p.user())) || !valid_name(sv(req.client_id()))) return Verdict::reject(r::kValueInvalid, "R21");
  const auto groups = static_cast<uint8_t>(p.groups());
  if (groups == 0 || p.mode() == fb::LoanMode::none || p.mode() > fb::LoanMode::MAX)
    return Verdict::reject(r::kModeInvalid, "R21");
  // R21.1.1: loan requests are for municipalities only.
  if ((groups & static_cast<uint8_t>(fb::LoanGroup::loan_requests)) != 0 &&
      client_kind(state_.names.find(sv(req.client_id()))) != fb::ClientKind::municipality)
    return Verdict::reject(r::kMunicipalitiesOnly, "R21.1.1");
  NameId application = kNoName;
  if (Verdict v = grant_application(req, p.application(), fb::ApplicationKind::eloans, p.user(), "R20", &application);
      !v.accepted)
    return v;
  set_service_right(RightKey{state_.names.intern(sv(p.user())), state_.names.intern(sv(req.client_id())), 0,
                             RightKind::loan},
                    static_cast<uint8_t>(p.mode()), groups, application);
  static constexpr const char* kModeRule[] = {"R21", "R21.2.1", "R21.2.2", "R21.2.3"};
  return Verdict::ok(kModeRule[static_cast<size_t>(p.mode())]);
}

// The R9 checks are shared with fallback.cpp (fallback payments obey R9).
template Verdict Engine::check_limits<detail::Tracing>(NameId, NameId, const Grant&, const Order*, Cents,
                                                       const RigaTime&, bool*, DayTotalEntry**, detail::Tracing);

}  // namespace kase::engine
