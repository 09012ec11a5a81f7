// Schedule types: recurring jobs (/api/v1/schedules). A schedule submits a job from its
// template at the times of a cron expression read in a time zone.
#pragma once

#include <boost/describe.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/workload_types.h"

namespace hangar::api {

// What happens to runs whose time passed while no run could start (hangard down, the
// schedule suspended, the clock jumping): `skip` them, or `run_once` for the latest of them.
BOOST_DEFINE_ENUM_CLASS(MissedRunPolicy, skip, run_once)
// A run that comes while the previous run's job is unfinished: `allow` it, or `forbid` it (the
// run is skipped).
BOOST_DEFINE_ENUM_CLASS(ConcurrencyPolicy, allow, forbid)

// The job each run submits: a job request without the project (the schedule's), dependencies,
// hold or absolute times. Each job also gets HANGAR_SCHEDULE_ID and HANGAR_SCHEDULED_TIME (the
// run's nominal time, RFC 3339) in its environment.
struct JobTemplate {
  std::optional<std::string> name;  // default: the schedule's name
  std::vector<std::string> command;
  std::optional<Labels> environment;
  std::optional<std::string> working_dir;
  std::optional<JobResources> resources;
  std::optional<Labels> node_selector;
  std::optional<PriorityClass> priority_class;
  std::optional<int64_t> time_limit_seconds;
  std::optional<PreemptionPolicy> preemption;
  std::optional<int64_t> checkpoint_grace_seconds;
  std::optional<int64_t> retries;
  std::optional<NodeLossPolicy> on_node_loss;
  std::optional<int64_t> array_size;
  std::optional<std::vector<Toleration>> tolerations;
};
BOOST_DESCRIBE_STRUCT(JobTemplate, (),
                      (name, command, environment, working_dir, resources, node_selector,
                       priority_class, time_limit_seconds, preemption, checkpoint_grace_seconds,
                       retries, on_node_loss, array_size, tolerations))

// POST /api/v1/schedules
struct CreateScheduleRequest {
  std::string project;                           // id or name
  std::string name;                              // unique in the project
  std::string cron;                              // five fields or a macro (@hourly, @daily, …)
  std::optional<std::string> time_zone;          // IANA name; default UTC
  std::optional<MissedRunPolicy> missed_runs;    // default run_once
  std::optional<ConcurrencyPolicy> concurrency;  // default allow
  std::optional<int64_t> starting_deadline_seconds;  // default 300: later than this is missed
  std::optional<bool> suspended;                     // default false
  JobTemplate job;
};
BOOST_DESCRIBE_STRUCT(CreateScheduleRequest, (),
                      (project, name, cron, time_zone, missed_runs, concurrency,
                       starting_deadline_seconds, suspended, job))

// PATCH /api/v1/schedules/{id}: the members given replace the stored ones (`job` as a whole).
struct UpdateScheduleRequest {
  std::optional<std::string> cron;
  std::optional<std::string> time_zone;
  std::optional<MissedRunPolicy> missed_runs;
  std::optional<ConcurrencyPolicy> concurrency;
  std::optional<int64_t> starting_deadline_seconds;
  std::optional<bool> suspended;
  std::optional<JobTemplate> job;
};
BOOST_DESCRIBE_STRUCT(UpdateScheduleRequest, (),
                      (cron, time_zone, missed_runs, concurrency, starting_deadline_seconds,
                       suspended, job))

// The outcome of a schedule's latest run time.
BOOST_DEFINE_ENUM_CLASS(ScheduleRunResult, none, started, missed, skipped_concurrent, failed)

struct Schedule {
  std::string id;
  std::string project_id;
  std::string name;
  std::string cron;  // normalised ("*/5 9-17 * * MON-FRI", "@daily")
  std::string time_zone;
  MissedRunPolicy missed_runs = MissedRunPolicy::run_once;
  ConcurrencyPolicy concurrency = ConcurrencyPolicy::allow;
  int64_t starting_deadline_seconds = 300;
  bool suspended = false;
  JobTemplate job;
  std::optional<std::string> next_run_at;  // null while suspended, or when the cron never matches
  std::vector<std::string> next_runs;      // the next five run times (RFC 3339, UTC)
  std::optional<std::string> last_run_at;  // the nominal time of the latest run
  ScheduleRunResult last_result = ScheduleRunResult::none;
  std::string last_message;                // why, in words
  std::optional<std::string> last_job_id;  // the job the latest started run submitted
  int64_t runs_started = 0;
  int64_t runs_skipped = 0;  // missed, or forbidden by the concurrency policy
  std::string owner;         // runs submit as this user, service account or key: who last set it
  std::string created_by;
  std::string created_at;
  std::string updated_at;
  std::string etag;
  Links links;
};
BOOST_DESCRIBE_STRUCT(Schedule, (),
                      (id, project_id, name, cron, time_zone, missed_runs, concurrency,
                       starting_deadline_seconds, suspended, job, next_run_at, next_runs,
                       last_run_at, last_result, last_message, last_job_id, runs_started,
                       runs_skipped, owner, created_by, created_at, updated_at, etag, links))

struct ScheduleList {
  std::vector<Schedule> items;
  std::string next_page_token;
};
BOOST_DESCRIBE_STRUCT(ScheduleList, (), (items, next_page_token))

}  // namespace hangar::api
