#include "kase/engine/calendar.h"

#include <algorithm>

namespace kase::engine {

// Howard Hinnant's civil-date algorithms (public domain).
int64_t days_from_civil(int32_t y, uint32_t m, uint32_t d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<uint32_t>(y - era * 400);
  const uint32_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const uint32_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

DateYmd ymd_from_days(int64_t z) noexcept {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<uint32_t>(z - era * 146097);
  const uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const uint32_t mp = (5 * doy + 2) / 153;
  const uint32_t d = doy - (153 * mp + 2) / 5 + 1;
  const uint32_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = y + (m <= 2 ? 1 : 0);
  return static_cast<DateYmd>(year * 10000 + m * 100 + d);
}

int64_t days_from_ymd(DateYmd ymd) noexcept {
  return days_from_civil(ymd / 10000, static_cast<uint32_t>(ymd / 100 % 100),
                         static_cast<uint32_t>(ymd % 100));
}

bool ymd_valid(DateYmd ymd) noexcept {
  if (ymd < 19000101 || ymd > 99991231) return false;
  return ymd_from_days(days_from_ymd(ymd)) == ymd;
}

namespace {
constexpr int64_t kUsPerMinute = 60LL * 1000 * 1000;
constexpr int64_t kMinutesPerDay = 24 * 60;

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0); }

// Weekday of a day number, 0 = Monday. 1970-01-01 was a Thursday (3).
int32_t weekday_of(int64_t day) { return static_cast<int32_t>(((day % 7) + 7 + 3) % 7); }

// Day number of the last Sunday of a month.
int64_t last_sunday(int32_t year, uint32_t month) {
  const int64_t next_first = month == 12 ? days_from_civil(year + 1, 1, 1) : days_from_civil(year, month + 1, 1);
  int64_t d = next_first - 1;
  while (weekday_of(d) != 6) --d;
  return d;
}
}  // namespace

RigaTime riga_time(int64_t utc_us) noexcept {
  const int64_t utc_min = floor_div(utc_us, kUsPerMinute);
  const int64_t utc_day = floor_div(utc_min, kMinutesPerDay);
  const int32_t year = ymd_from_days(utc_day) / 10000;
  // DST from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of October.
  const int64_t dst_start = last_sunday(year, 3) * kMinutesPerDay + 60;
  const int64_t dst_end = last_sunday(year, 10) * kMinutesPerDay + 60;
  const int64_t offset = (utc_min >= dst_start && utc_min < dst_end) ? 180 : 120;
  const int64_t local_min = utc_min + offset;
  RigaTime t;
  t.day_number = floor_div(local_min, kMinutesPerDay);
  t.minute_of_day = static_cast<int32_t>(local_min - t.day_number * kMinutesPerDay);
  t.date = ymd_from_days(t.day_number);
  t.weekday = weekday_of(t.day_number);
  return t;
}

RigaTime RigaClock::at(int64_t utc_us) noexcept {
  if (utc_us >= fast_lo_ && utc_us < fast_hi_) {
    RigaTime t;
    t.day_number = local_day_;
    t.date = local_date_;
    t.minute_of_day = static_cast<int32_t>((utc_us - fast_day_start_us_) / kUsPerMinute);
    t.weekday = weekday_of(local_day_);
    return t;
  }
  const int64_t utc_min = floor_div(utc_us, kUsPerMinute);
  const int64_t utc_day = floor_div(utc_min, kMinutesPerDay);
  if (utc_day != utc_day_) {
    const int32_t year = ymd_from_days(utc_day) / 10000;
    dst_start_min_ = last_sunday(year, 3) * kMinutesPerDay + 60;
    dst_end_min_ = last_sunday(year, 10) * kMinutesPerDay + 60;
    utc_day_ = utc_day;
  }
  const int64_t offset = (utc_min >= dst_start_min_ && utc_min < dst_end_min_) ? 180 : 120;
  const int64_t local_min = utc_min + offset;
  RigaTime t;
  t.day_number = floor_div(local_min, kMinutesPerDay);
  t.minute_of_day = static_cast<int32_t>(local_min - t.day_number * kMinutesPerDay);
  if (t.day_number != local_day_) {
    local_day_ = t.day_number;
    local_date_ = ymd_from_days(t.day_number);
  }
  t.date = local_date_;
  t.weekday = weekday_of(t.day_number);
  // The span of this local day at this offset, clipped to the DST segment.
  fast_day_start_us_ = (t.day_number * kMinutesPerDay - offset) * kUsPerMinute;
  const int64_t seg_lo = offset == 180 ? dst_start_min_ : (utc_min < dst_start_min_ ? INT64_MIN / kUsPerMinute : dst_end_min_);
  const int64_t seg_hi = offset == 180 ? dst_end_min_ : (utc_min < dst_start_min_ ? dst_start_min_ : INT64_MAX / kUsPerMinute);
  fast_lo_ = std::max(fast_day_start_us_, seg_lo * kUsPerMinute);
  fast_hi_ = std::min(fast_day_start_us_ + kMinutesPerDay * kUsPerMinute, seg_hi * kUsPerMinute);
  // Stay within the cached UTC day too, whose DST bounds were computed above.
  fast_lo_ = std::max(fast_lo_, utc_day_ * kMinutesPerDay * kUsPerMinute);
  fast_hi_ = std::min(fast_hi_, (utc_day_ + 1) * kMinutesPerDay * kUsPerMinute);
  return t;
}

DateYmd easter_sunday(int32_t y) noexcept {
  const int32_t a = y % 19, b = y / 100, c = y % 100, d = b / 4, e = b % 4;
  const int32_t f = (b + 8) / 25, g = (b - f + 1) / 3;
  const int32_t h = (19 * a + b - d - g + 15) % 30;
  const int32_t i = c / 4, k = c % 4;
  const int32_t l = (32 + 2 * e + 2 * i - h - k) % 7;
  const int32_t m = (a + 11 * h + 22 * l) / 451;
  const int32_t month = (h + l - 7 * m + 114) / 31;
  const int32_t day = ((h + l - 7 * m + 114) % 31) + 1;
  return y * 10000 + month * 100 + day;
}

bool is_public_holiday(DateYmd date) noexcept {
  const int32_t year = date / 10000;
  const int32_t md = date % 10000;
  switch (md) {
    case 101: case 501: case 504: case 623: case 624: case 1118:
    case 1224: case 1225: case 1226: case 1231:
      return true;
    default:
      break;
  }
  const int64_t day = days_from_ymd(date);
  const int64_t easter = days_from_ymd(easter_sunday(year));
  if (day == easter - 2 || day == easter || day == easter + 1) return true;
  // The next Monday when 4 May or 18 November falls on a weekend.
  if (weekday_of(day) == 0) {
    for (const int32_t fixed : {504, 1118}) {
      const int64_t f = days_from_ymd(year * 10000 + fixed);
      const int32_t wd = weekday_of(f);
      if ((wd == 5 && day == f + 2) || (wd == 6 && day == f + 1)) return true;
    }
  }
  return false;
}

bool BusinessCalendar::is_business_day(DateYmd date) const noexcept {
  if (auto it = overrides_.find(date); it != overrides_.end()) return it->second;
  const int32_t wd = weekday_of(days_from_ymd(date));
  if (wd >= 5) return false;
  return !is_public_holiday(date);
}

}  // namespace kase::engine
