// Latvian business calendar in Europe/Riga time (R32).
//
// Pure: no clock, no time-zone database. Riga observes EET (UTC+2) and EEST
// (UTC+3) from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last
// Sunday of October (the EU rule, in force since 1996).
// Thread-safety: const methods are safe to call concurrently; mutators are not.
#pragma once

#include <cstdint>
#include <climits>
#include <map>

namespace kase::engine {

/// Days since 1970-01-01 for a proleptic Gregorian date.
int64_t days_from_civil(int32_t y, uint32_t m, uint32_t d) noexcept;

/// A Riga calendar date as YYYYMMDD, e.g. 20261129.
using DateYmd = int32_t;

DateYmd ymd_from_days(int64_t days) noexcept;
int64_t days_from_ymd(DateYmd ymd) noexcept;
bool ymd_valid(DateYmd ymd) noexcept;

/// Local Riga date and minute of day for a UTC time stamp.
struct RigaTime {
  DateYmd date = 0;
  int64_t day_number = 0;   // days since 1970-01-01 (local date)
  int32_t minute_of_day = 0;
  int32_t weekday = 0;      // 0 = Monday … 6 = Sunday
};
RigaTime riga_time(int64_t utc_us) noexcept;

/// riga_time() with the last day's DST bounds and date cached: requests come in
/// time order, so nearly every call is a hit. Same results as riga_time().
class RigaClock {
 public:
  RigaTime at(int64_t utc_us) noexcept;

 private:
  int64_t utc_day_ = INT64_MIN;   // cached UTC day
  int64_t dst_start_min_ = 0;     // DST bounds of that day's year, UTC minutes
  int64_t dst_end_min_ = 0;
  int64_t local_day_ = INT64_MIN; // cached local day and its date
  DateYmd local_date_ = 0;
  // Fast path: UTC micros [fast_lo_, fast_hi_) fall in the cached local day
  // with one UTC offset; the minute is then one division away.
  int64_t fast_lo_ = 0;
  int64_t fast_hi_ = 0;
  int64_t fast_day_start_us_ = 0;  // UTC micros of local midnight at that offset
};

/// Easter Sunday of a year (Gregorian, anonymous algorithm).
DateYmd easter_sunday(int32_t year) noexcept;

/// The statutory public holidays of Latvia, without
/// overrides: 1 Jan, Good Friday, Easter Sunday and Monday, 1 May, 4 May,
/// 23–24 Jun, 18 Nov, 24–26 Dec, 31 Dec, and the next Monday when 4 May or
/// 18 Nov falls on a Saturday or Sunday.
bool is_public_holiday(DateYmd date) noexcept;

class BusinessCalendar {
 public:
  /// True on Monday–Friday that is not a public holiday, unless overridden.
  [[nodiscard]] bool is_business_day(DateYmd date) const noexcept;

  /// A working Saturday (working = true) or an extra holiday (working = false).
  void set_override(DateYmd date, bool working) { overrides_[date] = working; }
  [[nodiscard]] const std::map<DateYmd, bool>& overrides() const noexcept { return overrides_; }

 private:
  std::map<DateYmd, bool> overrides_;
};

}  // namespace kase::engine
