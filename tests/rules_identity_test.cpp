// Identification means, blocking and restoration (R25–R29), one test per rule ID.
#include "harness.h"

namespace kase::testing {
namespace {

using fb::BlockCause;
using fb::Means;

class Identity : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h.open_account("A1").accepted);
    ASSERT_TRUE(h.apply(events::data_exchange_established(h.treasury())).accepted);  // R24
    ASSERT_TRUE(h.grant("s2", "A1", AccessMode::signature_2).accepted);
    ASSERT_TRUE(h.grant("is", "A1", AccessMode::online_view).accepted);
  }
  engine::Verdict login(const std::string& who, bool ok, Means m = Means::unified_login) {
    return h.apply(events::login_attempt(h.as(who), m, ok));
  }
  engine::Verdict online(const std::string& who, int minute) {
    h.now = riga(kMonday, 9, 0) + minute * kUsPerMinute;
    return h.apply(events::online_data_request(h.as(who, Channel::online), "A1"));
  }
  Harness h;
};

TEST_F(Identity, R25_OnlyRegisteredPersonsAreIdentified) {
  EXPECT_ACCEPTED(login("s2", true));
  // Means values the schema does not know are refused, not stored (found by the fuzzer).
  EXPECT_REJECTED(login("s2", false, static_cast<Means>(112)), reason::kValueInvalid, "R25");
  EXPECT_REJECTED(h.apply(events::with_means(events::login_attempt(h.as("s2"), Means::unified_login, true),
                                             static_cast<Means>(200))),
                  reason::kValueInvalid, "R25");
  EXPECT_REJECTED(login("stranger", true), reason::kUnknownPerson, "R25");
  EXPECT_REJECTED(h.apply(events::means_blocked(h.treasury(), "stranger", BlockCause::suspicion)),
                  reason::kUnknownPerson, "R25");
}

TEST_F(Identity, R28_1_ThreeConsecutiveFailuresBlockAndSuccessResets) {
  EXPECT_REJECTED(login("s2", false), reason::kLoginFailed, "R28.1");
  EXPECT_REJECTED(login("s2", false), reason::kLoginFailed, "R28.1");
  EXPECT_ACCEPTED(login("s2", true));  // resets the count
  EXPECT_REJECTED(login("s2", false), reason::kLoginFailed, "R28.1");
  EXPECT_REJECTED(login("s2", false), reason::kLoginFailed, "R28.1");
  const engine::Verdict third = login("s2", false);
  EXPECT_REJECTED(third, reason::kBlockedWrongCredentials, "R28.1");
  EXPECT_EQ(third.amount, 3);
  // Every request from the blocked person is refused, naming the block.
  EXPECT_REJECTED(login("s2", true), reason::kBlockedWrongCredentials, "R28.1");
  EXPECT_REJECTED(h.prepare("s2", "po1", "A1", 100), reason::kBlockedWrongCredentials, "R28.1");
  // Others are not affected.
  EXPECT_ACCEPTED(login("is", true));
}

TEST_F(Identity, R28_1_ThresholdIsConfigurationInTheLog) {
  ASSERT_TRUE(h.apply(events::identity_policy(h.treasury(), 5, 180, 3)).accepted);
  for (int i = 0; i < 4; ++i) EXPECT_REJECTED(login("s2", false), reason::kLoginFailed, "R28.1");
  EXPECT_REJECTED(login("s2", false), reason::kBlockedWrongCredentials, "R28.1");
  EXPECT_REJECTED(h.apply(events::identity_policy(h.treasury(), 0, 180, 3)), reason::kValueInvalid, "R28.4");
}

TEST_F(Identity, R28_2_TreasuryBlocksOnSuspicion) {
  ASSERT_TRUE(h.apply(events::means_blocked(h.treasury(), "s2", BlockCause::suspicion)).accepted);
  EXPECT_REJECTED(h.prepare("s2", "po1", "A1", 100), reason::kBlockedSuspicion, "R28.2");
  // Engine-decided causes cannot be set by hand.
  EXPECT_REJECTED(h.apply(events::means_blocked(h.treasury(), "is", BlockCause::wrong_credentials)),
                  reason::kValueInvalid, "R28.2");
  EXPECT_REJECTED(h.apply(events::means_blocked(h.as("s2"), "is", BlockCause::suspicion)), reason::kTreasuryOnly,
                  "R41");
}

