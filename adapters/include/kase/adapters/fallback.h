// Fallback payment files (R48.1, R49): an ISO 20022 pain.001.001.03 payment
// file and its signed summary, parsed and compared here; the fold decides
// (PaymentFileSubmitted, then one PaymentFromFile per payment).
//
// Thread-safety: free functions without shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kase/events/build.h"
#include "kase/projections/status.h"

namespace kase::adapters::fallback {

struct Payment {
  std::string end_to_end_id;
  int64_t amount_cents = 0;
  std::string creditor_iban, creditor_name, remittance;
};

/// What the file holds.
struct PaymentFile {
  std::string message_id;
  std::string debtor_name, debtor_tax_number, debtor_iban;
  std::vector<Payment> payments;
  int64_t total_cents = 0;
};

/// Parses a pain.001.001.03 document with pugixml. Malformed XML, another
/// message type, a header whose count or control sum disagrees with the
/// payments, amounts that are not EUR with at most two decimals, or more
/// than one debited account are errors (invalid_argument, saying where).
Status parse_pain001(std::string_view xml, PaymentFile* out);

/// What the summary states (JSON; see README "Fallback payment files").
struct Summary {
  std::string file_name, institution, tax_number, account;
  int32_t payments = 0;
  int64_t total_cents = 0;
  std::vector<events::SummarySigner> signatures;
};
Status parse_summary(std::string_view json, Summary* out);

/// Every difference between the summary and the file (R49.1–R49.5), in
/// words, e.g. "R49.4: the summary says 120 payments, the file has 119".
std::vector<std::string> differences(const Summary& s, const PaymentFile& f, std::string_view file_name);

/// The requests for the log: the file first, then one per payment. Request
/// ids derive from the file and its summary (the same pair ingested twice is
/// applied once; a file refused for its summary may come again with a
/// corrected one); order ids from the file alone.
std::vector<std::string> build_requests(const Summary& s, const PaymentFile& f, std::string_view file_name,
                                        std::string_view digest_hex, std::string_view client,
                                        std::string_view actor, int64_t intake_us, bool operator_override);

/// SHA-256 of the file's bytes, hex.
std::string digest_hex(std::string_view bytes);

/// Amounts: "1234.5" or "1234.56" -> cents; false for anything else.
bool parse_amount(std::string_view s, int64_t* cents);

}  // namespace kase::adapters::fallback
