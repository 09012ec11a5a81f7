// ScheduleService: recurring jobs (/api/v1/schedules). A schedule submits a job from its
// template at the times of a cron expression (common/cron.h) read in an IANA time zone.
//
// The control loop (SchedulerLoop's reconciler steps, once a second) calls RunDue. Each due
// schedule gets a plan (schedule_plan.h: missed runs, the deadline), and one write transaction
// commits the run's job(s), the schedule's new state (next_run_at, last run, counters) and the
// events, so a crash never starts a run twice nor loses one: the stored next_run_at moves only
// with the job that ran for it.
//
// A run submits as the schedule's owner (who created it or changed it last), whose rights are
// checked again at every run: an owner who lost jobs:create on the project, a quota that now
// refuses the job or a deleted GPU type make the run `failed` with the reason, and the schedule
// goes on to its next time. With concurrency = forbid, a run whose previous job (the first of its
// array) is unfinished is skipped (`skipped_concurrent`).
//
// Events: hangar.schedule.created|updated|deleted, hangar.schedule.run (data: the schedule,
// with last_result and last_job_id saying what happened), and the job's own
// hangar.job.submitted with source /api/v1/schedules/{id}.
//
// Authorisation: jobs:read at the project to read a schedule, jobs:create to create, change,
// delete or trigger one. Another tenant's schedule, or one the caller may not read, is a 404.
//
// Thread-safety: all methods are thread-safe; they block on the store. Time zones are loaded
// once and kept (guarded by a mutex).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "api/schedule_types.h"
#include "common/clock.h"
#include "common/time_zone.h"
#include "identity/principal.h"
#include "identity/rbac.h"
#include "store/schedule_repos.h"
#include "workloads/job_service.h"

namespace hangar::workloads {

inline constexpr int kNextRunsShown = 5;

class ScheduleService {
 public:
  // `wake_scheduler` is called after a run submitted jobs outside the loop (Trigger). Must not
  // block.
  ScheduleService(store::Store& store, const Clock& clock, identity::Authorizer& authorizer,
                  JobService& jobs, std::function<void()> wake_scheduler);

  // kInvalidArgument naming each bad field (/cron, /time_zone, /job/...), kAlreadyExists for a
  // name the project already uses.
  Result<store::ScheduleRecord> Create(const identity::Principal& who,
                                       const api::CreateScheduleRequest& request);
  Result<store::ScheduleRecord> Get(const identity::Principal& who, const ScheduleId& id);
  Result<store::Page<store::ScheduleRecord>> List(const identity::Principal& who,
                                                  const store::ListQuery& query);
  // Replaces the members given. A changed cron or zone, or a resume, computes next_run_at from
  // now (runs passed while suspended are not missed runs).
  Result<store::ScheduleRecord> Update(const identity::Principal& who, const ScheduleId& id,
                                       const api::UpdateScheduleRequest& request,
                                       std::optional<int64_t> if_match_version);
  Status Delete(const identity::Principal& who, const ScheduleId& id,
                std::optional<int64_t> if_match_version);
  // Starts a run now, outside the cron times (its nominal time is now), as the caller. The
  // schedule's next_run_at is unchanged. Returns the job(s) submitted.
  Result<std::vector<JobView>> Trigger(const identity::Principal& who, const ScheduleId& id);

  // The API object at `now`: next_runs computed from the cron and zone.
  api::Schedule ToApi(const store::ScheduleRecord& record);

  // The control loop's step: runs every due schedule (at most `limit` per call). Returns how
  // many schedules it handled; jobs it submitted are placed by the same pass.
  Result<int> RunDue(int64_t limit = 100);

 private:
  Result<TimeZone> Zone(const std::string& name);
  Status RunOne(const store::ScheduleRecord& due, Timestamp now);
  // The event of a change, with the schedule as GET shows it.
  Status AppendScheduleEvent(store::Tx& tx, const store::ScheduleRecord& s, std::string type,
                             Timestamp now, const std::string& actor);

  store::Store& store_;
  const Clock& clock_;
  identity::Authorizer& authorizer_;
  JobService& jobs_;
  std::function<void()> wake_scheduler_;
  std::mutex zones_mutex_;
  std::map<std::string, TimeZone> zones_;  // guarded by zones_mutex_
};

// The job request a run submits: the template, in the schedule's project, named after the
// schedule unless the template names it.
api::SubmitJobRequest JobRequestOf(const store::ScheduleRecord& schedule,
                                   const api::JobTemplate& job);
// Adds HANGAR_SCHEDULE_ID and HANGAR_SCHEDULED_TIME (the run's nominal time) to a checked job.
void StampRun(PreparedJob& job, const std::string& schedule_id, Timestamp nominal);

}  // namespace hangar::workloads
