#include "kase/events/build.h"

#include <memory>

namespace kase::events {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

Offset<flatbuffers::String> str(FlatBufferBuilder& b, std::string_view s) {
  return b.CreateString(s.data(), s.size());
}
/// An optional string: absent when empty.
Offset<flatbuffers::String> opt(FlatBufferBuilder& b, std::string_view s) {
  return s.empty() ? Offset<flatbuffers::String>() : str(b, s);
}

template <class MakePayload>
std::string finish(const Envelope& e, fb::Payload type, MakePayload&& make) {
  FlatBufferBuilder b(256);
  const auto payload = make(b);
  const auto id = str(b, e.request_id);
  const auto client = str(b, e.client);
  const auto actor = str(b, e.actor);
  fb::RequestBuilder rb(b);
  rb.add_request_id(id);
  rb.add_client_id(client);
  rb.add_actor(actor);
  rb.add_channel(e.channel);
  rb.add_intake_us(e.intake_us);
  rb.add_schema_version(kSchemaVersionCurrent);
  rb.add_payload_type(type);
  rb.add_payload(payload.Union());
  fb::FinishRequestBuffer(b, rb.Finish());
  return {reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize()};
}

}  // namespace

std::string account_opened(const Envelope& e, std::string_view account, std::string_view owner,
                           bool deposit, int32_t fiscal_year) {
  return finish(e, fb::Payload::AccountOpened, [&](FlatBufferBuilder& b) {
    return fb::CreateAccountOpened(b, str(b, account), str(b, owner), deposit, fiscal_year);
  });
}
std::string account_closed(const Envelope& e, std::string_view account) {
  return finish(e, fb::Payload::AccountClosed,
                [&](FlatBufferBuilder& b) { return fb::CreateAccountClosed(b, str(b, account)); });
}
std::string account_blocked(const Envelope& e, std::string_view account) {
  return finish(e, fb::Payload::AccountBlocked,
                [&](FlatBufferBuilder& b) { return fb::CreateAccountBlocked(b, str(b, account)); });
}
std::string account_unblocked(const Envelope& e, std::string_view account) {
  return finish(e, fb::Payload::AccountUnblocked,
                [&](FlatBufferBuilder& b) { return fb::CreateAccountUnblocked(b, str(b, account)); });
}
std::string deposit_flag_set(const Envelope& e, std::string_view account, bool deposit) {
  return finish(e, fb::Payload::AccountDepositFlagSet, [&](FlatBufferBuilder& b) {
    return fb::CreateAccountDepositFlagSet(b, str(b, account), deposit);
  });
}
std::string opened_for_year(const Envelope& e, std::string_view account, int32_t fiscal_year) {
  return finish(e, fb::Payload::AccountOpenedForYear, [&](FlatBufferBuilder& b) {
    return fb::CreateAccountOpenedForYear(b, str(b, account), fiscal_year);
  });
}
std::string representative(const Envelope& e, std::string_view person, bool head, bool specimen_card) {
  return finish(e, fb::Payload::RepresentativeRegistered, [&](FlatBufferBuilder& b) {
    return fb::CreateRepresentativeRegistered(b, str(b, person), head, specimen_card);
  });
}
std::string rights_granted(const Envelope& e, std::string_view user, std::string_view account,
                           fb::AccessMode mode, int64_t per_order_cents, int64_t daily_cents,
                           std::string_view owner_permission) {
  return finish(e, fb::Payload::RightsGranted, [&](FlatBufferBuilder& b) {
    const auto perm = owner_permission.empty() ? Offset<flatbuffers::String>() : str(b, owner_permission);
    return fb::CreateRightsGranted(b, str(b, user), str(b, account), mode, per_order_cents, daily_cents, perm);
  });
}
std::string rights_revoked(const Envelope& e, std::string_view user, std::string_view account) {
  return finish(e, fb::Payload::RightsRevoked, [&](FlatBufferBuilder& b) {
    return fb::CreateRightsRevoked(b, str(b, user), str(b, account));
  });
}
std::string limit_change(const Envelope& e, std::string_view user, std::string_view account, int32_t date,
                         int64_t per_order_cents, int64_t daily_cents, std::string_view application) {
  return finish(e, fb::Payload::LimitChangeOneDay, [&](FlatBufferBuilder& b) {
    return fb::CreateLimitChangeOneDay(b, str(b, user), str(b, account), date, per_order_cents, daily_cents,
                                       opt(b, application));
  });
}
std::string po_prepare(const Envelope& e, std::string_view order, std::string_view account,
                       int64_t amount_cents, std::string_view beneficiary) {
  return finish(e, fb::Payload::PaymentOrderPrepare, [&](FlatBufferBuilder& b) {
    return fb::CreatePaymentOrderPrepare(b, str(b, order), str(b, account), amount_cents, str(b, beneficiary));
  });
}
std::string po_import(const Envelope& e, std::string_view order, std::string_view account,
                      int64_t amount_cents, std::string_view beneficiary) {
  return finish(e, fb::Payload::PaymentOrderImport, [&](FlatBufferBuilder& b) {
    return fb::CreatePaymentOrderImport(b, str(b, order), str(b, account), amount_cents, str(b, beneficiary));
  });
}
std::string po_sign(const Envelope& e, std::string_view order) {
  return finish(e, fb::Payload::PaymentOrderSign,
                [&](FlatBufferBuilder& b) { return fb::CreatePaymentOrderSign(b, str(b, order)); });
}
std::string po_cancel(const Envelope& e, std::string_view order) {
  return finish(e, fb::Payload::PaymentOrderCancel,
                [&](FlatBufferBuilder& b) { return fb::CreatePaymentOrderCancel(b, str(b, order)); });
}
std::string service_hours(const Envelope& e, fb::Service service, int16_t open_minute, int16_t close_minute) {
  return finish(e, fb::Payload::ServiceHoursNotice, [&](FlatBufferBuilder& b) {
    return fb::CreateServiceHoursNotice(b, service, open_minute, close_minute);
  });
}
std::string service_suspension(const Envelope& e, fb::Service service, bool suspended) {
  return finish(e, fb::Payload::ServiceSuspension, [&](FlatBufferBuilder& b) {
    return fb::CreateServiceSuspension(b, service, suspended);
  });
}
std::string calendar_override(const Envelope& e, int32_t date, bool working) {
  return finish(e, fb::Payload::CalendarOverride,
                [&](FlatBufferBuilder& b) { return fb::CreateCalendarOverride(b, date, working); });
}

