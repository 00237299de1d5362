// Fallback payment files (R48.1, R49): generated pain.001.001.03 files and
// summaries through the parser, the comparison and the fold; malformed XML,
// wrong totals, unknown and foreign accounts, missing signatures, amounts over
// the R9 limits, a file ingested twice.
#include <gtest/gtest.h>

#include <filesystem>

#include "harness.h"
#include "kase/adapters/fallback.h"
#include "kase/adapters/ledger.h"
#include "kase/engine/reasons.h"

namespace kase {
namespace {

namespace fallback = adapters::fallback;
using namespace kase::testing;
using engine::reason::kAccountUnknown;
namespace r = engine::reason;

constexpr const char* kIban = "LV80TREL0000000000001";
constexpr const char* kForeign = "LV80TREL0000000000009";

/// A pain.001.001.03 file; `header_count`/`ctrl` override the group header.
std::string pain001(const std::vector<std::string>& amounts, const std::string& debtor = "School No 1",
                    const std::string& tax = "90000000001", const std::string& iban = kIban, int header_count = -1,
                    const std::string& ctrl = "", const std::string& ccy = "EUR") {
  int64_t total = 0;
  for (const auto& a : amounts) {
    int64_t c = 0;
    if (fallback::parse_amount(a, &c)) total += c;  // bad amounts are the test's point
  }
  const std::string sum = ctrl.empty() ? std::to_string(total / 100) + "." + (total % 100 < 10 ? "0" : "") +
                                             std::to_string(total % 100)
                                       : ctrl;
  std::string x = R"(<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03">
 <CstmrCdtTrfInitn>
  <GrpHdr><MsgId>MSG-1</MsgId><CreDtTm>2026-11-30T09:00:00</CreDtTm><NbOfTxs>)" +
                  std::to_string(header_count < 0 ? static_cast<int>(amounts.size()) : header_count) +
                  "</NbOfTxs><CtrlSum>" + sum + R"(</CtrlSum><InitgPty><Nm>)" + debtor + R"(</Nm></InitgPty></GrpHdr>
  <PmtInf><PmtInfId>P1</PmtInfId><PmtMtd>TRF</PmtMtd><ReqdExctnDt>2026-11-30</ReqdExctnDt>
   <Dbtr><Nm>)" + debtor + R"(</Nm><Id><OrgId><Othr><Id>)" + tax + R"(</Id></Othr></OrgId></Id></Dbtr>
   <DbtrAcct><Id><IBAN>)" + iban + R"(</IBAN></Id></DbtrAcct><DbtrAgt><FinInstnId><BIC>TRELLV22</BIC></FinInstnId></DbtrAgt>
)";
  for (size_t i = 0; i < amounts.size(); ++i) {
    x += "   <CdtTrfTxInf><PmtId><EndToEndId>E2E-" + std::to_string(i + 1) + "</EndToEndId></PmtId><Amt><InstdAmt Ccy=\"" +
         ccy + "\">" + amounts[i] + "</InstdAmt></Amt><CdtrAcct><Id><IBAN>LV97HABA00000000000" + std::to_string(10 + i) +
         "</IBAN></Id></CdtrAcct><Cdtr><Nm>Supplier " + std::to_string(i + 1) +
         "</Nm></Cdtr><RmtInf><Ustrd>invoice</Ustrd></RmtInf></CdtTrfTxInf>\n";
  }
  x += "  </PmtInf>\n </CstmrCdtTrfInitn>\n</Document>\n";
  return x;
}

std::string summary_json(int payments, const std::string& total, const std::string& signatures,
                         const std::string& account = kIban, const std::string& file_name = "pay.xml",
                         const std::string& institution = "School No 1", const std::string& tax = "90000000001") {
  return R"({"file_name": ")" + file_name + R"(", "institution": ")" + institution + R"(", "tax_number": ")" + tax +
         R"(", "account": ")" + account + R"(", "payments": )" + std::to_string(payments) + R"(, "total": ")" + total +
         R"(", "signatures": )" + signatures + "}";
}

const std::string kHeadSigned = R"([{"person": "head1", "role": "head", "signed_us": 1}])";

