// Tests for CronExpression: syntax, macros, errors naming the field, Vixie's day rule, leap
// days, impossible expressions, and Next across the DST changes of 2026 in Berlin and New York
// (checked against a brute-force reference built on TimeZone::Lookup). Real zones come from
// /usr/share/zoneinfo (Debian's tzdata package, a test dependency).
#include "common/cron.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <random>

namespace hangar {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Timestamp At(std::string_view text) {
  auto t = ParseRfc3339(text);
  EXPECT_TRUE(t.has_value()) << text;
  return t.value_or(Timestamp{});
}

CronExpression Cron(std::string_view text) {
  auto cron = CronExpression::Parse(text);
  EXPECT_TRUE(cron.has_value()) << text << ": " << (cron ? "" : cron.error().ToString());
  return cron ? *cron : *CronExpression::Parse("* * * * *");
}

TimeZone Zone(std::string_view name) {
  auto zone = TimeZone::Load(name);
  EXPECT_TRUE(zone.has_value()) << name << ": " << (zone ? "" : zone.error().ToString());
  return zone.value_or(TimeZone::Utc());
}

// The next `n` runs as RFC 3339 strings, for readable expectations.
std::vector<std::string> Runs(std::string_view expression, std::string_view after, int n,
                              const TimeZone& tz = TimeZone::Utc()) {
  std::vector<std::string> out;
  for (Timestamp t : Cron(expression).NextN(At(after), tz, n)) out.push_back(FormatRfc3339(t));
  return out;
}

std::string Next(std::string_view expression, std::string_view after,
                 const TimeZone& tz = TimeZone::Utc()) {
  auto next = Cron(expression).Next(At(after), tz);
  return next ? FormatRfc3339(*next) : "none";
}

std::string ParseError(std::string_view expression) {
  auto cron = CronExpression::Parse(expression);
  if (cron) return "parsed as " + cron->ToString();
  EXPECT_EQ(cron.error().code(), ErrorCode::kInvalidArgument) << expression;
  return cron.error().message();
}

TEST(CronParseTest, EachMacro) {
  // 2026-03-04 is a Wednesday.
  constexpr std::string_view kAfter = "2026-03-04T10:15:00Z";
  EXPECT_EQ(Next("@yearly", kAfter), "2027-01-01T00:00:00Z");
  EXPECT_EQ(Next("@annually", kAfter), "2027-01-01T00:00:00Z");
  EXPECT_EQ(Next("@monthly", kAfter), "2026-04-01T00:00:00Z");
  EXPECT_EQ(Next("@weekly", kAfter), "2026-03-08T00:00:00Z");
  EXPECT_EQ(Next("@daily", kAfter), "2026-03-05T00:00:00Z");
  EXPECT_EQ(Next("@midnight", kAfter), "2026-03-05T00:00:00Z");
  EXPECT_EQ(Next("@hourly", kAfter), "2026-03-04T11:00:00Z");
  EXPECT_EQ(Cron("@yearly").ToString(), "@yearly");
  EXPECT_EQ(Cron("@annually").ToString(), "@yearly");
  EXPECT_EQ(Cron("@midnight").ToString(), "@daily");
  EXPECT_EQ(Cron("  @Weekly ").ToString(), "@weekly");
  EXPECT_EQ(Next("@HOURLY", kAfter), "2026-03-04T11:00:00Z");
}

TEST(CronParseTest, FieldSyntax) {
  constexpr std::string_view kAfter = "2026-01-01T00:00:00Z";  // a Thursday
  EXPECT_THAT(Runs("*/15 0 * * *", kAfter, 4),
              ElementsAre("2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z", "2026-01-01T00:45:00Z",
                          "2026-01-02T00:00:00Z"));
  EXPECT_THAT(Runs("10-20/5 0 * * *", kAfter, 4),
              ElementsAre("2026-01-01T00:10:00Z", "2026-01-01T00:15:00Z", "2026-01-01T00:20:00Z",
                          "2026-01-02T00:10:00Z"));
  EXPECT_THAT(Runs("50/3 0 * * *", kAfter, 5),
              ElementsAre("2026-01-01T00:50:00Z", "2026-01-01T00:53:00Z", "2026-01-01T00:56:00Z",
                          "2026-01-01T00:59:00Z", "2026-01-02T00:50:00Z"));
  EXPECT_THAT(Runs("0 1,13,22 * * *", kAfter, 4),
              ElementsAre("2026-01-01T01:00:00Z", "2026-01-01T13:00:00Z", "2026-01-01T22:00:00Z",
                          "2026-01-02T01:00:00Z"));
  EXPECT_THAT(Runs("0 0 1 jan-MAR,Oct *", kAfter, 4),
              ElementsAre("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-10-01T00:00:00Z",
                          "2027-01-01T00:00:00Z"));
  EXPECT_THAT(Runs("0 9 * * mon-FRI", "2026-01-02T12:00:00Z", 2),
              ElementsAre("2026-01-05T09:00:00Z", "2026-01-06T09:00:00Z"));
  EXPECT_THAT(Runs("0 9 * * Sat,sun", kAfter, 3),
              ElementsAre("2026-01-03T09:00:00Z", "2026-01-04T09:00:00Z", "2026-01-10T09:00:00Z"));
  // 0 and 7 are both Sunday; 5-7 is Friday to Sunday.
  EXPECT_EQ(Next("0 0 * * 7", kAfter), "2026-01-04T00:00:00Z");
  EXPECT_EQ(Next("0 0 * * 0", kAfter), "2026-01-04T00:00:00Z");
  EXPECT_THAT(Runs("0 0 * * 5-7", kAfter, 4),
              ElementsAre("2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z",
                          "2026-01-09T00:00:00Z"));
  EXPECT_THAT(Runs("0 0 * * */2", kAfter, 3),  // Sunday, Tuesday, Thursday, Saturday
              ElementsAre("2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-06T00:00:00Z"));
  EXPECT_THAT(Runs("0 0 */10 * *", kAfter, 4),
              ElementsAre("2026-01-11T00:00:00Z", "2026-01-21T00:00:00Z", "2026-01-31T00:00:00Z",
                          "2026-02-01T00:00:00Z"));
  EXPECT_THAT(Runs("0 0 1 */4 *", kAfter, 3),
              ElementsAre("2026-05-01T00:00:00Z", "2026-09-01T00:00:00Z", "2027-01-01T00:00:00Z"));
  EXPECT_TRUE(Cron("5 4 * * *").Matches({2026, 6, 1, 4, 5, 0}));
  EXPECT_FALSE(Cron("5 4 * * *").Matches({2026, 6, 1, 4, 6, 0}));
  EXPECT_FALSE(Cron("* * * * *").Matches({2026, 2, 30, 0, 0, 0}));
}

TEST(CronParseTest, ToStringNormalises) {
  EXPECT_EQ(Cron("  */05 \t 9-17 * jan,Jul mon-fri ").ToString(), "*/5 9-17 * JAN,JUL MON-FRI");
  EXPECT_EQ(Cron("0 0 1,15 * *").ToString(), "0 0 1,15 * *");
  EXPECT_EQ(Cron("00 007 */2 1-12/3 0-7").ToString(), "0 7 */2 1-12/3 0-7");
  for (std::string_view text : {"*/05 9-17 * jan,Jul mon-fri", "30 2 29 2 *", "@weekly"}) {
    CronExpression once = Cron(text);
    CronExpression twice = Cron(once.ToString());
    EXPECT_EQ(twice.ToString(), once.ToString());
    EXPECT_EQ(twice.NextN(At("2026-01-01T00:00:00Z"), TimeZone::Utc(), 20),
              once.NextN(At("2026-01-01T00:00:00Z"), TimeZone::Utc(), 20))
        << text;
  }
}

TEST(CronParseTest, ErrorsNameTheFieldAndTheProblem) {
  EXPECT_EQ(ParseError("61 * * * *"), "minute: 61 is out of range 0-59");
  EXPECT_EQ(ParseError("* 24 * * *"), "hour: 24 is out of range 0-23");
  EXPECT_EQ(ParseError("* * 0 * *"), "day-of-month: 0 is out of range 1-31");
  EXPECT_EQ(ParseError("* * 32 * *"), "day-of-month: 32 is out of range 1-31");
  EXPECT_EQ(ParseError("* * * 13 *"), "month: 13 is out of range 1-12 or JAN-DEC");
  EXPECT_EQ(ParseError("* * * FOO *"), "month: 'FOO' is not a month (1-12 or JAN-DEC)");
  EXPECT_EQ(ParseError("* * * * 8"), "day-of-week: 8 is out of range 0-7 or SUN-SAT");
  EXPECT_EQ(ParseError("* * * * Funday"),
            "day-of-week: 'Funday' is not a day-of-week (0-7 or SUN-SAT)");
  EXPECT_EQ(ParseError("* MON * * *"), "hour: 'MON' is not a number");
  EXPECT_EQ(ParseError("x * * * *"), "minute: 'x' is not a number");
  EXPECT_EQ(ParseError("99999999999999999999 * * * *"),
            "minute: 99999999999999999999 is out of range 0-59");
  EXPECT_EQ(ParseError("* * * * * *"), "expected 5 fields, got 6");
  EXPECT_EQ(ParseError("* * * *"), "expected 5 fields, got 4");
  EXPECT_EQ(ParseError("   "), "expected 5 fields, got 0");
  EXPECT_EQ(ParseError("*/0 * * * *"), "minute: step 0 is out of range 1-59");
  EXPECT_EQ(ParseError("* */24 * * *"), "hour: step 24 is out of range 1-23");
  EXPECT_EQ(ParseError("* * * */x *"), "month: step 'x' is not a number");
  EXPECT_EQ(ParseError("1/ * * * *"), "minute: missing step after '/' in '1/'");
  EXPECT_EQ(ParseError("5-3 * * * *"), "minute: range 5-3 is reversed; write it as two ranges");
  EXPECT_EQ(ParseError("* * * * FRI-MON"),
            "day-of-week: range FRI-MON is reversed; write it as two ranges");
  EXPECT_EQ(ParseError("1,,2 * * * *"), "minute: empty element in list '1,,2'");
  EXPECT_EQ(ParseError("* 1, * * *"), "hour: empty element in list '1,'");
  EXPECT_EQ(ParseError("5- * * * *"), "minute: missing value in '5-'");
  EXPECT_EQ(ParseError("*-5 * * * *"), "minute: '*' cannot be part of a range in '*-5'");
  EXPECT_EQ(ParseError("1-2-3 * * * *"), "minute: '2-3' is not a number");
  EXPECT_EQ(ParseError("@reboot"),
            "@reboot is not supported: schedules run at times, not at "
            "start-up");
  EXPECT_EQ(ParseError("@often"), "unknown macro '@often'");
  EXPECT_EQ(ParseError("@daily 5"), "expected nothing after @daily");
  EXPECT_FALSE(CronExpression::Parse("61 * * * *").error().hint().empty());
}

TEST(CronNextTest, DayOfMonthOrDayOfWeekWhenBothAreRestricted) {
  // Vixie: both fields restricted, so every 13th and every Friday (Jan 2026: 2, 9, 16, 23, 30).
  EXPECT_THAT(Runs("0 0 13 * FRI", "2026-01-01T00:00:00Z", 5),
              ElementsAre("2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z",
                          "2026-01-16T00:00:00Z", "2026-01-23T00:00:00Z"));
  // A field starting with '*' makes it AND: odd days that are Fridays.
  EXPECT_THAT(Runs("0 0 */2 * FRI", "2026-01-01T00:00:00Z", 3),
              ElementsAre("2026-01-09T00:00:00Z", "2026-01-23T00:00:00Z", "2026-02-13T00:00:00Z"));
  EXPECT_THAT(Runs("0 0 13 * *", "2026-01-01T00:00:00Z", 2),
              ElementsAre("2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z"));
  EXPECT_THAT(Runs("0 0 * * FRI", "2026-01-01T00:00:00Z", 2),
              ElementsAre("2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z"));
  // "30 February or any Monday in February" has runs: the Mondays.
  EXPECT_THAT(Runs("0 0 30 2 MON", "2026-01-01T00:00:00Z", 2),
              ElementsAre("2026-02-02T00:00:00Z", "2026-02-09T00:00:00Z"));
}

TEST(CronNextTest, LeapDays) {
  EXPECT_THAT(Runs("0 0 29 2 *", "2026-01-01T00:00:00Z", 3),
              ElementsAre("2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"));
  EXPECT_EQ(Next("0 0 29 2 *", "2096-03-01T00:00:00Z"), "2104-02-29T00:00:00Z");  // not 2100
  EXPECT_EQ(Next("0 12 29 2 *", "2000-02-29T11:59:59Z"), "2000-02-29T12:00:00Z");
  // February 29 on a Sunday: 2088, then 2128, the longest gap any expression can have.
  EXPECT_EQ(Next("0 0 29 2 */7", "2061-01-01T00:00:00Z"), "2088-02-29T00:00:00Z");
  EXPECT_EQ(Next("0 0 29 2 */7", "2089-01-01T00:00:00Z"), "2128-02-29T00:00:00Z");
  EXPECT_EQ(Next("0 0 31 * *", "2026-01-31T00:00:00Z"), "2026-03-31T00:00:00Z");
}

TEST(CronNextTest, ImpossibleExpressionsReturnNulloptQuickly) {
  TimeZone berlin = Zone("Europe/Berlin");
  auto started = std::chrono::steady_clock::now();
  for (std::string_view text :
       {"0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 30,31 FEB *", "0 0 30 2 */7", "* * 31 2 *"}) {
    CronExpression cron = Cron(text);
    for (int i = 0; i < 100; ++i) {
      EXPECT_FALSE(cron.Next(At("2026-01-01T00:00:00Z"), berlin).has_value()) << text;
    }
    EXPECT_TRUE(cron.NextN(At("2026-01-01T00:00:00Z"), berlin, 5).empty());
  }
  // Generous for a debug build with sanitizers; a minute-by-minute search would take minutes.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
}

TEST(CronNextTest, StrictlyAfterInUtc) {
  EXPECT_EQ(Next("*/15 * * * *", "2026-05-05T10:07:30Z"), "2026-05-05T10:15:00Z");
  EXPECT_EQ(Next("*/15 * * * *", "2026-05-05T10:15:00Z"), "2026-05-05T10:30:00Z");
  EXPECT_EQ(Next("*/15 * * * *", "2026-05-05T10:14:59.999999Z"), "2026-05-05T10:15:00Z");
  EXPECT_EQ(Next("*/15 * * * *", "2026-05-05T10:15:00.000001Z"), "2026-05-05T10:30:00Z");
  EXPECT_EQ(Next("0 9 * * MON-FRI", "2026-05-08T18:00:00Z"), "2026-05-11T09:00:00Z");
  EXPECT_EQ(Next("59 23 31 12 *", "2026-06-01T00:00:00Z"), "2026-12-31T23:59:00Z");
  EXPECT_EQ(Next("0 0 1 1 *", "2026-12-31T23:59:59Z"), "2027-01-01T00:00:00Z");
  EXPECT_EQ(Next("* * * * *", "1969-12-31T23:59:30Z"), "1970-01-01T00:00:00Z");
  EXPECT_EQ(Next("* * * * *", "9999-12-31T23:58:00Z"), "9999-12-31T23:59:00Z");
  EXPECT_EQ(Next("* * * * *", "9999-12-31T23:59:00Z"), "none");
  EXPECT_EQ(Cron("0 0 1 1 *").Next(Timestamp::min(), TimeZone::Utc()), At("0001-01-01T00:00:00Z"));
  EXPECT_FALSE(Cron("* * * * *").Next(Timestamp::max(), TimeZone::Utc()).has_value());
}

TEST(CronNextTest, NextNCountsAndStops) {
  CronExpression hourly = Cron("@hourly");
  Timestamp after = At("2026-01-01T00:30:00Z");
  EXPECT_TRUE(hourly.NextN(after, TimeZone::Utc(), 0).empty());
  EXPECT_TRUE(hourly.NextN(after, TimeZone::Utc(), -3).empty());
  EXPECT_THAT(Runs("@hourly", "2026-01-01T00:30:00Z", 3),
              ElementsAre("2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z"));
  EXPECT_THAT(Runs("59 23 31 12 *", "9997-06-01T00:00:00Z", 5),
              ElementsAre("9997-12-31T23:59:00Z", "9998-12-31T23:59:00Z", "9999-12-31T23:59:00Z"));
}

TEST(CronNextTest, BerlinSpringForwardRunsOnceRightAfterTheGap) {
  // 2026-03-29: 02:00 CET -> 03:00 CEST at 01:00Z; 02:30 does not exist that night.
  TimeZone berlin = Zone("Europe/Berlin");
  EXPECT_THAT(Runs("30 2 * * *", "2026-03-27T12:00:00Z", 3, berlin),
              ElementsAre("2026-03-28T01:30:00Z",    // 02:30 CET
                          "2026-03-29T01:00:00Z",    // 03:00 CEST, right after the gap
                          "2026-03-30T00:30:00Z"));  // 02:30 CEST
  // Several times in the gap make one run; 03:00 itself is a run at the same instant.
  EXPECT_THAT(Runs("0,30 2,3 * * *", "2026-03-28T23:00:00Z", 3, berlin),
              ElementsAre("2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z", "2026-03-30T00:00:00Z"));
}

TEST(CronNextTest, NewYorkSpringForwardRunsOnceRightAfterTheGap) {
  // 2026-03-08: 02:00 EST -> 03:00 EDT at 07:00Z.
  TimeZone new_york = Zone("America/New_York");
  EXPECT_THAT(Runs("30 2 * * *", "2026-03-07T00:00:00Z", 3, new_york),
              ElementsAre("2026-03-07T07:30:00Z",    // 02:30 EST
                          "2026-03-08T07:00:00Z",    // 03:00 EDT, right after the gap
                          "2026-03-09T06:30:00Z"));  // 02:30 EDT
}

TEST(CronNextTest, NewYorkFallBackRunsOnceAtTheFirstOccurrence) {
  // 2026-11-01: 02:00 EDT -> 01:00 EST at 06:00Z; 01:30 happens at 05:30Z and 06:30Z.
  TimeZone new_york = Zone("America/New_York");
  EXPECT_THAT(Runs("30 1 * * *", "2026-10-31T12:00:00Z", 3, new_york),
              ElementsAre("2026-11-01T05:30:00Z",  // 01:30 EDT
                          "2026-11-02T06:30:00Z",  // 01:30 EST, the next day
                          "2026-11-03T06:30:00Z"));
  // Created during the repeated hour, after its first 01:30: the next run is the next day.
  EXPECT_EQ(Next("30 1 * * *", "2026-11-01T06:10:00Z", new_york), "2026-11-02T06:30:00Z");
}

TEST(CronNextTest, BerlinFallBackRunsOnceAtTheFirstOccurrence) {
  // 2026-10-25: 03:00 CEST -> 02:00 CET at 01:00Z; 02:30 happens at 00:30Z and 01:30Z.
  TimeZone berlin = Zone("Europe/Berlin");
  EXPECT_THAT(Runs("30 2 * * *", "2026-10-24T12:00:00Z", 3, berlin),
              ElementsAre("2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z", "2026-10-27T01:30:00Z"));
}

TEST(CronNextTest, WildcardJobsKeepRealTimeAcrossDstChanges) {
  TimeZone new_york = Zone("America/New_York");
  // Fall back: every half hour of real time, through both passes of 01:00-02:00.
  EXPECT_THAT(Runs("*/30 * * * *", "2026-11-01T04:45:00Z", 5, new_york),
              ElementsAre("2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z",
                          "2026-11-01T06:30:00Z", "2026-11-01T07:00:00Z"));
  // Spring forward: skipped local times have no run, and nothing is added at 03:00.
  EXPECT_THAT(Runs("30 * * * *", "2026-03-08T06:00:00Z", 3, new_york),
              ElementsAre("2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z", "2026-03-08T08:30:00Z"));
  EXPECT_THAT(Runs("*/20 2 * * *", "2026-03-08T06:00:00Z", 2, new_york),
              ElementsAre("2026-03-09T06:00:00Z", "2026-03-09T06:20:00Z"));
}

TEST(CronNextTest, KolkataHalfHourOffset) {
  TimeZone kolkata = Zone("Asia/Kolkata");
  EXPECT_THAT(Runs("0 9 * * *", "2026-01-01T00:00:00Z", 2, kolkata),
              ElementsAre("2026-01-01T03:30:00Z", "2026-01-02T03:30:00Z"));
  EXPECT_EQ(Next("0 0 1 1 *", "2026-06-01T00:00:00Z", kolkata), "2026-12-31T18:30:00Z");
}

TEST(CronNextTest, FarFutureBerlinFollowsTheFooterRule) {
  // 2090's changes come from the zone file's POSIX footer: March 26 and October 29.
  TimeZone berlin = Zone("Europe/Berlin");
  EXPECT_THAT(Runs("30 2 * * *", "2090-03-25T12:00:00Z", 2, berlin),
              ElementsAre("2090-03-26T01:00:00Z", "2090-03-27T00:30:00Z"));
  EXPECT_EQ(Next("30 2 * * *", "2090-07-01T00:00:00Z", berlin), "2090-07-01T00:30:00Z");
  EXPECT_THAT(Runs("30 2 * * *", "2090-10-28T12:00:00Z", 2, berlin),
              ElementsAre("2090-10-29T00:30:00Z", "2090-10-30T01:30:00Z"));
}

// Next by brute force: every local minute from 3 hours before `after` for `days` days, mapped to
// UTC with TimeZone::Lookup and the rules of cron.h stated directly.
std::optional<Timestamp> ReferenceNext(const CronExpression& cron, bool wildcard, Timestamp after,
                                       const TimeZone& tz, int days) {
  TimeZone utc = TimeZone::Utc();
  CivilTime start = tz.ToLocal(after - std::chrono::hours(3)).civil();
  start.second = 0;
  Timestamp base = utc.FromLocal(start).front();
  std::optional<Timestamp> best;
  for (int i = 0; i < days * 24 * 60; ++i) {
    CivilTime local = utc.ToLocal(base + std::chrono::minutes(i)).civil();
    if (!cron.Matches(local)) continue;
    CivilLookup lookup = tz.Lookup(local);
    std::vector<Timestamp> runs;
    switch (lookup.kind) {
      case CivilLookup::Kind::kUnique:
        runs = {lookup.first};
        break;
      case CivilLookup::Kind::kRepeated:
        runs = wildcard ? std::vector<Timestamp>{lookup.first, lookup.second}
                        : std::vector<Timestamp>{lookup.first};
        break;
      case CivilLookup::Kind::kSkipped:
        if (!wildcard) runs = {lookup.first};
        break;
    }
    for (Timestamp run : runs) {
      if (run > after && (!best || run < *best)) best = run;
    }
  }
  return best;
}

TEST(CronNextTest, AgreesWithBruteForceAroundDstChanges) {
  struct Case {
    std::string_view expression;
    bool wildcard;  // minute or hour starts with '*'
  };
  const std::vector<Case> cases = {
      {"*/15 * * * *", true},     {"30 2 * * *", false},   {"0,30 1-3 * * *", false},
      {"*/7 2 * * *", true},      {"15 */2 * * *", true},  {"0 3 * * *", false},
      {"30 * * * *", true},       {"0 0 * * *", false},    {"*/20 0-4 * * *", true},
      {"45 1,2 * * *", false},    {"59 1 * * *", false},   {"0 2 * * *", false},
      {"5-55/10 2 * * *", false}, {"10 2 * * SUN", false}, {"* 2 * * *", true},
  };
  std::mt19937_64 random(20260329);
  for (std::string_view zone_name :
       {"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"}) {
    TimeZone tz = Zone(zone_name);
    // Around each change of 2026 (or, without changes, around New Year).
    std::vector<Timestamp> centres = {At("2026-01-01T00:00:00Z")};
    for (auto t = tz.NextTransition(At("2026-01-01T00:00:00Z"));
         t && t->at < At("2027-01-01T00:00:00Z"); t = tz.NextTransition(t->at)) {
      centres.push_back(t->at);
    }
    // Mostly within hours of the change, where the DST rules act; some up to a day and a half.
    std::uniform_int_distribution<int64_t> near(-3LL * 3600 * 1'000'000, 3LL * 3600 * 1'000'000);
    std::uniform_int_distribution<int64_t> far(-36LL * 3600 * 1'000'000, 36LL * 3600 * 1'000'000);
    for (int i = 0; i < 90; ++i) {
      const Case& c = cases[static_cast<size_t>(i) % cases.size()];
      CronExpression cron = Cron(c.expression);
      Timestamp centre = centres[static_cast<size_t>(i) % centres.size()];
      Timestamp after = centre + Micros(i % 4 == 3 ? far(random) : near(random));
      if (i % 3 == 0) after = std::chrono::floor<std::chrono::minutes>(after);
      auto expected = ReferenceNext(cron, c.wildcard, after, tz, 2);
      if (!expected) expected = ReferenceNext(cron, c.wildcard, after, tz, 8);  // weekly ones
      ASSERT_TRUE(expected.has_value()) << c.expression;
      auto actual = cron.Next(after, tz);
      EXPECT_EQ(actual ? FormatRfc3339(*actual) : "none", FormatRfc3339(*expected))
          << zone_name << " '" << c.expression << "' after " << FormatRfc3339(after);
    }
  }
}

}  // namespace
}  // namespace hangar