std::string login_attempt(const Envelope& e, fb::Means means, bool success) {
  return finish(e, fb::Payload::LoginAttempt,
                [&](FlatBufferBuilder& b) { return fb::CreateLoginAttempt(b, means, success); });
}
std::string breach_reported(const Envelope& e, fb::Means means) {
  return finish(e, fb::Payload::BreachReported,
                [&](FlatBufferBuilder& b) { return fb::CreateBreachReported(b, means); });
}
std::string means_blocked(const Envelope& e, std::string_view person, fb::BlockCause cause) {
  return finish(e, fb::Payload::MeansBlocked,
                [&](FlatBufferBuilder& b) { return fb::CreateMeansBlocked(b, str(b, person), cause); });
}
std::string means_restored(const Envelope& e, std::string_view person, bool by_application) {
  return finish(e, fb::Payload::MeansRestored,
                [&](FlatBufferBuilder& b) { return fb::CreateMeansRestored(b, str(b, person), by_application); });
}
std::string online_data_request(const Envelope& e, std::string_view account) {
  return finish(e, fb::Payload::OnlineDataRequest,
                [&](FlatBufferBuilder& b) { return fb::CreateOnlineDataRequest(b, str(b, account)); });
}
std::string identity_policy(const Envelope& e, uint8_t failures_to_block, int32_t request_interval_seconds,
                            uint8_t short_intervals_to_block) {
  return finish(e, fb::Payload::IdentityPolicy, [&](FlatBufferBuilder& b) {
    return fb::CreateIdentityPolicy(b, failures_to_block, request_interval_seconds, short_intervals_to_block);
  });
}

