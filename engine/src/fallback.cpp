// Fallback payment files (R48.1, R49): when eKase cannot work for more than
// six hours, an institution sends its payment orders as an ISO 20022 pain.001
// file with a summary signed by its head (or a person on the specimen card)
// and by the account's signature-3 user. The adapter parses the file; the fold
// decides every comparison and turns each payment into an order that still
// obeys R9. The order of checks is in engine/README.md, "Fallback payment files".
#include "checks.h"
#include "kase/engine/engine.h"
#include "kase/engine/reasons.h"

namespace kase::engine {
namespace r = reason;
using detail::sv;
using detail::valid_name;

namespace {
constexpr int64_t kSixHoursUs = 6LL * 3600 * 1'000'000;
constexpr int32_t kSixHoursMinutes = 6 * 60;
}  // namespace

Verdict Engine::on_outage(const fb::Request& req, const fb::ServiceOutage& p) {
  if (p.service() > fb::Service::MAX || p.expected_minutes() < 0) return Verdict::reject(r::kValueInvalid, "R48.1");
  ServiceState& s = state_.services[static_cast<size_t>(p.service())];
  if (p.down()) {
    if (s.down_since_us == 0) s.down_since_us = req.intake_us();
    s.expected_minutes = p.expected_minutes();
  } else {
    s.down_since_us = 0;
    s.expected_minutes = 0;
  }
  dirty_.settings = true;
  return Verdict::ok("R48.1");
}

Verdict Engine::on_payment_file(const fb::Request& req, const fb::PaymentFileSubmitted& p) {
  // R48: only while eKase is declared unable to work for more than six hours,
  // unless the operator takes the file anyway.
  const ServiceState& s = state_.services[static_cast<size_t>(fb::Service::ekase)];
  const bool down_long = s.down_since_us != 0 && (s.expected_minutes > kSixHoursMinutes ||
                                                  req.intake_us() - s.down_since_us > kSixHoursUs);
  if (!down_long && !p.operator_override()) return Verdict::reject(r::kFallbackServiceNotDown, "R48.1");
  if (!valid_name(sv(p.file_digest()))) return Verdict::reject(r::kValueInvalid, "R48.1");
  const NameId digest = state_.names.find(sv(p.file_digest()));
  if (digest != kNoName && state_.payment_files.find(digest) != nullptr)
    return Verdict::reject(r::kFallbackFileDuplicate, "R48.1");

  // R49.1–R49.5: the summary against the file.
  if (sv(p.institution()).empty() || sv(p.tax_number()).empty() || sv(p.institution()) != sv(p.file_institution()) ||
      sv(p.tax_number()) != sv(p.file_tax_number()))
    return Verdict::reject(r::kFallbackInstitutionMismatch, "R49.1");
  if (sv(p.account()) != sv(p.file_account())) return Verdict::reject(r::kFallbackAccountMismatch, "R49.2");
  if (sv(p.summary_file_name()).empty() || sv(p.summary_file_name()) != sv(p.file_name()))
    return Verdict::reject(r::kFallbackFileNameMismatch, "R49.3");
  if (p.payments() <= 0 || p.payments() != p.file_payments()) {
    Verdict v = Verdict::reject(r::kFallbackCountMismatch, "R49.4");
    v.amount = p.payments();
    v.limit = p.file_payments();
    return v;
  }
  if (p.total_cents() <= 0 || p.total_cents() != p.file_total_cents()) {
    Verdict v = Verdict::reject(r::kFallbackTotalMismatch, "R49.5");
    v.amount = p.total_cents();
    v.limit = p.file_total_cents();
    return v;
  }
  // R49.2: the debited account is the institution's own, open for payments.
  const NameId client = state_.names.find(sv(req.client_id()));
  const NameId account = state_.names.find(sv(p.account()));
  const auto* acc = account == kNoName ? nullptr : state_.accounts.find(account);
  if (acc == nullptr) return Verdict::reject(r::kAccountUnknown, "R49.2");
  const Account& a = acc->second;
  if (client == kNoName || a.owner_client != client || a.deposit || a.closed || a.blocked)
    return Verdict::reject(r::kFallbackAccountMismatch, "R49.2");

  // R48.1: the head or a person on the specimen card signed, and the
  // signature-3 user too where the account has one; none signed after intake.
  NameId signer = kNoName;
  bool signature3 = a.signature3_users == 0;
  if (p.signatures() != nullptr) {
    for (const auto* sig : *p.signatures()) {
      if (sig->signed_us() > req.intake_us()) continue;
      const NameId person = state_.names.find(sv(sig->person()));
      if (person == kNoName) continue;
      if (sig->role() == fb::SummaryRole::head || sig->role() == fb::SummaryRole::specimen) {
        const auto* rep = state_.representatives.find(pair_key(client, person));
        const bool may = rep != nullptr && (sig->role() == fb::SummaryRole::head ? rep->second.head
                                                                                 : rep->second.specimen_card);
        if (may && signer == kNoName) signer = person;
      } else if (sig->role() == fb::SummaryRole::signature_3) {
        const auto* g = state_.grants.find(pair_key(person, account));
        if (g != nullptr && g->second.mode == fb::AccessMode::signature_3 && g->second.client == client)
          signature3 = true;
      }
    }
  }
  if (signer == kNoName) return Verdict::reject(r::kFallbackHeadSignatureMissing, "R48.1");
  if (!signature3) return Verdict::reject(r::kFallbackSignature3Missing, "R48.1");

  auto& e = *state_.payment_files.try_emplace(state_.names.intern(sv(p.file_digest()))).first;
  PaymentFile& f = e.second;
  f.client = client;
  f.account = account;
  f.signer = signer;
  f.payments = p.payments();
  f.total = p.total_cents();
  touch(e, dirty_.payment_files);
  Verdict v = Verdict::ok("R49");
  v.amount = p.total_cents();
  return v;
}

Verdict Engine::on_payment_from_file(const fb::Request& req, const RigaTime& t, const fb::PaymentFromFile& p) {
  const NameId digest = state_.names.find(sv(p.file_digest()));
  auto* fe = digest == kNoName ? nullptr : state_.payment_files.find(digest);
  const NameId client = state_.names.find(sv(req.client_id()));
  if (fe == nullptr || fe->second.client != client) return Verdict::reject(r::kFallbackFileUnknown, "R48.1");
  PaymentFile& f = fe->second;
  if (!valid_name(sv(p.order()))) return Verdict::reject(r::kValueInvalid, "R8");
  if (p.amount_cents() <= 0) {
    Verdict v = Verdict::reject(r::kAmountInvalid, "R9");
    v.amount = p.amount_cents();
    return v;
  }
  // Each of the file's payments is decided once, whatever the outcome: a
  // payment R9 refused does not come again (not under another summary either).
  if (f.decided >= f.payments) {
    Verdict v = Verdict::reject(r::kFallbackPaymentNotInFile, "R49.4");
    v.amount = f.decided + 1;
    v.limit = f.payments;
    return v;
  }
  ++f.decided;
  touch(*fe, dirty_.payment_files);
  if (f.applied_total + p.amount_cents() > f.total) {
    Verdict v = Verdict::reject(r::kFallbackPaymentNotInFile, "R49.5");
    v.amount = p.amount_cents();
    v.limit = f.total - f.applied_total;
    return v;
  }
  if (state_.orders.find(sv(req.client_id()), sv(p.order())) != nullptr) return Verdict::reject(r::kOrderExists, "R8");

  // R9: the signer's per-order and daily limits, as for any other order.
  auto* g = state_.grants.find(pair_key(f.signer, f.account));
  if (g == nullptr || g->second.mode == fb::AccessMode::none || g->second.client != client)
    return Verdict::reject(r::kNoRights, "R9");
  bool count = false;
  DayTotalEntry* day_total = nullptr;
  Verdict v = check_limits(f.signer, f.account, g->second, nullptr, p.amount_cents(), t, &count, &day_total,
                           detail::Tracing{trace_});
  if (!v.accepted) return v;

  OrderTable::Entry* it = &state_.orders.emplace(sv(req.client_id()), sv(p.order()));
  Order& o = it->second;
  o.client = client;
  o.account = f.account;
  o.amount = p.amount_cents();
  o.preparer = f.signer;
  o.beneficiary = state_.orders.keep(sv(p.beneficiary()));
  o.status = OrderStatus::submitted;
  count_in_day_total(o, f.signer, o.amount, t.date, v.limit, day_total);
  touch(*it, dirty_.orders);
  ++f.applied;
  f.applied_total += o.amount;
  touch(*fe, dirty_.payment_files);
  v.rule = "R9";
  return v;
}

}  // namespace kase::engine
