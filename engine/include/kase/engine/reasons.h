// Stable reason codes. A code, once released, never changes meaning; new codes
// are only added (at the end of their group is fine: the index below is not
// persisted anywhere). The rule ID travels beside the code in every decision.
//
// Every code lives in one table, so that a code has a dense index: the
// engine's probe counts decisions per reason in an array (probe.h), and the
// metrics name every code. `reason::kX` stays a `const char*`.
#pragma once

#include <cstddef>
#include <cstdint>

// X(constant, code) for every reason code.
#define KASE_REASON_CODES(X) \
  X(kOk, "ok") \
  /* Envelope and channel. */ \
  X(kMalformedJson, "request.malformed_json") \
  X(kMalformedBinary, "request.malformed_binary") \
  X(kMissingRequestId, "request.missing_request_id") \
  X(kMissingTimestamp, "request.missing_timestamp") \
  X(kMissingActor, "request.missing_actor") \
  X(kUnsupportedSchema, "request.unsupported_schema_version") \
  /* R42: a new request (JSON intake) naming a version older than the current */ \
  /* one; never reaches the log (events::JsonStatus::schema_version_retired). */ \
  X(kSchemaVersionRetired, "request.schema_version_retired") \
  X(kNoPayload, "request.no_payload") \
  X(kTreasuryOnly, "auth.treasury_only") \
  X(kWrongChannel, "auth.wrong_channel") \
  /* An identity fact (IdentityFact) not from kase itself, or the engine */ \
  /* channel carrying anything else; JSON intake refuses both up front. */ \
  X(kEngineOnly, "auth.engine_only") \
  X(kValueInvalid, "request.value_invalid") \
  /* Service availability (R32, R34). */ \
  X(kServiceSuspended, "service.suspended") \
  X(kNotBusinessDay, "service.not_business_day") \
  X(kOutsideHours, "service.outside_hours") \
  X(kHoursInvalid, "service.hours_invalid") \
  /* Accounts (R10–R13). */ \
  X(kAccountUnknown, "account.unknown") \
  X(kAccountExists, "account.exists") \
  X(kAccountClosed, "account.closed") \
  X(kAccountAlreadyBlocked, "account.already_blocked") \
  X(kAccountNotBlocked, "account.not_blocked") \
  X(kAccountViewOnly, "account.view_only") \
  /* Representatives and rights (R4, R7–R12). */ \
  X(kModeInvalid, "grant.mode_invalid") \
  X(kOwnerPermissionMissing, "grant.owner_permission_missing") \
  X(kGrantApplicationMissing, "grant.application_missing") \
  X(kModeNotAllowedForeign, "grant.mode_not_allowed_foreign_account") \
  X(kModeNotAllowedDeposit, "grant.mode_not_allowed_deposit_account") \
  X(kLimitsInvalid, "grant.limits_invalid") \
  X(kSignature4NotAuthorised, "grant.signature4_not_head_or_specimen") \
  X(kSignature4WithSignature3, "grant.signature4_with_signature3") \
  X(kNoRights, "rights.none") \
  /* Modes and the signature chain (R8). */ \
  X(kModeViewOnly, "mode.view_only") \
  X(kModeCannotPrepare, "mode.cannot_prepare") \
  X(kModeCannotSign, "mode.cannot_sign") \
  X(kModeCannotImport, "mode.cannot_import") \
  X(kSamePerson, "signature.same_person") \
  X(kOutOfOrder, "signature.out_of_order") \
  X(kNotPreparerOrSigner, "order.not_preparer_or_signer") \
  /* Orders. */ \
  X(kOrderExists, "order.exists") \
  X(kOrderUnknown, "order.unknown") \
  X(kOrderSubmitted, "order.already_submitted") \
  X(kOrderCancelled, "order.cancelled") \
  X(kAmountInvalid, "order.amount_invalid") \
  /* Limits (R9, R14, R15). */ \
  X(kPerOrderExceeded, "limit.per_order_exceeded") \
  X(kDailyExceeded, "limit.daily_exceeded") \
  X(kChangeDatePast, "limit_change.date_past") \
  X(kChangeEmpty, "limit_change.empty") \
  X(kChangeNoLimits, "limit_change.mode_without_limits") \
  X(kChangeApplicationMissing, "limit_change.application_missing")  /* R14, schema version 2 */ \
  /* Identification and blocking (R25–R29). */ \
  X(kUnknownPerson, "identity.unknown_person") \
  X(kLoginFailed, "identity.login_failed") \
  X(kBlockedWrongCredentials, "identity.blocked_wrong_credentials") \
  X(kBlockedSuspicion, "identity.blocked_suspicion") \
  X(kBlockedReported, "identity.blocked_reported_by_user") \
  X(kBlockedRequestRate, "identity.blocked_request_rate") \
  X(kNotBlocked, "identity.not_blocked") \
  X(kRestorationNotAllowed, "identity.restoration_not_allowed") \
  X(kNotOnlineMode, "mode.not_online") \
  /* Applications (R3–R5, R7, R18, R20, R30, R31). */ \
  X(kApplicationUnsigned, "application.unsigned") \
  X(kApplicationNoDigest, "application.no_digest") \
  X(kApplicationSignedInFuture, "application.signed_in_future") \
  X(kApplicationSignerNotRepresentative, "application.signer_not_representative") \
  X(kApplicationExists, "application.exists") \
  X(kApplicationUnknown, "application.unknown") \
  X(kApplicationNotPending, "application.not_pending") \
  X(kApplicationNotInForce, "application.not_in_force") \
  X(kApplicationLapsed, "application.lapsed") \
  X(kApplicationSuperseded, "application.superseded") \
  X(kApplicationTerminated, "application.terminated") \
  X(kApplicationAnnulled, "application.annulled") \
  /* Means per mode (R22–R24). */ \
  X(kMeansNotStated, "means.not_stated") \
  X(kMeansNotRegistered, "means.not_registered") \
  X(kMeansTooWeak, "means.too_weak_for_mode") \
  X(kMeansNotActivated, "means.not_activated") \
  X(kMeansExceptionOnly, "means.code_only_as_exception") \
  X(kDataExchangeNotEstablished, "means.data_exchange_not_established") \
  /* Messages (R36). */ \
  X(kMessageExists, "message.exists") \
  X(kMessageUnknown, "message.unknown") \
  /* Rights in ePlans, eEstimates, eReports, eLoans (R6, R16, R19, R21). */ \
  X(kPlanModeInstitutionsOnly, "grant.institution_users_only") \
  X(kPlanModeMinistriesOnly, "grant.ministry_users_only") \
  X(kModeNotInService, "grant.mode_not_in_service") \
  X(kStructureNotForClientKind, "structure.client_kind_not_allowed") \
  X(kNotInStructure, "grant.institution_not_in_structure") \
  X(kRoleRequired, "grant.role_required") \
  X(kMunicipalitiesOnly, "grant.municipalities_only") \
  /* Documents in ePlans, eEstimates, eReports, eLoans (R2, R6, R16, R19, R21). */ \
  X(kDocumentExists, "document.exists") \
  X(kDocumentUnknown, "document.unknown") \
  X(kDocumentKindNotInService, "document.kind_not_in_service") \
  X(kDocumentDigestMissing, "document.digest_missing") \
  X(kDocumentAmountInvalid, "document.amount_invalid") \
  X(kDocumentOtherInstitution, "document.other_institution") \
  X(kDocumentModeNotAllowed, "document.mode_not_allowed") \
  X(kDocumentGroupRequired, "document.group_required") \
  X(kDocumentStepNotForKind, "document.step_not_for_kind") \
  X(kDocumentNotEditable, "document.not_editable") \
  X(kDocumentNotApproved, "document.not_approved") \
  X(kDocumentNotChecked, "document.not_checked") \
  X(kDocumentNotSigned, "document.not_signed") \
  X(kDocumentFinanceSignatureMissing, "document.finance_signature_missing") \
  X(kDocumentAlreadySigned, "document.already_signed") \
  X(kDocumentNotSubmitted, "document.not_submitted") \
  X(kDocumentAlreadyAccepted, "document.already_accepted") \
  X(kDocumentWrongStatus, "document.wrong_status") \
  X(kDocumentHistoryFull, "document.history_full") \
  /* Fallback payment files (R48.1, R49). */ \
  X(kFallbackServiceNotDown, "fallback.service_not_down")  /* R48.1 */ \
  X(kFallbackFileDuplicate, "fallback.file_duplicate")  /* R48.1 */ \
  X(kFallbackInstitutionMismatch, "fallback.institution_mismatch")  /* R49.1 */ \
  X(kFallbackAccountMismatch, "fallback.account_mismatch")  /* R49.2 */ \
  X(kFallbackFileNameMismatch, "fallback.file_name_mismatch")  /* R49.3 */ \
  X(kFallbackCountMismatch, "fallback.count_mismatch")  /* R49.4 */ \
  X(kFallbackTotalMismatch, "fallback.total_mismatch")  /* R49.5 */ \
  X(kFallbackHeadSignatureMissing, "fallback.head_signature_missing")  /* R48.1 */ \
  X(kFallbackSignature3Missing, "fallback.signature3_missing")  /* R48.1 */ \
  X(kFallbackFileUnknown, "fallback.file_unknown")  /* R48.1 */ \
  X(kFallbackPaymentNotInFile, "fallback.payment_not_in_file")  /* R49.4, R49.5 */ \
  X(kReportOwn, "report.own_report") \
  X(kReportNoStructure, "report.no_structure") \
  X(kReportOpinionMissing, "report.opinion_missing") \
  X(kReportOpinionExists, "report.opinion_exists") \
  X(kReportPeriodTaken, "report.period_taken")  /* R16 */ \
  X(kReportConsolidationIncomplete, "report.consolidation_incomplete")  /* R19.2.4 */ \
  X(kLoanAgreementUnknown, "loan.agreement_unknown")  /* R21.1.2 */ \
  X(kLoanAgreementNotSubmitted, "loan.agreement_not_submitted")  /* R21.1.2 */ \
  X(kLoanDisbursementExceedsAgreement, "loan.disbursement_exceeds_agreement")  /* R21.1.2 */ \
  X(kAppropriationExceedsPlan, "plan.appropriation_exceeds_plan") \
  /* Calendar. */ \
  X(kDateInvalid, "calendar.date_invalid") \
  /* HTTP intake (adapters/src/http_*.cpp). Answers that never reach the log: the */ \
  /* HTTP status carries them with a JSON body {code, message}. */ \
  X(kHttpBadRequest, "http.bad_request")  /* 400: not HTTP/1.1 as expected */ \
  X(kHttpNotFound, "http.not_found")  /* 404: no such route or object */ \
  X(kHttpMethodNotAllowed, "http.method_not_allowed")  /* 405 */ \
  X(kHttpBodyTooLarge, "http.body_too_large")  /* 413 */ \
  X(kHttpUnsupportedMediaType, "http.unsupported_media_type")  /* 415 */ \
  X(kHttpHeaderTooLarge, "http.header_too_large")  /* 431 */ \
  X(kHttpOverloaded, "http.overloaded")  /* 503: intake queue full */ \
  X(kHttpUnavailable, "http.unavailable")  /* 503: engine stopped or too slow */ \
  X(kIntakeTimeSetByServer, "request.intake_time_set_by_server")  /* 400 (R47) */ \
  /* R41, R22.1.3: what a client certificate may do. */ \
  X(kActorNotCertificate, "auth.actor_not_certificate")  /* 403 */ \
  X(kChannelNotForCertificate, "auth.channel_not_for_certificate")  /* 403 */ \
  X(kMeansNotCertificate, "auth.means_not_certificate")  /* 403 */ \
  X(kForbidden, "auth.forbidden")  /* 403 */ \
  X(kRequestIdOfAnotherActor, "request.id_of_another_actor")  /* 409 */

