// Document workflows in ePlans, eEstimates (R6), eReports (R16, R19) and eLoans
// (R21), decided by the fold: who may do which step, on whose document, when.
// One test or more per rule ID.
#include <array>
#include <set>
#include <string>
#include <vector>

#include "harness.h"
#include "partitions.h"

namespace kase::testing {
namespace {

using fb::AuditVerdict;
using fb::ClientKind;
using fb::DocumentKind;
using fb::LoanGroup;
using fb::LoanMode;
using fb::PersonRole;
using fb::PlanMode;
using fb::ReportGroup;
using fb::ReportMode;
using fb::ReportType;
using fb::Service;

struct Documents : public ::testing::Test {
  Harness h;
  // The same requests on Kafka's topology: eight partitions (M, I, J and X,
  // the clients that act on each other's documents, each in its own), with the
  // directory and identity facts between them. Every decision must be the
  // single log's (R6.5, R19.2.4, R19.2.7, R19.2.8 across partitions).
  Cluster kafka{8};
  Documents() {
    for (const char* c : {"M", "I", "J", "X"})
      for (const char* d : {"M", "I", "J", "X"})
        if (std::string_view(c) != d) {
          EXPECT_NE(engine::client_partition(c, 8), engine::client_partition(d, 8)) << c << " " << d;
        }
    h.after = [this](const std::string& bytes, const engine::Verdict& v) {
      const Said s = kafka.send(bytes);
      const fb::Request* r = events::verify_request(events::bytes_of(bytes));
      EXPECT_EQ(s.accepted, v.accepted) << "on partitions: " << s.reason << " " << s.rule << "; single log: "
                                        << v.reason << " " << v.rule << " (request " << events::sv(r->request_id())
                                        << ", client " << events::sv(r->client_id()) << ")";
      EXPECT_EQ(s.reason, v.reason) << "request " << events::sv(r->request_id());
      EXPECT_EQ(s.rule, v.rule) << "request " << events::sv(r->request_id());
    };
  }

  /// The R16 report slots by name: "owner kind type year period -> document".
  static std::set<std::string> slots(const engine::State& s) {
    std::set<std::string> out;
    for (const auto& [k, doc] : s.report_slots)
      out.insert(std::string(s.names.name(k.client)) + " " + std::to_string(k.kind) + " " + std::to_string(k.type) +
                 " " + std::to_string(k.year) + " " + std::string(s.names.name(k.period)) + " -> " +
                 std::string(s.names.name(doc)));
    return out;
  }

  /// Runs `f` with the harness's client set to `client`, then restores it.
  template <class F>
  auto at(const std::string& client, F&& f) {
    const std::string saved = h.client;
    h.client = client;
    auto out = f();
    h.client = saved;
    return out;
  }
  engine::Verdict kind(const std::string& client, ClientKind k) {
    return at(client, [&] { return h.apply(events::client_registered(h.treasury(), k)); });
  }
  engine::Verdict plan_rights(const std::string& client, const std::string& u, Service s, PlanMode m) {
    return at(client, [&] { return h.plan_rights(u, s, m); });
  }
  engine::Verdict roles(const std::string& client, const std::string& p, PersonRole r) {
    return at(client, [&] { return h.apply(events::person_roles(h.treasury(), p, r)); });
  }
  engine::Verdict report_rights(const std::string& client, const std::string& u, const std::string& inst,
                                ReportGroup g, ReportMode m) {
    return at(client, [&] { return h.report_rights(u, inst, g, m); });
  }
  engine::Verdict structure(const std::string& client, ReportType t, int32_t year, std::vector<std::string> insts) {
    return at(client, [&] { return h.apply(events::institution_structure(h.treasury(), t, year, insts)); });
  }
  engine::Verdict loan_rights(const std::string& client, const std::string& u, LoanGroup g, LoanMode m) {
    return at(client, [&] { return h.loan_rights(u, g, m); });
  }

  // Steps on a document of `owner` by `user` (acting for `via`, when given).
  engine::Verdict create(const std::string& owner, const std::string& user, Service s, const std::string& doc,
                         DocumentKind k, int64_t amount = 0, const std::string& via = "",
                         const std::string& agreement = "") {
    return at(owner, [&] {
      return h.apply(events::document_create(h.as(user), s, doc, k, "sha256:" + doc, amount, via, agreement));
    });
  }
  engine::Verdict report(const std::string& owner, const std::string& user, const std::string& doc,
                         DocumentKind k = DocumentKind::report, ReportType t = ReportType::annual, int32_t year = 2026,
                         const std::string& via = "", const std::string& period = "Y") {
    return at(owner, [&] {
      return h.apply(events::report_create(h.as(user), doc, k, "sha256:" + doc, t, year, period, via));
    });
  }
  engine::Verdict update(const std::string& owner, const std::string& user, Service s, const std::string& doc,
                         int64_t amount = -1, const std::string& via = "") {
    return at(owner, [&] { return h.apply(events::document_update(h.as(user), s, doc, "sha256:v2", amount, via)); });
  }
  engine::Verdict check(const std::string& owner, const std::string& user, Service s, const std::string& doc,
                        const std::string& via = "") {
    return at(owner, [&] { return h.apply(events::document_check(h.as(user), s, doc, via)); });
  }
  engine::Verdict approve(const std::string& owner, const std::string& user, Service s, const std::string& doc,
                          const std::string& via = "") {
    return at(owner, [&] { return h.apply(events::document_approve(h.as(user), s, doc, via)); });
  }
  engine::Verdict audit(const std::string& owner, const std::string& user, const std::string& doc,
                        AuditVerdict verdict, const std::string& opinion, const std::string& via = "") {
    return at(owner, [&] {
      return h.apply(events::document_approve(h.as(user), Service::ereports, doc, via, verdict, opinion));
    });
  }
  engine::Verdict sign(const std::string& owner, const std::string& user, Service s, const std::string& doc,
                       const std::string& via = "") {
    return at(owner, [&] { return h.apply(events::document_sign(h.as(user), s, doc, via)); });
  }
  engine::Verdict submit(const std::string& owner, const std::string& user, Service s, const std::string& doc,
                         const std::string& via = "") {
    return at(owner, [&] { return h.apply(events::document_submit(h.as(user), s, doc, via)); });
  }
  engine::Verdict accept(const std::string& owner, const std::string& user, const std::string& doc,
                         const std::string& via = "") {
    return at(owner, [&] { return h.apply(events::document_accept(h.as(user), Service::ereports, doc, via)); });
  }
  engine::Verdict view(const std::string& owner, const std::string& user, Service s, const std::string& doc,
                       const std::string& via = "") {
    return at(owner, [&] { return h.apply(events::document_view(h.as(user), s, doc, via)); });
  }

