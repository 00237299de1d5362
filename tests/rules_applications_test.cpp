// Applications (R3–R5, R7, R18, R20, R30, R31), one test per rule ID.
#include "harness.h"

namespace kase::testing {
namespace {

using fb::ApplicationKind;

class Applications : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h.open_account("A1").accepted);
    ASSERT_TRUE(h.head("head").accepted);  // the client's representative (R4)
  }
  engine::Verdict submit(const std::string& id, ApplicationKind kind, const std::string& user,
                         const std::string& signer = "head", int64_t signed_us = -1,
                         const std::string& digest = "sha256:doc") {
    return h.apply(events::application_submitted(h.as("head"), id, kind, user, signer,
                                                 signed_us == -1 ? h.now - kUsPerMinute : signed_us, digest));
  }
  engine::Verdict register_app(const std::string& id) {
    return h.apply(events::application_registered(h.treasury(), id));
  }
  engine::Verdict grant_under(const std::string& user, const std::string& app, AccessMode mode = AccessMode::signature_2) {
    return h.apply(events::rights_granted_under(h.treasury(), user, "A1", mode, 5'000 * kEur, 20'000 * kEur, app));
  }
  Harness h;
};

TEST_F(Applications, R3_EachDocumentSignedWithTimeStampAndDigest) {
  EXPECT_REJECTED(submit("a1", ApplicationKind::ekase, "u1", ""), reason::kApplicationUnsigned, "R3");
  EXPECT_REJECTED(submit("a1", ApplicationKind::ekase, "u1", "head", 0), reason::kApplicationUnsigned, "R3");
  EXPECT_REJECTED(submit("a1", ApplicationKind::ekase, "u1", "head", -1, ""), reason::kApplicationNoDigest, "R3");
  EXPECT_REJECTED(submit("a1", ApplicationKind::ekase, "u1", "head", h.now + 1), reason::kApplicationSignedInFuture,
                  "R3");
  EXPECT_ACCEPTED(submit("a1", ApplicationKind::ekase, "u1", "head", h.now));
  EXPECT_REJECTED(submit("a1", ApplicationKind::ekase, "u2"), reason::kApplicationExists, "R3");
  // Paper applications are entered by the Treasury; online modules do not submit them.
  EXPECT_ACCEPTED(h.apply(events::application_submitted(h.treasury(), "a2", ApplicationKind::ekase, "u2", "head",
                                                        h.now, "sha256:paper")));
  EXPECT_REJECTED(h.apply(events::application_submitted(h.as("head", Channel::online), "a3", ApplicationKind::ekase,
                                                        "u3", "head", h.now, "sha256:x")),
                  reason::kWrongChannel, "R3");
}

TEST_F(Applications, R4_SignerMustRepresentTheClient) {
  EXPECT_REJECTED(submit("a1", ApplicationKind::ekase, "u1", "somebody"), reason::kApplicationSignerNotRepresentative,
                  "R4");
  ASSERT_TRUE(h.apply(events::representative(h.treasury(), "somebody", false, false)).accepted);  // authorised
  EXPECT_ACCEPTED(submit("a1", ApplicationKind::ekase, "u1", "somebody"));
  // A representative of another client does not count.
  h.client = "C2";
  EXPECT_REJECTED(submit("a2", ApplicationKind::ekase, "u1", "head"), reason::kApplicationSignerNotRepresentative,
                  "R4");
}

TEST_F(Applications, R7_RightsUnderAnApplicationAndTheNewerSupersedes) {
  ASSERT_TRUE(submit("a1", ApplicationKind::ekase, "u1").accepted);
  EXPECT_REJECTED(grant_under("u1", "a1"), reason::kApplicationNotInForce, "R7");  // not registered yet
  ASSERT_TRUE(register_app("a1").accepted);
  EXPECT_REJECTED(grant_under("u2", "a1"), reason::kApplicationNotInForce, "R7");  // another user's
  ASSERT_TRUE(grant_under("u1", "a1").accepted);
  EXPECT_ACCEPTED(h.prepare("u1", "po1", "A1", 100));
  // A newer eKase application for the same user supersedes the older: rights
  // standing on the older one stop until granted under the newer.
  ASSERT_TRUE(submit("a2", ApplicationKind::ekase, "u1").accepted);
  EXPECT_REJECTED(register_app("a9"), reason::kApplicationUnknown, "R22");
  ASSERT_TRUE(register_app("a2").accepted);
  EXPECT_REJECTED(register_app("a2"), reason::kApplicationNotPending, "R22");
  EXPECT_REJECTED(h.prepare("u1", "po2", "A1", 100), reason::kApplicationSuperseded, "R7");
  ASSERT_TRUE(grant_under("u1", "a2").accepted);
  EXPECT_ACCEPTED(h.prepare("u1", "po2", "A1", 100));
}