namespace kase::engine::reason {

/// Room for the longest code and its NUL.
inline constexpr size_t kCodeBytesMax = 48;
struct Code {
  char text[kCodeBytesMax];
};

/// Dense indices of the codes, in table order.
enum class Index : uint16_t {
#define KASE_REASON_INDEX(name, code) name,
  KASE_REASON_CODES(KASE_REASON_INDEX)
#undef KASE_REASON_INDEX
};
#define KASE_REASON_COUNT(name, code) +1
inline constexpr size_t kCount = 0 KASE_REASON_CODES(KASE_REASON_COUNT);
#undef KASE_REASON_COUNT

/// The codes themselves: one object (an inline variable has one address in
/// every translation unit), so a code's index follows from its address.
inline constexpr Code kCodes[kCount] = {
#define KASE_REASON_TEXT(name, code) Code{code},
    KASE_REASON_CODES(KASE_REASON_TEXT)
#undef KASE_REASON_TEXT
};

#define KASE_REASON_CONSTANT(name, code) \
  inline constexpr const char* name = kCodes[static_cast<size_t>(Index::name)].text;
KASE_REASON_CODES(KASE_REASON_CONSTANT)
#undef KASE_REASON_CONSTANT

/// The index of a code from this table (any `reason::kX`), or kCount for a
/// string that is not one of them (e.g. a code read back from a log).
inline size_t index_of(const char* code) noexcept {
  const auto at = reinterpret_cast<uintptr_t>(code);
  const auto first = reinterpret_cast<uintptr_t>(&kCodes[0]);
  if (at < first || at >= first + sizeof(kCodes) || (at - first) % sizeof(Code) != 0) return kCount;
  return (at - first) / sizeof(Code);
}

}  // namespace kase::engine::reason
