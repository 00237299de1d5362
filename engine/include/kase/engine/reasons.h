// Stable reason codes. A code, once released, never changes meaning; new codes
// are only added. The rule ID travels beside the code in every decision.
#pragma once

namespace kase::engine::reason {

inline constexpr const char* kOk = "ok";

// Envelope and channel.
inline constexpr const char* kMalformedJson = "request.malformed_json";
inline constexpr const char* kMalformedBinary = "request.malformed_binary";
inline constexpr const char* kMissingRequestId = "request.missing_request_id";
inline constexpr const char* kMissingTimestamp = "request.missing_timestamp";
inline constexpr const char* kMissingActor = "request.missing_actor";
inline constexpr const char* kUnsupportedSchema = "request.unsupported_schema_version";
inline constexpr const char* kNoPayload = "request.no_payload";
inline constexpr const char* kTreasuryOnly = "auth.treasury_only";
inline constexpr const char* kWrongChannel = "auth.wrong_channel";
inline constexpr const char* kValueInvalid = "request.value_invalid";

// Service availability (R32, R34).
inline constexpr const char* kServiceSuspended = "service.suspended";
inline constexpr const char* kNotBusinessDay = "service.not_business_day";
inline constexpr const char* kOutsideHours = "service.outside_hours";
inline constexpr const char* kHoursInvalid = "service.hours_invalid";

// Accounts (R10–R13).
inline constexpr const char* kAccountUnknown = "account.unknown";
inline constexpr const char* kAccountExists = "account.exists";
inline constexpr const char* kAccountClosed = "account.closed";
inline constexpr const char* kAccountAlreadyBlocked = "account.already_blocked";
inline constexpr const char* kAccountNotBlocked = "account.not_blocked";
inline constexpr const char* kAccountViewOnly = "account.view_only";

// Representatives and rights (R4, R7–R12).
inline constexpr const char* kModeInvalid = "grant.mode_invalid";
inline constexpr const char* kOwnerPermissionMissing = "grant.owner_permission_missing";
inline constexpr const char* kModeNotAllowedForeign = "grant.mode_not_allowed_foreign_account";
inline constexpr const char* kModeNotAllowedDeposit = "grant.mode_not_allowed_deposit_account";
inline constexpr const char* kLimitsInvalid = "grant.limits_invalid";
inline constexpr const char* kSignature4NotAuthorised = "grant.signature4_not_head_or_specimen";
inline constexpr const char* kSignature4WithSignature3 = "grant.signature4_with_signature3";
inline constexpr const char* kNoRights = "rights.none";

// Modes and the signature chain (R8).
inline constexpr const char* kModeViewOnly = "mode.view_only";
inline constexpr const char* kModeCannotPrepare = "mode.cannot_prepare";
inline constexpr const char* kModeCannotSign = "mode.cannot_sign";
inline constexpr const char* kModeCannotImport = "mode.cannot_import";
inline constexpr const char* kSamePerson = "signature.same_person";
inline constexpr const char* kOutOfOrder = "signature.out_of_order";
inline constexpr const char* kNotPreparerOrSigner = "order.not_preparer_or_signer";

// Orders.
inline constexpr const char* kOrderExists = "order.exists";
inline constexpr const char* kOrderUnknown = "order.unknown";
inline constexpr const char* kOrderSubmitted = "order.already_submitted";
inline constexpr const char* kOrderCancelled = "order.cancelled";
inline constexpr const char* kAmountInvalid = "order.amount_invalid";

// Limits (R9, R14, R15).
inline constexpr const char* kPerOrderExceeded = "limit.per_order_exceeded";
inline constexpr const char* kDailyExceeded = "limit.daily_exceeded";
inline constexpr const char* kChangeDatePast = "limit_change.date_past";
inline constexpr const char* kChangeEmpty = "limit_change.empty";
inline constexpr const char* kChangeNoLimits = "limit_change.mode_without_limits";

// Identification and blocking (R25–R29).
inline constexpr const char* kUnknownPerson = "identity.unknown_person";
inline constexpr const char* kLoginFailed = "identity.login_failed";
inline constexpr const char* kBlockedWrongCredentials = "identity.blocked_wrong_credentials";
inline constexpr const char* kBlockedSuspicion = "identity.blocked_suspicion";
inline constexpr const char* kBlockedReported = "identity.blocked_reported_by_user";
inline constexpr const char* kBlockedRequestRate = "identity.blocked_request_rate";
inline constexpr const char* kNotBlocked = "identity.not_blocked";
inline constexpr const char* kRestorationNotAllowed = "identity.restoration_not_allowed";
inline constexpr const char* kNotOnlineMode = "mode.not_online";

// Applications (R3–R5, R7, R18, R20, R30, R31).
inline constexpr const char* kApplicationUnsigned = "application.unsigned";
inline constexpr const char* kApplicationNoDigest = "application.no_digest";
inline constexpr const char* kApplicationSignedInFuture = "application.signed_in_future";
inline constexpr const char* kApplicationSignerNotRepresentative = "application.signer_not_representative";
inline constexpr const char* kApplicationExists = "application.exists";
inline constexpr const char* kApplicationUnknown = "application.unknown";
inline constexpr const char* kApplicationNotPending = "application.not_pending";
inline constexpr const char* kApplicationNotInForce = "application.not_in_force";
inline constexpr const char* kApplicationLapsed = "application.lapsed";
inline constexpr const char* kApplicationSuperseded = "application.superseded";
inline constexpr const char* kApplicationTerminated = "application.terminated";
inline constexpr const char* kApplicationAnnulled = "application.annulled";

// Means per mode (R22–R24).
inline constexpr const char* kMeansNotStated = "means.not_stated";
inline constexpr const char* kMeansNotRegistered = "means.not_registered";
inline constexpr const char* kMeansTooWeak = "means.too_weak_for_mode";
inline constexpr const char* kMeansNotActivated = "means.not_activated";
inline constexpr const char* kMeansExceptionOnly = "means.code_only_as_exception";
inline constexpr const char* kDataExchangeNotEstablished = "means.data_exchange_not_established";

// Messages (R36).
inline constexpr const char* kMessageExists = "message.exists";
inline constexpr const char* kMessageUnknown = "message.unknown";

// Rights in ePlans, eEstimates, eReports, eLoans (R6, R16, R19, R21).
inline constexpr const char* kPlanModeInstitutionsOnly = "grant.institution_users_only";
inline constexpr const char* kPlanModeMinistriesOnly = "grant.ministry_users_only";
inline constexpr const char* kModeNotInService = "grant.mode_not_in_service";
inline constexpr const char* kStructureNotForClientKind = "structure.client_kind_not_allowed";
inline constexpr const char* kNotInStructure = "grant.institution_not_in_structure";
inline constexpr const char* kRoleRequired = "grant.role_required";
inline constexpr const char* kMunicipalitiesOnly = "grant.municipalities_only";

// Documents in ePlans, eEstimates, eReports, eLoans (R2, R6, R16, R19, R21).
inline constexpr const char* kDocumentExists = "document.exists";
inline constexpr const char* kDocumentUnknown = "document.unknown";
inline constexpr const char* kDocumentKindNotInService = "document.kind_not_in_service";
inline constexpr const char* kDocumentDigestMissing = "document.digest_missing";
inline constexpr const char* kDocumentAmountInvalid = "document.amount_invalid";
inline constexpr const char* kDocumentOtherInstitution = "document.other_institution";
inline constexpr const char* kDocumentModeNotAllowed = "document.mode_not_allowed";
inline constexpr const char* kDocumentGroupRequired = "document.group_required";
inline constexpr const char* kDocumentStepNotForKind = "document.step_not_for_kind";
inline constexpr const char* kDocumentNotEditable = "document.not_editable";
inline constexpr const char* kDocumentNotApproved = "document.not_approved";
inline constexpr const char* kDocumentNotChecked = "document.not_checked";
inline constexpr const char* kDocumentNotSigned = "document.not_signed";
inline constexpr const char* kDocumentFinanceSignatureMissing = "document.finance_signature_missing";
inline constexpr const char* kDocumentAlreadySigned = "document.already_signed";
inline constexpr const char* kDocumentNotSubmitted = "document.not_submitted";
inline constexpr const char* kDocumentAlreadyAccepted = "document.already_accepted";
inline constexpr const char* kDocumentWrongStatus = "document.wrong_status";
inline constexpr const char* kDocumentHistoryFull = "document.history_full";

// Fallback payment files (R48.1, R49).
inline constexpr const char* kFallbackServiceNotDown = "fallback.service_not_down";            // R48.1
inline constexpr const char* kFallbackFileDuplicate = "fallback.file_duplicate";               // R48.1
inline constexpr const char* kFallbackInstitutionMismatch = "fallback.institution_mismatch";   // R49.1
inline constexpr const char* kFallbackAccountMismatch = "fallback.account_mismatch";           // R49.2
inline constexpr const char* kFallbackFileNameMismatch = "fallback.file_name_mismatch";        // R49.3
inline constexpr const char* kFallbackCountMismatch = "fallback.count_mismatch";               // R49.4
inline constexpr const char* kFallbackTotalMismatch = "fallback.total_mismatch";               // R49.5
inline constexpr const char* kFallbackHeadSignatureMissing = "fallback.head_signature_missing";    // R48.1
inline constexpr const char* kFallbackSignature3Missing = "fallback.signature3_missing";       // R48.1
inline constexpr const char* kFallbackFileUnknown = "fallback.file_unknown";                   // R48.1
inline constexpr const char* kFallbackPaymentNotInFile = "fallback.payment_not_in_file";       // R49.4, R49.5
inline constexpr const char* kReportOwn = "report.own_report";
inline constexpr const char* kReportNoStructure = "report.no_structure";
inline constexpr const char* kReportOpinionMissing = "report.opinion_missing";
inline constexpr const char* kReportOpinionExists = "report.opinion_exists";
inline constexpr const char* kLoanAgreementUnknown = "loan.agreement_unknown";                  // R21.1.2
inline constexpr const char* kLoanAgreementNotSubmitted = "loan.agreement_not_submitted";      // R21.1.2
inline constexpr const char* kLoanDisbursementExceedsAgreement = "loan.disbursement_exceeds_agreement";  // R21.1.2
inline constexpr const char* kReportPeriodTaken = "report.period_taken";                  // R16
inline constexpr const char* kReportConsolidationIncomplete = "report.consolidation_incomplete";  // R19.2.4
inline constexpr const char* kAppropriationExceedsPlan = "plan.appropriation_exceeds_plan";

// Calendar.
inline constexpr const char* kDateInvalid = "calendar.date_invalid";

// HTTP intake (adapters/src/http_*.cpp). Answers that never reach the log: the
// HTTP status carries them with a JSON body {code, message}.
inline constexpr const char* kHttpBadRequest = "http.bad_request";            // 400: not HTTP/1.1 as expected
inline constexpr const char* kHttpNotFound = "http.not_found";                // 404: no such route or object
inline constexpr const char* kHttpMethodNotAllowed = "http.method_not_allowed";  // 405
inline constexpr const char* kHttpBodyTooLarge = "http.body_too_large";       // 413
inline constexpr const char* kHttpUnsupportedMediaType = "http.unsupported_media_type";  // 415
inline constexpr const char* kHttpHeaderTooLarge = "http.header_too_large";   // 431
inline constexpr const char* kHttpOverloaded = "http.overloaded";             // 503: intake queue full
inline constexpr const char* kHttpUnavailable = "http.unavailable";           // 503: engine stopped or too slow
inline constexpr const char* kIntakeTimeSetByServer = "request.intake_time_set_by_server";  // 400 (R47)
// R41, R22.1.3: what a client certificate may do.
inline constexpr const char* kActorNotCertificate = "auth.actor_not_certificate";        // 403
inline constexpr const char* kChannelNotForCertificate = "auth.channel_not_for_certificate";  // 403
inline constexpr const char* kMeansNotCertificate = "auth.means_not_certificate";        // 403
inline constexpr const char* kForbidden = "auth.forbidden";                              // 403
inline constexpr const char* kRequestIdOfAnotherActor = "request.id_of_another_actor";   // 409

}  // namespace kase::engine::reason