// R27: a user who suspects disclosure reports it at once; R28.3 blocks.
TEST_F(Identity, R28_3_R27_UserReportBlocksAtOnce) {
  h.now = riga(20261128, 23, 0);  // any hour, any day
  EXPECT_ACCEPTED(h.apply(events::breach_reported(h.as("s2"), Means::esignature_card)));
  h.now = riga(kMonday, 10, 0);
  EXPECT_REJECTED(h.prepare("s2", "po1", "A1", 100), reason::kBlockedReported, "R28.3");
}

TEST_F(Identity, R28_4_OnlineRequestsRepeatedlyUnderThreeMinutesBlock) {
  EXPECT_ACCEPTED(online("is", 0));
  EXPECT_ACCEPTED(online("is", 5));   // 5 min: fine
  EXPECT_ACCEPTED(online("is", 7));   // short 1
  EXPECT_ACCEPTED(online("is", 20));  // fine
  EXPECT_ACCEPTED(online("is", 22));  // short 2
  EXPECT_REJECTED(online("is", 24), reason::kBlockedRequestRate, "R28.4");  // short 3: blocked
  EXPECT_REJECTED(online("is", 60), reason::kBlockedRequestRate, "R28.4");
  // Only online modes make data requests.
  EXPECT_REJECTED(online("s2", 1), reason::kNotOnlineMode, "R8.6");
}

TEST_F(Identity, R28_4_ShortIntervalsCountPerBusinessDay) {
  EXPECT_ACCEPTED(online("is", 0));
  EXPECT_ACCEPTED(online("is", 1));  // short 1
  EXPECT_ACCEPTED(online("is", 2));  // short 2
  h.now = riga(20261201, 9, 0);      // next business day: the count starts again
  EXPECT_ACCEPTED(h.apply(events::online_data_request(h.as("is", Channel::online), "A1")));
  h.now += kUsPerMinute;
  EXPECT_ACCEPTED(h.apply(events::online_data_request(h.as("is", Channel::online), "A1")));  // short 1
}

TEST_F(Identity, R29_1_SupportServiceRestoresWrongPasswordOrCodeCard) {
  for (int i = 0; i < 3; ++i) (void)login("s2", false, Means::unified_login);
  EXPECT_ACCEPTED(h.apply(events::means_restored(h.treasury(), "s2", false)));
  EXPECT_ACCEPTED(login("s2", true));
  EXPECT_REJECTED(h.apply(events::means_restored(h.treasury(), "s2", false)), reason::kNotBlocked, "R29");
  // A calculator code or a suspicion block is not restored by phone.
  for (int i = 0; i < 3; ++i) (void)login("s2", false, Means::code_calculator);
  EXPECT_REJECTED(h.apply(events::means_restored(h.treasury(), "s2", false)), reason::kRestorationNotAllowed,
                  "R29.1");
  ASSERT_TRUE(h.apply(events::means_blocked(h.treasury(), "is", BlockCause::suspicion)).accepted);
  EXPECT_REJECTED(h.apply(events::means_restored(h.treasury(), "is", false)), reason::kRestorationNotAllowed,
                  "R29.1");
}

TEST_F(Identity, R29_2_ApplicationRestoresCalculatorAndR27R28_2Blocks) {
  for (int i = 0; i < 3; ++i) (void)login("s2", false, Means::code_calculator);
  EXPECT_ACCEPTED(h.apply(events::means_restored(h.treasury(), "s2", true)));
  ASSERT_TRUE(h.apply(events::means_blocked(h.treasury(), "s2", BlockCause::suspicion)).accepted);
  EXPECT_ACCEPTED(h.apply(events::means_restored(h.treasury(), "s2", true)));
  ASSERT_TRUE(h.apply(events::breach_reported(h.as("s2"), Means::unified_login)).accepted);
  EXPECT_ACCEPTED(h.apply(events::means_restored(h.treasury(), "s2", true)));
  EXPECT_ACCEPTED(h.prepare("s2", "po1", "A1", 100));
  // A code card is restored by phone, not by application.
  for (int i = 0; i < 3; ++i) (void)login("s2", false, Means::code_card);
  EXPECT_REJECTED(h.apply(events::means_restored(h.treasury(), "s2", true)), reason::kRestorationNotAllowed,
                  "R29.2");
}

}  // namespace
}  // namespace kase::testing
