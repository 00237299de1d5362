// The Latvian business calendar in Riga time, service hours (R32) and suspension (R34).
#include <random>

#include "harness.h"

namespace kase::testing {
namespace {

using engine::BusinessCalendar;
using engine::is_public_holiday;

TEST(Calendar, RigaTimeFollowsEuDaylightSaving) {
  // 2026: EEST from 29 Mar 01:00 UTC to 25 Oct 01:00 UTC.
  const int64_t winter = engine::days_from_civil(2026, 1, 15) * 86'400'000'000LL + 6LL * 3'600'000'000LL;
  EXPECT_EQ(engine::riga_time(winter).minute_of_day, 8 * 60);  // 06:00 UTC = 08:00 EET
  const int64_t summer = engine::days_from_civil(2026, 7, 15) * 86'400'000'000LL + 6LL * 3'600'000'000LL;
  EXPECT_EQ(engine::riga_time(summer).minute_of_day, 9 * 60);  // 06:00 UTC = 09:00 EEST
  const int64_t switch_day = engine::days_from_civil(2026, 3, 29) * 86'400'000'000LL;
  EXPECT_EQ(engine::riga_time(switch_day + 59 * 60'000'000LL).minute_of_day, 2 * 60 + 59);
  EXPECT_EQ(engine::riga_time(switch_day + 60 * 60'000'000LL).minute_of_day, 4 * 60);
  // Late evening UTC is already the next Riga day.
  const int64_t late = engine::days_from_civil(2026, 12, 31) * 86'400'000'000LL + 23LL * 3'600'000'000LL;
  EXPECT_EQ(engine::riga_time(late).date, 20270101);
}

TEST(Calendar, CachedClockEqualsRigaTimeAcrossDaylightSavingSwitches) {
  std::mt19937_64 rng(7);
  engine::RigaClock clock;
  const int64_t start = engine::days_from_civil(2025, 1, 1) * 86'400'000'000LL;
  const int64_t span = 3LL * 365 * 86'400'000'000LL;
  int64_t t = start;
  auto same = [](const engine::RigaTime& a, const engine::RigaTime& b) {
    return a.date == b.date && a.day_number == b.day_number && a.minute_of_day == b.minute_of_day &&
           a.weekday == b.weekday;
  };
  for (int i = 0; i < 200000; ++i) {
    // Mostly forward in small steps (as intake is), now and then a jump anywhere.
    t = (i % 1000 == 0) ? start + static_cast<int64_t>(rng() % static_cast<uint64_t>(span))
                        : t + static_cast<int64_t>(rng() % 600'000'000ULL);
    ASSERT_TRUE(same(clock.at(t), engine::riga_time(t))) << t;
  }
  // Every minute around the 2026 switches.
  for (const int64_t day : {engine::days_from_civil(2026, 3, 29), engine::days_from_civil(2026, 10, 25)}) {
    for (int64_t m = -24 * 60; m < 48 * 60; ++m) {
      const int64_t us = day * 86'400'000'000LL + m * 60'000'000LL + 59'999'999;
      ASSERT_TRUE(same(clock.at(us), engine::riga_time(us))) << us;
    }
  }
}

TEST(Calendar, EasterDates) {
  EXPECT_EQ(engine::easter_sunday(2024), 20240331);
  EXPECT_EQ(engine::easter_sunday(2025), 20250420);
  EXPECT_EQ(engine::easter_sunday(2026), 20260405);
  EXPECT_EQ(engine::easter_sunday(2027), 20270328);
}

TEST(Calendar, PublicHolidays) {
  for (int32_t d : {20260101, 20260403, 20260405, 20260406, 20260501, 20260504, 20260623, 20260624,
                    20261118, 20261224, 20261225, 20261226, 20261231})
    EXPECT_TRUE(is_public_holiday(d)) << d;
  for (int32_t d : {20260102, 20260402, 20260407, 20260505, 20260622, 20261117, 20261119, 20261223})
    EXPECT_FALSE(is_public_holiday(d)) << d;
}

TEST(Calendar, WeekendHolidayMovesToNextMonday) {
  // 4 May 2024 was a Saturday: Monday 6 May off. 18 Nov 2023 a Saturday: Monday 20 Nov off.
  EXPECT_TRUE(is_public_holiday(20240506));
  EXPECT_TRUE(is_public_holiday(20231120));
  // 4 May 2025 was a Sunday: Monday 5 May off.
  EXPECT_TRUE(is_public_holiday(20250505));
  // 18 Nov 2026 is a Wednesday: no extra day.
  EXPECT_FALSE(is_public_holiday(20261123));
  // Other weekend holidays do not move (24 Jun 2023 was a Saturday).
  EXPECT_FALSE(is_public_holiday(20230626));
}

TEST(Calendar, BusinessDaysAndOverrides) {
  BusinessCalendar c;
  EXPECT_TRUE(c.is_business_day(20261130));   // Monday
  EXPECT_FALSE(c.is_business_day(20261128));  // Saturday
  EXPECT_FALSE(c.is_business_day(20261118));  // holiday
  c.set_override(20261128, true);             // a working Saturday
  c.set_override(20261130, false);            // an extra holiday
  EXPECT_TRUE(c.is_business_day(20261128));
  EXPECT_FALSE(c.is_business_day(20261130));
}

TEST(Calendar, DateConversionsRoundTrip) {
  for (int64_t d = -1000; d < 40000; d += 37) EXPECT_EQ(engine::days_from_ymd(engine::ymd_from_days(d)), d);
  EXPECT_TRUE(engine::ymd_valid(20240229));
  EXPECT_FALSE(engine::ymd_valid(20230229));
  EXPECT_FALSE(engine::ymd_valid(20231301));
}

class Service : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h.open_account("A1").accepted);
    ASSERT_TRUE(h.grant("s2", "A1", AccessMode::signature_2).accepted);
  }
  Harness h;
};