void one_per_user_within_kind(Harness& h, ApplicationKind kind, const char* rule) {
  auto submit = [&](const std::string& id, ApplicationKind k) {
    return h.apply(events::application_submitted(h.as("head"), id, k, "u1", "head", h.now - 1, "sha256:d"));
  };
  ASSERT_TRUE(submit("k1", kind).accepted);
  ASSERT_TRUE(submit("e1", ApplicationKind::ekase).accepted);
  const engine::Verdict first = h.apply(events::application_registered(h.treasury(), "k1"));
  EXPECT_ACCEPTED(first);
  EXPECT_STREQ(first.rule, rule);
  ASSERT_TRUE(h.apply(events::application_registered(h.treasury(), "e1")).accepted);
  ASSERT_TRUE(submit("k2", kind).accepted);
  ASSERT_TRUE(h.apply(events::application_registered(h.treasury(), "k2")).accepted);
  const auto& apps = h.engine.state().applications;
  const auto& names = h.engine.state().names;
  EXPECT_EQ(apps.at(names.find("k1")).status, engine::ApplicationStatus::superseded);
  EXPECT_EQ(apps.at(names.find("k2")).status, engine::ApplicationStatus::in_force);
  EXPECT_EQ(apps.at(names.find("e1")).status, engine::ApplicationStatus::in_force);  // other service untouched
}

TEST_F(Applications, R5_OneEPlansEEstimatesApplicationPerUser) {
  one_per_user_within_kind(h, ApplicationKind::eplans_eestimates, "R5");
}
TEST_F(Applications, R18_OneEReportsUsersApplicationPerUser) {
  one_per_user_within_kind(h, ApplicationKind::ereports_users, "R18");
}
TEST_F(Applications, R20_OneELoansApplicationPerUser) {
  one_per_user_within_kind(h, ApplicationKind::eloans, "R20");
}

TEST_F(Applications, R30_TerminationLeavesNoRightsForTheClient) {
  ASSERT_TRUE(submit("a1", ApplicationKind::ekase, "u1").accepted);
  ASSERT_TRUE(register_app("a1").accepted);
  ASSERT_TRUE(grant_under("u1", "a1").accepted);
  ASSERT_TRUE(h.open_account("A2").accepted);
  ASSERT_TRUE(h.grant("u1", "A2", AccessMode::view_all).accepted);  // a direct grant too
  ASSERT_TRUE(h.plan_rights("u1", fb::Service::eplans, fb::PlanMode::view).accepted);
  ASSERT_TRUE(h.loan_rights("u1", fb::LoanGroup::loan_agreements, fb::LoanMode::view)
                  .accepted);
  ASSERT_TRUE(submit("t1", ApplicationKind::termination, "u1").accepted);
  EXPECT_ACCEPTED(register_app("t1"));
  for (const auto& [k, r] : h.engine.state().service_rights) {
    EXPECT_EQ(r.mode, 0) << "service right left after termination";
    EXPECT_EQ(r.groups, 0);
  }
  EXPECT_REJECTED(h.prepare("u1", "po1", "A1", 100), reason::kNoRights, "R8");
  EXPECT_EQ(h.engine.state().applications.at(h.engine.state().names.find("a1")).status,
            engine::ApplicationStatus::terminated);
  for (const auto& [k, g] : h.engine.state().grants) EXPECT_EQ(g.mode, AccessMode::none);
}

TEST_F(Applications, R31_ValidThreeYearsFromRegistration) {
  ASSERT_TRUE(submit("a1", ApplicationKind::ekase, "u1").accepted);
  ASSERT_TRUE(register_app("a1").accepted);  // Monday 2026-11-30
  ASSERT_TRUE(grant_under("u1", "a1").accepted);
  ASSERT_TRUE(h.apply(events::opened_for_year(h.treasury(), "A1", 2029)).accepted);  // R13 aside
  h.now = riga(20291129, 10, 0);  // Thursday, the day before three years
  EXPECT_ACCEPTED(h.prepare("u1", "po1", "A1", 100));
  h.now = riga(20291130, 10, 0);  // Friday: three years on
  EXPECT_REJECTED(h.prepare("u1", "po2", "A1", 100), reason::kApplicationLapsed, "R31");
}