/// The institution C1 with its account, its head (signature-4 with limits)
/// and eKase declared down for eight hours.
struct Fixture : ::testing::Test {
  Harness h;
  void SetUp() override {
    ASSERT_ACCEPTED_ALL(h.open_account(kIban), h.open_account(kForeign, "C2"), h.head("head1"),
                        h.grant("head1", kIban, AccessMode::signature_4, 5'000 * kEur, 8'000 * kEur));
  }
  void outage(int minutes) { EXPECT_ACCEPTED(h.apply(events::service_outage(h.treasury(), fb::Service::ekase, true, minutes))); }

  /// Parses, compares and folds a file; the verdicts of the file and its payments.
  std::vector<engine::Verdict> ingest(const std::string& xml, const std::string& summary, bool override_ = false,
                                      std::vector<std::string>* diffs = nullptr) {
    fallback::PaymentFile f;
    fallback::Summary s;
    EXPECT_TRUE(fallback::parse_pain001(xml, &f).ok());
    EXPECT_TRUE(fallback::parse_summary(summary, &s).ok());
    if (diffs != nullptr) *diffs = fallback::differences(s, f, "pay.xml");
    const auto reqs = fallback::build_requests(s, f, "pay.xml", fallback::digest_hex(xml), h.client, "operator",
                                               h.now, override_);
    std::vector<engine::Verdict> out;
    for (const auto& r : reqs) out.push_back(h.apply(r));
    return out;
  }
};

TEST_F(Fixture, R48_1_FilesOnlyWhileEKaseIsDeclaredDownForMoreThanSixHours) {
  const std::string xml = pain001({"100.00"});
  EXPECT_REJECTED(ingest(xml, summary_json(1, "100.00", kHeadSigned))[0], r::kFallbackServiceNotDown, "R48.1");
  outage(120);  // two hours expected: not yet
  EXPECT_REJECTED(ingest(xml, summary_json(1, "100.00", kHeadSigned))[0], r::kFallbackServiceNotDown, "R48.1");
  h.now += 7 * 60 * kUsPerMinute;  // ... but down for seven hours now
  const auto v = ingest(xml, summary_json(1, "100.00", kHeadSigned));
  EXPECT_ACCEPTED(v[0]);
  EXPECT_ACCEPTED(v[1]);
  // Working again: no more files, unless the operator takes one anyway.
  EXPECT_ACCEPTED(h.apply(events::service_outage(h.treasury(), fb::Service::ekase, false, 0)));
  const std::string other = pain001({"50.00"}, "School No 1", "90000000001", kIban, -1, "", "EUR") + " ";
  EXPECT_REJECTED(ingest(other, summary_json(1, "50.00", kHeadSigned))[0], r::kFallbackServiceNotDown, "R48.1");
  EXPECT_ACCEPTED(ingest(other, summary_json(1, "50.00", kHeadSigned), true)[0]);
}

TEST_F(Fixture, R49_1_InstitutionNameAndTaxNumberMustMatchTheFile) {
  outage(8 * 60);
  std::vector<std::string> d;
  const auto v = ingest(pain001({"10.00"}), summary_json(1, "10.00", kHeadSigned, kIban, "pay.xml", "School No 2"),
                        false, &d);
  EXPECT_REJECTED(v[0], r::kFallbackInstitutionMismatch, "R49.1");
  ASSERT_EQ(d.size(), 1U);
  EXPECT_NE(d[0].find("'School No 2', the file's debtor is 'School No 1'"), std::string::npos) << d[0];
  EXPECT_REJECTED(ingest(pain001({"10.00"}), summary_json(1, "10.00", kHeadSigned, kIban, "pay.xml", "School No 1",
                                                          "90000000002"))[0],
                  r::kFallbackInstitutionMismatch, "R49.1");
}

TEST_F(Fixture, R49_2_TheDebitedAccountMustBeTheFilesAndTheInstitutionsOwn) {
  outage(8 * 60);
  EXPECT_REJECTED(ingest(pain001({"10.00"}), summary_json(1, "10.00", kHeadSigned, kForeign))[0],
                  r::kFallbackAccountMismatch, "R49.2");
  // An account the Treasury does not know.
  const std::string unknown = "LV80TREL0000000000777";
  EXPECT_REJECTED(ingest(pain001({"10.00"}, "School No 1", "90000000001", unknown),
                         summary_json(1, "10.00", kHeadSigned, unknown))[0],
                  kAccountUnknown, "R49.2");
  // Another client's account, file and summary agreeing.
  EXPECT_REJECTED(ingest(pain001({"10.00"}, "School No 1", "90000000001", kForeign),
                         summary_json(1, "10.00", kHeadSigned, kForeign))[0],
                  r::kFallbackAccountMismatch, "R49.2");
}

