#include "workloads/schedule_plan.h"

#include <algorithm>

namespace hangar::workloads {

namespace {

// Counting stops here: a per-minute schedule down for ten weeks has missed about this many.
constexpr int64_t kMaxCounted = 100'000;

}  // namespace

RunPlan PlanDueRuns(const CronExpression& cron, const TimeZone& zone, Timestamp due, Timestamp now,
                    api::MissedRunPolicy missed_runs, Micros starting_deadline) {
  RunPlan plan{.latest_due = due};
  int64_t passed = 1;
  while (passed < kMaxCounted) {
    auto next = cron.Next(plan.latest_due, zone);
    if (!next || *next > now) break;
    plan.latest_due = *next;
    ++passed;
  }
  plan.late = now - plan.latest_due > starting_deadline;
  if (!plan.late || missed_runs == api::MissedRunPolicy::run_once) {
    plan.run_at = plan.latest_due;
    plan.missed = passed - 1;
  } else {
    plan.missed = passed;
  }
  plan.next_run_at = cron.Next(std::max(now, plan.latest_due), zone);
  return plan;
}

}  // namespace hangar::workloads