std::string application_submitted(const Envelope& e, std::string_view application, fb::ApplicationKind kind,
                                  std::string_view user, std::string_view signer, int64_t signed_us,
                                  std::string_view digest,
                                  const std::vector<AccountPermission>& owner_permissions) {
  return finish(e, fb::Payload::ApplicationSubmitted, [&](FlatBufferBuilder& b) {
    const auto sig = signer.empty() ? Offset<flatbuffers::String>() : str(b, signer);
    const auto dig = digest.empty() ? Offset<flatbuffers::String>() : str(b, digest);
    Offset<flatbuffers::Vector<Offset<fb::OwnerPermission>>> permissions;
    if (!owner_permissions.empty()) {
      std::vector<Offset<fb::OwnerPermission>> items;
      items.reserve(owner_permissions.size());
      for (const AccountPermission& p : owner_permissions)
        items.push_back(fb::CreateOwnerPermission(b, str(b, p.account), str(b, p.digest)));
      permissions = b.CreateVector(items);
    }
    return fb::CreateApplicationSubmitted(b, str(b, application), kind, str(b, user), sig, signed_us, dig,
                                          permissions);
  });
}
std::string application_registered(const Envelope& e, std::string_view application) {
  return finish(e, fb::Payload::ApplicationRegistered,
                [&](FlatBufferBuilder& b) { return fb::CreateApplicationRegistered(b, str(b, application)); });
}
std::string applications_annulled(const Envelope& e, std::string_view reason) {
  return finish(e, fb::Payload::ApplicationsAnnulled,
                [&](FlatBufferBuilder& b) { return fb::CreateApplicationsAnnulled(b, str(b, reason)); });
}
std::string rights_granted_under(const Envelope& e, std::string_view user, std::string_view account,
                                 fb::AccessMode mode, int64_t per_order_cents, int64_t daily_cents,
                                 std::string_view application) {
  return finish(e, fb::Payload::RightsGranted, [&](FlatBufferBuilder& b) {
    return fb::CreateRightsGranted(b, str(b, user), str(b, account), mode, per_order_cents, daily_cents,
                                   Offset<flatbuffers::String>(), str(b, application));
  });
}

std::string means_registered(const Envelope& e, std::string_view person, fb::Means means, bool exception) {
  return finish(e, fb::Payload::MeansRegistered,
                [&](FlatBufferBuilder& b) { return fb::CreateMeansRegistered(b, str(b, person), means, exception); });
}
std::string means_activated(const Envelope& e, std::string_view person, fb::Means means) {
  return finish(e, fb::Payload::MeansActivated,
                [&](FlatBufferBuilder& b) { return fb::CreateMeansActivated(b, str(b, person), means); });
}
std::string identity_fact(const Envelope& e, const IdentityFactFields& f) {
  return finish(e, fb::Payload::IdentityFact, [&](FlatBufferBuilder& b) {
    return fb::CreateIdentityFact(b, str(b, f.person), f.kind, f.partition, str(b, f.origin), f.block,
                                  f.blocked_means, f.restored, f.means_registered, f.means_exception,
                                  f.means_activated);
  });
}
std::string directory_fact(const Envelope& e, const DirectoryFactFields& f) {
  return finish(e, fb::Payload::DirectoryFact, [&](FlatBufferBuilder& b) {
    const auto client = str(b, f.client);
    const auto origin = opt(b, f.origin);
    const auto person = opt(b, f.person);
    flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>> institutions;
    if (f.kind == fb::DirectoryFactKind::structure) {
      std::vector<Offset<flatbuffers::String>> v;
      v.reserve(f.institutions.size());
      for (const std::string_view i : f.institutions) v.push_back(str(b, i));
      institutions = b.CreateVector(v);
    }
    const auto scope = opt(b, f.scope);
    const auto application = opt(b, f.application);
    const auto document = opt(b, f.document);
    const auto period = opt(b, f.period);
    const auto accepted_by = opt(b, f.accepted_by);
    fb::DirectoryFactBuilder d(b);
    d.add_client(client);
    d.add_kind(f.kind);
    d.add_partition(f.partition);
    d.add_origin(origin);
    d.add_client_kind(f.client_kind);
    d.add_person(person);
    d.add_roles(f.roles);
    d.add_report_type(f.report_type);
    d.add_year(f.year);
    d.add_institutions(institutions);
    d.add_service(f.service);
    d.add_scope(scope);
    d.add_mode(f.mode);
    d.add_groups(f.groups);
    d.add_application(application);
    d.add_application_kind(f.application_kind);
    d.add_status(f.status);
    d.add_signed_us(f.signed_us);
    d.add_registered_us(f.registered_us);
    d.add_lapses_on(f.lapses_on);
    d.add_document(document);
    d.add_document_kind(f.document_kind);
    d.add_period(period);
    d.add_accepted_by(accepted_by);
    return d.Finish();
  });
}
std::string data_exchange_established(const Envelope& e) {
  return finish(e, fb::Payload::DataExchangeEstablished,
                [&](FlatBufferBuilder& b) { return fb::CreateDataExchangeEstablished(b); });
}
namespace {
/// `request` unpacked, changed by `change` and packed again.
template <class Change>
std::string repacked(const std::string& request, Change&& change) {
  std::unique_ptr<fb::RequestT> obj(fb::GetRequest(request.data())->UnPack());
  change(*obj);
  FlatBufferBuilder b(256);
  fb::FinishRequestBuffer(b, fb::Request::Pack(b, obj.get()));
  return {reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize()};
}
}  // namespace