TEST_F(Service, R32_OpenOnBusinessDaysFrom0800To1800Riga) {
  h.now = riga(kMonday, 7, 59);
  EXPECT_REJECTED(h.prepare("s2", "po1", "A1", 100), reason::kOutsideHours, "R32");
  h.now = riga(kMonday, 8, 0);
  EXPECT_ACCEPTED(h.prepare("s2", "po1", "A1", 100));
  h.now = riga(kMonday, 17, 59);
  EXPECT_ACCEPTED(h.prepare("s2", "po2", "A1", 100));
  h.now = riga(kMonday, 18, 0);
  EXPECT_REJECTED(h.prepare("s2", "po3", "A1", 100), reason::kOutsideHours, "R32");
  // Summer time: 08:00 Riga is 05:00 UTC.
  h.now = riga(20260706, 8, 0);
  EXPECT_ACCEPTED(h.prepare("s2", "po4", "A1", 100));
}

TEST_F(Service, R32_ClosedOnWeekendsAndHolidaysUnlessOverridden) {
  h.now = riga(20261128, 10, 0);  // Saturday
  EXPECT_REJECTED(h.prepare("s2", "po1", "A1", 100), reason::kNotBusinessDay, "R32");
  h.now = riga(20261118, 10, 0);  // Proclamation Day
  EXPECT_REJECTED(h.prepare("s2", "po1", "A1", 100), reason::kNotBusinessDay, "R32");
  ASSERT_TRUE(h.apply(events::calendar_override(h.treasury(), 20261128, true)).accepted);
  h.now = riga(20261128, 10, 0);
  EXPECT_ACCEPTED(h.prepare("s2", "po1", "A1", 100));
  ASSERT_TRUE(h.apply(events::calendar_override(h.treasury(), 20261201, false)).accepted);
  h.now = riga(20261201, 10, 0);
  EXPECT_REJECTED(h.prepare("s2", "po2", "A1", 100), reason::kNotBusinessDay, "R32");
  EXPECT_REJECTED(h.apply(events::calendar_override(h.treasury(), 20261232, false)), reason::kDateInvalid, "R32");
}

TEST_F(Service, R32_HoursChangedByNotice) {
  ASSERT_TRUE(h.apply(events::service_hours(h.treasury(), fb::Service::ekase, 7 * 60, 20 * 60)).accepted);
  h.now = riga(kMonday, 7, 30);
  EXPECT_ACCEPTED(h.prepare("s2", "po1", "A1", 100));
  h.now = riga(kMonday, 19, 30);
  EXPECT_ACCEPTED(h.prepare("s2", "po2", "A1", 100));
  EXPECT_REJECTED(h.apply(events::service_hours(h.treasury(), fb::Service::ekase, 600, 500)),
                  reason::kHoursInvalid, "R32");
  // Treasury events are not bound by the hours.
  h.now = riga(kMonday, 23, 0);
  EXPECT_ACCEPTED(h.open_account("A2"));
}

TEST_F(Service, R34_SuspensionUntilFurtherNotice) {
  ASSERT_TRUE(h.apply(events::service_suspension(h.treasury(), fb::Service::ekase, true)).accepted);
  EXPECT_REJECTED(h.prepare("s2", "po1", "A1", 100), reason::kServiceSuspended, "R34");
  // Suspending another service leaves eKase alone.
  ASSERT_TRUE(h.apply(events::service_suspension(h.treasury(), fb::Service::ekase, false)).accepted);
  ASSERT_TRUE(h.apply(events::service_suspension(h.treasury(), fb::Service::eplans, true)).accepted);
  EXPECT_ACCEPTED(h.prepare("s2", "po1", "A1", 100));
}

}  // namespace
}  // namespace kase::testing
