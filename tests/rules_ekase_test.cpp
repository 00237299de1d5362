// eKase rules: one test (at least) per rule ID, named after it.
#include "harness.h"

namespace kase::testing {
namespace {

class EKase : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h.open_account("A1").accepted);
    ASSERT_TRUE(h.apply(events::data_exchange_established(h.treasury())).accepted);  // R24
    ASSERT_TRUE(h.head("head").accepted);
  }
  Harness h;
};

// ---- R7: one application per user: the newer one replaces the older ---------------------
TEST_F(EKase, R7_NewerGrantReplacesTheUsersModeOnTheAccount) {
  EXPECT_ACCEPTED(h.grant("u1", "A1", AccessMode::view_all));
  EXPECT_REJECTED(h.prepare("u1", "po1", "A1", 100), reason::kModeViewOnly, "R8.3");
  EXPECT_ACCEPTED(h.grant("u1", "A1", AccessMode::signature_2));
  EXPECT_ACCEPTED(h.prepare("u1", "po1", "A1", 100));
  EXPECT_EQ(h.engine.state().grants.size(), 1u);
  EXPECT_ACCEPTED(h.apply(events::rights_revoked(h.treasury(), "u1", "A1")));
  EXPECT_REJECTED(h.prepare("u1", "po2", "A1", 100), reason::kNoRights, "R8");
  EXPECT_REJECTED(h.apply(events::rights_revoked(h.treasury(), "u1", "A1")), reason::kNoRights, "R7");
}

// ---- R8.1–R8.3, R8.9: view modes never act on orders --------------------------------------
TEST_F(EKase, R8_1_ViewIncomingCannotPrepareOrSign) {
  h.grant("v", "A1", AccessMode::view_incoming);
  h.grant("s2", "A1", AccessMode::signature_2);
  EXPECT_REJECTED(h.prepare("v", "po1", "A1", 100), reason::kModeViewOnly, "R8.1");
  EXPECT_ACCEPTED(h.prepare("s2", "po1", "A1", 100));
  EXPECT_REJECTED(h.sign("v", "po1"), reason::kModeViewOnly, "R8.1");
}

TEST_F(EKase, R8_2_ViewOutgoingCannotPrepareOrSign) {
  h.grant("v", "A1", AccessMode::view_outgoing);
  h.grant("s2", "A1", AccessMode::signature_2);
  EXPECT_REJECTED(h.prepare("v", "po1", "A1", 100), reason::kModeViewOnly, "R8.2");
  EXPECT_ACCEPTED(h.prepare("s2", "po1", "A1", 100));
  EXPECT_REJECTED(h.sign("v", "po1"), reason::kModeViewOnly, "R8.2");
}

TEST_F(EKase, R8_3_ViewAllCannotPrepareSignOrCancel) {
  h.grant("v", "A1", AccessMode::view_all);
  h.grant("s2", "A1", AccessMode::signature_2);
  EXPECT_REJECTED(h.prepare("v", "po1", "A1", 100), reason::kModeViewOnly, "R8.3");
  EXPECT_ACCEPTED(h.prepare("s2", "po1", "A1", 100));
  EXPECT_REJECTED(h.sign("v", "po1"), reason::kModeViewOnly, "R8.3");
  EXPECT_REJECTED(h.cancel("v", "po1"), reason::kNotPreparerOrSigner, "R8");
}

TEST_F(EKase, R8_9_OnlineViewCannotImportPrepareOrSign) {
  h.grant("is", "A1", AccessMode::online_view);
  EXPECT_REJECTED(h.apply(events::po_import(h.as("is", Channel::online), "po1", "A1", 100)),
                  reason::kModeCannotImport, "R8.9");
  EXPECT_REJECTED(h.prepare("is", "po2", "A1", 100), reason::kModeViewOnly, "R8.9");
}

// ---- R8.4: manage-po prepares but cannot sign ----------------------------------------------------------
TEST_F(EKase, R8_4_ManagePoPreparesButCannotSign) {
  h.grant("m", "A1", AccessMode::manage_po);
  EXPECT_ACCEPTED(h.prepare("m", "po1", "A1", 100));
  EXPECT_REJECTED(h.sign("m", "po1"), reason::kModeCannotSign, "R8.4");
  EXPECT_ACCEPTED(h.cancel("m", "po1"));  // the preparer may cancel
}