TEST_F(Applications, R31_TreasuryAnnulsApplicationsOfAReorganisedClient) {
  ASSERT_TRUE(submit("a1", ApplicationKind::ekase, "u1").accepted);
  ASSERT_TRUE(register_app("a1").accepted);
  ASSERT_TRUE(grant_under("u1", "a1").accepted);
  ASSERT_TRUE(submit("a2", ApplicationKind::eloans, "u2").accepted);
  EXPECT_ACCEPTED(h.apply(events::applications_annulled(h.treasury(), "reorganised")));
  EXPECT_REJECTED(h.prepare("u1", "po1", "A1", 100), reason::kApplicationAnnulled, "R31");
  EXPECT_EQ(h.engine.state().applications.at(h.engine.state().names.find("a2")).status,
            engine::ApplicationStatus::annulled);
  EXPECT_REJECTED(register_app("a2"), reason::kApplicationNotPending, "R22");
}

// ---- Grants stand on applications (schema version 2, R42) -------------------------------

TEST_F(Applications, R7_GrantWithoutApplicationIsRefused) {
  EXPECT_REJECTED(h.apply(events::rights_granted(h.treasury(), "u1", "A1", AccessMode::signature_2, 100, 100)),
                  reason::kGrantApplicationMissing, "R7");
  EXPECT_REJECTED(h.prepare("u1", "po1", "A1", 100), reason::kNoRights, "R8");
  // Under the user's registered eKase application it stands.
  ASSERT_TRUE(submit("a1", ApplicationKind::ekase, "u1").accepted);
  ASSERT_TRUE(register_app("a1").accepted);
  EXPECT_ACCEPTED(grant_under("u1", "a1"));
  EXPECT_ACCEPTED(h.prepare("u1", "po1", "A1", 100));
}

TEST_F(Applications, R7_GrantUnderSupersededOrForeignApplicationIsRefused) {
  ASSERT_TRUE(submit("a1", ApplicationKind::ekase, "u1").accepted);
  EXPECT_REJECTED(grant_under("u1", "a1"), reason::kApplicationNotInForce, "R7");  // not registered yet
  ASSERT_TRUE(register_app("a1").accepted);
  ASSERT_TRUE(submit("a2", ApplicationKind::ekase, "u1").accepted);
  ASSERT_TRUE(register_app("a2").accepted);
  EXPECT_REJECTED(grant_under("u1", "a1"), reason::kApplicationSuperseded, "R7");
  EXPECT_REJECTED(grant_under("u2", "a2"), reason::kApplicationNotInForce, "R7");  // another user's
  EXPECT_REJECTED(grant_under("u1", "nope"), reason::kApplicationNotInForce, "R7");
  ASSERT_TRUE(submit("l1", ApplicationKind::eloans, "u1").accepted);
  ASSERT_TRUE(register_app("l1").accepted);
  EXPECT_REJECTED(grant_under("u1", "l1"), reason::kApplicationNotInForce, "R7");  // not an eKase one
  EXPECT_ACCEPTED(grant_under("u1", "a2"));
}

TEST_F(Applications, R31_GrantUnderLapsedApplicationIsRefused) {
  ASSERT_TRUE(submit("a1", ApplicationKind::ekase, "u1").accepted);
  ASSERT_TRUE(register_app("a1").accepted);  // Monday 2026-11-30
  h.now = riga(20291129, 10, 0);             // the day before three years
  EXPECT_ACCEPTED(grant_under("u1", "a1"));
  h.now = riga(20291130, 10, 0);  // three years on
  EXPECT_REJECTED(grant_under("u1", "a1", AccessMode::view_all), reason::kApplicationLapsed, "R31");
}

TEST_F(Applications, R30_GrantUnderTerminatedApplicationIsRefused) {
  ASSERT_TRUE(submit("a1", ApplicationKind::ekase, "u1").accepted);
  ASSERT_TRUE(register_app("a1").accepted);
  ASSERT_TRUE(submit("t1", ApplicationKind::termination, "u1").accepted);
  ASSERT_TRUE(register_app("t1").accepted);
  EXPECT_REJECTED(grant_under("u1", "a1"), reason::kApplicationTerminated, "R30");
}

