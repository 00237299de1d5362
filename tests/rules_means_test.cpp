// Identification means per mode (R22.1.1–R22.1.3, R23, R24).
#include "harness.h"

namespace kase::testing {
namespace {

using fb::Means;

class MeansPerMode : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h.open_account("A1").accepted);
    ASSERT_TRUE(h.head("head").accepted);
    ASSERT_TRUE(h.grant("m", "A1", AccessMode::manage_po).accepted);
    ASSERT_TRUE(h.grant("s2", "A1", AccessMode::signature_2).accepted);
    ASSERT_TRUE(h.grant("is", "A1", AccessMode::online_view).accepted);
  }
  engine::Verdict reg(const std::string& who, Means m, bool exception = false) {
    return h.apply(events::means_registered(h.treasury(), who, m, exception));
  }
  engine::Verdict prepare(const std::string& who, const std::string& order, Means m) {
    return h.apply(events::with_means(events::po_prepare(h.as(who), order, "A1", 100), m));
  }
  engine::Verdict online(Means m) {
    return h.apply(events::with_means(events::online_data_request(h.as("is", Channel::online), "A1"), m));
  }
  Harness h;
};

TEST_F(MeansPerMode, R22_1_1_UnifiedLoginMeansForViewAndManageModes) {
  ASSERT_TRUE(reg("m", Means::unified_login).accepted);
  EXPECT_ACCEPTED(prepare("m", "po1", Means::unified_login));
  EXPECT_REJECTED(prepare("m", "po2", Means::unknown), reason::kMeansNotStated, "R25");
  EXPECT_REJECTED(prepare("m", "po3", Means::eid_card), reason::kMeansNotRegistered, "R25");
  ASSERT_TRUE(reg("m", Means::x509_certificate).accepted);
  EXPECT_REJECTED(prepare("m", "po4", Means::x509_certificate), reason::kMeansTooWeak, "R22.1.1");
}

TEST_F(MeansPerMode, R22_1_2_QualifiedMeansForSigningModes) {
  ASSERT_TRUE(reg("s2", Means::unified_login).accepted);
  EXPECT_REJECTED(prepare("s2", "po1", Means::unified_login), reason::kMeansTooWeak, "R22.1.2");
  ASSERT_TRUE(reg("s2", Means::esignature_card).accepted);
  EXPECT_ACCEPTED(prepare("s2", "po1", Means::esignature_card));
  // A code calculator only as a recorded Treasury exception, and once activated (R24).
  ASSERT_TRUE(reg("s2", Means::code_calculator).accepted);
  EXPECT_REJECTED(prepare("s2", "po2", Means::code_calculator), reason::kMeansExceptionOnly, "R22.1.2");
  ASSERT_TRUE(reg("s2", Means::code_calculator, true).accepted);
  EXPECT_REJECTED(prepare("s2", "po2", Means::code_calculator), reason::kMeansNotActivated, "R24");
  ASSERT_TRUE(h.apply(events::means_activated(h.treasury(), "s2", Means::code_calculator)).accepted);
  EXPECT_ACCEPTED(prepare("s2", "po2", Means::code_calculator));
}

TEST_F(MeansPerMode, R22_1_3_CertificateForOnlineModes) {
  ASSERT_TRUE(h.apply(events::data_exchange_established(h.treasury())).accepted);
  ASSERT_TRUE(reg("is", Means::unified_login).accepted);
  EXPECT_REJECTED(online(Means::unified_login), reason::kMeansTooWeak, "R22.1.3");
  ASSERT_TRUE(reg("is", Means::x509_certificate).accepted);
  EXPECT_ACCEPTED(online(Means::x509_certificate));
}

TEST_F(MeansPerMode, R23_MeansAlreadyHeldAreKept) {
  ASSERT_TRUE(reg("s2", Means::eid_card).accepted);
  const engine::Verdict again = reg("s2", Means::eid_card);
  EXPECT_ACCEPTED(again);
  EXPECT_STREQ(again.rule, "R23");
  EXPECT_ACCEPTED(prepare("s2", "po1", Means::eid_card));
  EXPECT_REJECTED(reg("nobody", Means::eid_card), reason::kUnknownPerson, "R25");
}

TEST_F(MeansPerMode, R24_OnlineModesOnlyAfterDataExchangeIsEstablished) {
  EXPECT_REJECTED(online(Means::unknown), reason::kDataExchangeNotEstablished, "R24");
  ASSERT_TRUE(h.apply(events::data_exchange_established(h.treasury())).accepted);
  EXPECT_ACCEPTED(online(Means::unknown));  // means not recorded for this person: the channel identifies
  // Activation is for code means the person holds.
  EXPECT_REJECTED(h.apply(events::means_activated(h.treasury(), "is", Means::code_card)), reason::kMeansNotRegistered,
                  "R24");
}

}  // namespace
}  // namespace kase::testing