// ---- R8.5: signature-1 signs after a signature-2 and submits -----------------------------------
TEST_F(EKase, R8_5_Signature1SubmitsAfterSignature2) {
  h.grant("m", "A1", AccessMode::manage_po);
  h.grant("s1", "A1", AccessMode::signature_1);
  h.grant("s2", "A1", AccessMode::signature_2);
  ASSERT_TRUE(h.prepare("m", "po1", "A1", 100).accepted);
  EXPECT_REJECTED(h.sign("s1", "po1"), reason::kOutOfOrder, "R8.5");  // no signature-2 yet
  EXPECT_REJECTED(h.prepare("s1", "po2", "A1", 100), reason::kModeCannotPrepare, "R8.5");
  EXPECT_ACCEPTED(h.sign("s2", "po1"));
  EXPECT_EQ(h.order("po1").status, engine::OrderStatus::prepared);
  EXPECT_ACCEPTED(h.sign("s1", "po1"));
  EXPECT_EQ(h.order("po1").status, engine::OrderStatus::submitted);
  EXPECT_REJECTED(h.sign("s2", "po1"), reason::kOrderSubmitted, "R8");
  EXPECT_REJECTED(h.cancel("s1", "po1"), reason::kOrderSubmitted, "R8");
}

// ---- R8.6: signature-2 prepares and signs, but one signature-2 never submits --------------------------
TEST_F(EKase, R8_6_Signature2PreparesAndSignsButNeverSubmitsAlone) {
  h.grant("s2", "A1", AccessMode::signature_2);
  h.grant("s2b", "A1", AccessMode::signature_2);
  ASSERT_TRUE(h.prepare("s2", "po1", "A1", 100).accepted);
  EXPECT_ACCEPTED(h.sign("s2", "po1"));
  EXPECT_EQ(h.order("po1").status, engine::OrderStatus::prepared);
  EXPECT_REJECTED(h.sign("s2b", "po1"), reason::kOutOfOrder, "R8.6");  // 2 then 2 is no chain
  EXPECT_REJECTED(h.sign("s2", "po1"), reason::kSamePerson, "R8");
}

// ---- R8.7: with a signature-3 user: 2, then 1, then 3, which submits -----------------------------
TEST_F(EKase, R8_7_Signature3SubmitsAfterSignature2AndSignature1) {
  h.grant("s1", "A1", AccessMode::signature_1);
  h.grant("s2", "A1", AccessMode::signature_2);
  h.grant("s3", "A1", AccessMode::signature_3);
  ASSERT_TRUE(h.prepare("s2", "po1", "A1", 100).accepted);
  EXPECT_REJECTED(h.sign("s3", "po1"), reason::kOutOfOrder, "R8.7");
  EXPECT_ACCEPTED(h.sign("s2", "po1"));
  EXPECT_REJECTED(h.sign("s3", "po1"), reason::kOutOfOrder, "R8.7");  // signature-1 missing
  EXPECT_ACCEPTED(h.sign("s1", "po1"));
  EXPECT_EQ(h.order("po1").status, engine::OrderStatus::prepared);  // 2+1 no longer suffices
  EXPECT_ACCEPTED(h.sign("s3", "po1"));
  EXPECT_EQ(h.order("po1").status, engine::OrderStatus::submitted);
}

// ---- R8.8: signature-4 alone or after signature-2; head/specimen only; not with signature-3 --
TEST_F(EKase, R8_8_Signature4SignsAloneOrAfterSignature2) {
  EXPECT_ACCEPTED(h.grant("head", "A1", AccessMode::signature_4));
  h.grant("s2", "A1", AccessMode::signature_2);
  ASSERT_TRUE(h.prepare("head", "po1", "A1", 100).accepted);
  EXPECT_ACCEPTED(h.sign("head", "po1"));
  EXPECT_EQ(h.order("po1").status, engine::OrderStatus::submitted);
  ASSERT_TRUE(h.prepare("s2", "po2", "A1", 100).accepted);
  ASSERT_TRUE(h.sign("s2", "po2").accepted);
  EXPECT_ACCEPTED(h.sign("head", "po2"));
  EXPECT_EQ(h.order("po2").status, engine::OrderStatus::submitted);
}