  const engine::Document* document(const std::string& owner, Service s, const std::string& doc) {
    const auto& st = h.engine.state();
    const auto* e = st.documents.find(engine::DocumentKey{st.names.find(owner), st.names.find(doc),
                                                          static_cast<uint8_t>(s)});
    return e == nullptr ? nullptr : &e->second;
  }
  engine::DocumentStatus status(const std::string& owner, Service s, const std::string& doc) {
    const engine::Document* d = document(owner, s, doc);
    EXPECT_NE(d, nullptr) << doc;
    return d == nullptr ? engine::DocumentStatus::draft : d->status;
  }
};

using S = engine::DocumentStatus;

// ---- ePlans (R6) -------------------------------------------------------------------

TEST_F(Documents, R6_2_InstitutionManageCreatesAndEntersPlans) {
  ASSERT_ACCEPTED_ALL(plan_rights("I", "im", Service::eplans, PlanMode::institution_manage),
                      plan_rights("I", "iv", Service::eplans, PlanMode::view),
                      plan_rights("I", "ia", Service::eplans, PlanMode::approve));
  EXPECT_ACCEPTED(create("I", "im", Service::eplans, "P1", DocumentKind::financing_plan, 1'000 * kEur));
  EXPECT_ACCEPTED(update("I", "im", Service::eplans, "P1", 1'200 * kEur));
  EXPECT_EQ(document("I", Service::eplans, "P1")->amount, 1'200 * kEur);
  EXPECT_EQ(document("I", Service::eplans, "P1")->digest, "sha256:v2");
  EXPECT_REJECTED(create("I", "iv", Service::eplans, "P2", DocumentKind::financing_plan, 1), reason::kDocumentModeNotAllowed,
                  "R6.2");
  EXPECT_REJECTED(create("I", "im", Service::eplans, "P1", DocumentKind::financing_plan, 1), reason::kDocumentExists, "R6");
  // A plan's total holds the appropriations (R2): never zero or negative.
  EXPECT_REJECTED(create("I", "im", Service::eplans, "P3", DocumentKind::financing_plan, 0), reason::kDocumentAmountInvalid,
                  "R2");
  EXPECT_REJECTED(create("I", "im", Service::eplans, "P3", DocumentKind::financing_plan, -5),
                  reason::kDocumentAmountInvalid, "R2");
  EXPECT_REJECTED(create("I", "im", Service::eplans, "E1", DocumentKind::estimate, 1), reason::kDocumentKindNotInService,
                  "R2");
  // Entered content is fixed once approved.
  EXPECT_ACCEPTED(approve("I", "ia", Service::eplans, "P1"));
  EXPECT_REJECTED(update("I", "im", Service::eplans, "P1"), reason::kDocumentNotEditable, "R6.2");
}

struct MinistryPlans : Documents {
  void SetUp() override {
    ASSERT_ACCEPTED_ALL(kind("M", ClientKind::ministry), structure("M", ReportType::annual, 2026, {"I"}),
                        plan_rights("M", "mm", Service::eplans, PlanMode::ministry_manage),
                        plan_rights("M", "ma", Service::eplans, PlanMode::approve),
                        plan_rights("I", "im", Service::eplans, PlanMode::institution_manage),
                        plan_rights("I", "ia", Service::eplans, PlanMode::approve),
                        create("I", "im", Service::eplans, "P1", DocumentKind::financing_plan, 1'000 * kEur));
  }
};

TEST_F(MinistryPlans, R6_5_MinistryChecksApprovedPlansAndSubmitsThem) {
  // Submitting an unapproved ("unsigned") plan, or an unchecked one, is refused.
  EXPECT_REJECTED(submit("I", "mm", Service::eplans, "P1", "M"), reason::kDocumentNotApproved, "R6.5");
  EXPECT_REJECTED(check("I", "mm", Service::eplans, "P1", "M"), reason::kDocumentNotApproved, "R6.5");
  EXPECT_ACCEPTED(approve("I", "ia", Service::eplans, "P1"));
  EXPECT_REJECTED(submit("I", "mm", Service::eplans, "P1", "M"), reason::kDocumentNotChecked, "R6.5");
  // Only ministry-manage checks and submits.
  EXPECT_REJECTED(check("I", "im", Service::eplans, "P1"), reason::kDocumentModeNotAllowed, "R6.5");
  EXPECT_REJECTED(check("I", "ma", Service::eplans, "P1", "M"), reason::kDocumentModeNotAllowed, "R6.5");
  EXPECT_ACCEPTED(check("I", "mm", Service::eplans, "P1", "M"));
  EXPECT_REJECTED(submit("I", "im", Service::eplans, "P1"), reason::kDocumentModeNotAllowed, "R6.5");
  const engine::Verdict v = submit("I", "mm", Service::eplans, "P1", "M");
  EXPECT_ACCEPTED(v);
  EXPECT_STREQ(v.rule, "R6.5");
  EXPECT_EQ(status("I", Service::eplans, "P1"), S::submitted);
  EXPECT_REJECTED(submit("I", "mm", Service::eplans, "P1", "M"), reason::kDocumentWrongStatus, "R6.5");
}

TEST_F(MinistryPlans, R6_5_MinistryUsersCreatePlansOfTheirOwnAndOnlyActOnTheirStructure) {
  EXPECT_ACCEPTED(create("M", "mm", Service::eplans, "MP", DocumentKind::financing_plan, 10));
  EXPECT_ACCEPTED(create("I", "mm", Service::eplans, "P2", DocumentKind::financing_plan, 10, "M"));
  // An institution outside the ministry's structures is another institution.
  EXPECT_REJECTED(create("J", "mm", Service::eplans, "P3", DocumentKind::financing_plan, 10, "M"),
                  reason::kDocumentOtherInstitution, "R6.5");
  // Only ministries act for their institutions.
  ASSERT_ACCEPTED_ALL(kind("X", ClientKind::municipality), structure("X", ReportType::annual, 2026, {"I"}),
                      plan_rights("X", "xm", Service::eplans, PlanMode::institution_manage));
  EXPECT_REJECTED(update("I", "xm", Service::eplans, "P1", -1, "X"), reason::kDocumentOtherInstitution, "R6.5");
  // Acting on another institution without naming the client whose rights apply.
  EXPECT_REJECTED(update("I", "mm", Service::eplans, "P1"), reason::kNoRights, "R6");
}

TEST_F(MinistryPlans, R6_3_ApproveUsersApprovePlansOnce) {
  EXPECT_REJECTED(approve("I", "im", Service::eplans, "P1"), reason::kDocumentModeNotAllowed, "R6.3");
  // A ministry's approve user approves the plans of its institutions.
  const engine::Verdict v = approve("I", "ma", Service::eplans, "P1", "M");
  EXPECT_ACCEPTED(v);
  EXPECT_STREQ(v.rule, "R6.3");
  EXPECT_REJECTED(approve("I", "ia", Service::eplans, "P1"), reason::kDocumentWrongStatus, "R6.3");
  // Plans carry no audit mark.
  EXPECT_REJECTED(at("I", [&] {
                    return h.apply(events::document_approve(h.as("ia"), Service::eplans, "P1", "", AuditVerdict::agreed,
                                                            "sha256:o"));
                  }),
                  reason::kValueInvalid, "R6.3");
}

TEST_F(MinistryPlans, R6_1_EveryModeViewsAndViewingChangesNothing) {
  ASSERT_TRUE(plan_rights("I", "iv", Service::eplans, PlanMode::view).accepted);
  for (const char* u : {"iv", "im", "ia"}) {
    const engine::Verdict v = view("I", u, Service::eplans, "P1");
    EXPECT_ACCEPTED(v);
    EXPECT_STREQ(v.rule, "R6.1");
  }
  EXPECT_ACCEPTED(view("I", "mm", Service::eplans, "P1", "M"));
  EXPECT_EQ(document("I", Service::eplans, "P1")->history_count, 1u);
  EXPECT_REJECTED(view("I", "nobody", Service::eplans, "P1"), reason::kNoRights, "R6");
  EXPECT_REJECTED(view("I", "iv", Service::eplans, "P9"), reason::kDocumentUnknown, "R6");
  // The view user neither enters nor approves.
  EXPECT_REJECTED(update("I", "iv", Service::eplans, "P1"), reason::kDocumentModeNotAllowed, "R6.2");
  EXPECT_REJECTED(approve("I", "iv", Service::eplans, "P1"), reason::kDocumentModeNotAllowed, "R6.3");
}

TEST_F(MinistryPlans, R2_AppropriationsAreRecordedAgainstTheSubmittedPlan) {
  const auto appropriation = [&](int64_t amount) {
    return at("I", [&] { return h.apply(events::appropriation_received(h.treasury(), "P1", amount)); });
  };
  EXPECT_REJECTED(appropriation(100 * kEur), reason::kDocumentNotSubmitted, "R2");
  ASSERT_ACCEPTED_ALL(approve("I", "ia", Service::eplans, "P1"), check("I", "mm", Service::eplans, "P1", "M"),
                      submit("I", "mm", Service::eplans, "P1", "M"));
  EXPECT_ACCEPTED(appropriation(600 * kEur));
  const engine::Verdict over = appropriation(500 * kEur);
  EXPECT_REJECTED(over, reason::kAppropriationExceedsPlan, "R2");
  EXPECT_EQ(over.amount, 500 * kEur);
  EXPECT_EQ(over.limit, 1'000 * kEur);
  EXPECT_EQ(over.day_total, 600 * kEur);
  EXPECT_ACCEPTED(appropriation(400 * kEur));
  EXPECT_EQ(document("I", Service::eplans, "P1")->appropriated, 1'000 * kEur);
  EXPECT_REJECTED(appropriation(0), reason::kDocumentAmountInvalid, "R2");
  // Users do not record appropriations (R41).
  EXPECT_REJECTED(at("I", [&] { return h.apply(events::appropriation_received(h.as("mm"), "P1", 1)); }),
                  reason::kTreasuryOnly, "R41");
}

// ---- eEstimates (R6) ------------------------------------------------------------------

struct Estimates : Documents {
  void SetUp() override {
    ASSERT_ACCEPTED_ALL(plan_rights("I", "im", Service::eestimates, PlanMode::institution_manage),
                        plan_rights("I", "ia", Service::eestimates, PlanMode::approve),
                        plan_rights("I", "ih", Service::eestimates, PlanMode::sign_head),
                        create("I", "im", Service::eestimates, "E1", DocumentKind::estimate, 50 * kEur));
  }
};

TEST_F(Estimates, R6_2_CreateEnterAndRefine) {
  EXPECT_REJECTED(create("I", "ia", Service::eestimates, "E2", DocumentKind::estimate), reason::kDocumentModeNotAllowed,
                  "R6.2");
  EXPECT_ACCEPTED(update("I", "im", Service::eestimates, "E1"));
  EXPECT_ACCEPTED(approve("I", "ia", Service::eestimates, "E1"));
  // Refining an approved estimate takes it back to draft: it needs approval again.
  EXPECT_ACCEPTED(update("I", "im", Service::eestimates, "E1", 70 * kEur));
  EXPECT_EQ(status("I", Service::eestimates, "E1"), S::draft);
  EXPECT_REJECTED(sign("I", "ih", Service::eestimates, "E1"), reason::kDocumentNotApproved, "R6.4");
}

TEST_F(Estimates, R6_3_ApproveByInstitutionUsersOnly) {
  EXPECT_REJECTED(approve("I", "im", Service::eestimates, "E1"), reason::kDocumentModeNotAllowed, "R6.3");
  // A ministry does not act on an institution's estimates ...
  ASSERT_ACCEPTED_ALL(kind("M", ClientKind::ministry), structure("M", ReportType::annual, 2026, {"I"}),
                      plan_rights("M", "mv", Service::eestimates, PlanMode::view));
  EXPECT_REJECTED(approve("I", "mv", Service::eestimates, "E1", "M"), reason::kDocumentOtherInstitution, "R6");
  EXPECT_ACCEPTED(approve("I", "ia", Service::eestimates, "E1"));
  // ... and a client that became a ministry no longer approves estimates.
  ASSERT_ACCEPTED_ALL(create("I", "im", Service::eestimates, "E2", DocumentKind::estimate),
                      kind("I", ClientKind::ministry));
  EXPECT_REJECTED(approve("I", "ia", Service::eestimates, "E2"), reason::kPlanModeInstitutionsOnly, "R6.3");
}

TEST_F(Estimates, R6_4_HeadSignsOnlyAfterApprovalAndOnlyOnce) {
  EXPECT_REJECTED(sign("I", "ih", Service::eestimates, "E1"), reason::kDocumentNotApproved, "R6.4");
  EXPECT_REJECTED(sign("I", "ia", Service::eestimates, "E1"), reason::kDocumentModeNotAllowed, "R6.4");
  EXPECT_ACCEPTED(approve("I", "ia", Service::eestimates, "E1"));
  const engine::Verdict v = sign("I", "ih", Service::eestimates, "E1");
  EXPECT_ACCEPTED(v);
  EXPECT_STREQ(v.rule, "R6.4");
  EXPECT_EQ(status("I", Service::eestimates, "E1"), S::signed_once);
  EXPECT_REJECTED(sign("I", "ih", Service::eestimates, "E1"), reason::kDocumentAlreadySigned, "R6.4");
  EXPECT_REJECTED(update("I", "im", Service::eestimates, "E1"), reason::kDocumentNotEditable, "R6.2");
  EXPECT_REJECTED(submit("I", "ih", Service::eestimates, "E1"), reason::kDocumentStepNotForKind, "R6");
  // Head of an institution that became a ministry: institution users only.
  ASSERT_ACCEPTED_ALL(create("I", "im", Service::eestimates, "E2", DocumentKind::estimate),
                      approve("I", "ia", Service::eestimates, "E2"), kind("I", ClientKind::ministry));
  EXPECT_REJECTED(sign("I", "ih", Service::eestimates, "E2"), reason::kPlanModeInstitutionsOnly, "R6.4");
}

TEST_F(Estimates, R6_1_ViewEstimates) {
  ASSERT_TRUE(plan_rights("I", "iv", Service::eestimates, PlanMode::view).accepted);
  EXPECT_ACCEPTED(view("I", "iv", Service::eestimates, "E1"));
  // Rights in ePlans are not rights in eEstimates.
  ASSERT_TRUE(plan_rights("I", "pv", Service::eplans, PlanMode::view).accepted);
  EXPECT_REJECTED(view("I", "pv", Service::eestimates, "E1"), reason::kNoRights, "R6");
}

// ---- eReports (R16, R19) --------------------------------------------------------------

struct Reports : Documents {
  void SetUp() override {
    ASSERT_ACCEPTED_ALL(roles("I", "fin", PersonRole::finance_employee), roles("I", "boss", PersonRole::head),
                        roles("I", "both", PersonRole::finance_employee | PersonRole::head),
                        report_rights("I", "clerk", "I", ReportGroup::view_prepare, ReportMode::manage),
                        report_rights("I", "fin", "I", ReportGroup::view_prepare, ReportMode::manage_sign),
                        report_rights("I", "boss", "I", ReportGroup::view_prepare, ReportMode::sign_head),
                        report_rights("I", "both", "I", ReportGroup::view_prepare,
                                      ReportMode::manage_sign | ReportMode::sign_head),
                        report_rights("I", "viewer", "I", ReportGroup::view_prepare, ReportMode::view),
                        report("I", "clerk", "R1"));
  }
  /// R1 entered, checked and signed by the finance employee and the head.
  void submit_r1() {
    ASSERT_ACCEPTED_ALL(check("I", "clerk", Service::ereports, "R1"), sign("I", "fin", Service::ereports, "R1"),
                        sign("I", "boss", Service::ereports, "R1"));
  }
};

TEST_F(Reports, R19_2_2_ManageEntersDataAndChecks) {
  EXPECT_ACCEPTED(update("I", "clerk", Service::ereports, "R1"));
  EXPECT_REJECTED(update("I", "viewer", Service::ereports, "R1"), reason::kDocumentModeNotAllowed, "R19.2.2");
  EXPECT_REJECTED(check("I", "boss", Service::ereports, "R1"), reason::kDocumentModeNotAllowed, "R19.2.2");
  const engine::Verdict v = check("I", "clerk", Service::ereports, "R1");
  EXPECT_ACCEPTED(v);
  EXPECT_STREQ(v.rule, "R19.2.2");
  EXPECT_REJECTED(check("I", "clerk", Service::ereports, "R1"), reason::kDocumentWrongStatus, "R19.2.2");
  // Entering data into a checked report takes it back to draft.
  EXPECT_ACCEPTED(update("I", "fin", Service::ereports, "R1"));
  EXPECT_EQ(status("I", Service::ereports, "R1"), S::draft);
  // A report names its type, year and period (R16).
  EXPECT_REJECTED(at("I", [&] {
                    return h.apply(events::report_create(h.as("clerk"), "R2", DocumentKind::report, "d",
                                                         ReportType::annual, 2026, ""));
                  }),
                  reason::kValueInvalid, "R16");
}

TEST_F(Reports, R19_1_1_PreparingNeedsTheViewPrepareGroup) {
  ASSERT_TRUE(report_rights("I", "acc", "I", ReportGroup::accept, ReportMode::manage | ReportMode::view_accept).accepted);
  EXPECT_REJECTED(update("I", "acc", Service::ereports, "R1"), reason::kDocumentGroupRequired, "R19.1.1");
  EXPECT_REJECTED(sign("I", "acc", Service::ereports, "R1"), reason::kDocumentGroupRequired, "R19.1.1");
}

TEST_F(Reports, R19_2_3_FinanceEmployeeSignsACheckedReport) {
  EXPECT_REJECTED(sign("I", "fin", Service::ereports, "R1"), reason::kDocumentNotChecked, "R19.2.3");
  ASSERT_TRUE(check("I", "clerk", Service::ereports, "R1").accepted);
  EXPECT_REJECTED(sign("I", "clerk", Service::ereports, "R1"), reason::kDocumentModeNotAllowed, "R19.2.3");
  const engine::Verdict v = sign("I", "fin", Service::ereports, "R1");
  EXPECT_ACCEPTED(v);
  EXPECT_STREQ(v.rule, "R19.2.3");
  EXPECT_EQ(status("I", Service::ereports, "R1"), S::signed_once);
  EXPECT_REJECTED(update("I", "clerk", Service::ereports, "R1"), reason::kDocumentNotEditable, "R19.2.2");
}

TEST_F(Reports, R19_2_5_HeadSignsAfterTheFinanceEmployeeNeverTwice) {
  ASSERT_TRUE(check("I", "clerk", Service::ereports, "R1").accepted);
  EXPECT_REJECTED(sign("I", "boss", Service::ereports, "R1"), reason::kDocumentFinanceSignatureMissing, "R19.2.5");
  ASSERT_TRUE(sign("I", "both", Service::ereports, "R1").accepted);
  // One person signs once, even with both modes.
  EXPECT_REJECTED(sign("I", "both", Service::ereports, "R1"), reason::kSamePerson, "R19.2.5");
  EXPECT_REJECTED(sign("I", "fin", Service::ereports, "R1"), reason::kDocumentModeNotAllowed, "R19.2.5");
  const engine::Verdict v = sign("I", "boss", Service::ereports, "R1");
  EXPECT_ACCEPTED(v);
  EXPECT_STREQ(v.rule, "R19.2.5");
  EXPECT_EQ(status("I", Service::ereports, "R1"), S::submitted);
  EXPECT_REJECTED(sign("I", "boss", Service::ereports, "R1"), reason::kDocumentAlreadySigned, "R19.2.5");
}

TEST_F(Reports, R19_2_3_R19_2_5_SummaryReportIsSignedByBoth) {
  ASSERT_ACCEPTED_ALL(report("I", "clerk", "S1", DocumentKind::summary_report), check("I", "fin", Service::ereports, "S1"));
  EXPECT_REJECTED(sign("I", "boss", Service::ereports, "S1"), reason::kDocumentFinanceSignatureMissing, "R19.2.5");
  EXPECT_ACCEPTED(sign("I", "fin", Service::ereports, "S1"));
  EXPECT_ACCEPTED(sign("I", "boss", Service::ereports, "S1"));
  EXPECT_EQ(status("I", Service::ereports, "S1"), S::submitted);
}

TEST_F(Reports, R16_1_R16_2_OneReportPerKindTypeYearAndPeriod) {
  // R1 is I's annual 2026 report for period Y: a second one is refused,
  // whoever enters it, and the first stays as it was.
  EXPECT_REJECTED(report("I", "fin", "R2"), reason::kReportPeriodTaken, "R16.1");
  EXPECT_EQ(document("I", Service::ereports, "R2"), nullptr);
  // Another period, year, type or kind is another report.
  EXPECT_ACCEPTED(report("I", "clerk", "R3", DocumentKind::report, ReportType::annual, 2026, "", "H1"));
  EXPECT_ACCEPTED(report("I", "clerk", "R4", DocumentKind::report, ReportType::annual, 2025));
  EXPECT_ACCEPTED(report("I", "clerk", "R5", DocumentKind::summary_report));
  EXPECT_ACCEPTED(report("I", "clerk", "P1", DocumentKind::report, ReportType::periodic));
  EXPECT_REJECTED(report("I", "clerk", "P2", DocumentKind::report, ReportType::periodic), reason::kReportPeriodTaken,
                  "R16.2");
  // A refusal for rights comes first: the slot is no one else's business.
  EXPECT_REJECTED(report("I", "viewer", "R6"), reason::kDocumentModeNotAllowed, "R19.2.2");
  // The slots survive a restart: the loader rebuilds them from the stored documents.
  const auto loaded = h.reloaded();
  EXPECT_EQ(slots(*loaded), slots(h.engine.state()));
  EXPECT_EQ(slots(*loaded).size(), 5u);
}

TEST_F(Reports, R19_2_1_EveryModeViews) {
  for (const char* u : {"viewer", "clerk", "fin", "boss"}) {
    const engine::Verdict v = view("I", u, Service::ereports, "R1");
    EXPECT_ACCEPTED(v);
    EXPECT_STREQ(v.rule, "R19.2.1");
  }
  EXPECT_REJECTED(view("I", "stranger", Service::ereports, "R1"), reason::kNoRights, "R19");
}

TEST_F(Reports, R19_2_6_ExchangeTestsNeverChangeARealReport) {
  ASSERT_ACCEPTED_ALL(roles("I", "dev", PersonRole::is_developer),
                      report_rights("I", "dev", "I", ReportGroup::view_prepare, ReportMode::exchange_test));
  const auto test_create = [&](const std::string& user, const std::string& doc, fb::Channel ch) {
    return at("I", [&] {
      return h.apply(events::report_create(h.as(user, ch), doc, DocumentKind::report, "sha256:t", ReportType::annual,
                                           2026, "Y", "", true));
    });
  };
  const auto test_update = [&](const std::string& user, const std::string& doc) {
    return at("I", [&] {
      return h.apply(events::document_update(h.as(user, fb::Channel::online), Service::ereports, doc, "sha256:t", -1,
                                             "", true));
    });
  };
  const size_t documents = h.engine.state().documents.size();
  const engine::Verdict v = test_create("dev", "T1", fb::Channel::online);
  EXPECT_ACCEPTED(v);
  EXPECT_STREQ(v.rule, "R19.2.6");
  EXPECT_ACCEPTED(test_create("dev", "R1", fb::Channel::online));  // the real R1 is not touched
  EXPECT_ACCEPTED(test_update("dev", "R1"));
  EXPECT_EQ(h.engine.state().documents.size(), documents);
  EXPECT_EQ(document("I", Service::ereports, "R1")->digest, "sha256:R1");
  EXPECT_EQ(document("I", Service::ereports, "R1")->history_count, 1u);
  // Only through the data-exchange interface, only by exchange-test users.
  EXPECT_REJECTED(test_create("dev", "T1", fb::Channel::portal), reason::kWrongChannel, "R19.2.6");
  EXPECT_REJECTED(test_create("clerk", "T1", fb::Channel::online), reason::kDocumentModeNotAllowed, "R19.2.6");
  // An exchange-test user makes no real report.
  EXPECT_REJECTED(report("I", "dev", "R2"), reason::kDocumentModeNotAllowed, "R19.2.2");
  EXPECT_REJECTED(at("I", [&] {
                    return h.apply(events::document_update(h.as("dev", fb::Channel::online), Service::eplans, "P",
                                                           "sha256:t", -1, "", true));
                  }),
                  reason::kValueInvalid, "R19.2.6");
}

TEST_F(Reports, R19_2_8_R19_1_3_AuditorMarksVerifiedOrAgreedWithTheOpinion) {
  // R18: the audited client submits the auditor's application; rights under it.
  ASSERT_ACCEPTED_ALL(roles("I", "aud", PersonRole::sworn_auditor),
                      report_rights("I", "aud", "I", ReportGroup::auditor, ReportMode::approve | ReportMode::view),
                      report_rights("I", "aud2", "I", ReportGroup::view_prepare, ReportMode::view));
  EXPECT_REJECTED(audit("I", "aud", "R1", AuditVerdict::verified, "sha256:opinion"), reason::kDocumentNotSubmitted,
                  "R19.2.8");
  submit_r1();
  EXPECT_REJECTED(audit("I", "aud", "R1", AuditVerdict::verified, ""), reason::kReportOpinionMissing, "R19.2.8");
  EXPECT_REJECTED(audit("I", "aud", "R1", AuditVerdict::none, "sha256:opinion"), reason::kReportOpinionMissing,
                  "R19.2.8");
  EXPECT_REJECTED(audit("I", "aud2", "R1", AuditVerdict::verified, "sha256:opinion"), reason::kDocumentGroupRequired,
                  "R19.1.3");
  const engine::Verdict v = audit("I", "aud", "R1", AuditVerdict::verified, "sha256:opinion");
  EXPECT_ACCEPTED(v);
  EXPECT_STREQ(v.rule, "R19.2.8");
  EXPECT_EQ(document("I", Service::ereports, "R1")->verdict, AuditVerdict::verified);
  EXPECT_EQ(document("I", Service::ereports, "R1")->opinion_digest, "sha256:opinion");
  EXPECT_REJECTED(audit("I", "aud", "R1", AuditVerdict::agreed, "sha256:o2"), reason::kReportOpinionExists, "R19.2.8");
  // A person who is no longer an auditor marks nothing.
  ASSERT_ACCEPTED_ALL(report("I", "clerk", "R2", DocumentKind::report, ReportType::annual, 2026, "", "H1"),
                      check("I", "clerk", Service::ereports, "R2"), sign("I", "fin", Service::ereports, "R2"),
                      sign("I", "boss", Service::ereports, "R2"), roles("I", "aud", PersonRole::NONE));
  EXPECT_REJECTED(audit("I", "aud", "R2", AuditVerdict::agreed, "sha256:o"), reason::kRoleRequired, "R19.2.8");
  // The State Audit Office marks any institution's report with its own rights.
  ASSERT_ACCEPTED_ALL(kind("SAO", ClientKind::state_audit_office),
                      report_rights("SAO", "sao", "SAO", ReportGroup::auditor, ReportMode::approve));
  EXPECT_ACCEPTED(audit("I", "sao", "R2", AuditVerdict::agreed, "sha256:sao", "SAO"));
  EXPECT_EQ(document("I", Service::ereports, "R2")->verdict, AuditVerdict::agreed);
}

struct Consolidation : Reports {
  void SetUp() override {
    Reports::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_ACCEPTED_ALL(kind("M", ClientKind::ministry), structure("M", ReportType::annual, 2026, {"I"}),
                        roles("M", "cons", PersonRole::finance_employee), roles("M", "mhead", PersonRole::head),
                        report_rights("M", "cons", "I", ReportGroup::accept | ReportGroup::view_prepare,
                                      ReportMode::consolidate_sign),
                        report_rights("M", "cons", "M", ReportGroup::view_prepare, ReportMode::consolidate_sign),
                        report_rights("M", "mhead", "M", ReportGroup::view_prepare, ReportMode::sign_head),
                        report_rights("M", "mfin", "M", ReportGroup::view_prepare, ReportMode::manage),
                        report_rights("M", "mva", "I", ReportGroup::accept, ReportMode::view_accept));
  }
};

TEST_F(Consolidation, R19_2_4_AcceptsTheStructuresReportsAndSignsTheConsolidatedReport) {
  EXPECT_REJECTED(accept("I", "cons", "R1", "M"), reason::kDocumentNotSubmitted, "R19.2.4");
  submit_r1();
  // Within the structure, accepting needs consolidate-sign, not view-accept.
  EXPECT_REJECTED(accept("I", "mva", "R1", "M"), reason::kDocumentModeNotAllowed, "R19.2.4");
  const engine::Verdict v = accept("I", "cons", "R1", "M");
  EXPECT_ACCEPTED(v);
  EXPECT_STREQ(v.rule, "R19.2.4");
  EXPECT_EQ(status("I", Service::ereports, "R1"), S::accepted);
  EXPECT_EQ(document("I", Service::ereports, "R1")->accepted_by, h.engine.state().names.find("M"));
  EXPECT_REJECTED(accept("I", "cons", "R1", "M"), reason::kDocumentAlreadyAccepted, "R19.2.4");
  // The consolidated report: by consolidate-sign, signed by it and then the head.
  EXPECT_REJECTED(report("M", "mfin", "C1", DocumentKind::consolidated_report), reason::kDocumentModeNotAllowed,
                  "R19.2.4");
  ASSERT_ACCEPTED_ALL(report("M", "cons", "C1", DocumentKind::consolidated_report),
                      check("M", "mfin", Service::ereports, "C1"));
  EXPECT_REJECTED(sign("M", "mhead", Service::ereports, "C1"), reason::kDocumentFinanceSignatureMissing, "R19.2.5");
  const engine::Verdict signed_by = sign("M", "cons", Service::ereports, "C1");
  EXPECT_ACCEPTED(signed_by);
  EXPECT_STREQ(signed_by.rule, "R19.2.4");
  EXPECT_ACCEPTED(sign("M", "mhead", Service::ereports, "C1"));
  EXPECT_EQ(status("M", Service::ereports, "C1"), S::submitted);
}

TEST_F(Consolidation, R19_2_4_ConsolidatedReportWaitsForEveryReportOfTheStructure) {
  // M's 2027 structure holds I and J; the consolidated report of a period is
  // signed once both their reports of that period are accepted by M.
  ASSERT_ACCEPTED_ALL(structure("M", ReportType::annual, 2027, {"I", "J"}),
                      roles("J", "jfin", PersonRole::finance_employee), roles("J", "jboss", PersonRole::head),
                      report_rights("J", "jfin", "J", ReportGroup::view_prepare, ReportMode::manage_sign),
                      report_rights("J", "jboss", "J", ReportGroup::view_prepare, ReportMode::sign_head),
                      report_rights("M", "cons", "J", ReportGroup::accept | ReportGroup::view_prepare,
                                    ReportMode::consolidate_sign),
                      report_rights("X", "xva", "X", ReportGroup::accept, ReportMode::view_accept));
  const auto submitted = [&](const std::string& owner, const std::string& fin, const std::string& boss,
                             const std::string& doc, const std::string& period = "Y") {
    ASSERT_ACCEPTED_ALL(report(owner, fin, doc, DocumentKind::report, ReportType::annual, 2027, "", period),
                        check(owner, fin, Service::ereports, doc), sign(owner, fin, Service::ereports, doc),
                        sign(owner, boss, Service::ereports, doc));
  };
  submitted("I", "fin", "boss", "I27");
  submitted("J", "jfin", "jboss", "J27");
  ASSERT_ACCEPTED_ALL(report("M", "cons", "C27", DocumentKind::consolidated_report, ReportType::annual, 2027),
                      check("M", "cons", Service::ereports, "C27"));
  // Neither accepted yet.
  EXPECT_REJECTED(sign("M", "cons", Service::ereports, "C27"), reason::kReportConsolidationIncomplete, "R19.2.4");
  ASSERT_TRUE(accept("I", "cons", "I27", "M").accepted);
  EXPECT_REJECTED(sign("M", "cons", Service::ereports, "C27"), reason::kReportConsolidationIncomplete, "R19.2.4");
  // J's report accepted by someone else (R19.2.7) does not count for M.
  ASSERT_TRUE(accept("J", "xva", "J27", "X").accepted);
  EXPECT_REJECTED(sign("M", "cons", Service::ereports, "C27"), reason::kReportConsolidationIncomplete, "R19.2.4");
  // A report of another period, accepted by M, does not count either.
  submitted("J", "jfin", "jboss", "J27b", "H1");
  ASSERT_TRUE(accept("J", "cons", "J27b", "M").accepted);
  EXPECT_REJECTED(sign("M", "cons", Service::ereports, "C27"), reason::kReportConsolidationIncomplete, "R19.2.4");
}

TEST_F(Consolidation, R19_2_4_ConsolidatedReportSignedWhenAllAreAccepted) {
  ASSERT_ACCEPTED_ALL(structure("M", ReportType::annual, 2027, {"I", "J"}),
                      roles("J", "jfin", PersonRole::finance_employee), roles("J", "jboss", PersonRole::head),
                      report_rights("J", "jfin", "J", ReportGroup::view_prepare, ReportMode::manage_sign),
                      report_rights("J", "jboss", "J", ReportGroup::view_prepare, ReportMode::sign_head),
                      report_rights("M", "cons", "J", ReportGroup::accept | ReportGroup::view_prepare,
                                    ReportMode::consolidate_sign));
  for (const auto& [owner, fin, boss, doc] :
       std::vector<std::array<std::string, 4>>{{"I", "fin", "boss", "I27"}, {"J", "jfin", "jboss", "J27"}}) {
    ASSERT_ACCEPTED_ALL(report(owner, fin, doc, DocumentKind::report, ReportType::annual, 2027, "", "Q4"),
                        check(owner, fin, Service::ereports, doc), sign(owner, fin, Service::ereports, doc),
                        sign(owner, boss, Service::ereports, doc), accept(owner, "cons", doc, "M"));
  }
  ASSERT_ACCEPTED_ALL(report("M", "cons", "C27", DocumentKind::consolidated_report, ReportType::annual, 2027, "", "Q4"),
                      check("M", "cons", Service::ereports, "C27"));
  const engine::Verdict v = sign("M", "cons", Service::ereports, "C27");
  EXPECT_ACCEPTED(v);
  EXPECT_STREQ(v.rule, "R19.2.4");
  EXPECT_ACCEPTED(sign("M", "mhead", Service::ereports, "C27"));
}

TEST_F(Consolidation, R19_2_4_ConsolidatedReportNeedsAStructure) {
  EXPECT_REJECTED(report("M", "cons", "C2", DocumentKind::consolidated_report, ReportType::periodic),
                  reason::kReportNoStructure, "R16.2");
  EXPECT_REJECTED(report("M", "cons", "C3", DocumentKind::consolidated_report, ReportType::other_n),
                  reason::kReportNoStructure, "R16.3");
}

TEST_F(Consolidation, R19_2_7_ViewAcceptTakesReportsOfInstitutionsNotSubordinate) {
  submit_r1();
  ASSERT_ACCEPTED_ALL(report_rights("X", "xva", "X", ReportGroup::accept, ReportMode::view_accept),
                      report_rights("X", "xcs", "X", ReportGroup::accept, ReportMode::view),
                      report_rights("X", "xng", "X", ReportGroup::view_prepare, ReportMode::view_accept));
  EXPECT_REJECTED(accept("I", "xcs", "R1", "X"), reason::kDocumentModeNotAllowed, "R19.2.7");
  const engine::Verdict v = accept("I", "xva", "R1", "X");
  EXPECT_ACCEPTED(v);
  EXPECT_STREQ(v.rule, "R19.2.7");
  EXPECT_EQ(document("I", Service::ereports, "R1")->accepted_by, h.engine.state().names.find("X"));
  // Not subordinate is not a way into the report otherwise.
  EXPECT_REJECTED(update("I", "xva", Service::ereports, "R1", -1, "X"), reason::kDocumentOtherInstitution, "R19");
}

TEST_F(Consolidation, R19_1_2_AcceptingNeedsTheAcceptGroupAndAnotherClient) {
  submit_r1();
  ASSERT_TRUE(report_rights("X", "xng", "X", ReportGroup::view_prepare, ReportMode::view_accept).accepted);
  EXPECT_REJECTED(accept("I", "xng", "R1", "X"), reason::kDocumentGroupRequired, "R19.1.2");
  // An institution does not accept its own report.
  EXPECT_REJECTED(accept("I", "fin", "R1"), reason::kReportOwn, "R19.1.2");
}

TEST_F(Consolidation, R19_1_3_R19_2_8_AuditorOfTheMinistryActsOnlyThroughTheStructure) {
  submit_r1();
  ASSERT_ACCEPTED_ALL(roles("M", "maud", PersonRole::audit_firm),
                      report_rights("M", "maud", "I", ReportGroup::auditor, ReportMode::approve));
  EXPECT_ACCEPTED(audit("I", "maud", "R1", AuditVerdict::agreed, "sha256:o", "M"));
  // Not the State Audit Office, not in X's structure: another institution.
  ASSERT_ACCEPTED_ALL(roles("X", "xaud", PersonRole::sworn_auditor),
                      report_rights("X", "xaud", "X", ReportGroup::auditor, ReportMode::approve));
  EXPECT_REJECTED(audit("I", "xaud", "R1", AuditVerdict::agreed, "sha256:o", "X"), reason::kDocumentOtherInstitution,
                  "R19");
}

TEST_F(Consolidation, R16_1_AnnualStructureNamesTheReportYearAndThePreviousOne) {
  // The 2026 annual structure covers I's 2025 annual report too.
  ASSERT_ACCEPTED_ALL(report("I", "clerk", "A25", DocumentKind::report, ReportType::annual, 2025),
                      check("I", "clerk", Service::ereports, "A25"), sign("I", "fin", Service::ereports, "A25"),
                      sign("I", "boss", Service::ereports, "A25"));
  EXPECT_ACCEPTED(accept("I", "cons", "A25", "M"));
  // ... but not the 2024 one (no annual structure for 2024 or 2025).
  ASSERT_ACCEPTED_ALL(report("I", "clerk", "A24", DocumentKind::report, ReportType::annual, 2024),
                      check("I", "clerk", Service::ereports, "A24"), sign("I", "fin", Service::ereports, "A24"),
                      sign("I", "boss", Service::ereports, "A24"));
  EXPECT_REJECTED(view("I", "cons", Service::ereports, "A24", "M"), reason::kDocumentOtherInstitution, "R19");
}

TEST_F(Consolidation, R16_2_PeriodicStructureStandsUntilANewerOne) {
  ASSERT_ACCEPTED_ALL(structure("M", ReportType::periodic, 2024, {"I"}),
                      report("I", "clerk", "Q1", DocumentKind::report, ReportType::periodic, 2026));
  // The 2024 structure stands for 2026 (R31) ...
  EXPECT_ACCEPTED(update("I", "cons", Service::ereports, "Q1", -1, "M"));
  // ... until a newer one, here without I.
  ASSERT_TRUE(structure("M", ReportType::periodic, 2025, {"J"}).accepted);
  EXPECT_REJECTED(update("I", "cons", Service::ereports, "Q1", -1, "M"), reason::kDocumentOtherInstitution, "R19");
}

TEST_F(Consolidation, R16_3_ReportNStructureCoversOnlyItsType) {
  ASSERT_ACCEPTED_ALL(structure("M", ReportType::other_n, 2026, {"K"}),
                      report_rights("M", "cons", "K", ReportGroup::view_prepare, ReportMode::consolidate_sign),
                      report("K", "cons", "N1", DocumentKind::report, ReportType::other_n, 2026, "M"));
  EXPECT_REJECTED(report("K", "cons", "A1", DocumentKind::report, ReportType::annual, 2026, "M"),
                  reason::kDocumentOtherInstitution, "R19");
  const engine::Verdict v = report("M", "cons", "CN", DocumentKind::consolidated_report, ReportType::other_n);
  EXPECT_ACCEPTED(v);
}

// ---- eLoans (R21) ---------------------------------------------------------------------

struct Loans : Documents {
  void SetUp() override {
    ASSERT_ACCEPTED_ALL(kind("MU", ClientKind::municipality),
                        loan_rights("MU", "lm", LoanGroup::loan_requests | LoanGroup::loan_agreements, LoanMode::manage),
                        loan_rights("MU", "ls", LoanGroup::loan_requests | LoanGroup::loan_agreements, LoanMode::sign),
                        loan_rights("MU", "lv", LoanGroup::loan_requests, LoanMode::view),
                        loan_rights("MU", "ag", LoanGroup::loan_agreements, LoanMode::sign),
                        create("MU", "lm", Service::eloans, "L1", DocumentKind::loan_request, 90'000 * kEur));
  }
};

TEST_F(Loans, R21_1_1_LoanRequestsOfMunicipalitiesOnly) {
  EXPECT_REJECTED(sign("MU", "ag", Service::eloans, "L1"), reason::kDocumentGroupRequired, "R21.1.1");
  // A client that is no longer a municipality makes no loan requests.
  ASSERT_TRUE(kind("MU", ClientKind::state_institution).accepted);
  EXPECT_REJECTED(create("MU", "lm", Service::eloans, "L2", DocumentKind::loan_request), reason::kMunicipalitiesOnly,
                  "R21.1.1");
  EXPECT_REJECTED(sign("MU", "ls", Service::eloans, "L1"), reason::kMunicipalitiesOnly, "R21.1.1");
}

TEST_F(Loans, R21_1_2_AgreementsAndDisbursementRequests) {
  const auto disbursement = [&](const std::string& user, const std::string& doc, int64_t amount,
                                const std::string& agreement) {
    return create("MU", user, Service::eloans, doc, DocumentKind::disbursement_request, amount, "", agreement);
  };
  EXPECT_ACCEPTED(create("MU", "ag", Service::eloans, "A1", DocumentKind::loan_agreement, 90'000 * kEur));
  EXPECT_REJECTED(disbursement("lv", "D2", 0, "A1"), reason::kDocumentGroupRequired, "R21.1.2");
  // A disbursement request names its agreement; nothing else names one.
  EXPECT_REJECTED(disbursement("ag", "D1", 10'000 * kEur, ""), reason::kValueInvalid, "R21.1.2");
  EXPECT_REJECTED(create("MU", "ag", Service::eloans, "A2", DocumentKind::loan_agreement, 1, "", "A1"),
                  reason::kValueInvalid, "R21.1.2");
  EXPECT_REJECTED(disbursement("ag", "D1", 10'000 * kEur, "A9"), reason::kLoanAgreementUnknown, "R21.1.2");
  EXPECT_REJECTED(disbursement("ag", "D1", 10'000 * kEur, "L1"), reason::kLoanAgreementUnknown, "R21.1.2");
  // ... under an agreement that is signed and submitted.
  EXPECT_REJECTED(disbursement("ag", "D1", 10'000 * kEur, "A1"), reason::kLoanAgreementNotSubmitted, "R21.1.2");
  ASSERT_ACCEPTED_ALL(sign("MU", "ag", Service::eloans, "A1"), submit("MU", "ag", Service::eloans, "A1"),
                      disbursement("ag", "D1", 60'000 * kEur, "A1"), disbursement("ag", "D2", 40'000 * kEur, "A1"),
                      sign("MU", "ag", Service::eloans, "D1"), sign("MU", "ag", Service::eloans, "D2"));
  ASSERT_ACCEPTED_ALL(submit("MU", "ag", Service::eloans, "D1"));
  EXPECT_EQ(status("MU", Service::eloans, "D1"), S::submitted);
  EXPECT_EQ(document("MU", Service::eloans, "A1")->appropriated, 60'000 * kEur);
  // Submitted requests never draw more than the agreement: 60,000 + 40,000 > 90,000.
  const engine::Verdict over = submit("MU", "ag", Service::eloans, "D2");
  EXPECT_REJECTED(over, reason::kLoanDisbursementExceedsAgreement, "R21.1.2");
  EXPECT_EQ(over.amount, 40'000 * kEur);
  EXPECT_EQ(over.limit, 90'000 * kEur);
  EXPECT_EQ(over.day_total, 60'000 * kEur);
  // Lowered to what is left, it goes through and the agreement is drawn in full.
  ASSERT_ACCEPTED_ALL(create("MU", "ag", Service::eloans, "D3", DocumentKind::disbursement_request, 30'000 * kEur, "",
                             "A1"),
                      sign("MU", "ag", Service::eloans, "D3"), submit("MU", "ag", Service::eloans, "D3"));
  EXPECT_EQ(document("MU", Service::eloans, "A1")->appropriated, 90'000 * kEur);
  EXPECT_EQ(document("MU", Service::eloans, "D3")->agreement, h.engine.state().names.find("A1"));
  // The link and the amount drawn survive a restart.
  EXPECT_NE(h.reloaded(), nullptr);
}

TEST_F(Loans, R42_R21_1_2_OldDisbursementRequestWithoutAgreementIsDecidedAsBefore) {
  // Before schema version 2 a disbursement request named no agreement: an old
  // log replays as it was decided, created and submitted without one.
  const auto v1 = [&](auto&& build) {
    return at("MU", [&] { return h.apply(events::with_schema_version(build(), 1)); });
  };
  const auto create_d = [&](const std::string& doc, const std::string& agreement) {
    return [&, doc, agreement] {
      return events::document_create(h.as("ag"), Service::eloans, doc, DocumentKind::disbursement_request,
                                     "sha256:" + doc, 5'000 * kEur, "", agreement);
    };
  };
  EXPECT_ACCEPTED(v1(create_d("D0", "")));
  EXPECT_ACCEPTED(v1([&] { return events::document_sign(h.as("ag"), Service::eloans, "D0", ""); }));
  EXPECT_ACCEPTED(v1([&] { return events::document_submit(h.as("ag"), Service::eloans, "D0", ""); }));
  EXPECT_EQ(status("MU", Service::eloans, "D0"), S::submitted);
  EXPECT_EQ(document("MU", Service::eloans, "D0")->agreement, engine::kNoName);
  // An old request that names an agreement is checked against it.
  EXPECT_REJECTED(v1(create_d("D1", "A9")), reason::kLoanAgreementUnknown, "R21.1.2");
  // From version 2 the agreement is required.
  EXPECT_REJECTED(create("MU", "ag", Service::eloans, "D2", DocumentKind::disbursement_request, 5'000 * kEur, "", ""),
                  reason::kValueInvalid, "R21.1.2");
  EXPECT_NE(h.reloaded(), nullptr);
}

TEST_F(Loans, R21_2_1_ViewOnly) {
  const engine::Verdict v = view("MU", "lv", Service::eloans, "L1");
  EXPECT_ACCEPTED(v);
  EXPECT_STREQ(v.rule, "R21.2.1");
  EXPECT_REJECTED(update("MU", "lv", Service::eloans, "L1"), reason::kDocumentModeNotAllowed, "R21.2.2");
  EXPECT_REJECTED(sign("MU", "lv", Service::eloans, "L1"), reason::kDocumentModeNotAllowed, "R21.2.3");
}

TEST_F(Loans, R21_2_2_ManagePreparesButNeitherSignsNorSubmits) {
  const engine::Verdict v = update("MU", "lm", Service::eloans, "L1", 80'000 * kEur);
  EXPECT_ACCEPTED(v);
  EXPECT_STREQ(v.rule, "R21.2.2");
  EXPECT_REJECTED(sign("MU", "lm", Service::eloans, "L1"), reason::kDocumentModeNotAllowed, "R21.2.3");
  EXPECT_REJECTED(submit("MU", "lm", Service::eloans, "L1"), reason::kDocumentModeNotAllowed, "R21.2.3");
}

TEST_F(Loans, R21_2_3_SignPreparesSignsAndSubmits) {
  EXPECT_ACCEPTED(create("MU", "ls", Service::eloans, "L2", DocumentKind::loan_request, 5));
  EXPECT_REJECTED(submit("MU", "ls", Service::eloans, "L1"), reason::kDocumentNotSigned, "R21.2.3");
  EXPECT_ACCEPTED(sign("MU", "ls", Service::eloans, "L1"));
  EXPECT_REJECTED(sign("MU", "ls", Service::eloans, "L1"), reason::kDocumentAlreadySigned, "R21.2.3");
  EXPECT_REJECTED(update("MU", "ls", Service::eloans, "L1"), reason::kDocumentNotEditable, "R21.2.3");
  const engine::Verdict v = submit("MU", "ls", Service::eloans, "L1");
  EXPECT_ACCEPTED(v);
  EXPECT_STREQ(v.rule, "R21.2.3");
  EXPECT_EQ(status("MU", Service::eloans, "L1"), S::submitted);
  EXPECT_REJECTED(check("MU", "ls", Service::eloans, "L1"), reason::kDocumentStepNotForKind, "R21");
  // Another municipality's user does not act on it.
  ASSERT_ACCEPTED_ALL(kind("MU2", ClientKind::municipality),
                      loan_rights("MU2", "o", LoanGroup::loan_requests, LoanMode::sign));
  EXPECT_REJECTED(view("MU", "o", Service::eloans, "L1", "MU2"), reason::kDocumentOtherInstitution, "R21");
}

// ---- Across the services --------------------------------------------------------------

TEST_F(Documents, R30_R31_ActingAfterRightsLapsedIsRefused) {
  // R5, R31: rights granted under an annex 1 application last as long as it does.
  ASSERT_ACCEPTED_ALL(at("I", [&] { return h.head("boss"); }), at("I", [&] {
                        return h.apply(events::application_submitted(h.as("boss"), "app1",
                                                                     fb::ApplicationKind::eplans_eestimates, "u",
                                                                     "boss", h.now - 1, "sha256:a"));
                      }),
                      at("I", [&] { return h.apply(events::application_registered(h.treasury(), "app1")); }),
                      at("I", [&] {
                        return h.apply(events::plan_rights(h.treasury(), "u", Service::eplans,
                                                           PlanMode::institution_manage, "app1"));
                      }),
                      create("I", "u", Service::eplans, "P1", DocumentKind::financing_plan, 10));
  // An eKase application does not carry ePlans rights (R5).
  ASSERT_ACCEPTED_ALL(at("I", [&] {
    return h.apply(events::application_submitted(h.as("boss"), "app2", fb::ApplicationKind::ekase, "u", "boss",
                                                 h.now - 1, "sha256:b"));
  }), at("I", [&] { return h.apply(events::application_registered(h.treasury(), "app2")); }));
  EXPECT_REJECTED(at("I", [&] {
                    return h.apply(events::plan_rights(h.treasury(), "u", Service::eplans, PlanMode::view, "app2"));
                  }),
                  reason::kApplicationNotInForce, "R5");
  // Three years on, the application has lapsed: so have the rights.
  h.now = riga(20291203, 10, 0);
  EXPECT_REJECTED(update("I", "u", Service::eplans, "P1"), reason::kApplicationLapsed, "R31");
  // R30: a termination ends the rights in every service.
  h.now = riga(kMonday, 11, 0);
  ASSERT_ACCEPTED_ALL(at("I", [&] {
                        return h.loan_rights("u", LoanGroup::loan_agreements, LoanMode::sign);
                      }),
                      create("I", "u", Service::eloans, "A1", DocumentKind::loan_agreement),
                      at("I", [&] {
                        return h.apply(events::application_submitted(h.as("boss"), "term",
                                                                     fb::ApplicationKind::termination, "u", "boss",
                                                                     h.now - 1, "sha256:t"));
                      }),
                      at("I", [&] { return h.apply(events::application_registered(h.treasury(), "term")); }));
  EXPECT_REJECTED(sign("I", "u", Service::eloans, "A1"), reason::kNoRights, "R21");
  EXPECT_REJECTED(update("I", "u", Service::eplans, "P1"), reason::kNoRights, "R6");
}

TEST_F(Documents, R32_R34_StepsFollowTheirOwnServicesHoursAndSuspension) {
  ASSERT_ACCEPTED_ALL(plan_rights("I", "im", Service::eplans, PlanMode::institution_manage),
                      at("I", [&] { return h.apply(events::service_suspension(h.treasury(), Service::ekase, true)); }));
  EXPECT_ACCEPTED(create("I", "im", Service::eplans, "P1", DocumentKind::financing_plan, 10));
  ASSERT_TRUE(at("I", [&] { return h.apply(events::service_suspension(h.treasury(), Service::eplans, true)); }).accepted);
  EXPECT_REJECTED(update("I", "im", Service::eplans, "P1"), reason::kServiceSuspended, "R34");
  ASSERT_TRUE(at("I", [&] { return h.apply(events::service_suspension(h.treasury(), Service::eplans, false)); }).accepted);
  h.now = riga(20261205, 10, 0);  // a Saturday
  EXPECT_REJECTED(update("I", "im", Service::eplans, "P1"), reason::kNotBusinessDay, "R32");
  h.now = riga(kMonday, 18, 30);
  EXPECT_REJECTED(view("I", "im", Service::eplans, "P1"), reason::kOutsideHours, "R32");
}

TEST_F(Documents, R28_R41_BlockedPeopleAndTreasuryOperatorsTakeNoSteps) {
  ASSERT_ACCEPTED_ALL(plan_rights("I", "im", Service::eplans, PlanMode::institution_manage),
                      create("I", "im", Service::eplans, "P1", DocumentKind::financing_plan, 10),
                      at("I", [&] { return h.apply(events::means_blocked(h.treasury(), "im", fb::BlockCause::suspicion)); }));
  EXPECT_REJECTED(update("I", "im", Service::eplans, "P1"), reason::kBlockedSuspicion, "R28.2");
  EXPECT_REJECTED(at("I", [&] {
                    return h.apply(events::document_update(h.as("op", fb::Channel::treasury), Service::eplans, "P1",
                                                           "sha256:x"));
                  }),
                  reason::kWrongChannel, "R41");
}

TEST_F(Documents, R22_1_1_StepsNeedUnifiedLoginMeansOnceMeansAreRecorded) {
  ASSERT_ACCEPTED_ALL(plan_rights("I", "im", Service::eplans, PlanMode::institution_manage),
                      h.apply(events::means_registered(h.treasury(), "im", fb::Means::x509_certificate, false)));
  EXPECT_REJECTED(at("I", [&] {
                    return h.apply(events::with_means(events::document_create(h.as("im"), Service::eplans, "P1",
                                                                              DocumentKind::financing_plan, "d", 10),
                                                      fb::Means::x509_certificate));
                  }),
                  reason::kMeansTooWeak, "R22.1.1");
  ASSERT_TRUE(h.apply(events::means_registered(h.treasury(), "im", fb::Means::unified_login, false)).accepted);
  EXPECT_ACCEPTED(at("I", [&] {
    return h.apply(events::with_means(
        events::document_create(h.as("im"), Service::eplans, "P1", DocumentKind::financing_plan, "d", 10),
        fb::Means::unified_login));
  }));
}

TEST_F(Documents, R37_R47_ContentIsBoundByItsDigestAndEveryStepIsInTheHistory) {
  ASSERT_ACCEPTED_ALL(plan_rights("I", "im", Service::eplans, PlanMode::institution_manage),
                      plan_rights("I", "ia", Service::eplans, PlanMode::approve));
  EXPECT_REJECTED(at("I", [&] {
                    return h.apply(events::document_create(h.as("im"), Service::eplans, "P1",
                                                           DocumentKind::financing_plan, "", 10));
                  }),
                  reason::kDocumentDigestMissing, "R37");
  ASSERT_ACCEPTED_ALL(create("I", "im", Service::eplans, "P1", DocumentKind::financing_plan, 10),
                      approve("I", "ia", Service::eplans, "P1"));
  const auto& st = h.engine.state();
  const engine::DocumentKey key{st.names.find("I"), st.names.find("P1"), static_cast<uint8_t>(Service::eplans)};
  const engine::DocumentEvent& first = st.document_history.at(engine::HistoryKey{key, 0});
  const engine::DocumentEvent& second = st.document_history.at(engine::HistoryKey{key, 1});
  EXPECT_EQ(first.step, engine::DocumentStep::create);
  EXPECT_EQ(st.names.name(first.actor), "im");
  EXPECT_EQ(first.digest, "sha256:P1");
  EXPECT_EQ(first.amount, 10);
  EXPECT_EQ(second.step, engine::DocumentStep::approve);
  EXPECT_EQ(second.status, S::approved);
  EXPECT_EQ(st.names.name(second.actor), "ia");
  EXPECT_EQ(second.request_id, h.ids.back());
  EXPECT_EQ(second.at_us, h.now);
  // The history has a bound; a step beyond it is refused, not dropped.
  ASSERT_ACCEPTED_ALL(create("I", "im", Service::eplans, "P2", DocumentKind::financing_plan, 10));
  for (uint32_t i = 1; i < engine::kDocumentHistoryMax; ++i) ASSERT_TRUE(update("I", "im", Service::eplans, "P2").accepted) << i;
  EXPECT_REJECTED(update("I", "im", Service::eplans, "P2"), reason::kDocumentHistoryFull, "R47");
}

}  // namespace
}  // namespace kase::testing
