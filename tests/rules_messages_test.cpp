// Messages to clients (R36): a projection of users with unread messages older than 7 days.
#include "harness.h"

namespace kase::testing {
namespace {

TEST(Messages, R36_UnreadMessagesOlderThanSevenDays) {
  Harness h;
  ASSERT_TRUE(h.open_account("A1").accepted);
  ASSERT_TRUE(h.grant("u1", "A1", AccessMode::view_all).accepted);
  ASSERT_TRUE(h.grant("u2", "A1", AccessMode::signature_2).accepted);
  ASSERT_TRUE(h.apply(events::message_posted(h.treasury(), "msg-1", "New limits")).accepted);
  EXPECT_REJECTED(h.apply(events::message_posted(h.treasury(), "msg-1", "again")), reason::kMessageExists, "R36");
  const int64_t posted = h.now;
  EXPECT_ACCEPTED(h.apply(events::message_read(h.as("u1"), "msg-1")));
  EXPECT_REJECTED(h.apply(events::message_read(h.as("u1"), "msg-9")), reason::kMessageUnknown, "R36");
  EXPECT_REJECTED(h.apply(events::message_read(h.as("stranger"), "msg-1")), reason::kUnknownPerson, "R25");
  // Exactly 7 days: not yet overdue; a moment later u2 is.
  EXPECT_TRUE(engine::overdue_messages(h.engine.state(), posted + engine::kMessageReadPeriodUs).empty());
  const auto overdue = engine::overdue_messages(h.engine.state(), posted + engine::kMessageReadPeriodUs + 1);
  ASSERT_EQ(overdue.size(), 1u);
  EXPECT_EQ(overdue[0].user, "u2");
  EXPECT_EQ(overdue[0].message, "msg-1");
  EXPECT_EQ(overdue[0].posted_us, posted);
  // Reading is taken at any hour, and only for the client's own messages.
  h.now = riga(20261206, 23, 0);
  EXPECT_ACCEPTED(h.apply(events::message_read(h.as("u2"), "msg-1")));
  EXPECT_TRUE(engine::overdue_messages(h.engine.state(), h.now + engine::kMessageReadPeriodUs).empty());
  h.client = "C2";
  EXPECT_REJECTED(h.apply(events::message_read(h.as("u2"), "msg-1")), reason::kMessageUnknown, "R36");
}

}  // namespace
}  // namespace kase::testing