TEST_F(Fixture, R49_3_TheFileNameMustBeTheSummarys) {
  outage(8 * 60);
  std::vector<std::string> d;
  EXPECT_REJECTED(ingest(pain001({"10.00"}), summary_json(1, "10.00", kHeadSigned, kIban, "other.xml"), false, &d)[0],
                  r::kFallbackFileNameMismatch, "R49.3");
  ASSERT_EQ(d.size(), 1U);
  EXPECT_NE(d[0].find("R49.3"), std::string::npos);
}

TEST_F(Fixture, R49_4_TheNumberOfPaymentsMustBeTheFiles) {
  outage(8 * 60);
  std::vector<std::string> d;
  const auto v = ingest(pain001({"10.00", "20.00"}), summary_json(3, "30.00", kHeadSigned), false, &d);
  EXPECT_REJECTED(v[0], r::kFallbackCountMismatch, "R49.4");
  ASSERT_EQ(d.size(), 1U);
  EXPECT_EQ(d[0], "R49.4: the summary says 3 payments, the file has 2");
  // Nothing of a rejected file is applied: its payments find no file.
  for (size_t i = 1; i < v.size(); ++i) EXPECT_REJECTED(v[i], r::kFallbackFileUnknown, "R48.1");
  EXPECT_TRUE(h.engine.state().orders.empty());
}

TEST_F(Fixture, R49_5_TheTotalMustBeTheFiles) {
  outage(8 * 60);
  std::vector<std::string> d;
  const auto v = ingest(pain001({"10.00", "20.05"}), summary_json(2, "30.00", kHeadSigned), false, &d);
  EXPECT_REJECTED(v[0], r::kFallbackTotalMismatch, "R49.5");
  EXPECT_EQ(v[0].amount, 3000);
  EXPECT_EQ(v[0].limit, 3005);
  ASSERT_EQ(d.size(), 1U);
  EXPECT_EQ(d[0], "R49.5: the summary's total is 30.00, the file's is 30.05");
  EXPECT_TRUE(h.engine.state().orders.empty());
}

TEST_F(Fixture, R48_1_TheHeadOrASpecimenCardPersonAndTheSignature3UserSign) {
  outage(8 * 60);
  // Nobody authorised signed.
  EXPECT_REJECTED(ingest(pain001({"10.00"}), summary_json(1, "10.00", "[]"))[0], r::kFallbackHeadSignatureMissing,
                  "R48.1");
  EXPECT_REJECTED(ingest(pain001({"10.00"}), summary_json(1, "10.00",
                                                          R"([{"person": "clerk", "role": "head", "signed_us": 1}])"))[0],
                  r::kFallbackHeadSignatureMissing, "R48.1");
  // A signature dated after intake does not count.
  EXPECT_REJECTED(ingest(pain001({"10.00"}),
                         summary_json(1, "10.00", R"([{"person": "head1", "role": "head", "signed_us": 9999999999999999}])"))[0],
                  r::kFallbackHeadSignatureMissing, "R48.1");
  // An account with a signature-3 user needs that user's signature too (the
  // head signs there as signature-2: R8.8 keeps signature-4 off such accounts).
  const std::string a3 = "LV80TREL0000000000003";
  ASSERT_ACCEPTED_ALL(h.open_account(a3), h.grant("head1", a3, AccessMode::signature_2),
                      h.grant("s3", a3, AccessMode::signature_3));
  const std::string xml = pain001({"10.00"}, "School No 1", "90000000001", a3);
  EXPECT_REJECTED(ingest(xml, summary_json(1, "10.00", kHeadSigned, a3))[0], r::kFallbackSignature3Missing, "R48.1");
  const auto v = ingest(xml, summary_json(1, "10.00", R"([{"person": "head1", "role": "head", "signed_us": 1},
                                                          {"person": "s3", "role": "signature_3", "signed_us": 1}])",
                                          a3));
  EXPECT_ACCEPTED(v[0]);
  EXPECT_ACCEPTED(v[1]);
}