std::string with_means(const std::string& request, fb::Means means) {
  return repacked(request, [&](fb::RequestT& r) { r.means = means; });
}

std::string with_schema_version(const std::string& request, uint16_t version) {
  return repacked(request, [&](fb::RequestT& r) { r.schema_version = version; });
}

std::string message_posted(const Envelope& e, std::string_view message, std::string_view subject) {
  return finish(e, fb::Payload::MessagePosted, [&](FlatBufferBuilder& b) {
    return fb::CreateMessagePosted(b, str(b, message), str(b, subject));
  });
}
std::string message_read(const Envelope& e, std::string_view message) {
  return finish(e, fb::Payload::MessageRead,
                [&](FlatBufferBuilder& b) { return fb::CreateMessageRead(b, str(b, message)); });
}

std::string client_registered(const Envelope& e, fb::ClientKind kind) {
  return finish(e, fb::Payload::ClientRegistered,
                [&](FlatBufferBuilder& b) { return fb::CreateClientRegistered(b, kind); });
}
std::string person_roles(const Envelope& e, std::string_view person, fb::PersonRole roles) {
  return finish(e, fb::Payload::PersonRolesSet,
                [&](FlatBufferBuilder& b) { return fb::CreatePersonRolesSet(b, str(b, person), roles); });
}
std::string plan_rights(const Envelope& e, std::string_view user, fb::Service service, fb::PlanMode mode,
                        std::string_view application) {
  return finish(e, fb::Payload::PlanRightsGranted, [&](FlatBufferBuilder& b) {
    return fb::CreatePlanRightsGranted(b, str(b, user), service, mode, opt(b, application));
  });
}
std::string institution_structure(const Envelope& e, fb::ReportType type, int32_t year,
                                  const std::vector<std::string>& institutions) {
  return finish(e, fb::Payload::InstitutionStructure, [&](FlatBufferBuilder& b) {
    return fb::CreateInstitutionStructure(b, type, year, b.CreateVectorOfStrings(institutions));
  });
}
std::string report_rights(const Envelope& e, std::string_view user, std::string_view institution,
                          fb::ReportGroup groups, fb::ReportMode modes, std::string_view application) {
  return finish(e, fb::Payload::ReportRightsGranted, [&](FlatBufferBuilder& b) {
    return fb::CreateReportRightsGranted(b, str(b, user), str(b, institution), groups, modes, opt(b, application));
  });
}
std::string loan_rights(const Envelope& e, std::string_view user, fb::LoanGroup groups, fb::LoanMode mode,
                        std::string_view application) {
  return finish(e, fb::Payload::LoanRightsGranted, [&](FlatBufferBuilder& b) {
    return fb::CreateLoanRightsGranted(b, str(b, user), groups, mode, opt(b, application));
  });
}

// ---- Documents ----------------------------------------------------------------

