// SchedulePlan: what a due schedule does now — which run (if any) starts, how many run times
// passed without one, and when the next run is. Pure: the schedule service applies the plan.
//
// A run time is "missed" when it passed more than the starting deadline ago without a run
// (hangard was down, the schedule suspended, the clock moved on). Of a due schedule's passed
// run times, only the latest can still start:
//   - it is on time (within the deadline): it starts, and the earlier ones count as missed;
//   - it is late: with missed_runs = run_once it starts anyway (once, however many passed),
//     with missed_runs = skip nothing starts and all of them count as missed.
//
// Thread-safety: plain functions.
#pragma once

#include <cstdint>
#include <optional>

#include "api/schedule_types.h"
#include "common/clock.h"
#include "common/cron.h"
#include "common/time_zone.h"

namespace hangar::workloads {

struct RunPlan {
  std::optional<Timestamp> run_at;       // the nominal time of the run to start now; none: no run
  int64_t missed = 0;                    // run times passed without a run
  Timestamp latest_due;                  // the latest run time at or before now
  bool late = false;                     // latest_due is past the starting deadline
  std::optional<Timestamp> next_run_at;  // strictly after now; none: the cron never matches again
};

// `due` is the schedule's stored next run time, at or before `now`.
RunPlan PlanDueRuns(const CronExpression& cron, const TimeZone& zone, Timestamp due, Timestamp now,
                    api::MissedRunPolicy missed_runs, Micros starting_deadline);

}  // namespace hangar::workloads