TEST_F(Applications, R10_OwnerPermissionTravelsOnTheApplication) {
  ASSERT_TRUE(h.open_account("F1", "OWNER").accepted);
  ASSERT_TRUE(submit("a1", ApplicationKind::ekase, "u1").accepted);
  ASSERT_TRUE(register_app("a1").accepted);
  // Missing: the application names no permission, and one on the grant is not read.
  EXPECT_REJECTED(h.apply(events::rights_granted_under(h.treasury(), "u1", "F1", AccessMode::view_all, 0, 0, "a1")),
                  reason::kOwnerPermissionMissing, "R10");
  EXPECT_REJECTED(h.apply(events::rights_granted(h.treasury(), "u1", "F1", AccessMode::view_all, 0, 0, "sha256:p")),
                  reason::kOwnerPermissionMissing, "R10");
  // Submitted with the newer application that names the account: it stands once registered.
  ASSERT_TRUE(h.apply(events::application_submitted(h.as("head"), "a2", ApplicationKind::ekase, "u1", "head",
                                                    h.now - 1, "sha256:doc", {{"F1", "sha256:owner-permission"}}))
                  .accepted);
  EXPECT_REJECTED(h.apply(events::rights_granted_under(h.treasury(), "u1", "F1", AccessMode::view_all, 0, 0, "a1")),
                  reason::kOwnerPermissionMissing, "R10");
  ASSERT_TRUE(register_app("a2").accepted);
  EXPECT_ACCEPTED(h.apply(events::rights_granted_under(h.treasury(), "u1", "F1", AccessMode::view_all, 0, 0, "a2")));
  // Later applications naming the account need not repeat it.
  ASSERT_TRUE(submit("b1", ApplicationKind::ekase, "u2").accepted);
  ASSERT_TRUE(register_app("b1").accepted);
  EXPECT_ACCEPTED(h.apply(events::rights_granted_under(h.treasury(), "u2", "F1", AccessMode::view_incoming, 0, 0, "b1")));
  // It is the client's permission: another client has none.
  h.client = "C2";
  ASSERT_TRUE(h.head("head").accepted);
  ASSERT_TRUE(submit("c1", ApplicationKind::ekase, "u3").accepted);
  ASSERT_TRUE(register_app("c1").accepted);
  EXPECT_REJECTED(h.apply(events::rights_granted_under(h.treasury(), "u3", "F1", AccessMode::view_all, 0, 0, "c1")),
                  reason::kOwnerPermissionMissing, "R10");
}

TEST_F(Applications, R10_PermissionsOnlyOnEKaseApplicationsAndWithDigest) {
  EXPECT_REJECTED(h.apply(events::application_submitted(h.as("head"), "l1", ApplicationKind::eloans, "u1", "head",
                                                        h.now - 1, "sha256:doc", {{"F1", "sha256:p"}})),
                  reason::kValueInvalid, "R10");
  EXPECT_REJECTED(h.apply(events::application_submitted(h.as("head"), "a1", ApplicationKind::ekase, "u1", "head",
                                                        h.now - 1, "sha256:doc", {{"F1", ""}})),
                  reason::kValueInvalid, "R10");
}

TEST_F(Applications, R10_R42_PermissionsSurviveARestartBeforeRegistration) {
  ASSERT_TRUE(h.open_account("F1", "OWNER").accepted);
  ASSERT_TRUE(h.apply(events::application_submitted(h.as("head"), "a1", ApplicationKind::ekase, "u1", "head",
                                                    h.now - 1, "sha256:doc", {{"F1", "sha256:p"}}))
                  .accepted);
  // Stored and loaded back (the loader compares the state hashes).
  const auto loaded = h.reloaded();
  const auto& a = loaded->applications.at(loaded->names.find("a1"));
  ASSERT_EQ(a.permitted_accounts.size(), 1u);
  EXPECT_EQ(loaded->names.name(a.permitted_accounts[0]), "F1");
}

TEST_F(Applications, R5_R18_R20_GrantsWithoutApplicationAreRefused) {
  EXPECT_REJECTED(h.apply(events::plan_rights(h.treasury(), "u1", fb::Service::eplans, fb::PlanMode::view)),
                  reason::kGrantApplicationMissing, "R5");
  EXPECT_REJECTED(h.apply(events::report_rights(h.treasury(), "u1", "C1", fb::ReportGroup::view_prepare,
                                                fb::ReportMode::view)),
                  reason::kGrantApplicationMissing, "R18");
  EXPECT_REJECTED(h.apply(events::loan_rights(h.treasury(), "u1", fb::LoanGroup::loan_agreements, fb::LoanMode::view)),
                  reason::kGrantApplicationMissing, "R20");
  // Under a lapsed annex 4 application: refused with the rule of the lapse.
  ASSERT_TRUE(submit("r1", ApplicationKind::ereports_users, "u1").accepted);
  ASSERT_TRUE(register_app("r1").accepted);
  h.now = riga(20291130, 10, 0);
  EXPECT_REJECTED(h.apply(events::report_rights(h.treasury(), "u1", "C1", fb::ReportGroup::view_prepare,
                                                fb::ReportMode::view, "r1")),
                  reason::kApplicationLapsed, "R31");
}

