// Builders of binary requests, for channels written in C++, the demo, the
// tests and the benchmarks. Each returns the finished FlatBuffers bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kase/events/kase_generated.h"

namespace kase::events {

/// R42: the schema version the builders write. A request without the field
/// reads as version 1 (the schema's default), as every older log does.
inline constexpr uint16_t kSchemaVersionCurrent = 2;

struct Envelope {
  std::string_view request_id;
  std::string_view client;
  std::string_view actor;
  fb::Channel channel = fb::Channel::portal;
  int64_t intake_us = 0;
};

inline std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string account_opened(const Envelope& e, std::string_view account, std::string_view owner,
                           bool deposit, int32_t fiscal_year);
std::string account_closed(const Envelope& e, std::string_view account);
std::string account_blocked(const Envelope& e, std::string_view account);
std::string account_unblocked(const Envelope& e, std::string_view account);
std::string deposit_flag_set(const Envelope& e, std::string_view account, bool deposit);
std::string opened_for_year(const Envelope& e, std::string_view account, int32_t fiscal_year);
std::string representative(const Envelope& e, std::string_view person, bool head, bool specimen_card);
std::string rights_granted(const Envelope& e, std::string_view user, std::string_view account,
                           fb::AccessMode mode, int64_t per_order_cents, int64_t daily_cents,
                           std::string_view owner_permission = {});
std::string rights_revoked(const Envelope& e, std::string_view user, std::string_view account);
/// R14, R15: a one-day limit change; from schema version 2 it names the
/// user's registered annex 3 application (kind ekase_limit_change).
std::string limit_change(const Envelope& e, std::string_view user, std::string_view account, int32_t date,
                         int64_t per_order_cents, int64_t daily_cents, std::string_view application = {});
std::string po_prepare(const Envelope& e, std::string_view order, std::string_view account,
                       int64_t amount_cents, std::string_view beneficiary = {});
std::string po_import(const Envelope& e, std::string_view order, std::string_view account,
                      int64_t amount_cents, std::string_view beneficiary = {});
std::string po_sign(const Envelope& e, std::string_view order);
std::string po_cancel(const Envelope& e, std::string_view order);
std::string service_hours(const Envelope& e, fb::Service service, int16_t open_minute, int16_t close_minute);
std::string service_suspension(const Envelope& e, fb::Service service, bool suspended);
std::string calendar_override(const Envelope& e, int32_t date, bool working);
/// R10: the owner's permission for a foreign account an eKase application names.
struct AccountPermission {
  std::string account;
  std::string digest;
};
std::string application_submitted(const Envelope& e, std::string_view application, fb::ApplicationKind kind,
                                  std::string_view user, std::string_view signer, int64_t signed_us,
                                  std::string_view digest,
                                  const std::vector<AccountPermission>& owner_permissions = {});
std::string application_registered(const Envelope& e, std::string_view application);
std::string applications_annulled(const Envelope& e, std::string_view reason);
std::string rights_granted_under(const Envelope& e, std::string_view user, std::string_view account,
                                 fb::AccessMode mode, int64_t per_order_cents, int64_t daily_cents,
                                 std::string_view application);
std::string means_registered(const Envelope& e, std::string_view person, fb::Means means, bool exception);
std::string means_activated(const Envelope& e, std::string_view person, fb::Means means);
std::string data_exchange_established(const Envelope& e);
/// An identity fact between Kafka partitions (the engine's own, channel engine).
struct IdentityFactFields {
  std::string_view person;
  fb::IdentityFactKind kind = fb::IdentityFactKind::home;
  int32_t partition = -1;
  std::string_view origin;
  fb::BlockCause block = fb::BlockCause::none;
  fb::Means blocked_means = fb::Means::unknown;
  bool restored = false;
  uint8_t means_registered = 0;
  uint8_t means_exception = 0;
  uint8_t means_activated = 0;
};
std::string identity_fact(const Envelope& e, const IdentityFactFields& f);
/// A directory fact between Kafka partitions (the engine's own, channel engine).
struct DirectoryFactFields {
  std::string_view client;
  fb::DirectoryFactKind kind = fb::DirectoryFactKind::client;
  int32_t partition = -1;
  std::string_view origin;
  fb::ClientKind client_kind = fb::ClientKind::other;
  std::string_view person;
  uint16_t roles = 0;
  fb::ReportType report_type = fb::ReportType::annual;
  int32_t year = 0;
  std::vector<std::string_view> institutions;
  fb::Service service = fb::Service::ekase;
  std::string_view scope;
  uint8_t mode = 0;
  uint8_t groups = 0;
  std::string_view application;
  fb::ApplicationKind application_kind = fb::ApplicationKind::eplans_eestimates;
  uint8_t status = 0;
  int64_t signed_us = 0;
  int64_t registered_us = 0;
  int32_t lapses_on = 0;
  std::string_view document;
  fb::DocumentKind document_kind = fb::DocumentKind::report;
  std::string_view period;
  std::string_view accepted_by;
};
std::string directory_fact(const Envelope& e, const DirectoryFactFields& f);
/// Facts kase sends itself between Kafka partitions (channel engine).
inline bool is_engine_fact(fb::Payload t) {
  return t == fb::Payload::IdentityFact || t == fb::Payload::DirectoryFact;
}
/// Request ids of the shape kase gives its facts (`<origin>/identity/<p>/<n>`,
/// `<origin>/directory/<p>/<n>`): reserved, so that no channel's request can
/// take a fact's id before the fact arrives (the log keeps the first of an id).
inline bool is_engine_fact_id(std::string_view id) {
  return id.find("/identity/") != std::string_view::npos || id.find("/directory/") != std::string_view::npos;
}
/// `request` with the envelope's `means` set (the channel's session means).
std::string with_means(const std::string& request, fb::Means means);
/// `request` rewritten in the envelope of schema version `version` (R42): how
/// tests and tools write requests as an older channel did.
std::string with_schema_version(const std::string& request, uint16_t version);
std::string message_posted(const Envelope& e, std::string_view message, std::string_view subject);
std::string message_read(const Envelope& e, std::string_view message);
std::string client_registered(const Envelope& e, fb::ClientKind kind);
std::string person_roles(const Envelope& e, std::string_view person, fb::PersonRole roles);
std::string plan_rights(const Envelope& e, std::string_view user, fb::Service service, fb::PlanMode mode,
                        std::string_view application = {});
std::string institution_structure(const Envelope& e, fb::ReportType type, int32_t year,
                                  const std::vector<std::string>& institutions);
std::string report_rights(const Envelope& e, std::string_view user, std::string_view institution,
                          fb::ReportGroup groups, fb::ReportMode modes, std::string_view application = {});
std::string loan_rights(const Envelope& e, std::string_view user, fb::LoanGroup groups, fb::LoanMode mode,
                        std::string_view application = {});

// Documents (R2, R6, R16, R19, R21). `acting_for`: the client whose rights the
// actor uses, when not the document's own (the envelope's client).
std::string document_create(const Envelope& e, fb::Service service, std::string_view document, fb::DocumentKind kind,
                            std::string_view digest, int64_t amount_cents = 0, std::string_view acting_for = {},
                            std::string_view agreement = {});
std::string report_create(const Envelope& e, std::string_view document, fb::DocumentKind kind, std::string_view digest,
                          fb::ReportType type, int32_t year, std::string_view period, std::string_view acting_for = {},
                          bool exchange_test = false);
std::string document_update(const Envelope& e, fb::Service service, std::string_view document, std::string_view digest,
                            int64_t amount_cents = -1, std::string_view acting_for = {}, bool exchange_test = false);
std::string document_check(const Envelope& e, fb::Service service, std::string_view document,
                           std::string_view acting_for = {});
std::string document_approve(const Envelope& e, fb::Service service, std::string_view document,
                             std::string_view acting_for = {}, fb::AuditVerdict verdict = fb::AuditVerdict::none,
                             std::string_view opinion_digest = {});
std::string document_sign(const Envelope& e, fb::Service service, std::string_view document,
                          std::string_view acting_for = {});
std::string document_submit(const Envelope& e, fb::Service service, std::string_view document,
                            std::string_view acting_for = {});
std::string document_accept(const Envelope& e, fb::Service service, std::string_view document,
                            std::string_view acting_for = {});
std::string document_view(const Envelope& e, fb::Service service, std::string_view document,
                          std::string_view acting_for = {});
std::string appropriation_received(const Envelope& e, std::string_view document, int64_t amount_cents);

// Fallback payment files (R48.1, R49).
std::string service_outage(const Envelope& e, fb::Service service, bool down, int32_t expected_minutes);
struct SummarySigner {
  std::string person;
  fb::SummaryRole role = fb::SummaryRole::head;
  int64_t signed_us = 0;
};
/// What a summary states and what its file holds (see PaymentFileSubmitted).
struct PaymentFileFacts {
  std::string file_digest, file_name, account, file_account, institution, tax_number, file_institution,
      file_tax_number, summary_file_name;
  int32_t payments = 0, file_payments = 0;
  int64_t total_cents = 0, file_total_cents = 0;
  std::vector<SummarySigner> signatures;
  bool operator_override = false;
};
std::string payment_file(const Envelope& e, const PaymentFileFacts& f);
std::string payment_from_file(const Envelope& e, std::string_view file_digest, std::string_view order,
                              int64_t amount_cents, std::string_view beneficiary);
std::string login_attempt(const Envelope& e, fb::Means means, bool success);
std::string breach_reported(const Envelope& e, fb::Means means);
std::string means_blocked(const Envelope& e, std::string_view person, fb::BlockCause cause);
std::string means_restored(const Envelope& e, std::string_view person, bool by_application);
std::string online_data_request(const Envelope& e, std::string_view account);
std::string identity_policy(const Envelope& e, uint8_t failures_to_block, int32_t request_interval_seconds,
                            uint8_t short_intervals_to_block);

}  // namespace kase::events