TEST_F(EKase, R8_8_Signature4OnlyForHeadOrSpecimenCard) {
  EXPECT_REJECTED(h.grant("clerk", "A1", AccessMode::signature_4), reason::kSignature4NotAuthorised, "R8.8");
  EXPECT_ACCEPTED(h.apply(events::representative(h.treasury(), "clerk", false, true)));
  EXPECT_ACCEPTED(h.grant("clerk", "A1", AccessMode::signature_4));
}

TEST_F(EKase, R8_8_Signature4NotOnAccountWithSignature3) {
  ASSERT_TRUE(h.grant("s3", "A1", AccessMode::signature_3).accepted);
  EXPECT_REJECTED(h.grant("head", "A1", AccessMode::signature_4), reason::kSignature4WithSignature3, "R8.8");
  ASSERT_TRUE(h.open_account("A2").accepted);
  ASSERT_TRUE(h.grant("head", "A2", AccessMode::signature_4).accepted);
  EXPECT_REJECTED(h.grant("s3", "A2", AccessMode::signature_3), reason::kSignature4WithSignature3, "R8.8");
  // Once the signature-3 user is gone, signature-4 is allowed again.
  ASSERT_TRUE(h.apply(events::rights_revoked(h.treasury(), "s3", "A1")).accepted);
  EXPECT_ACCEPTED(h.grant("head", "A1", AccessMode::signature_4));
}

// ---- R8.10: online-manage imports payment data through the online module -----------------------
TEST_F(EKase, R8_10_OnlineManageImportsWithinLimits) {
  h.grant("is", "A1", AccessMode::online_manage, 1'000 * kEur, 1'500 * kEur);
  EXPECT_ACCEPTED(h.apply(events::po_import(h.as("is", Channel::online), "po1", "A1", 900 * kEur)));
  EXPECT_EQ(h.engine.state().names.name(h.order("po1").preparer), "is");
  EXPECT_REJECTED(h.apply(events::po_import(h.as("is", Channel::portal), "po2", "A1", 100)),
                  reason::kWrongChannel, "R8.10");
  EXPECT_REJECTED(h.apply(events::po_import(h.as("is", Channel::online), "po3", "A1", 700 * kEur)),
                  reason::kDailyExceeded, "R9");
  EXPECT_REJECTED(h.prepare("is", "po4", "A1", 100), reason::kModeCannotPrepare, "R8.10");
  EXPECT_REJECTED(h.sign("is", "po1"), reason::kModeCannotSign, "R8.10");
}

// The interpretation under R8: one person never signs the same order twice;
// preparer or any signer may cancel until submission.
TEST_F(EKase, R8_SamePersonNeverSignsTwiceAndCancelRules) {
  h.grant("s2", "A1", AccessMode::signature_2);
  h.grant("other", "A1", AccessMode::signature_2);
  ASSERT_TRUE(h.prepare("s2", "po1", "A1", 100).accepted);
  ASSERT_TRUE(h.sign("s2", "po1").accepted);
  EXPECT_REJECTED(h.sign("s2", "po1"), reason::kSamePerson, "R8");
  EXPECT_REJECTED(h.cancel("other", "po1"), reason::kNotPreparerOrSigner, "R8");
  EXPECT_ACCEPTED(h.cancel("s2", "po1"));
  EXPECT_REJECTED(h.sign("other", "po1"), reason::kOrderCancelled, "R8");
  EXPECT_REJECTED(h.sign("s2", "nope"), reason::kOrderUnknown, "R8");
}