// R42: requests of schema version 1 are decided as before: rights without an
// application stand until revoked, and R10's permission rides on the grant.
TEST_F(Applications, R42_R7_R10_OldSchemaVersionGrantsWithoutApplication) {
  auto v1 = [](const std::string& request) { return events::with_schema_version(request, 1); };
  EXPECT_ACCEPTED(h.apply(v1(events::rights_granted(h.treasury(), "u1", "A1", AccessMode::signature_2, 100, 100))));
  EXPECT_ACCEPTED(h.prepare("u1", "po1", "A1", 100));
  ASSERT_TRUE(h.open_account("F1", "OWNER").accepted);
  EXPECT_REJECTED(h.apply(v1(events::rights_granted(h.treasury(), "u2", "F1", AccessMode::view_all, 0, 0))),
                  reason::kOwnerPermissionMissing, "R10");
  EXPECT_ACCEPTED(h.apply(v1(events::rights_granted(h.treasury(), "u2", "F1", AccessMode::view_all, 0, 0, "sha256:p"))));
  EXPECT_ACCEPTED(h.apply(v1(events::plan_rights(h.treasury(), "u1", fb::Service::eplans, fb::PlanMode::view))));
  EXPECT_ACCEPTED(h.apply(v1(events::report_rights(h.treasury(), "u1", "C1", fb::ReportGroup::view_prepare,
                                                   fb::ReportMode::view))));
  EXPECT_ACCEPTED(h.apply(v1(events::loan_rights(h.treasury(), "u1", fb::LoanGroup::loan_agreements,
                                                 fb::LoanMode::view))));
  // A version 1 application's permissions field did not exist: never read.
  EXPECT_ACCEPTED(h.apply(v1(events::application_submitted(h.as("head"), "l1", ApplicationKind::eloans, "u1", "head",
                                                           h.now - 1, "sha256:doc", {{"F1", "sha256:p"}}))));
}

}  // namespace
}  // namespace kase::testing

namespace kase::testing {
namespace {

class Deadlines : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h.open_account("A1").accepted);
    ASSERT_TRUE(h.head("head").accepted);
    h.now = riga(20261127, 16, 0);  // Friday
    ASSERT_TRUE(h.apply(events::application_submitted(h.as("head"), "a1", fb::ApplicationKind::ekase, "u1", "head",
                                                      h.now - 1, "sha256:d"))
                    .accepted);
  }
  std::vector<engine::LateApplication> late(int32_t ymd, int hour = 12) {
    return engine::late_applications(h.engine.state(), riga(ymd, hour, 0));
  }
  Harness h;
};

TEST_F(Deadlines, R22_1_RegistrationWithinOneBusinessDay) {
  EXPECT_EQ(engine::add_business_days(h.engine.state().calendar, 20261127, 1), 20261130);  // over the weekend
  EXPECT_TRUE(late(20261130, 23).empty());  // Monday: still in time
  const auto l = late(20261201);            // Tuesday: late
  ASSERT_EQ(l.size(), 1u);
  EXPECT_STREQ(l[0].rule, "R22.1");
  EXPECT_EQ(l[0].deadline, 20261130);
  EXPECT_EQ(l[0].done_us, 0);
  // Registered late: still listed, with when it happened.
  h.now = riga(20261201, 9, 0);
  ASSERT_TRUE(h.apply(events::application_registered(h.treasury(), "a1")).accepted);
  const auto after = late(20261201);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].done_us, h.now);
}

TEST_F(Deadlines, R22_2_AttachmentWithinThreeBusinessDays) {
  h.now = riga(20261130, 9, 0);
  ASSERT_TRUE(h.apply(events::application_registered(h.treasury(), "a1")).accepted);  // in time
  EXPECT_EQ(engine::add_business_days(h.engine.state().calendar, 20261127, 3), 20261202);
  EXPECT_TRUE(late(20261202, 23).empty());
  auto l = late(20261203);
  ASSERT_EQ(l.size(), 1u);
  EXPECT_STREQ(l[0].rule, "R22.2");
  EXPECT_STREQ(l[0].step, "attachment");
  h.now = riga(20261202, 15, 0);
  ASSERT_TRUE(h.apply(events::rights_granted_under(h.treasury(), "u1", "A1", AccessMode::view_all, 0, 0, "a1")).accepted);
  EXPECT_TRUE(late(20261210).empty());  // attached in time
}

}  // namespace
}  // namespace kase::testing