std::string document_create(const Envelope& e, fb::Service service, std::string_view document, fb::DocumentKind kind,
                            std::string_view digest, int64_t amount_cents, std::string_view acting_for,
                            std::string_view agreement) {
  return finish(e, fb::Payload::DocumentCreate, [&](FlatBufferBuilder& b) {
    return fb::CreateDocumentCreate(b, service, str(b, document), kind, opt(b, digest), amount_cents,
                                    fb::ReportType::annual, 0, Offset<flatbuffers::String>(), opt(b, acting_for),
                                    false, opt(b, agreement));
  });
}
std::string report_create(const Envelope& e, std::string_view document, fb::DocumentKind kind, std::string_view digest,
                          fb::ReportType type, int32_t year, std::string_view period, std::string_view acting_for,
                          bool exchange_test) {
  return finish(e, fb::Payload::DocumentCreate, [&](FlatBufferBuilder& b) {
    return fb::CreateDocumentCreate(b, fb::Service::ereports, str(b, document), kind, opt(b, digest), 0, type, year,
                                    opt(b, period), opt(b, acting_for), exchange_test);
  });
}
std::string document_update(const Envelope& e, fb::Service service, std::string_view document, std::string_view digest,
                            int64_t amount_cents, std::string_view acting_for, bool exchange_test) {
  return finish(e, fb::Payload::DocumentUpdate, [&](FlatBufferBuilder& b) {
    return fb::CreateDocumentUpdate(b, service, str(b, document), opt(b, digest), amount_cents, opt(b, acting_for),
                                    exchange_test);
  });
}
std::string document_approve(const Envelope& e, fb::Service service, std::string_view document,
                             std::string_view acting_for, fb::AuditVerdict verdict, std::string_view opinion_digest) {
  return finish(e, fb::Payload::DocumentApprove, [&](FlatBufferBuilder& b) {
    return fb::CreateDocumentApprove(b, service, str(b, document), opt(b, acting_for), verdict,
                                     opt(b, opinion_digest));
  });
}
#define KASE_DOCUMENT_BUILDER(fn, P)                                                                  \
  std::string fn(const Envelope& e, fb::Service service, std::string_view document,                         \
                 std::string_view acting_for) {                                                             \
    return finish(e, fb::Payload::P, [&](FlatBufferBuilder& b) {                                            \
      return fb::Create##P(b, service, str(b, document), opt(b, acting_for));                               \
    });                                                                                                     \
  }
KASE_DOCUMENT_BUILDER(document_check, DocumentCheck)
KASE_DOCUMENT_BUILDER(document_sign, DocumentSign)
KASE_DOCUMENT_BUILDER(document_submit, DocumentSubmit)
KASE_DOCUMENT_BUILDER(document_accept, DocumentAccept)
KASE_DOCUMENT_BUILDER(document_view, DocumentView)
#undef KASE_DOCUMENT_BUILDER
std::string appropriation_received(const Envelope& e, std::string_view document, int64_t amount_cents) {
  return finish(e, fb::Payload::AppropriationReceived, [&](FlatBufferBuilder& b) {
    return fb::CreateAppropriationReceived(b, str(b, document), amount_cents);
  });
}

std::string service_outage(const Envelope& e, fb::Service service, bool down, int32_t expected_minutes) {
  return finish(e, fb::Payload::ServiceOutage, [&](FlatBufferBuilder& b) {
    return fb::CreateServiceOutage(b, service, down, expected_minutes);
  });
}

std::string payment_file(const Envelope& e, const PaymentFileFacts& f) {
  return finish(e, fb::Payload::PaymentFileSubmitted, [&](FlatBufferBuilder& b) {
    std::vector<flatbuffers::Offset<fb::SummarySignature>> sigs;
    for (const auto& s : f.signatures)
      sigs.push_back(fb::CreateSummarySignature(b, str(b, s.person), s.role, s.signed_us));
    const auto sv = b.CreateVector(sigs);
    const auto digest = str(b, f.file_digest), name = str(b, f.file_name), acc = str(b, f.account),
               facc = str(b, f.file_account), inst = str(b, f.institution), tax = str(b, f.tax_number),
               finst = str(b, f.file_institution), ftax = str(b, f.file_tax_number),
               sname = str(b, f.summary_file_name);
    return fb::CreatePaymentFileSubmitted(b, digest, name, acc, facc, inst, tax, finst, ftax, sname, f.payments,
                                          f.file_payments, f.total_cents, f.file_total_cents, sv,
                                          f.operator_override);
  });
}

std::string payment_from_file(const Envelope& e, std::string_view file_digest, std::string_view order,
                              int64_t amount_cents, std::string_view beneficiary) {
  return finish(e, fb::Payload::PaymentFromFile, [&](FlatBufferBuilder& b) {
    return fb::CreatePaymentFromFile(b, str(b, file_digest), str(b, order), amount_cents, str(b, beneficiary));
  });
}

}  // namespace kase::events