TEST_F(Fixture, R48_1_PaymentsBecomeOrdersThatObeyTheR9Limits) {
  outage(8 * 60);
  // Per order 5,000.00 and per day 8,000.00 for the head.
  const auto v = ingest(pain001({"4000.00", "6000.00", "3000.00", "2000.00"}), summary_json(4, "15000.00", kHeadSigned));
  ASSERT_EQ(v.size(), 5U);
  EXPECT_ACCEPTED(v[0]);
  EXPECT_ACCEPTED(v[1]);
  EXPECT_REJECTED(v[2], r::kPerOrderExceeded, "R9");
  EXPECT_ACCEPTED(v[3]);
  EXPECT_REJECTED(v[4], r::kDailyExceeded, "R9");
  size_t submitted = 0;
  for (const auto& [k, o] : h.engine.state().orders) submitted += o.status == engine::OrderStatus::submitted ? 1 : 0;
  EXPECT_EQ(submitted, 2U);
}

// A payment R9 refused is decided: the same file under another summary (new
// request ids) applies nothing more, on Kafka as on the embedded log.
TEST_F(Fixture, R49_4_EachPaymentOfAFileIsDecidedOnce) {
  outage(8 * 60);
  const std::string xml = pain001({"4000.00", "6000.00", "3000.00"});
  const auto v = ingest(xml, summary_json(3, "13000.00", kHeadSigned));
  ASSERT_EQ(v.size(), 4U);
  EXPECT_ACCEPTED(v[0]);
  EXPECT_ACCEPTED(v[1]);
  EXPECT_REJECTED(v[2], r::kPerOrderExceeded, "R9");
  EXPECT_ACCEPTED(v[3]);
  const auto again = ingest(xml, summary_json(3, "13000.00", R"([{"person": "head1", "role": "head", "signed_us": 2}])"));
  ASSERT_EQ(again.size(), 4U);
  EXPECT_REJECTED(again[0], r::kFallbackFileDuplicate, "R48.1");
  for (size_t i = 1; i < again.size(); ++i) {
    EXPECT_REJECTED(again[i], r::kFallbackPaymentNotInFile, "R49.4");
    EXPECT_EQ(again[i].amount, 4);  // the fourth payment of a file of three
    EXPECT_EQ(again[i].limit, 3);
  }
  EXPECT_EQ(h.engine.state().orders.size(), 2U);
  // The count survives a restart.
  const auto loaded = h.reloaded();
  const auto* file = loaded->payment_files.find(loaded->names.find(fallback::digest_hex(xml)));
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->second.decided, 3);
  EXPECT_EQ(file->second.applied, 2);
}

