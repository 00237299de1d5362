// Rights in ePlans/eEstimates (R6), eReports (R16, R19) and eLoans (R21), with
// every restriction the rules name. One test per rule ID.
#include "harness.h"

namespace kase::testing {
namespace {

using fb::ClientKind;
using fb::PersonRole;
using fb::PlanMode;
using fb::ReportGroup;
using fb::ReportMode;
using fb::Service;

struct Services : public ::testing::Test {
  Harness h;
  engine::Verdict kind(ClientKind k) { return h.apply(events::client_registered(h.treasury(), k)); }
  engine::Verdict plan(const std::string& u, Service s, PlanMode m) {
    return h.plan_rights(u, s, m);
  }
  engine::Verdict roles(const std::string& p, PersonRole r) { return h.apply(events::person_roles(h.treasury(), p, r)); }
  engine::Verdict report(const std::string& u, const std::string& inst, ReportGroup g, ReportMode m) {
    return h.report_rights(u, inst, g, m);
  }
  engine::Verdict structure(fb::ReportType t, int32_t year, std::vector<std::string> insts) {
    return h.apply(events::institution_structure(h.treasury(), t, year, insts));
  }
  engine::Verdict loan(const std::string& u, fb::LoanGroup g, fb::LoanMode m) {
    return h.loan_rights(u, g, m);
  }
};

TEST_F(Services, R6_1_ViewForEveryone) {
  EXPECT_ACCEPTED(plan("u", Service::eplans, PlanMode::view));
  ASSERT_TRUE(kind(ClientKind::ministry).accepted);
  EXPECT_ACCEPTED(plan("u", Service::eestimates, PlanMode::view));
  EXPECT_REJECTED(plan("u", Service::ekase, PlanMode::view), reason::kValueInvalid, "R6");
}

TEST_F(Services, R6_2_InstitutionManageForInstitutionUsersOnly) {
  EXPECT_ACCEPTED(plan("u", Service::eplans, PlanMode::institution_manage));
  ASSERT_TRUE(kind(ClientKind::ministry).accepted);
  EXPECT_REJECTED(plan("u", Service::eplans, PlanMode::institution_manage), reason::kPlanModeInstitutionsOnly, "R6.2");
}

TEST_F(Services, R6_3_ApproveInEEstimatesForInstitutionUsersOnly) {
  ASSERT_TRUE(kind(ClientKind::ministry).accepted);
  EXPECT_ACCEPTED(plan("u", Service::eplans, PlanMode::approve));  // ministries approve plans
  EXPECT_REJECTED(plan("u", Service::eestimates, PlanMode::approve), reason::kPlanModeInstitutionsOnly, "R6.3");
  ASSERT_TRUE(kind(ClientKind::state_institution).accepted);
  EXPECT_ACCEPTED(plan("u", Service::eestimates, PlanMode::approve));
}

TEST_F(Services, R6_4_SignHeadOnlyForEstimatesOfInstitutions) {
  EXPECT_ACCEPTED(plan("u", Service::eestimates, PlanMode::sign_head));
  EXPECT_REJECTED(plan("u", Service::eplans, PlanMode::sign_head), reason::kModeNotInService, "R6.4");
  ASSERT_TRUE(kind(ClientKind::ministry).accepted);
  EXPECT_REJECTED(plan("u", Service::eestimates, PlanMode::sign_head), reason::kPlanModeInstitutionsOnly, "R6.4");
}

TEST_F(Services, R6_5_MinistryManageOnlyInEPlansForMinistryUsers) {
  EXPECT_REJECTED(plan("u", Service::eplans, PlanMode::ministry_manage), reason::kPlanModeMinistriesOnly, "R6.5");
  ASSERT_TRUE(kind(ClientKind::ministry).accepted);
  EXPECT_ACCEPTED(plan("u", Service::eplans, PlanMode::ministry_manage));
  EXPECT_REJECTED(plan("u", Service::eestimates, PlanMode::ministry_manage), reason::kModeNotInService, "R6.5");
}

TEST_F(Services, R16_1_AnnualStructureByAllowedClientKinds) {
  EXPECT_REJECTED(structure(fb::ReportType::annual, 2026, {"I1"}), reason::kStructureNotForClientKind, "R16.1");
  ASSERT_TRUE(kind(ClientKind::municipality).accepted);
  EXPECT_ACCEPTED(structure(fb::ReportType::annual, 2026, {"I1", "I2"}));
  // Report rights attach to institutions of the structure (or the client itself).
  EXPECT_ACCEPTED(report("u", "I2", ReportGroup::view_prepare, ReportMode::view));
  EXPECT_ACCEPTED(report("u", "C1", ReportGroup::view_prepare, ReportMode::manage));
  EXPECT_REJECTED(report("u", "I9", ReportGroup::view_prepare, ReportMode::view), reason::kNotInStructure, "R16");
}

TEST_F(Services, R16_2_PeriodicStructure) {
  ASSERT_TRUE(kind(ClientKind::port).accepted);
  EXPECT_ACCEPTED(structure(fb::ReportType::periodic, 2026, {"I1"}));
  ASSERT_TRUE(kind(ClientKind::state_institution).accepted);
  EXPECT_REJECTED(structure(fb::ReportType::periodic, 2026, {"I1"}), reason::kStructureNotForClientKind, "R16.2");
}

TEST_F(Services, R16_3_OtherReportNStructureAndNewerReplaces) {
  ASSERT_TRUE(kind(ClientKind::aggregator).accepted);
  EXPECT_ACCEPTED(structure(fb::ReportType::other_n, 2026, {"I1"}));
  EXPECT_ACCEPTED(structure(fb::ReportType::other_n, 2026, {"I2"}));  // R31: the newer replaces
  EXPECT_REJECTED(report("u", "I1", ReportGroup::view_prepare, ReportMode::view), reason::kNotInStructure, "R16");
  EXPECT_ACCEPTED(report("u", "I2", ReportGroup::view_prepare, ReportMode::view));
}

TEST_F(Services, R19_1_1_ViewPrepareGroup) { EXPECT_ACCEPTED(report("u", "C1", ReportGroup::view_prepare, ReportMode::view)); }
TEST_F(Services, R19_1_2_AcceptGroup) { EXPECT_ACCEPTED(report("u", "C1", ReportGroup::accept, ReportMode::view_accept)); }

TEST_F(Services, R19_1_3_AuditorGroupOnlyForAuditors) {
  EXPECT_REJECTED(report("u", "C1", ReportGroup::auditor, ReportMode::view), reason::kRoleRequired, "R19.1.3");
  ASSERT_TRUE(roles("u", PersonRole::sworn_auditor).accepted);
  EXPECT_ACCEPTED(report("u", "C1", ReportGroup::auditor, ReportMode::view));
  h.client = "SAO";
  ASSERT_TRUE(kind(ClientKind::state_audit_office).accepted);
  EXPECT_ACCEPTED(report("v", "SAO", ReportGroup::auditor, ReportMode::approve));
}

TEST_F(Services, R19_2_1_View) { EXPECT_ACCEPTED(report("u", "C1", ReportGroup::view_prepare, ReportMode::view)); }
TEST_F(Services, R19_2_2_Manage) { EXPECT_ACCEPTED(report("u", "C1", ReportGroup::view_prepare, ReportMode::manage)); }

TEST_F(Services, R19_2_3_ManageSignOnlyFinanceEmployee) {
  EXPECT_REJECTED(report("u", "C1", ReportGroup::view_prepare, ReportMode::manage_sign), reason::kRoleRequired,
                  "R19.2.3");
  ASSERT_TRUE(roles("u", PersonRole::finance_employee).accepted);
  EXPECT_ACCEPTED(report("u", "C1", ReportGroup::view_prepare, ReportMode::manage_sign));
}

TEST_F(Services, R19_2_4_ConsolidateSignOnlyFinanceEmployee) {
  EXPECT_REJECTED(report("u", "C1", ReportGroup::accept, ReportMode::consolidate_sign), reason::kRoleRequired,
                  "R19.2.4");
  ASSERT_TRUE(roles("u", PersonRole::finance_employee).accepted);
  EXPECT_ACCEPTED(report("u", "C1", ReportGroup::accept, ReportMode::consolidate_sign));
}

TEST_F(Services, R19_2_5_SignHeadOnlyHeadOrAuthorised) {
  EXPECT_REJECTED(report("u", "C1", ReportGroup::view_prepare, ReportMode::sign_head), reason::kRoleRequired,
                  "R19.2.5");
  ASSERT_TRUE(roles("u", PersonRole::authorised_signatory).accepted);
  EXPECT_ACCEPTED(report("u", "C1", ReportGroup::view_prepare, ReportMode::sign_head));
}

TEST_F(Services, R19_2_6_ExchangeTestOnlyISDevelopers) {
  EXPECT_REJECTED(report("u", "C1", ReportGroup::view_prepare, ReportMode::exchange_test), reason::kRoleRequired,
                  "R19.2.6");
  ASSERT_TRUE(roles("u", PersonRole::is_developer).accepted);
  EXPECT_ACCEPTED(report("u", "C1", ReportGroup::view_prepare, ReportMode::exchange_test));
}

TEST_F(Services, R19_2_7_ViewAccept) { EXPECT_ACCEPTED(report("u", "C1", ReportGroup::accept, ReportMode::view_accept)); }

TEST_F(Services, R19_2_8_ApproveOnlyAuditors) {
  EXPECT_REJECTED(report("u", "C1", ReportGroup::view_prepare, ReportMode::approve), reason::kRoleRequired, "R19.2.8");
  ASSERT_TRUE(roles("u", PersonRole::audit_firm).accepted);
  EXPECT_ACCEPTED(report("u", "C1", ReportGroup::auditor, ReportMode::approve));
}

TEST_F(Services, R21_1_1_LoanRequestsForMunicipalitiesOnly) {
  EXPECT_REJECTED(loan("u", fb::LoanGroup::loan_requests, fb::LoanMode::manage), reason::kMunicipalitiesOnly,
                  "R21.1.1");
  ASSERT_TRUE(kind(ClientKind::municipality).accepted);
  EXPECT_ACCEPTED(loan("u", fb::LoanGroup::loan_requests, fb::LoanMode::manage));
}

TEST_F(Services, R21_1_2_LoanAgreementsForAnyClient) {
  EXPECT_ACCEPTED(loan("u", fb::LoanGroup::loan_agreements, fb::LoanMode::view));
}

TEST_F(Services, R21_2_1_R21_2_2_R21_2_3_LoanModes) {
  ASSERT_TRUE(kind(ClientKind::municipality).accepted);
  const engine::Verdict v1 = loan("u", fb::LoanGroup::loan_agreements, fb::LoanMode::view);
  const engine::Verdict v2 = loan("u", fb::LoanGroup::loan_requests, fb::LoanMode::manage);
  const engine::Verdict v3 = loan("u", fb::LoanGroup::loan_requests, fb::LoanMode::sign);
  EXPECT_STREQ(v1.rule, "R21.2.1");
  EXPECT_STREQ(v2.rule, "R21.2.2");
  EXPECT_STREQ(v3.rule, "R21.2.3");
  EXPECT_REJECTED(loan("u", fb::LoanGroup::loan_agreements, fb::LoanMode::none), reason::kModeInvalid, "R21");
}

}  // namespace
}  // namespace kase::testing
