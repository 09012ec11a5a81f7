#include "workloads/schedule_plan.h"

#include <gtest/gtest.h>

namespace hangar::workloads {
namespace {

Timestamp At(std::string_view text) { return *ParseRfc3339(text); }

CronExpression Cron(std::string_view text) { return *CronExpression::Parse(text); }

constexpr Micros kDeadline = std::chrono::minutes(5);

TEST(SchedulePlanTest, AnOnTimeRunStartsAndTheNextIsTheFollowingTime) {
  auto plan = PlanDueRuns(Cron("0 10 * * *"), TimeZone::Utc(), At("2026-01-05T10:00:00Z"),
                          At("2026-01-05T10:00:01Z"), api::MissedRunPolicy::skip, kDeadline);
  ASSERT_TRUE(plan.run_at.has_value());
  EXPECT_EQ(*plan.run_at, At("2026-01-05T10:00:00Z"));
  EXPECT_EQ(plan.missed, 0);
  EXPECT_FALSE(plan.late);
  EXPECT_EQ(plan.next_run_at, At("2026-01-06T10:00:00Z"));
}

TEST(SchedulePlanTest, LateRunsAreSkippedOrRunOnceByPolicy) {
  // Down from 09:00 to 12:30: the 10:00, 11:00 and 12:00 runs of an hourly schedule passed.
  auto due = At("2026-01-05T10:00:00Z");
  auto now = At("2026-01-05T12:30:00Z");
  auto skip = PlanDueRuns(Cron("@hourly"), TimeZone::Utc(), due, now, api::MissedRunPolicy::skip,
                          kDeadline);
  EXPECT_FALSE(skip.run_at.has_value());
  EXPECT_EQ(skip.missed, 3);
  EXPECT_TRUE(skip.late);
  EXPECT_EQ(skip.latest_due, At("2026-01-05T12:00:00Z"));
  EXPECT_EQ(skip.next_run_at, At("2026-01-05T13:00:00Z"));

  auto once = PlanDueRuns(Cron("@hourly"), TimeZone::Utc(), due, now,
                          api::MissedRunPolicy::run_once, kDeadline);
  ASSERT_TRUE(once.run_at.has_value());
  EXPECT_EQ(*once.run_at, At("2026-01-05T12:00:00Z"));  // the latest, once
  EXPECT_EQ(once.missed, 2);
  EXPECT_TRUE(once.late);
  EXPECT_EQ(once.next_run_at, At("2026-01-05T13:00:00Z"));
}

TEST(SchedulePlanTest, TheLatestRunWithinTheDeadlineStartsEvenUnderSkip) {
  // 12:00 passed 2 minutes ago (within 5), 10:00 and 11:00 long ago.
  auto plan = PlanDueRuns(Cron("@hourly"), TimeZone::Utc(), At("2026-01-05T10:00:00Z"),
                          At("2026-01-05T12:02:00Z"), api::MissedRunPolicy::skip, kDeadline);
  ASSERT_TRUE(plan.run_at.has_value());
  EXPECT_EQ(*plan.run_at, At("2026-01-05T12:00:00Z"));
  EXPECT_EQ(plan.missed, 2);
  EXPECT_FALSE(plan.late);
}

TEST(SchedulePlanTest, RunTimesFollowTheTimeZone) {
  auto zone = TimeZone::FromPosixRule("EST5EDT,M3.2.0,M11.1.0");
  ASSERT_TRUE(zone.has_value());
  // 09:00 in New York is 14:00 UTC in January and 13:00 UTC in July.
  auto winter = PlanDueRuns(Cron("0 9 * * *"), *zone, At("2026-01-05T14:00:00Z"),
                            At("2026-01-05T14:00:30Z"), api::MissedRunPolicy::skip, kDeadline);
  EXPECT_EQ(winter.next_run_at, At("2026-01-06T14:00:00Z"));
  auto summer = PlanDueRuns(Cron("0 9 * * *"), *zone, At("2026-07-06T13:00:00Z"),
                            At("2026-07-06T13:00:30Z"), api::MissedRunPolicy::skip, kDeadline);
  EXPECT_EQ(summer.next_run_at, At("2026-07-07T13:00:00Z"));
}

TEST(SchedulePlanTest, EveryPassedRunIsCounted) {
  // A per-minute schedule due since midnight, looked at a day later: 1440 runs passed before
  // the one now, which is on time.
  auto plan = PlanDueRuns(Cron("* * * * *"), TimeZone::Utc(), At("2026-01-05T00:00:00Z"),
                          At("2026-01-06T00:00:00Z"), api::MissedRunPolicy::skip, kDeadline);
  ASSERT_TRUE(plan.run_at.has_value());  // 00:00 on the 6th is on time
  EXPECT_EQ(plan.missed, 1440);
  EXPECT_EQ(plan.next_run_at, At("2026-01-06T00:01:00Z"));
}

}  // namespace
}  // namespace hangar::workloads