TEST_F(Fixture, R48_1_AFileIsAppliedOnce) {
  outage(8 * 60);
  const std::string xml = pain001({"10.00", "20.00"});
  ASSERT_TRUE(ingest(xml, summary_json(2, "30.00", kHeadSigned))[0].accepted);
  // The same bytes under other request ids: refused by digest.
  fallback::PaymentFile f;
  fallback::Summary s;
  ASSERT_TRUE(fallback::parse_pain001(xml, &f).ok());
  ASSERT_TRUE(fallback::parse_summary(summary_json(2, "30.00", kHeadSigned), &s).ok());
  auto reqs = fallback::build_requests(s, f, "pay.xml", fallback::digest_hex(xml), h.client, "operator", h.now, false);
  EXPECT_REJECTED(h.apply(events::payment_file(h.treasury(), [&] {
                    events::PaymentFileFacts facts;
                    facts.file_digest = fallback::digest_hex(xml);
                    facts.file_name = facts.summary_file_name = "pay.xml";
                    facts.account = facts.file_account = kIban;
                    facts.institution = facts.file_institution = "School No 1";
                    facts.tax_number = facts.file_tax_number = "90000000001";
                    facts.payments = facts.file_payments = 2;
                    facts.total_cents = facts.file_total_cents = 3000;
                    facts.signatures = s.signatures;
                    return facts;
                  }())),
                  r::kFallbackFileDuplicate, "R48.1");
  // More payments than the file holds are refused.
  EXPECT_REJECTED(h.apply(events::payment_from_file(h.treasury(), fallback::digest_hex(xml), "extra", 100, "x")),
                  r::kFallbackPaymentNotInFile, "R49.4");
  EXPECT_EQ(h.engine.state().orders.size(), 2U);

  // Through the ledger: the same file ingested twice answers with the
  // original decisions and changes nothing.
  auto store = projections::make_memory_store();
  std::unique_ptr<adapters::Ledger> ledger;
  ASSERT_TRUE(adapters::Ledger::open(store.get(), &ledger).ok());
  Harness setup;
  std::vector<std::string> first = {
      events::account_opened(setup.treasury(), kIban, "C1", false, 2026),
      events::representative(setup.treasury(), "head1", true, true),
      events::application_submitted(setup.treasury(), "app-head1", fb::ApplicationKind::ekase, "head1", "head1",
                                    setup.now - 1, "sha256:annex2"),
      events::application_registered(setup.treasury(), "app-head1"),
      events::rights_granted_under(setup.treasury(), "head1", kIban, AccessMode::signature_4, 5'000 * kEur,
                                   8'000 * kEur, "app-head1"),
      events::service_outage(setup.treasury(), fb::Service::ekase, true, 8 * 60)};
  for (const auto& r : reqs) first.push_back(r);
  std::vector<std::span<const uint8_t>> spans;
  for (const auto& r : first) spans.push_back(events::bytes_of(r));
  std::vector<adapters::Answer> answers;
  ASSERT_TRUE(ledger->submit(spans, &answers).ok());
  for (const auto& a : answers) EXPECT_EQ(a.decision()->outcome(), fb::Outcome::accepted);
  spans.clear();
  for (const auto& r : reqs) spans.push_back(events::bytes_of(r));
  ASSERT_TRUE(ledger->submit(spans, &answers).ok());
  for (const auto& a : answers) EXPECT_TRUE(a.duplicate);
  EXPECT_EQ(ledger->state().orders.size(), 2U);
}

TEST(FallbackParse, MalformedAndInconsistentFilesAreRefusedWithWhereAndWhy) {
  fallback::PaymentFile f;
  Status s = fallback::parse_pain001("<Document><CstmrCdtTrfInitn>", &f);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("malformed XML"), std::string::npos) << s.message();
  s = fallback::parse_pain001(R"(<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.008.001.02"/>)", &f);
  EXPECT_NE(s.message().find("not a pain.001.001.03"), std::string::npos) << s.message();
  f = {};
  s = fallback::parse_pain001(pain001({"10.00", "20.00"}, "S", "1", kIban, 3), &f);
  EXPECT_NE(s.message().find("says 3 payments (NbOfTxs), the file has 2"), std::string::npos) << s.message();
  f = {};
  s = fallback::parse_pain001(pain001({"10.00"}, "S", "1", kIban, -1, "11.00"), &f);
  EXPECT_NE(s.message().find("control sum 11.00 differs from the payments' total 10.00"), std::string::npos)
      << s.message();
  f = {};
  s = fallback::parse_pain001(pain001({"10.00"}, "S", "1", kIban, -1, "", "USD"), &f);
  EXPECT_NE(s.message().find("not in EUR"), std::string::npos) << s.message();
  f = {};
  s = fallback::parse_pain001(pain001({"10.001"}, "S", "1", kIban, -1, "10.00"), &f);
  EXPECT_NE(s.message().find("at most two decimals"), std::string::npos) << s.message();
  f = {};
  ASSERT_TRUE(fallback::parse_pain001(pain001({"10.00", "0.5"}), &f).ok());
  EXPECT_EQ(f.total_cents, 1050);
  EXPECT_EQ(f.payments.size(), 2U);

  fallback::Summary sm;
  EXPECT_FALSE(fallback::parse_summary("{", &sm).ok());
  EXPECT_FALSE(fallback::parse_summary(R"({"file_name": "a"})", &sm).ok());
  sm = {};
  s = fallback::parse_summary(summary_json(1, "10.00", kHeadSigned).replace(1, 0, R"("extra": 1, )"), &sm);
  EXPECT_NE(s.message().find("unknown field \"extra\""), std::string::npos) << s.message();
}

}  // namespace
}  // namespace kase
