// CronExpression: when a recurring job (/api/v1/schedules) runs, as a Vixie-cron expression
// evaluated in a time zone.
//
// Syntax, as crontab(5) of Vixie cron and cronie:
//   minute hour day-of-month month day-of-week       five fields separated by blanks
//   minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or JAN-DEC,
//   day-of-week 0-7 or SUN-SAT (0 and 7 are both Sunday); names are case-insensitive.
//   Each field is a list "a,b,..." of elements; an element is "*", "n", "a-b", or one of those
//   with a step: "*/n", "a-b/n", and "a/n" (from a to the end of the field's range).
//   Macros: @yearly = @annually = "0 0 1 1 *", @monthly = "0 0 1 * *", @weekly = "0 0 * * 0",
//   @daily = @midnight = "0 0 * * *", @hourly = "0 * * * *". (@reboot has no meaning here.)
//   There is no seconds field; runs fall on whole minutes of local time.
//
// Day matching (Vixie): when the day-of-month and day-of-week fields both restrict the day,
// that is when neither starts with '*', a day matches if EITHER field matches
// ("0 0 13 * FRI" runs on every 13th and every Friday). When either starts with '*' ("*",
// "*/2"), a day must match both.
//
// Daylight saving time, following Vixie cron 4.1 and cronie (cron.c, "DST handling"). An
// expression is a "wildcard" job when its minute or its hour field starts with '*' ("*/15 * * *
// *", "30 * * * *"), and a "fixed-time" job otherwise ("30 2 * * *"):
//   - spring forward (a local time is skipped): a fixed-time job whose time falls in the gap runs
//     once, at the first instant after the gap (02:30 on a 02:00->03:00 night runs at 03:00 new
//     local time); several of its times in one gap make that one run. A wildcard job just has
//     no run for the skipped times.
//   - fall back (a local time happens twice): a fixed-time job runs only at the first
//     occurrence (01:30 on a 02:00->01:00 night runs at 01:30 before the change, not again).
//     A wildcard job runs at both occurrences, so "*/15 * * * *" keeps running every 15 minutes
//     of real time through the repeated hour.
//
// Thread-safety: CronExpression is an immutable value; all methods are const and may be called
// from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "common/time_zone.h"

namespace hangar {

class CronExpression {
 public:
  // Parses a five-field expression or a macro; leading, trailing and repeated blanks are
  // ignored. kInvalidArgument naming the field and the problem, e.g.
  // "minute: 61 is out of range 0-59", "expected 5 fields, got 6", "hour: range 5-3 is reversed".
  // A valid expression may never match ("0 0 30 2 *"); Next then returns nullopt.
  static Result<CronExpression> Parse(std::string_view text);

  // The first run strictly after `after`, with the fields read as local time in `tz` and the
  // DST rules above. Runs are searched in the years 0001-9999 (an earlier `after` gives the first
  // run of 0001). nullopt when the expression can never match (found at once, without a search)
  // or has no run before the end of 9999. Cost: a few field-skipping steps per UTC-offset change
  // crossed, never a walk over every minute.
  std::optional<Timestamp> Next(Timestamp after, const TimeZone& tz) const;

  // Up to `n` successive runs after `after` (fewer when Next runs out; none when n <= 0). Callers
  // taking `n` from a request must bound it.
  std::vector<Timestamp> NextN(Timestamp after, const TimeZone& tz, int n) const;

  // Whether the fields match a civil time (seconds are ignored). No DST rules apply here.
  bool Matches(const CivilTime& local) const;

  // The normalised text: a canonical macro name ("@annually" -> "@yearly", "@midnight" ->
  // "@daily"), or the five fields joined by single spaces with names upper-cased and numbers
  // without leading zeros ("*/05 9-17 * jan,Jul mon-fri" -> "*/5 9-17 * JAN,JUL MON-FRI").
  // Parse(ToString()) gives an expression with the same schedule.
  std::string ToString() const;

  // How far ahead Next looks. The sparsest satisfiable expressions pair a date with a weekday
  // under the AND rule: February 29 on a Sunday ("0 0 29 2 */7") happens in 2088 and next in
  // 2128, 40 years on. So within 50 years Next finds a run of every expression that has one.
  static constexpr int kSearchYears = 50;

 private:
  CronExpression() = default;

  bool DayMatches(int year, int month, int day) const;
  // The first matching local minute in [from, until), as minutes since the epoch read as UTC.
  std::optional<int64_t> FirstMatch(int64_t from, int64_t until) const;

  uint64_t minutes_ = 0;            // bit m: minute m, 0-59
  uint32_t hours_ = 0;              // bit h: hour h, 0-23
  uint32_t days_of_month_ = 0;      // bit d: day d, 1-31
  uint16_t months_ = 0;             // bit m: month m, 1-12
  uint8_t days_of_week_ = 0;        // bit d: weekday d, 0 = Sunday .. 6 (7 folds into 0)
  bool day_of_month_star_ = false;  // the field starts with '*' (Vixie's DOM_STAR)
  bool day_of_week_star_ = false;   // DOW_STAR
  bool wildcard_ = false;           // minute or hour starts with '*' (Vixie's MIN_STAR|HR_STAR)
  bool satisfiable_ = false;        // a valid (month, day) pair exists, or the OR rule applies
  std::string text_;                // ToString()
};

}  // namespace hangar