// ---- R9: per-order and daily limits, each order counted once per user --------------------------
TEST_F(EKase, R9_PerOrderLimit) {
  h.grant("s2", "A1", AccessMode::signature_2, 1'000 * kEur, 5'000 * kEur);
  const engine::Verdict v = h.prepare("s2", "po1", "A1", 1'000 * kEur + 1);
  EXPECT_REJECTED(v, reason::kPerOrderExceeded, "R9");
  EXPECT_EQ(v.amount, 1'000 * kEur + 1);
  EXPECT_EQ(v.limit, 1'000 * kEur);
  EXPECT_ACCEPTED(h.prepare("s2", "po1", "A1", 1'000 * kEur));  // equal to the limit is allowed
}

TEST_F(EKase, R9_DailyLimitCountsEachOrderOncePerUser) {
  h.grant("s2", "A1", AccessMode::signature_2, 2'000 * kEur, 3'000 * kEur);
  h.grant("s1", "A1", AccessMode::signature_1, 2'000 * kEur, 2'500 * kEur);
  ASSERT_TRUE(h.prepare("s2", "po1", "A1", 1'500 * kEur).accepted);
  ASSERT_TRUE(h.sign("s2", "po1").accepted);  // same order: not counted again
  ASSERT_TRUE(h.prepare("s2", "po2", "A1", 1'500 * kEur).accepted);  // 3,000 = the daily limit
  const engine::Verdict v = h.prepare("s2", "po3", "A1", 1);
  EXPECT_REJECTED(v, reason::kDailyExceeded, "R9");
  EXPECT_EQ(v.day_total, 3'000 * kEur);
  EXPECT_EQ(v.limit, 3'000 * kEur);
  EXPECT_EQ(v.amount, 1);
  // The signer has a day total of its own.
  EXPECT_ACCEPTED(h.sign("s1", "po1"));
  ASSERT_TRUE(h.sign("s2", "po2").accepted);
  EXPECT_REJECTED(h.sign("s1", "po2"), reason::kDailyExceeded, "R9");  // 1,500 + 1,500 > 2,500
}

TEST_F(EKase, R9_CancelledOrderReleasesItsAmount) {
  h.grant("s2", "A1", AccessMode::signature_2, 2'000 * kEur, 2'000 * kEur);
  ASSERT_TRUE(h.prepare("s2", "po1", "A1", 2'000 * kEur).accepted);
  EXPECT_REJECTED(h.prepare("s2", "po2", "A1", 1), reason::kDailyExceeded, "R9");
  EXPECT_ACCEPTED(h.cancel("s2", "po1"));
  EXPECT_ACCEPTED(h.prepare("s2", "po2", "A1", 2'000 * kEur));
}

TEST_F(EKase, R9_DayTotalStartsAfreshNextBusinessDay) {
  h.grant("s2", "A1", AccessMode::signature_2, 2'000 * kEur, 2'000 * kEur);
  ASSERT_TRUE(h.prepare("s2", "po1", "A1", 2'000 * kEur).accepted);
  EXPECT_REJECTED(h.prepare("s2", "po2", "A1", 1), reason::kDailyExceeded, "R9");
  h.now = riga(20261201, 9, 0);
  EXPECT_ACCEPTED(h.prepare("s2", "po2", "A1", 2'000 * kEur));
  // Cancelling yesterday's order does not release today's total.
  ASSERT_TRUE(h.cancel("s2", "po1").accepted);
  EXPECT_REJECTED(h.prepare("s2", "po3", "A1", 1), reason::kDailyExceeded, "R9");
}

TEST_F(EKase, R9_LimitModesNeedLimits) {
  EXPECT_REJECTED(h.grant("s2", "A1", AccessMode::signature_2, 0, 100), reason::kLimitsInvalid, "R9");
  EXPECT_REJECTED(h.grant("s2", "A1", AccessMode::signature_2, 200, 100), reason::kLimitsInvalid, "R9");
  EXPECT_ACCEPTED(h.grant("v", "A1", AccessMode::view_all, 0, 0));
}

// ---- R10, R11: accounts of another owner -------------------------------------------------------
TEST_F(EKase, R10_ForeignAccountNeedsOwnersPermissionWithFirstApplication) {
  ASSERT_TRUE(h.open_account("F1", "OWNER").accepted);
  EXPECT_REJECTED(h.grant("u1", "F1", AccessMode::view_all), reason::kOwnerPermissionMissing, "R10");
  EXPECT_ACCEPTED(h.grant("u1", "F1", AccessMode::view_all, 0, 0, "sha256:permission"));
  // Later applications naming the same account need not repeat it.
  EXPECT_ACCEPTED(h.grant("u2", "F1", AccessMode::view_incoming));
}

TEST_F(EKase, R11_ForeignAccountOnlyViewModes) {
  ASSERT_TRUE(h.open_account("F1", "OWNER").accepted);
  EXPECT_REJECTED(h.grant("u1", "F1", AccessMode::signature_2, 100, 100, "sha256:p"),
                  reason::kModeNotAllowedForeign, "R11");
  EXPECT_ACCEPTED(h.grant("u1", "F1", AccessMode::online_view, 0, 0, "sha256:p"));
  EXPECT_ACCEPTED(h.grant("u2", "F1", AccessMode::view_outgoing));
}

// ---- R12: deposit accounts view only ----------------------------------------------------------------
TEST_F(EKase, R12_DepositAccountOnlyViewModes) {
  ASSERT_TRUE(h.open_account("D1", "", true).accepted);
  EXPECT_REJECTED(h.grant("u1", "D1", AccessMode::manage_po), reason::kModeNotAllowedDeposit, "R12");
  EXPECT_ACCEPTED(h.grant("u1", "D1", AccessMode::view_all));
  // An account that becomes a deposit account falls back to view.
  ASSERT_TRUE(h.grant("s2", "A1", AccessMode::signature_2).accepted);
  ASSERT_TRUE(h.apply(events::deposit_flag_set(h.treasury(), "A1", true)).accepted);
  EXPECT_REJECTED(h.prepare("s2", "po1", "A1", 100), reason::kAccountViewOnly, "R12");
}

// ---- R13: closed, blocked, not opened for the fiscal year: view only ---------------------------------
TEST_F(EKase, R13_ClosedOrBlockedAccountFallsBackToView) {
  ASSERT_TRUE(h.grant("s2", "A1", AccessMode::signature_2).accepted);
  ASSERT_TRUE(h.apply(events::account_blocked(h.treasury(), "A1")).accepted);
  EXPECT_REJECTED(h.prepare("s2", "po1", "A1", 100), reason::kAccountViewOnly, "R13");
  ASSERT_TRUE(h.apply(events::account_unblocked(h.treasury(), "A1")).accepted);
  EXPECT_ACCEPTED(h.prepare("s2", "po1", "A1", 100));
  ASSERT_TRUE(h.apply(events::account_closed(h.treasury(), "A1")).accepted);
  EXPECT_REJECTED(h.sign("s2", "po1"), reason::kAccountViewOnly, "R13");
  // Attached while closed: the grant stands, but only as view.
  EXPECT_ACCEPTED(h.grant("s2b", "A1", AccessMode::signature_2));
  EXPECT_REJECTED(h.prepare("s2b", "po2", "A1", 100), reason::kAccountViewOnly, "R13");
}

TEST_F(EKase, R13_AccountNotOpenedForTheNewFiscalYear) {
  ASSERT_TRUE(h.grant("s2", "A1", AccessMode::signature_2).accepted);
  h.now = riga(20270104, 10, 0);  // first business day of 2027
  EXPECT_REJECTED(h.prepare("s2", "po1", "A1", 100), reason::kAccountViewOnly, "R13");
  ASSERT_TRUE(h.apply(events::opened_for_year(h.treasury(), "A1", 2027)).accepted);
  EXPECT_ACCEPTED(h.prepare("s2", "po1", "A1", 100));
}

// ---- R14, R15: one-day limit change, applied on its date, lapses after -------------------------
TEST_F(EKase, R14_OneDayLimitChangeIsAnApplicationForLimitModes) {
  h.grant("v", "A1", AccessMode::view_all);
  h.grant("s2", "A1", AccessMode::signature_2, 1'000 * kEur, 1'000 * kEur);
  EXPECT_REJECTED(h.apply(events::limit_change(h.treasury(), "v", "A1", kMonday, 100, 100)),
                  reason::kChangeNoLimits, "R14");
  EXPECT_REJECTED(h.apply(events::limit_change(h.treasury(), "s2", "A1", kMonday, -1, -1)),
                  reason::kChangeEmpty, "R14");
  EXPECT_REJECTED(h.apply(events::limit_change(h.treasury(), "nobody", "A1", kMonday, 1, 1)),
                  reason::kNoRights, "R14");
  EXPECT_REJECTED(h.apply(events::limit_change(h.as("s2"), "s2", "A1", kMonday, 5, 5)),
                  reason::kTreasuryOnly, "R41");
}

// R14 (schema version 2): the one-day change stands on a registered annex 3
// application (kind ekase_limit_change) of that user and client, in force.
TEST_F(EKase, R14_OneDayLimitChangeStandsOnARegisteredLimitChangeApplication) {
  h.grant("s2", "A1", AccessMode::signature_2, 1'000 * kEur, 1'000 * kEur);
  h.grant("s2b", "A1", AccessMode::signature_2, 1'000 * kEur, 1'000 * kEur);
  auto change = [&](const std::string& application) {
    return h.apply(events::limit_change(h.treasury(), "s2", "A1", kMonday, 3'000 * kEur, 3'000 * kEur, application));
  };
  // None named: refused, and the R7 limits stay.
  EXPECT_REJECTED(change(""), reason::kChangeApplicationMissing, "R14");
  EXPECT_REJECTED(h.prepare("s2", "po1", "A1", 2'000 * kEur), reason::kPerOrderExceeded, "R9");
  // Not an annex 3 application of this user and client in force.
  EXPECT_REJECTED(change("no-such-application"), reason::kApplicationNotInForce, "R14");
  EXPECT_REJECTED(change(h.application("s2", fb::ApplicationKind::ekase)), reason::kApplicationNotInForce, "R14");
  EXPECT_REJECTED(change(h.application("s2b", fb::ApplicationKind::ekase_limit_change)),
                  reason::kApplicationNotInForce, "R14");
  ASSERT_TRUE(h.apply(events::application_submitted(h.treasury(), "annex3-pending", fb::ApplicationKind::ekase_limit_change,
                                                    "s2", Harness::kApplicationSigner, h.now, "sha256:annex3"))
                  .accepted);
  EXPECT_REJECTED(change("annex3-pending"), reason::kApplicationNotInForce, "R14");
  h.client = "C2";  // another client's annex 3 application about s2
  const std::string other_client = h.application("s2", fb::ApplicationKind::ekase_limit_change);
  h.client = "C1";
  EXPECT_REJECTED(change(other_client), reason::kApplicationNotInForce, "R14");
  EXPECT_REJECTED(h.prepare("s2", "po2", "A1", 2'000 * kEur), reason::kPerOrderExceeded, "R9");
  // Registered: the change applies (R15).
  ASSERT_TRUE(h.apply(events::application_registered(h.treasury(), "annex3-pending")).accepted);
  EXPECT_ACCEPTED(change("annex3-pending"));
  EXPECT_ACCEPTED(h.prepare("s2", "po3", "A1", 2'000 * kEur));
  EXPECT_ACCEPTED(h.limit_change("s2", "A1", 20261201, -1, 4'000 * kEur));
  // R31: an annulled application carries no change.
  ASSERT_TRUE(h.apply(events::applications_annulled(h.treasury(), "reorganised")).accepted);
  EXPECT_REJECTED(change("annex3-pending"), reason::kApplicationAnnulled, "R31");
}

// R42, R14: a schema version 1 change (old logs) is decided as before: the
// Treasury's word, no application needed or read.
TEST_F(EKase, R42_R14_Version1LimitChangeNeedsNoApplication) {
  h.grant("s2", "A1", AccessMode::signature_2, 1'000 * kEur, 1'000 * kEur);
  EXPECT_ACCEPTED(h.apply(events::with_schema_version(
      events::limit_change(h.treasury(), "s2", "A1", kMonday, 3'000 * kEur, 3'000 * kEur), 1)));
  EXPECT_ACCEPTED(h.prepare("s2", "po1", "A1", 2'000 * kEur));
  EXPECT_ACCEPTED(h.apply(events::with_schema_version(
      events::limit_change(h.treasury(), "s2", "A1", kMonday, -1, 5'000 * kEur, "not-read-in-version-1"), 1)));
  // The same change written in the current version needs its application.
  EXPECT_REJECTED(h.apply(events::limit_change(h.treasury(), "s2", "A1", kMonday, -1, 5'000 * kEur)),
                  reason::kChangeApplicationMissing, "R14");
}

TEST_F(EKase, R15_OneDayLimitAppliesOnItsDateAndLapsesAfter) {
  h.grant("s2", "A1", AccessMode::signature_2, 1'000 * kEur, 1'000 * kEur);
  // Raise the per-order limit for Tuesday only; the daily limit is raised too.
  ASSERT_TRUE(h.limit_change("s2", "A1", 20261201, 3'000 * kEur, 3'000 * kEur).accepted);
  EXPECT_REJECTED(h.prepare("s2", "po1", "A1", 2'000 * kEur), reason::kPerOrderExceeded, "R9");  // Monday
  h.now = riga(20261201, 9, 0);
  EXPECT_ACCEPTED(h.prepare("s2", "po2", "A1", 2'000 * kEur));  // Tuesday
  h.now = riga(20261202, 9, 0);
  const engine::Verdict v = h.prepare("s2", "po3", "A1", 2'000 * kEur);  // Wednesday: R7 limits again
  EXPECT_REJECTED(v, reason::kPerOrderExceeded, "R9");
  EXPECT_EQ(v.limit, 1'000 * kEur);
  EXPECT_REJECTED(h.apply(events::limit_change(h.treasury(), "s2", "A1", 20261201, 1, 1)),
                  reason::kChangeDatePast, "R15");
}

TEST_F(EKase, R15_OnlyOneLimitChangedKeepsTheOther) {
  h.grant("s2", "A1", AccessMode::signature_2, 1'000 * kEur, 1'500 * kEur);
  ASSERT_TRUE(h.limit_change("s2", "A1", kMonday, -1, 5'000 * kEur).accepted);
  EXPECT_REJECTED(h.prepare("s2", "po1", "A1", 1'001 * kEur), reason::kPerOrderExceeded, "R9");
  EXPECT_ACCEPTED(h.prepare("s2", "po2", "A1", 1'000 * kEur));
  EXPECT_ACCEPTED(h.prepare("s2", "po3", "A1", 1'000 * kEur));  // 2,000 > 1,500 but ≤ 5,000 today
}

// ---- R41 (in part): only the Treasury channel changes accounts, rights and settings --------------
TEST_F(EKase, R41_TreasuryEventsOnlyFromTreasuryChannel) {
  EXPECT_REJECTED(h.apply(events::account_opened(h.as("u1"), "X", "C1", false, 2026)), reason::kTreasuryOnly, "R41");
  EXPECT_REJECTED(h.apply(events::rights_granted(h.as("u1"), "u1", "A1", AccessMode::signature_4, 1, 1)),
                  reason::kTreasuryOnly, "R41");
  EXPECT_REJECTED(h.apply(events::po_prepare(h.treasury(), "po1", "A1", 1)), reason::kWrongChannel, "R41");
}

TEST_F(EKase, R4_RepresentativeRegisterNamesHeadAndSpecimenCard) {
  // The register decides who may hold signature-4 (R8.8); re-registering updates the roles.
  EXPECT_ACCEPTED(h.apply(events::representative(h.treasury(), "p1", false, false)));
  EXPECT_REJECTED(h.grant("p1", "A1", AccessMode::signature_4), reason::kSignature4NotAuthorised, "R8.8");
  EXPECT_ACCEPTED(h.apply(events::representative(h.treasury(), "p1", true, false)));
  EXPECT_ACCEPTED(h.grant("p1", "A1", AccessMode::signature_4));
  EXPECT_REJECTED(h.apply(events::representative(h.treasury(), "", true, false)), reason::kValueInvalid, "R4");
}

TEST_F(EKase, NamesWithTheKeySeparatorAreRefused) {
  const std::string bad = std::string("po") + engine::kKeySep + "1";
  h.grant("s2", "A1", AccessMode::signature_2);
  EXPECT_REJECTED(h.prepare("s2", bad, "A1", 100), reason::kValueInvalid, "R8");
  EXPECT_REJECTED(h.open_account(std::string("A") + engine::kKeySep), reason::kValueInvalid, "R13");
  EXPECT_REJECTED(h.grant(std::string("u") + engine::kKeySep, "A1", AccessMode::view_all), reason::kValueInvalid, "R8");
  h.client = std::string("C") + engine::kKeySep;
  EXPECT_REJECTED(h.prepare("s2", "po2", "A1", 100), reason::kValueInvalid, "R8");
  EXPECT_REJECTED(h.grant("u9", "A1", AccessMode::view_all), reason::kValueInvalid, "R8");
}

TEST_F(EKase, RightsBelongToTheRequestsClient) {
  h.grant("s2", "A1", AccessMode::signature_2);
  h.client = "C2";
  EXPECT_REJECTED(h.prepare("s2", "po1", "A1", 100), reason::kNoRights, "R8");
}

}  // namespace
}  // namespace kase::testing
